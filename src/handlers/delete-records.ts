// DeleteRecords (key 21), v0-2: moves each partition's log start offset (offset -1 means the high watermark);
// whole segments below it are deleted, as retention deletes them (renamed `.deleted`, removed after the topic's
// file.delete.delay.ms). Answered by each partition's owner, like Produce. With an S3 copy (--s3-bucket) the new
// start is told to it too (RemoteTier.advanceStart), so S3 forgets the ranges below it, evicted ones included
// (an offset in the evicted part [logStartOffset, localStartOffset) moves the start without touching a segment).
import { topicConfigValue } from '../config/topic-config.ts'
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { fanOutByTopicName, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(21)!

interface DeleteRecordsTopic { name: string, partitions: Array<{ partitionIndex: number, offset: number }> }
interface DeleteRecordsRequest { topics: DeleteRecordsTopic[], timeoutMs: number }
interface TopicResult { name: string, partitions: Array<{ partitionIndex: number, lowWatermark: number, errorCode: number }> }
interface DeleteRecordsResponse { throttleTimeMs: number, topics: TopicResult[] }

async function serveLocal (shard: Shard, request: DeleteRecordsRequest): Promise<DeleteRecordsResponse> {
  const topics = request.topics.map((topic) => {
    const entry = shard.table.topic(topic.name)
    const fileDeleteDelayMs = entry === undefined ? 0 : Number(topicConfigValue(entry.configs, 'file.delete.delay.ms'))
    return {
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const local = entry === undefined ? undefined : shard.partition(entry, p.partitionIndex)
        if (local === undefined) return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER }
        const log = local.log
        const offset = p.offset === -1 ? log.nextOffset : p.offset
        if (offset < 0 || offset > log.nextOffset) return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }
        try {
          log.deleteRecordsBefore(offset, fileDeleteDelayMs)
          shard.tier?.advanceStart(entry!.id, p.partitionIndex, log.logStartOffset)
        } catch (error) {
          const code = error instanceof KafkaError ? error.code : ErrorCode.KAFKA_STORAGE_ERROR
          return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset, errorCode: code }
        }
        return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset, errorCode: ErrorCode.NONE }
      })
    }
  })
  return { throttleTimeMs: 0, topics }
}

async function handle (context: RequestContext, request: DeleteRecordsRequest): Promise<DeleteRecordsResponse> {
  // Kafka's authorization: DELETE per topic.
  const authorized = splitByTopic(context, request.topics, AclOperation.DELETE, (t) => t.name)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  const topics = await fanOutByTopicName(context, api, request, serveLocal, (p, errorCode) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode }))
  if (authorized !== null) {
    for (const t of authorized.denied) topics.push({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) })
  }
  return { throttleTimeMs: 0, topics }
}

export const deleteRecordsHandler: Handler = { api, minVersion: 0, maxVersion: 2, handle }
export const deleteRecordsServer = remoteServer(api, serveLocal)
