// ListOffsets (key 2), v1-8: earliest (-2), latest (-1), max timestamp (-3, v7+), earliest local (-4, v8+)
// and by timestamp, answered by each partition's owner.
//
// Across tiers (--s3-bucket, local.retention.*): earliest is the log start offset, which eviction never moves;
// earliest local (KIP-405) is the first offset still on the local disk. By timestamp and max timestamp look at
// the evicted part [logStartOffset, localStartOffset) first, through S3's index (each range's maxTimestamp) and
// the batches of the one range that can hold the answer (RemoteReader); a failed S3 read answers that partition
// KAFKA_STORAGE_ERROR.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { fanOutByTopicName, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'
import { currentLeaderEpochError, kPartitionLeaderEpoch } from '../log/leader-epochs.ts'
import { offsetForTimestampIn, type OffsetAndTimestamp } from '../log/partition-log.ts'
import type { LocalPartition } from '../shard/shard.ts'
import { count } from '../counters.ts'

const api = apiByKey(2)!

export const kLatestTimestamp = -1
export const kEarliestTimestamp = -2
export const kMaxTimestamp = -3
export const kEarliestLocalTimestamp = -4

interface ListOffsetsPartition { partitionIndex: number, currentLeaderEpoch: number, timestamp: number }
interface ListOffsetsTopic { name: string, partitions: ListOffsetsPartition[] }
interface ListOffsetsRequest { replicaId: number, isolationLevel: number, topics: ListOffsetsTopic[] }
interface PartitionResponse { partitionIndex: number, errorCode: number, timestamp: number, offset: number, leaderEpoch: number }
interface TopicResponse { name: string, partitions: PartitionResponse[] }
interface ListOffsetsResponse { throttleTimeMs: number, topics: TopicResponse[] }

function errorPartition (partitionIndex: number, errorCode: number): PartitionResponse {
  return { partitionIndex, errorCode, timestamp: -1, offset: -1, leaderEpoch: -1 }
}

async function serveLocal (shard: Shard, request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
  const topics: TopicResponse[] = []
  for (const topic of request.topics) {
    const entry = shard.table.topic(topic.name)
    const partitions: PartitionResponse[] = []
    for (const p of topic.partitions) {
      const local = entry === undefined ? undefined : shard.partition(entry, p.partitionIndex)
      if (local === undefined) {
        partitions.push(errorPartition(p.partitionIndex, entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER))
        continue
      }
      const epochError = currentLeaderEpochError(p.currentLeaderEpoch)
      if (epochError !== ErrorCode.NONE) {
        partitions.push(errorPartition(p.partitionIndex, epochError))
        continue
      }
      const log = local.log
      let offset = -1
      let timestamp = -1
      const evicted = log.logStartOffset < log.localStartOffset
      try {
        switch (p.timestamp) {
          case kLatestTimestamp:
            offset = request.isolationLevel === 1 ? log.lastStableOffset : log.nextOffset
            break
          case kEarliestTimestamp:
            offset = log.logStartOffset
            break
          case kEarliestLocalTimestamp:
            offset = log.localStartOffset
            break
          case kMaxTimestamp: {
            let found = log.maxTimestampOffset()
            if (evicted) found = await evictedMaxTimestamp(shard, local, found)
            offset = found.offset
            timestamp = found.timestamp
            break
          }
          default: {
            if (p.timestamp < 0) {
              partitions.push(errorPartition(p.partitionIndex, ErrorCode.INVALID_REQUEST))
              continue
            }
            const found = (evicted ? await evictedOffsetForTimestamp(shard, local, p.timestamp) : null) ?? log.offsetForTimestamp(p.timestamp)
            if (found !== null) {
              offset = found.offset
              timestamp = found.timestamp
            }
          }
        }
      } catch (error) {
        count('s3-tiered-read-errors')
        shard.logger.limited('list-offsets:s3', 'warn', `ListOffsets of ${topic.name}-${p.partitionIndex} in S3 failed: ${(error as Error).message}`)
        partitions.push(errorPartition(p.partitionIndex, ErrorCode.KAFKA_STORAGE_ERROR))
        continue
      }
      partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp, offset, leaderEpoch: kPartitionLeaderEpoch })
    }
    topics.push({ name: topic.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
}

/**
 * The earliest offset of the evicted part (in S3) whose record timestamp is >= `timestamp`, or null when none is
 * (or the worker has no S3 copy): the first range reaching the timestamp is read and its batches searched from
 * the log start on. Rejects when the S3 read fails.
 */
async function evictedOffsetForTimestamp (shard: Shard, local: LocalPartition, timestamp: number): Promise<OffsetAndTimestamp | null> {
  const index = shard.tier?.index(local.topic.id, local.index)
  const reader = shard.remoteReader
  if (index === undefined || reader === null) return null
  const log = local.log
  const start = log.logStartOffset
  const localStart = log.localStartOffset
  for (let at = index.firstEndingAbove(start); at < index.ranges.length && index.ranges[at].baseOffset < localStart; at++) {
    const range = index.ranges[at]
    if (range.maxTimestamp < timestamp) continue
    const from = Math.max(range.baseOffset, start)
    const records = await reader.read(local.topic.id, local.index, from, range.length, true)
    const found = records === null ? null : offsetForTimestampIn(records, timestamp, from)
    if (found !== null && found.offset < localStart) return found
  }
  return null
}

/** MAX_TIMESTAMP across tiers: the evicted part's answer when its largest timestamp beats the local one's. */
async function evictedMaxTimestamp (shard: Shard, local: LocalPartition, localAnswer: OffsetAndTimestamp): Promise<OffsetAndTimestamp> {
  const index = shard.tier?.index(local.topic.id, local.index)
  if (index === undefined) return localAnswer
  const log = local.log
  let best = -1
  for (let at = index.firstEndingAbove(log.logStartOffset); at < index.ranges.length && index.ranges[at].baseOffset < log.localStartOffset; at++) {
    best = Math.max(best, index.ranges[at].maxTimestamp)
  }
  // Ties go to the earlier offset: the evicted part's.
  if (best < 0 || best < localAnswer.timestamp) return localAnswer
  return (await evictedOffsetForTimestamp(shard, local, best)) ?? localAnswer
}

async function handle (context: RequestContext, request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
  // Kafka's authorization: DESCRIBE per topic.
  const authorized = splitByTopic(context, request.topics, AclOperation.DESCRIBE, (t) => t.name)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  const topics = await fanOutByTopicName(context, api, request, serveLocal, (p, errorCode) => errorPartition(p.partitionIndex, errorCode))
  if (authorized !== null) {
    for (const t of authorized.denied) topics.push({ name: t.name, partitions: t.partitions.map((p) => errorPartition(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) })
  }
  return { throttleTimeMs: 0, topics }
}

export const listOffsetsHandler: Handler = { api, minVersion: 1, maxVersion: 8, handle }
export const listOffsetsServer = remoteServer(api, serveLocal)
