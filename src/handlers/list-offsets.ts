// ListOffsets (key 2), v1-8: earliest (-2), latest (-1), max timestamp (-3, v7+), earliest local (-4, v8+)
// and by timestamp, answered by each partition's owner.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { fanOutByTopicName, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'
import { currentLeaderEpochError, kPartitionLeaderEpoch } from '../log/leader-epochs.ts'

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
      switch (p.timestamp) {
        case kLatestTimestamp:
          offset = request.isolationLevel === 1 ? log.lastStableOffset : log.nextOffset
          break
        case kEarliestTimestamp: case kEarliestLocalTimestamp:
          offset = log.logStartOffset
          break
        case kMaxTimestamp: {
          const found = log.maxTimestampOffset()
          offset = found.offset
          timestamp = found.timestamp
          break
        }
        default: {
          if (p.timestamp < 0) {
            partitions.push(errorPartition(p.partitionIndex, ErrorCode.INVALID_REQUEST))
            continue
          }
          const found = log.offsetForTimestamp(p.timestamp)
          if (found !== null) {
            offset = found.offset
            timestamp = found.timestamp
          }
        }
      }
      partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp, offset, leaderEpoch: kPartitionLeaderEpoch })
    }
    topics.push({ name: topic.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
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
