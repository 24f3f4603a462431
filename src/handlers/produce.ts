// Produce (key 0), v3-11. The connection's worker groups partitions by owner; each owner validates the one
// batch per partition (CRC-32C, counts, sizes), checks idempotent sequences, and appends the batch bytes as
// received (only the base offset, and for LogAppendTime the timestamp and CRC, are rewritten in place).
// acks=-1 answers after the owner's group-commit fsync covering the append; acks=1 after the append;
// acks=0 gets no response at all.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { createBatchInfo, validateProducedRecords, type ProduceLimits } from '../protocol/record-batch.ts'
import { lastSequenceOf, kSequenceDuplicate, kSequenceOk } from '../log/producer-state.ts'
import { kNoResponse, type RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { callWorker, transactionCoordinatorOf, transactionStateTopic, type ClientInfo } from './coordinated.ts'
import { serveAddPartitionsToTxn } from './add-partitions-to-txn.ts'
import { count } from '../counters.ts'
import { recordAppended, recordError } from '../metrics/worker-metrics.ts'
import type { LocalPartition, Shard } from '../shard/shard.ts'
import type { TopicEntry } from '../shard/shard-table.ts'

const api = apiByKey(0)!
const addPartitionsToTxnApi = apiByKey(24)!
/** AddPartitionsToTxn v4: the batched form with verifyOnly (KIP-890 part 1). */
const kVerifyVersion = 4
const kInternalClient: ClientInfo = { clientId: 'shoal-produce-verification', clientHost: '' }

interface VerifyResponse {
  resultsByTransaction: Array<{ transactionalId: string, topicResults: Array<{ name: string, resultsByPartition: Array<{ partitionIndex: number, partitionErrorCode: number }> }> }>
}

interface PartitionData { index: number, records: Buffer | null }
interface TopicData { name: string, topicId: string, partitionData: PartitionData[] }
interface ProduceRequest { transactionalId: string | null, acks: number, timeoutMs: number, topicData: TopicData[] }
export interface PartitionResponse {
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
  recordError(0, errorCode)
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage }
}

function errorTopics (topics: readonly TopicData[], errorCode: number): TopicResponse[] {
  return topics.map((topic) => ({
    name: topic.name,
    topicId: topic.topicId,
    partitionResponses: topic.partitionData.map((p) => errorPartition(p.index, errorCode))
  }))
}

/** A transactional batch whose partition the coordinator must first confirm is in the transaction. */
interface Unverified {
  readonly entry: TopicEntry
  readonly local: LocalPartition
  readonly index: number
  /** A copy: the request's bytes are not ours past the first await (see produceServer). */
  readonly records: Buffer
  readonly producerId: number
  readonly producerEpoch: number
  /** Where the batch's answer goes: its topic's responses, at its place (INVALID_TXN_STATE until verified). */
  readonly responses: PartitionResponse[]
  readonly at: number
}

/**
 * acks=-1: the fsyncs one part waits for, each with the partition response it makes durable. A failed fsync
 * turns only its own partitions' answers into errors; the others were made durable and say so.
 */
export class PendingFlushes {
  readonly #promises: Array<Promise<void>> = []
  readonly #responses: PartitionResponse[] = []

  /** Returns `response`, answered once `flush` resolves (or as failed if it rejects). */
  add (flush: Promise<void>, response: PartitionResponse): PartitionResponse {
    this.#promises.push(flush)
    this.#responses.push(response)
    return response
  }

  get pending (): boolean {
    return this.#promises.length > 0
  }

  /** Waits for every fsync (only when `pending`: acks=1 parts skip the await). */
  async settle (shard: Shard): Promise<void> {
    try {
      await Promise.all(this.#promises)
      return
    } catch {}
    const outcomes = await Promise.allSettled(this.#promises)
    outcomes.forEach((outcome, at) => {
      if (outcome.status === 'fulfilled') return
      const error: unknown = outcome.reason
      // A partition deleted meanwhile (its topic was deleted while the fsync ran) is no disk failure:
      // UNKNOWN_TOPIC_OR_PARTITION, and no ERROR line.
      const deleted = error instanceof KafkaError && error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      if (!deleted) shard.logger.limited('fsync-failed', 'error', `fsync failed: ${(error as Error).message}`)
      const response = this.#responses[at]
      Object.assign(response, errorPartition(response.index, deleted ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.KAFKA_STORAGE_ERROR,
        deleted ? 'partition deleted' : 'fsync failed'))
    })
  }
}

/** Returned by producePartition for a transactional batch that needs the coordinator's verification first. */
const kNeedsVerification = -1

/**
 * Validates and appends one partition's batch; returns its response, or kNeedsVerification (a transactional batch
 * of a producer with no transaction open in this partition yet: KIP-890's verification comes first, unless
 * `verified`). With acks=-1 the append's fsync goes on `flushes`, with the response it makes true.
 */
function producePartition (shard: Shard, request: ProduceRequest, entry: TopicEntry, local: LocalPartition, index: number, records: Buffer | null,
  verified: boolean, flushes: PendingFlushes): PartitionResponse | typeof kNeedsVerification {
  if (entry.internal) return errorPartition(index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${entry.name}`)
  const log = local.log
  if (records === null || records.length === 0) return errorPartition(index, ErrorCode.INVALID_RECORD, 'no record batch')
  produceLimits.maxMessageBytes = Number(entry.configs['max.message.bytes'] ?? shard.config.messageMaxBytes)
  produceLimits.maxDecompressedBytes = shard.config.maxDecompressedBatchBytes
  const code = validateProducedRecords(records, produceLimits, batchInfo)
  if (code !== ErrorCode.NONE) return errorPartition(index, code)
  if (batchInfo.isTransactional) {
    // Kafka's answer to transactional records without a transactional id (KafkaApis: not authorised for it).
    if (request.transactionalId === null) return errorPartition(index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactional records need a transactional id')
    if (batchInfo.producerId < 0) return errorPartition(index, ErrorCode.INVALID_RECORD, 'transactional records need a producer id')
    const producer = log.producers.get(batchInfo.producerId)
    const open = producer !== undefined && producer.currentTxnFirstOffset >= 0 && producer.epoch === batchInfo.producerEpoch
    if (!open && !verified) return kNeedsVerification
  }
  if (batchInfo.producerId >= 0) {
    const lastSequence = lastSequenceOf(batchInfo.baseSequence, batchInfo.recordCount)
    const check = log.producers.check(batchInfo.producerId, batchInfo.producerEpoch, batchInfo.baseSequence, lastSequence)
    if (check === kSequenceDuplicate) {
      const duplicate = { index, errorCode: ErrorCode.NONE, baseOffset: log.producers.duplicateBaseOffset, logAppendTimeMs: -1, logStartOffset: log.logStartOffset, errorMessage: null }
      // The original may not be durable yet (its fsync failed, and this is the retry): acks=-1 waits for it.
      return request.acks === -1 ? flushes.add(log.flush(), duplicate) : duplicate
    }
    if (check !== kSequenceOk) return errorPartition(index, check)
  }
  const logAppendTime = entry.configs['message.timestamp.type'] === 'LogAppendTime' ? Date.now() : -1
  let baseOffset: number
  try {
    baseOffset = log.append(records, logAppendTime)
  } catch (error) {
    // A full disk fails every produce until space is freed: one line a second is enough to say so.
    shard.logger.limited('append-failed', 'error', `append to ${entry.name}-${index} failed: ${(error as Error).message}`)
    return errorPartition(index, ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message)
  }
  local.appended()
  recordAppended(local.stats, records.length, batchInfo.recordCount)
  const response = { index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: logAppendTime, logStartOffset: log.logStartOffset, errorMessage: null }
  return request.acks === -1 ? flushes.add(log.flush(), response) : response
}

/**
 * KIP-890 part 1: asks the transaction coordinator whether each batch's partition is in its producer's ongoing
 * transaction (AddPartitionsToTxn v4, verify only), then appends the verified ones; the others answer the
 * coordinator's code (INVALID_TXN_STATE for a partition not added, PRODUCER_FENCED, ...).
 */
async function verifyAndAppend (shard: Shard, request: ProduceRequest, unverified: readonly Unverified[], flushes: PendingFlushes): Promise<void> {
  const transactionalId = request.transactionalId as string
  const byProducer = new Map<string, Unverified[]>()
  for (const batch of unverified) {
    const key = `${batch.producerId}:${batch.producerEpoch}`
    let list = byProducer.get(key)
    if (list === undefined) { list = []; byProducer.set(key, list) }
    list.push(batch)
  }
  const codes = new Map<Unverified, number>()
  try {
    const topic = await transactionStateTopic(shard)
    const owner = topic === undefined ? shard.index : transactionCoordinatorOf(shard, topic, transactionalId)
    const transactions = [...byProducer.values()].map((batches) => {
      const topics = new Map<string, number[]>()
      for (const batch of batches) {
        let partitions = topics.get(batch.entry.name)
        if (partitions === undefined) { partitions = []; topics.set(batch.entry.name, partitions) }
        partitions.push(batch.index)
      }
      return {
        transactionalId,
        producerId: batches[0].producerId,
        producerEpoch: batches[0].producerEpoch,
        verifyOnly: true,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions }))
      }
    })
    const response = await callWorker(shard, addPartitionsToTxnApi, kVerifyVersion, owner, { transactions }, kInternalClient, serveAddPartitionsToTxn) as VerifyResponse
    const byKey = new Map<string, number>()
    response.resultsByTransaction.forEach((result, at) => {
      const { producerId, producerEpoch } = transactions[at] ?? { producerId: -1, producerEpoch: -1 }
      for (const topicResult of result.topicResults) {
        for (const p of topicResult.resultsByPartition) byKey.set(`${producerId}:${producerEpoch}:${topicResult.name}:${p.partitionIndex}`, p.partitionErrorCode)
      }
    })
    for (const batch of unverified) {
      codes.set(batch, byKey.get(`${batch.producerId}:${batch.producerEpoch}:${batch.entry.name}:${batch.index}`) ?? ErrorCode.INVALID_TXN_STATE)
    }
  } catch (error) {
    const code = error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR
    for (const batch of unverified) codes.set(batch, code)
  }
  for (const batch of unverified) {
    const code = codes.get(batch) ?? ErrorCode.INVALID_TXN_STATE
    let answer: PartitionResponse | typeof kNeedsVerification
    if (code !== ErrorCode.NONE) {
      count('produce-transactional-batches-refused')
      answer = errorPartition(batch.index, produceCodeForVerification(code))
    } else if (shard.partition(batch.entry, batch.index) !== batch.local) {
      answer = errorPartition(batch.index, ErrorCode.NOT_LEADER_OR_FOLLOWER)
    } else {
      answer = producePartition(shard, request, batch.entry, batch.local, batch.index, batch.records, true, flushes)
    }
    if (answer !== kNeedsVerification) batch.responses[batch.at] = answer
  }
}

/**
 * The produce error for a failed verification, as Kafka maps it: a coordinator that is moving, loading or still
 * finishing the previous transaction is retriable for every client version as NOT_ENOUGH_REPLICAS.
 */
function produceCodeForVerification (code: number): number {
  switch (code) {
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.CONCURRENT_TRANSACTIONS:
      return ErrorCode.NOT_ENOUGH_REPLICAS
    case ErrorCode.OPERATION_NOT_ATTEMPTED:
      return ErrorCode.INVALID_TXN_STATE
    default:
      return code
  }
}

/** Owner side: append every partition of the part, then (acks=-1) wait for the shared fsyncs. */
async function serveLocal (shard: Shard, request: ProduceRequest, apiVersion: number): Promise<ProduceResponse> {
  const responses: TopicResponse[] = []
  const flushes = new PendingFlushes()
  let unverified: Unverified[] | null = null
  for (const topic of request.topicData) {
    const entry = topicEntry(shard, topic, apiVersion)
    const partitionResponses: PartitionResponse[] = []
    for (const data of topic.partitionData) {
      const local = entry === undefined ? undefined : shard.partition(entry, data.index)
      if (local === undefined || entry === undefined) {
        partitionResponses.push(errorPartition(data.index, entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER))
        continue
      }
      const answer = producePartition(shard, request, entry, local, data.index, data.records, false, flushes)
      if (answer !== kNeedsVerification) {
        partitionResponses.push(answer)
        continue
      }
      const at = partitionResponses.push(errorPartition(data.index, ErrorCode.INVALID_TXN_STATE)) - 1
      ;(unverified ??= []).push({ entry, local, index: data.index, records: Buffer.from(data.records as Buffer), producerId: batchInfo.producerId, producerEpoch: batchInfo.producerEpoch, responses: partitionResponses, at })
    }
    responses.push({ name: topic.name, topicId: topic.topicId, partitionResponses })
  }
  if (unverified !== null) await verifyAndAppend(shard, request, unverified, flushes)
  if (flushes.pending) await flushes.settle(shard)
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
