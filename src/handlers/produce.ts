// Produce (key 0), v3-11. The connection's worker groups partitions by owner; each owner validates the one
// batch per partition (CRC-32C, counts, sizes), checks idempotent sequences, and appends the batch bytes as
// received (only the base offset, and for LogAppendTime the timestamp and CRC, are rewritten in place).
// acks=-1 answers after the owner's group-commit fsync covering the append; acks=1 after the append;
// acks=0 gets no response at all.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { createBatchInfo, validateProducedRecords, type ProduceLimits } from '../protocol/record-batch.ts'
import { lastSequenceOf, kSequenceDuplicate, kSequenceOk } from '../log/producer-state.ts'
import { kNoResponse, type RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import type { Shard } from '../shard/shard.ts'
import type { TopicEntry } from '../shard/shard-table.ts'

const api = apiByKey(0)!

interface PartitionData { index: number, records: Buffer | null }
interface TopicData { name: string, topicId: string, partitionData: PartitionData[] }
interface ProduceRequest { transactionalId: string | null, acks: number, timeoutMs: number, topicData: TopicData[] }
interface PartitionResponse {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  errorMessage: string | null
}
interface TopicResponse { name: string, topicId: string, partitionResponses: PartitionResponse[] }
interface ProduceResponse { responses: TopicResponse[], throttleTimeMs: number }

// Reused for every batch validated on this thread: validation allocates nothing.
const batchInfo = createBatchInfo()
const produceLimits: ProduceLimits = { maxMessageBytes: 0, maxDecompressedBytes: 128 * 1024 * 1024 }

function topicEntry (shard: Shard, topic: TopicData, apiVersion: number): TopicEntry | undefined {
  return apiVersion >= 13 ? shard.table.topicById(topic.topicId) : shard.table.topic(topic.name)
}

function errorPartition (index: number, errorCode: number, errorMessage: string | null = null): PartitionResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage }
}

function errorTopics (topics: readonly TopicData[], errorCode: number): TopicResponse[] {
  return topics.map((topic) => ({
    name: topic.name,
    topicId: topic.topicId,
    partitionResponses: topic.partitionData.map((p) => errorPartition(p.index, errorCode))
  }))
}

/** Owner side: append every partition of the part, then (acks=-1) wait for the shared fsync. */
async function serveLocal (shard: Shard, request: ProduceRequest, apiVersion: number): Promise<ProduceResponse> {
  const responses: TopicResponse[] = []
  let flushes: Array<Promise<void>> | null = null
  for (const topic of request.topicData) {
    const entry = topicEntry(shard, topic, apiVersion)
    const partitionResponses: PartitionResponse[] = []
    for (const data of topic.partitionData) {
      const local = entry === undefined ? undefined : shard.partition(entry, data.index)
      if (local === undefined || entry === undefined) {
        partitionResponses.push(errorPartition(data.index, entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER))
        continue
      }
      if (entry.internal) {
        partitionResponses.push(errorPartition(data.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${entry.name}`))
        continue
      }
      const log = local.log
      if (data.records === null || data.records.length === 0) {
        partitionResponses.push(errorPartition(data.index, ErrorCode.INVALID_RECORD, 'no record batch'))
        continue
      }
      produceLimits.maxMessageBytes = Number(entry.configs['max.message.bytes'] ?? shard.config.messageMaxBytes)
      produceLimits.maxDecompressedBytes = shard.config.maxDecompressedBatchBytes
      const code = validateProducedRecords(data.records, produceLimits, batchInfo)
      if (code !== ErrorCode.NONE) {
        partitionResponses.push(errorPartition(data.index, code))
        continue
      }
      if (batchInfo.isTransactional) {
        // No transaction coordinator yet (InitProducerId refuses transactional ids), so no partition can be in a
        // transaction: Kafka refuses a transactional batch for a partition not added to a transaction.
        partitionResponses.push(errorPartition(data.index, ErrorCode.INVALID_TXN_STATE, 'transactions are not supported yet'))
        continue
      }
      if (batchInfo.producerId >= 0) {
        const lastSequence = lastSequenceOf(batchInfo.baseSequence, batchInfo.recordCount)
        const check = log.producers.check(batchInfo.producerId, batchInfo.producerEpoch, batchInfo.baseSequence, lastSequence)
        if (check === kSequenceDuplicate) {
          partitionResponses.push({ index: data.index, errorCode: ErrorCode.NONE, baseOffset: log.producers.duplicateBaseOffset, logAppendTimeMs: -1, logStartOffset: log.logStartOffset, errorMessage: null })
          // The original may not be durable yet (its fsync failed, and this is the retry): acks=-1 waits for it.
          if (request.acks === -1) (flushes ??= []).push(log.flush())
          continue
        }
        if (check !== kSequenceOk) {
          partitionResponses.push(errorPartition(data.index, check))
          continue
        }
      }
      const logAppendTime = entry.configs['message.timestamp.type'] === 'LogAppendTime' ? Date.now() : -1
      let baseOffset: number
      try {
        baseOffset = log.append(data.records, logAppendTime)
      } catch (error) {
        // A full disk fails every produce until space is freed: one line a second is enough to say so.
        shard.logger.limited('append-failed', 'error', `append to ${entry.name}-${data.index} failed: ${(error as Error).message}`)
        partitionResponses.push(errorPartition(data.index, ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message))
        continue
      }
      local.appended()
      if (request.acks === -1) (flushes ??= []).push(log.flush())
      partitionResponses.push({ index: data.index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: logAppendTime, logStartOffset: log.logStartOffset, errorMessage: null })
    }
    responses.push({ name: topic.name, topicId: topic.topicId, partitionResponses })
  }
  if (flushes !== null) {
    try {
      await Promise.all(flushes)
    } catch (error) {
      // The data may not be durable: say so for every partition of this part.
      shard.logger.limited('fsync-failed', 'error', `fsync failed: ${(error as Error).message}`)
      for (const topic of responses) {
        for (const p of topic.partitionResponses) {
          if (p.errorCode === ErrorCode.NONE) Object.assign(p, errorPartition(p.index, ErrorCode.KAFKA_STORAGE_ERROR, 'fsync failed'))
        }
      }
    }
  }
  return { responses, throttleTimeMs: 0 }
}

async function handle (context: RequestContext, request: ProduceRequest): Promise<ProduceResponse | typeof kNoResponse> {
  const { shard, apiVersion } = context
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
    return { responses: errorTopics(request.topicData, ErrorCode.INVALID_REQUIRED_ACKS), throttleTimeMs: 0 }
  }
  const grouping = groupByOwner(shard, request.topicData, (t) => topicEntry(shard, t, apiVersion), (t) => t.partitionData, (p) => p.index,
    (t, partitionData) => ({ ...t, partitionData }))
  const parts = new Map<number, ProduceRequest>()
  for (const [owner, topicData] of grouping.owners) parts.set(owner, { ...request, topicData })
  const calls = dispatchParts(shard, api, apiVersion, parts, serveLocal, null)
  const results: TopicResponse[][] = []
  for (const call of calls) results.push((await call.response).responses)
  if (grouping.unknown.length > 0) results.push(errorTopics(grouping.unknown, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
  if (request.acks === 0) return kNoResponse
  const key = apiVersion >= 13 ? (t: TopicResponse) => t.topicId : (t: TopicResponse) => t.name
  return { responses: results.length === 0 ? [] : mergeTopics(results, key, 'partitionResponses'), throttleTimeMs: 0 }
}

export const produceHandler: Handler = { api, minVersion: 3, maxVersion: 11, advertisedMinVersion: 0, handle }
// serveLocal validates and appends every batch before its first await (the append copies the bytes into the page
// cache) and keeps nothing of the request after that: parts from other workers are served from the ring itself.
export const produceServer = remoteServer(api, serveLocal, { servesInPlace: true })
