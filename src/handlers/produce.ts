// Produce (key 0), v3-11. The connection's worker groups partitions by owner; each owner validates the one
// batch per partition (CRC-32C, counts, sizes), checks idempotent sequences, and appends the batch bytes as
// received (only the base offset, and for LogAppendTime the timestamp and CRC, are rewritten in place).
//
// Topic configs that change what is stored, as Kafka's LogValidator applies them:
//   cleanup.policy with `compact`       every record needs a key: a keyless one refuses the batch (INVALID_RECORD)
//   message.timestamp.before/after.max.ms  (CreateTime topics) a record timestamp further in the past/future
//                                       refuses the batch (INVALID_TIMESTAMP)
//   compression.type other than `producer` and the batch's codec: the batch is rewritten with the topic's
//                                       codec (protocol/recompress.ts) at compression.<codec>.level
// Refusals list every refused record in recordErrors (v8+) and nothing of the batch is appended. The record
// checks walk the records only when the topic asks for them (reusing the section validation inflated); with
// compression.type `producer` or the batch's own codec the batch stays the bytes it came as.
//
// Recompression runs off the worker thread (compressAsync: libuv's pool), so one large batch does not hold up
// the other partitions this worker owns. A partition with a recompression in flight queues its later batches
// (appendQueues) and appends them in arrival order, each one's sequence check made when it is appended, so
// idempotent sequences and offsets come out as if every append had been synchronous.
// acks=-1 answers after the owner's group-commit fsync covering the append; acks=1 after the append;
// acks=0 gets no response at all.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import {
  collectRecordRefusals,
  createBatchInfo,
  takeInflatedSection,
  validateProducedRecords,
  type ProduceLimits,
  type RecordChecks
} from '../protocol/record-batch.ts'
import { kRecordsOffset } from '../protocol/record-batch-layout.ts'
import { codecOfCompressionType, recompressBatch } from '../protocol/recompress.ts'
import { topicConfigValue } from '../config/topic-config.ts'
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
import { QuotaKind } from '../quota/client-quotas.ts'
import { recordClientBytes } from '../quota/quota-sensors.ts'
import { allows, splitByTopic, type AuthorizedSplit } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'

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
  /** v8+: the records that made the batch refused (absent: none). */
  recordErrors?: RecordError[]
}
interface RecordError { batchIndex: number, batchIndexErrorMessage: string | null }
interface TopicResponse { name: string, topicId: string, partitionResponses: PartitionResponse[] }
interface ProduceResponse { responses: TopicResponse[], throttleTimeMs: number }

// Reused for every batch validated on this thread: validation allocates nothing.
const batchInfo = createBatchInfo()
const produceLimits: ProduceLimits = { maxMessageBytes: 0, maxDecompressedBytes: 128 * 1024 * 1024 }
const recordChecks: RecordChecks = { requireKeys: false, checkTimestamps: false, earliestTimestamp: 0, latestTimestamp: 0, partitionName: '' }
/** message.timestamp.before/after.max.ms's default: no bound. */
const kNoTimestampBound = '9223372036854775807'

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

  /**
   * Waits for every fsync (only when `pending`: acks=1 parts skip the await). With `timeoutMs` > 0 (--durability
   * s3, where a flush waits for S3 too), partitions not durable by then answer REQUEST_TIMED_OUT, as Kafka
   * answers an acks=-1 produce whose replication outlasts the request's timeout: the data stays and keeps going
   * to S3, and the client's retry is answered as a duplicate once it is there.
   */
  async settle (shard: Shard, timeoutMs = 0): Promise<void> {
    if (timeoutMs > 0) return this.#settleWithin(shard, timeoutMs)
    try {
      await Promise.all(this.#promises)
      return
    } catch {}
    this.#answerFailures(shard, await Promise.allSettled(this.#promises))
  }

  async #settleWithin (shard: Shard, timeoutMs: number): Promise<void> {
    const outcomes: Array<PromiseSettledResult<void> | undefined> = new Array(this.#promises.length)
    const all = Promise.all(this.#promises.map((promise, at) => promise.then(
      (value) => { outcomes[at] = { status: 'fulfilled', value } },
      (reason: unknown) => { outcomes[at] = { status: 'rejected', reason } })))
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    await Promise.race([all, timedOut])
    clearTimeout(timer)
    const settled: Array<PromiseSettledResult<void>> = []
    for (let at = 0; at < outcomes.length; at++) {
      const outcome = outcomes[at]
      if (outcome !== undefined) {
        settled.push(outcome)
        continue
      }
      count('produce-durability-timeouts')
      settled.push({ status: 'fulfilled', value: undefined })
      Object.assign(this.#responses[at], errorPartition(this.#responses[at].index, ErrorCode.REQUEST_TIMED_OUT, `not in S3 within the request's ${timeoutMs} ms timeout (it is stored here and keeps going to S3)`))
    }
    this.#answerFailures(shard, settled)
  }

  #answerFailures (shard: Shard, outcomes: Array<PromiseSettledResult<void>>): void {
    outcomes.forEach((outcome, at) => {
      if (outcome.status === 'fulfilled') return
      const error: unknown = outcome.reason
      // A refusal of the S3 copy (the prefix taken over, the broker stopping) carries its own code.
      if (error instanceof KafkaError && (error.code === ErrorCode.NOT_ENOUGH_REPLICAS || error.code === ErrorCode.NOT_LEADER_OR_FOLLOWER)) {
        Object.assign(this.#responses[at], errorPartition(this.#responses[at].index, error.code, error.message))
        return
      }
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

/** producePartition's answer: a Promise when the append waits for a recompression (its own or an earlier one). */
type PartitionAnswer = PartitionResponse | typeof kNeedsVerification | Promise<PartitionResponse>

/**
 * Validates and appends one partition's batch; returns its response, or kNeedsVerification (a transactional batch
 * of a producer with no transaction open in this partition yet: KIP-890's verification comes first, unless
 * `verified`), or a Promise of its response when the batch is recompressed or queued behind one that is (see
 * appendInOrder; everything it needs of `records` is copied before this returns). With acks=-1 the append's
 * fsync goes on `flushes`, with the response it makes true.
 */
function producePartition (shard: Shard, request: ProduceRequest, entry: TopicEntry, local: LocalPartition, index: number, records: Buffer | null,
  verified: boolean, flushes: PendingFlushes): PartitionAnswer {
  if (entry.internal) return errorPartition(index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${entry.name}`)
  // The S3 backlog at its bound (--s3-backlog-max-bytes): refused, retriable, before anything is appended.
  const tier = shard.tier
  if (tier !== null && tier.refusesProduce) {
    count('s3-produce-refused')
    return errorPartition(index, ErrorCode.NOT_ENOUGH_REPLICAS, tier.refusalReason)
  }
  const log = local.log
  if (records === null || records.length === 0) return errorPartition(index, ErrorCode.INVALID_RECORD, 'no record batch')
  // The topic's own, else the broker's (dynamic message.max.bytes, else --message-max-bytes): topicConfigValue.
  produceLimits.maxMessageBytes = Number(topicConfigValue(entry.configs, 'max.message.bytes'))
  produceLimits.maxDecompressedBytes = shard.config.maxDecompressedBatchBytes
  const code = validateProducedRecords(records, produceLimits, batchInfo)
  if (code !== ErrorCode.NONE) return errorPartition(index, code)
  const inflated = takeInflatedSection()
  const refused = refuseRecords(entry, index, records, inflated)
  if (refused !== null) return refused
  if (batchInfo.isTransactional) {
    // Kafka's answer to transactional records without a transactional id (KafkaApis: not authorised for it).
    if (request.transactionalId === null) return errorPartition(index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactional records need a transactional id')
    if (batchInfo.producerId < 0) return errorPartition(index, ErrorCode.INVALID_RECORD, 'transactional records need a producer id')
    const producer = log.producers.get(batchInfo.producerId)
    const open = producer !== undefined && producer.currentTxnFirstOffset >= 0 && producer.epoch === batchInfo.producerEpoch
    if (!open && !verified) return kNeedsVerification
  }
  const targetCodec = codecOfCompressionType(topicConfigValue(entry.configs, 'compression.type'))
  const recompress = targetCodec >= 0 && targetCodec !== batchInfo.compression
  if (recompress || (appendQueues.size > 0 && appendQueues.has(local))) {
    return appendInOrder(shard, request.acks, entry, local, index, records, inflated, recompress ? targetCodec : -1, flushes)
  }
  return appendNow(shard, request.acks, entry, local, index, records, batchInfo.recordCount, batchInfo.producerId, batchInfo.producerEpoch,
    batchInfo.baseSequence, flushes)
}

/**
 * The idempotence check and the append of a validated batch (the batch's header fields given, as batchInfo may
 * describe another batch by now). With acks=-1 the fsync goes on `flushes`.
 */
function appendNow (shard: Shard, acks: number, entry: TopicEntry, local: LocalPartition, index: number, batch: Buffer, recordCount: number,
  producerId: number, producerEpoch: number, baseSequence: number, flushes: PendingFlushes): PartitionResponse {
  const log = local.log
  if (producerId >= 0) {
    const lastSequence = lastSequenceOf(baseSequence, recordCount)
    const check = log.producers.check(producerId, producerEpoch, baseSequence, lastSequence)
    if (check === kSequenceDuplicate) {
      const duplicate = { index, errorCode: ErrorCode.NONE, baseOffset: log.producers.duplicateBaseOffset, logAppendTimeMs: -1, logStartOffset: log.logStartOffset, errorMessage: null }
      // The original may not be durable yet (its fsync failed, and this is the retry): acks=-1 waits for it.
      return acks === -1 ? flushes.add(log.flush(), duplicate) : duplicate
    }
    if (check !== kSequenceOk) return errorPartition(index, check)
  }
  const logAppendTime = topicConfigValue(entry.configs, 'message.timestamp.type') === 'LogAppendTime' ? Date.now() : -1
  let baseOffset: number
  try {
    baseOffset = log.append(batch, logAppendTime)
  } catch (error) {
    // A full disk fails every produce until space is freed: one line a second is enough to say so.
    shard.logger.limited('append-failed', 'error', `append to ${entry.name}-${index} failed: ${(error as Error).message}`)
    return errorPartition(index, ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message)
  }
  local.appended()
  recordAppended(local.stats, batch.length, recordCount)
  const response = { index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs: logAppendTime, logStartOffset: log.logStartOffset, errorMessage: null }
  return acks === -1 ? flushes.add(log.flush(), response) : response
}

/**
 * Kafka's per-record checks for topics that ask for them (LogValidator.validateKey/validateTimestamp): the
 * refusal of the batch in batchInfo, listing every refused record, or null (also when the topic asks for no
 * check: then nothing is walked). `inflated`: its records section when the batch is compressed.
 */
function refuseRecords (entry: TopicEntry, index: number, records: Buffer, inflated: Buffer | null): PartitionResponse | null {
  const configs = entry.configs
  const requireKeys = topicConfigValue(configs, 'cleanup.policy').includes('compact')
  const before = topicConfigValue(configs, 'message.timestamp.before.max.ms')
  const after = topicConfigValue(configs, 'message.timestamp.after.max.ms')
  const checkTimestamps = (before !== kNoTimestampBound || after !== kNoTimestampBound) &&
    topicConfigValue(configs, 'message.timestamp.type') === 'CreateTime'
  if (!requireKeys && !checkTimestamps) return null
  const now = Date.now()
  recordChecks.requireKeys = requireKeys
  recordChecks.checkTimestamps = checkTimestamps
  recordChecks.earliestTimestamp = now - Number(before)
  recordChecks.latestTimestamp = now + Number(after)
  recordChecks.partitionName = `${entry.name}-${index}`
  let refusals
  try {
    refusals = inflated === null
      ? collectRecordRefusals(records, kRecordsOffset, records.length, batchInfo, recordChecks)
      : collectRecordRefusals(inflated, 0, inflated.length, batchInfo, recordChecks)
  } catch {
    // validateProducedRecords walked these records already: a failure here is a bug, not the client's batch.
    return errorPartition(index, ErrorCode.UNKNOWN_SERVER_ERROR, 'record checks failed')
  }
  if (refusals === null) return null
  count('produce-records-refused', refusals.length)
  // Kafka: any timestamp refusal makes the batch's error INVALID_TIMESTAMP, else INVALID_RECORD with the first
  // three record errors in the message (RecordValidationException).
  const timestamp = refusals.some((refusal) => refusal.errorCode === ErrorCode.INVALID_TIMESTAMP)
  const message = timestamp
    ? 'One or more records have been rejected due to invalid timestamp'
    : `One or more records have been rejected due to ${refusals.length} record errors in total, and only showing the first three errors at most: [${
      refusals.slice(0, 3).map((refusal) => `RecordError(batchIndex=${refusal.batchIndex}, message='${refusal.batchIndexErrorMessage}')`).join(', ')}]`
  const response = errorPartition(index, timestamp ? ErrorCode.INVALID_TIMESTAMP : ErrorCode.INVALID_RECORD, message)
  response.recordErrors = refusals.map((refusal) => ({ batchIndex: refusal.batchIndex, batchIndexErrorMessage: refusal.batchIndexErrorMessage }))
  return response
}

/**
 * The partitions of this worker with an append waiting (on a recompression, or behind one), each with the
 * answer of its latest queued append: the next batch for the partition is appended after it. An entry is
 * removed when its last queued append is done, so a partition without recompressions costs one `size` check.
 */
interface AppendQueue { tail: Promise<PartitionResponse>, waiting: number }
const appendQueues = new Map<LocalPartition, AppendQueue>()

/** The compression.<codec>.level of the topic for `codec` (0 for codecs without levels). */
function compressionLevel (configs: Readonly<Record<string, string>>, codec: number): number {
  switch (codec) {
    case 1: return Number(topicConfigValue(configs, 'compression.gzip.level'))
    case 3: return Number(topicConfigValue(configs, 'compression.lz4.level'))
    case 4: return Number(topicConfigValue(configs, 'compression.zstd.level'))
    default: return 0
  }
}

/**
 * Appends the batch in batchInfo after every append already queued for `local`: recompressed with `codec`
 * first (-1: as it is, copied, since the request's bytes are not ours past the caller's first await). Reads
 * everything it needs of `records` and batchInfo before returning; the compression starts at once.
 */
function appendInOrder (shard: Shard, acks: number, entry: TopicEntry, local: LocalPartition, index: number, records: Buffer, inflated: Buffer | null,
  codec: number, flushes: PendingFlushes): Promise<PartitionResponse> {
  const batch = codec < 0
    ? Promise.resolve(Buffer.from(records))
    : recompressBatch(records, inflated ?? records.subarray(kRecordsOffset), inflated !== null, codec, compressionLevel(entry.configs, codec))
  let queue = appendQueues.get(local)
  if (queue === undefined) {
    queue = { tail: Promise.resolve(null as unknown as PartitionResponse), waiting: 0 }
    appendQueues.set(local, queue)
  }
  queue.waiting++
  const answer = appendWhenReady(shard, acks, entry, local, index, batch, queue, codec >= 0 ? records.length : -1, produceLimits.maxMessageBytes,
    batchInfo.recordCount, batchInfo.producerId, batchInfo.producerEpoch, batchInfo.baseSequence, flushes)
  queue.tail = answer
  return answer
}

/**
 * The waiting half of appendInOrder: once the appends queued before this one are done and the batch is ready,
 * the same checks and append as a synchronous one. Never rejects. `bytesIn`: the batch's size as sent when it
 * was recompressed, else -1.
 */
async function appendWhenReady (shard: Shard, acks: number, entry: TopicEntry, local: LocalPartition, index: number, ready: Promise<Buffer>,
  queue: AppendQueue, bytesIn: number, maxMessageBytes: number, recordCount: number, producerId: number, producerEpoch: number, baseSequence: number,
  flushes: PendingFlushes): Promise<PartitionResponse> {
  const previous = queue.tail
  // Handled now, not once `previous` is done: a compression failing meanwhile must not be an unhandled rejection.
  const outcome = ready.then((batch) => batch, (error: unknown) => error instanceof Error ? error : new Error(String(error)))
  try {
    await previous
    const batch = await outcome
    if (batch instanceof Error) {
      shard.logger.limited('recompress-failed', 'error', `recompressing a batch for ${entry.name}-${index} failed: ${batch.message}`)
      return errorPartition(index, ErrorCode.UNKNOWN_SERVER_ERROR, 'recompression failed')
    }
    // The partition may have moved or been deleted while the batch was compressed.
    if (shard.partition(entry, index) !== local) return errorPartition(index, ErrorCode.NOT_LEADER_OR_FOLLOWER)
    if (bytesIn >= 0) {
      // Kafka checks the rewritten batch against max.message.bytes too (RecordTooLargeException).
      if (batch.length > maxMessageBytes) return errorPartition(index, ErrorCode.MESSAGE_TOO_LARGE, 'recompressed batch larger than max.message.bytes')
      count('produce-batches-recompressed')
      count('produce-recompressed-bytes-in', bytesIn)
      count('produce-recompressed-bytes-out', batch.length)
    }
    return appendNow(shard, acks, entry, local, index, batch, recordCount, producerId, producerEpoch, baseSequence, flushes)
  } catch (error) {
    // appendNow answers its own failures: anything here is a bug, contained to this partition.
    shard.logger.limited('queued-append-failed', 'error', `queued append to ${entry.name}-${index} failed: ${(error as Error).message}`)
    return errorPartition(index, ErrorCode.UNKNOWN_SERVER_ERROR)
  } finally {
    if (--queue.waiting === 0 && appendQueues.get(local) === queue) appendQueues.delete(local)
  }
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
    let answer: PartitionAnswer
    if (code !== ErrorCode.NONE) {
      count('produce-transactional-batches-refused')
      answer = errorPartition(batch.index, produceCodeForVerification(code))
    } else if (shard.partition(batch.entry, batch.index) !== batch.local) {
      answer = errorPartition(batch.index, ErrorCode.NOT_LEADER_OR_FOLLOWER)
    } else {
      answer = producePartition(shard, request, batch.entry, batch.local, batch.index, batch.records, true, flushes)
    }
    if (answer instanceof Promise) answer = await answer
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

/** Stands in for a queued append's response until it is known (the queued append never rejects). */
function queuedPlaceholder (index: number): PartitionResponse {
  return { index, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage: null }
}

/** Owner side: append every partition of the part, then (acks=-1) wait for the shared fsyncs. */
async function serveLocal (shard: Shard, request: ProduceRequest, apiVersion: number): Promise<ProduceResponse> {
  const responses: TopicResponse[] = []
  const flushes = new PendingFlushes()
  let unverified: Unverified[] | null = null
  let queued: Array<Promise<void>> | null = null
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
      if (answer instanceof Promise) {
        const at = partitionResponses.push(queuedPlaceholder(data.index)) - 1
        ;(queued ??= []).push(answer.then((response) => { partitionResponses[at] = response }))
        continue
      }
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
  // Queued appends put their fsyncs on `flushes` when they append: wait for them first.
  if (queued !== null) await Promise.all(queued)
  const tier = shard.tier
  if (flushes.pending) await flushes.settle(shard, tier !== null && shard.config.durability === 's3' ? request.timeoutMs : 0)
  // Past half of --s3-backlog-max-bytes not yet in S3: the client is asked to slow down (KIP-219's throttle time).
  return { responses, throttleTimeMs: tier === null ? 0 : tier.produceThrottleMs() }
}

/**
 * An acks=0 produce that authorization refuses: nothing can carry the error (no response is sent), so the
 * connection is closed, as Kafka closes it, and the client learns of the failure by reconnecting.
 */
function refuseUnanswered (context: RequestContext, reason: string): typeof kNoResponse {
  count('produce-acks0-refused')
  context.connection.close(reason)
  return kNoResponse
}

async function handle (context: RequestContext, request: ProduceRequest): Promise<ProduceResponse | typeof kNoResponse> {
  const { shard, apiVersion } = context
  // producer_byte_rate (KIP-13): the request's bytes, charged as it arrives; a throttle mutes the connection at
  // once (acks=0 too, as Kafka does). Kafka reads one request per connection at a time, so charging on the answer
  // is the same there; here a connection pipelines, and charging on the answer let a client with many requests in
  // flight (librdkafka: up to max.in.flight) pass tens of MB before the first answer muted it (bench --scenarios
  // quota). Without produce quotas this is the one check.
  const quotas = shard.table.quotas
  const throttleTimeMs = quotas.enabled[QuotaKind.PRODUCE]
    ? recordClientBytes(quotas, QuotaKind.PRODUCE, context.connection.principal.name, context.clientId, context.requestBytes, shard.config, context.connection)
    : 0
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
    return { responses: errorTopics(request.topicData, ErrorCode.INVALID_REQUIRED_ACKS), throttleTimeMs: 0 }
  }
  // Kafka's authorization: WRITE on the transactional id (every partition fails without it), WRITE per topic.
  // Without --authorizer this is the request's one flag check.
  let authorized: AuthorizedSplit<TopicData> | null = null
  if (shard.config.authorizer) {
    if (typeof request.transactionalId === 'string' && !allows(context, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId)) {
      if (request.acks === 0) return refuseUnanswered(context, 'acks=0 produce without WRITE on its transactional id')
      return { responses: errorTopics(request.topicData, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED), throttleTimeMs: 0 }
    }
    authorized = splitByTopic(context, request.topicData, AclOperation.WRITE, (t) => apiVersion >= 13 ? shard.table.topicById(t.topicId)?.name : t.name)
    if (authorized !== null && request.acks === 0) return refuseUnanswered(context, 'acks=0 produce to a topic without WRITE on it')
    if (authorized !== null) request = { ...request, topicData: authorized.allowed }
  }
  const grouping = groupByOwner(shard, request.topicData, (t) => topicEntry(shard, t, apiVersion), (t) => t.partitionData, (p) => p.index,
    (t, partitionData) => ({ ...t, partitionData }))
  // All on one other worker, request after request: the connection may move there (src/net/connection.ts).
  context.connection.noteRequestOwners(grouping.owners)
  const parts = new Map<number, ProduceRequest>()
  for (const [owner, topicData] of grouping.owners) parts.set(owner, { ...request, topicData })
  const calls = dispatchParts(shard, api, apiVersion, parts, serveLocal, null)
  const results: TopicResponse[][] = []
  // The largest throttle any owner asked for (its S3 backlog), else the quota's.
  let throttle = throttleTimeMs
  for (const call of calls) {
    const response = await call.response
    results.push(response.responses)
    if (response.throttleTimeMs > throttle) throttle = response.throttleTimeMs
  }
  if (grouping.unknown.length > 0) results.push(errorTopics(grouping.unknown, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
  if (authorized !== null) results.push(errorTopics(authorized.denied, ErrorCode.TOPIC_AUTHORIZATION_FAILED))
  if (request.acks === 0) return kNoResponse
  const key = apiVersion >= 13 ? (t: TopicResponse) => t.topicId : (t: TopicResponse) => t.name
  return { responses: results.length === 0 ? [] : mergeTopics(results, key, 'partitionResponses'), throttleTimeMs: throttle }
}

export const produceHandler: Handler = { api, minVersion: 3, maxVersion: 11, advertisedMinVersion: 0, handle }
// serveLocal validates and appends every batch before its first await (the append copies the bytes into the page
// cache), or for a batch it recompresses or queues copies what it needs first (appendInOrder), and keeps nothing
// of the request after that: parts from other workers are served from the ring itself.
export const produceServer = remoteServer(api, serveLocal, { servesInPlace: true })
