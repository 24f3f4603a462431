// Fetch (key 1), v4-16. Each owner reads whole batches straight from its segments (no decompression, no
// re-encoding) and long-polls until it has `minBytes` or `maxWaitMs` passes. When a request spans owners, the
// connection's worker wakes the other parts as soon as one part returns data, so a consumer is never held
// for `maxWaitMs` by an idle partition on another worker.
//
// Fetch sessions (KIP-227, src/handlers/fetch-sessions.ts) are kept by the connection's worker: an incremental
// request is expanded here into the session's partitions (in the session's order), split over owners like any
// request (each part sent as a sessionless full fetch), and the merged response is filtered down to the
// partitions the client must hear about. Owners never see session ids.
//
// Limits (KIP-74): `partitionMaxBytes` per partition and `maxBytes` for the whole response; the first batch of
// the first partition with data is returned whole even when larger than both. One owner keeps this by itself
// (readOnce). A request split over owners gives each part a share of `maxBytes` (splitMaxBytes), and each part
// may still return one first batch larger than its share or its partitionMaxBytes; so the merged response is
// checked (enforceLimits): when no partition returned more than its partitionMaxBytes and the total is within
// maxBytes (the common case: one pass over the sizes, nothing changed), it goes as it is; otherwise it is cut
// back, in request order, to what one owner would have returned: whole batches within each partition's limit
// and what is left of maxBytes, the first partition with data keeping at least its first batch. A cut keeps
// whole batches (a subarray, no copy; counted as fetch-partitions-cut-to-limits); a client fetches what was cut
// again from the same offset.
//
// Tiered reads (--s3-bucket with local.retention.*): a fetch offset in [logStartOffset, localStartOffset) is only
// in S3. readOnce notes such partitions (PartitionLog.read answers OFFSET_MOVED_TO_TIERED_STORAGE, never sent to
// a client) with the budget they may use, reserved from the part's maxBytes, and the part is answered once
// readTiered has filled them in through the worker's RemoteReader (no long poll: data is on its way). A failed S3
// read answers that partition KAFKA_STORAGE_ERROR (retriable: the consumer fetches again). Local reads are
// unchanged: the tiered path is entered only from a read's error branch.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { AppendWaiter, LocalPartition, Shard } from '../shard/shard.ts'
import { recordError, recordFetched } from '../metrics/worker-metrics.ts'
import type { TopicEntry } from '../shard/shard-table.ts'
import { count } from '../counters.ts'
import { FetchSessionCache, nextSessionEpoch, type FetchSession } from './fetch-sessions.ts'
import { currentLeaderEpochError } from '../log/leader-epochs.ts'
import { QuotaKind } from '../quota/client-quotas.ts'
import { fetchQuotaWindowBytes, recordFetchBytes } from '../quota/quota-sensors.ts'
import { kReadCommitted, type LogReadResult } from '../log/partition-log.ts'
import { readInt64 } from '../protocol/int64.ts'

const api = apiByKey(1)!

interface FetchPartition { partition: number, fetchOffset: number, partitionMaxBytes: number, logStartOffset: number, currentLeaderEpoch: number, lastFetchedEpoch?: number }
interface FetchTopic { topic: string, topicId: string, partitions: FetchPartition[] }
interface FetchRequest {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  isolationLevel: number
  sessionId: number
  sessionEpoch: number
  topics: FetchTopic[]
  forgottenTopicsData?: ForgottenTopic[]
}
interface ForgottenTopic { topic: string, topicId: string, partitions: number[] }
interface PartitionData {
  partitionIndex: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  abortedTransactions: Array<{ producerId: number, firstOffset: number }> | null
  preferredReadReplica: number
  records: Buffer
}
interface TopicResponse { topic: string, topicId: string, partitions: PartitionData[] }
interface FetchResponse { throttleTimeMs: number, errorCode: number, sessionId: number, responses: TopicResponse[] }

function topicEntry (shard: Shard, topic: FetchTopic, apiVersion: number): TopicEntry | undefined {
  return apiVersion >= 13 ? shard.table.topicById(topic.topicId) : shard.table.topic(topic.topic)
}

/** Kafka answers "no records" with an empty record set, never null: librdkafka rejects a null (-1) size. */
const kNoRecords = Buffer.alloc(0)

function errorPartition (partitionIndex: number, errorCode: number): PartitionData {
  recordError(1, errorCode)
  return { partitionIndex, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, preferredReadReplica: -1, records: kNoRecords }
}

/** A partition answered without error: `records` and what the log read says of the partition. */
function answeredPartition (partitionIndex: number, result: LogReadResult, records: Buffer): PartitionData {
  return {
    partitionIndex,
    errorCode: ErrorCode.NONE,
    highWatermark: result.highWatermark,
    lastStableOffset: result.lastStableOffset,
    logStartOffset: result.logStartOffset,
    abortedTransactions: result.abortedTransactions,
    preferredReadReplica: -1,
    records
  }
}

function unknownCode (apiVersion: number): number {
  return apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
}

/**
 * What one read of a part found: record bytes, the local partitions read, and whether any partition errored;
 * `records[i]` is what was read from `partitions[i]` (empty when that read failed). `tiered`: the partitions
 * whose fetch offsets are only in S3, for readTiered (null when none, the common case).
 */
interface ReadState { bytes: number, partitions: LocalPartition[], records: Buffer[], errored: boolean, tiered: TieredRead[] | null }

/** A partition of a part to be read from S3: its answer (filled in by readTiered) and what to read. */
interface TieredRead {
  readonly local: LocalPartition
  readonly data: PartitionData
  /** Its index in ReadState.partitions / records. */
  readonly slot: number
  readonly fetchOffset: number
  readonly maxBytes: number
  readonly minOneBatch: boolean
  readonly isolationLevel: number
}

function readState (): ReadState {
  return { bytes: 0, partitions: [], records: [], errored: false, tiered: null }
}

/** The read is answered: its bytes and records count as fetched from their partitions (reads a long poll drops do not). */
function countFetched (state: ReadState): void {
  for (let i = 0; i < state.partitions.length; i++) recordFetched(state.partitions[i].stats, state.records[i])
}

/**
 * Reads every partition of the part once. Returns the response; `out` says what it holds. A partition error is
 * an answer in itself (Kafka answers a fetch at once when reading any partition failed), so it ends a long poll.
 */
function readOnce (shard: Shard, request: FetchRequest, apiVersion: number, out: ReadState): FetchResponse {
  const responses: TopicResponse[] = []
  let remaining = request.maxBytes > 0 ? request.maxBytes : 0x7fffffff
  out.bytes = 0
  out.partitions.length = 0
  out.records.length = 0
  out.errored = false
  out.tiered = null
  for (const topic of request.topics) {
    const entry = topicEntry(shard, topic, apiVersion)
    const partitions: PartitionData[] = []
    for (const p of topic.partitions) {
      const local = entry === undefined ? undefined : shard.partition(entry, p.partition)
      if (local === undefined) {
        partitions.push(errorPartition(p.partition, entry === undefined ? unknownCode(apiVersion) : ErrorCode.NOT_LEADER_OR_FOLLOWER))
        out.errored = true
        continue
      }
      const epochError = currentLeaderEpochError(p.currentLeaderEpoch)
      if (epochError !== ErrorCode.NONE) {
        partitions.push(errorPartition(p.partition, epochError))
        out.errored = true
        continue
      }
      out.partitions.push(local)
      const log = local.log
      const limit = Math.min(p.partitionMaxBytes, remaining)
      const minOneBatch = out.bytes === 0 && out.tiered === null
      const result = log.read(p.fetchOffset, limit, minOneBatch, request.isolationLevel)
      if (result.errorCode !== ErrorCode.NONE) {
        if (result.errorCode === ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE) {
          const data = answeredPartition(p.partition, result, kNoRecords)
          out.tiered ??= []
          out.tiered.push({ local, data, slot: out.records.length, fetchOffset: p.fetchOffset, maxBytes: limit, minOneBatch, isolationLevel: request.isolationLevel })
          out.records.push(kNoRecords)
          partitions.push(data)
          // Reserved: the S3 read may return up to this much (KIP-74 aside), and later partitions get the rest.
          remaining = Math.max(0, remaining - limit)
          continue
        }
        out.records.push(kNoRecords)
        partitions.push({ ...errorPartition(p.partition, result.errorCode), highWatermark: result.highWatermark, lastStableOffset: result.lastStableOffset, logStartOffset: result.logStartOffset })
        out.errored = true
        continue
      }
      const records = result.records ?? kNoRecords
      const size = records.length
      out.records.push(records)
      out.bytes += size
      remaining = Math.max(0, remaining - size)
      partitions.push(answeredPartition(p.partition, result, records))
    }
    responses.push({ topic: topic.topic, topicId: topic.topicId, partitions })
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses }
}

/**
 * A long poll over the local partitions of one part: re-reads when any of them is appended to, answers when
 * it has `minBytes`, when woken by the connection's worker, or at the deadline.
 */
class LongPoll implements AppendWaiter {
  readonly #shard: Shard
  readonly #request: FetchRequest
  readonly #apiVersion: number
  readonly #wakeKey: string | null
  readonly #state: ReadState
  #resolve: ((response: FetchResponse) => void) | null
  #timer: NodeJS.Timeout | null
  #recheckQueued: boolean
  /** finish(), bound once: how a drain (Shard#drain) answers this poll at once. */
  readonly #finish: () => void

  constructor (shard: Shard, request: FetchRequest, apiVersion: number, wakeKey: string | null, state: ReadState) {
    this.#shard = shard
    this.#request = request
    this.#apiVersion = apiVersion
    this.#wakeKey = wakeKey
    this.#state = state
    this.#resolve = null
    this.#timer = null
    this.#recheckQueued = false
    this.#finish = () => this.finish()
  }

  start (): Promise<FetchResponse> {
    return new Promise((resolve) => {
      this.#resolve = resolve
      for (const local of this.#state.partitions) local.waiters.add(this)
      if (this.#wakeKey !== null) this.#shard.fetchWakers.set(this.#wakeKey, this.#finish)
      this.#shard.longPolls.add(this.#finish)
      this.#timer = setTimeout(() => this.finish(), this.#request.maxWaitMs)
    })
  }

  onAppend (): void {
    // Appends come in bursts: re-read once per turn of the event loop, not once per append.
    if (this.#recheckQueued || this.#resolve === null) return
    this.#recheckQueued = true
    setImmediate(() => {
      this.#recheckQueued = false
      if (this.#resolve === null) return
      const probe = readState()
      const response = readOnce(this.#shard, this.#request, this.#apiVersion, probe)
      if (probe.bytes >= this.#request.minBytes || probe.errored || probe.tiered !== null) this.#settle(response, probe)
    })
  }

  finish (): void {
    if (this.#resolve === null) return
    const state = readState()
    this.#settle(readOnce(this.#shard, this.#request, this.#apiVersion, state), state)
  }

  #settle (response: FetchResponse, read: ReadState): void {
    const resolve = this.#resolve
    if (resolve === null) return
    this.#resolve = null
    if (this.#timer !== null) clearTimeout(this.#timer)
    for (const local of this.#state.partitions) local.waiters.delete(this)
    if (this.#wakeKey !== null) this.#shard.fetchWakers.delete(this.#wakeKey)
    this.#shard.longPolls.delete(this.#finish)
    if (read.tiered !== null) {
      // readTiered never rejects (each partition's failure is its error code).
      void readTiered(this.#shard, read).then(() => {
        countFetched(read)
        resolve(response)
      })
      return
    }
    countFetched(read)
    resolve(response)
  }
}

async function serveLocal (shard: Shard, request: FetchRequest, apiVersion: number, wakeKey: string | null): Promise<FetchResponse> {
  const state = readState()
  const response = readOnce(shard, request, apiVersion, state)
  if (state.tiered !== null) {
    await readTiered(shard, state)
    countFetched(state)
    return response
  }
  // A worker shutting down (Shard#drain) answers with what it has rather than wait.
  if (state.bytes >= request.minBytes || state.errored || request.maxWaitMs <= 0 || state.partitions.length === 0 || shard.draining) {
    countFetched(state)
    return response
  }
  return new LongPoll(shard, request, apiVersion, wakeKey, state).start()
}

/** Fills in the part's partitions whose fetch offsets are only in S3 (see the header); never rejects. */
function readTiered (shard: Shard, state: ReadState): Promise<unknown> {
  const reads = state.tiered as TieredRead[]
  return reads.length === 1 ? readOneTiered(shard, state, reads[0]) : Promise.all(reads.map((read) => readOneTiered(shard, state, read)))
}

async function readOneTiered (shard: Shard, state: ReadState, read: TieredRead): Promise<void> {
  const data = read.data
  const local = read.local
  try {
    const reader = shard.remoteReader
    if (reader === null) throw new Error('this worker has no S3 reader')
    const readCommitted = read.isolationLevel === kReadCommitted
    // read_committed stops at the last stable offset (a batch boundary), as a local read does.
    if (readCommitted && read.fetchOffset >= data.lastStableOffset) return
    let records = await reader.read(local.topic.id, local.index, read.fetchOffset, read.maxBytes, read.minOneBatch)
    if (records === null) return
    if (readCommitted) {
      records = batchesBelow(records, data.lastStableOffset)
      if (records.length > 0) data.abortedTransactions = local.log.abortedTransactions.collect(read.fetchOffset, endOffsetOf(records))
    }
    data.records = records
    state.records[read.slot] = records
    state.bytes += records.length
  } catch (error) {
    count('s3-tiered-read-errors')
    shard.logger.limited('fetch:s3', 'warn', `fetch of ${local.topic.name}-${local.index} at offset ${read.fetchOffset} from S3 failed: ${(error as Error).message}`)
    recordError(1, ErrorCode.KAFKA_STORAGE_ERROR)
    data.errorCode = ErrorCode.KAFKA_STORAGE_ERROR
    data.records = kNoRecords
    data.abortedTransactions = null
  }
}

/** The whole batches at the start of `records` whose base offsets are below `offset`. */
function batchesBelow (records: Buffer, offset: number): Buffer {
  let end = 0
  while (end + kLogOverhead <= records.length && readInt64(records, end) < offset) end += kLogOverhead + records.readInt32BE(end + kBatchLengthOffset)
  return end >= records.length ? records : records.subarray(0, end)
}

/** The offset after the last batch of `records` (whole batches, at least one). */
function endOffsetOf (records: Buffer): number {
  let at = 0
  let last = 0
  while (at + kLogOverhead <= records.length) {
    last = at
    at += kLogOverhead + records.readInt32BE(at + kBatchLengthOffset)
  }
  return readInt64(records, last) + records.readInt32BE(last + kLastOffsetDeltaOffset) + 1
}

/** The batch header's lastOffsetDelta (int32). */
const kLastOffsetDeltaOffset = 23

/**
 * Shares the request's `maxBytes` out among its parts in proportion to what their partitions may return
 * (the sum of their partitionMaxBytes), at least 1 byte each, so that the parts' responses together stay within
 * it. A client sizes its receive buffer from `maxBytes` (librdkafka fails a response above
 * receive.message.max.bytes); each part reading up to the whole limit would return up to one limit per worker.
 */
export function splitMaxBytes (parts: Map<number, FetchRequest>, maxBytes: number): void {
  if (parts.size < 2 || maxBytes <= 0) return
  const wants = new Map<number, number>()
  let total = 0
  for (const [owner, part] of parts) {
    let want = 0
    for (const topic of part.topics) for (const p of topic.partitions) want += Math.max(0, p.partitionMaxBytes)
    wants.set(owner, want)
    total += want
  }
  for (const [owner, part] of parts) {
    const share = total === 0 ? maxBytes / parts.size : maxBytes * (wants.get(owner)! / total)
    part.maxBytes = Math.max(1, Math.floor(share))
  }
}

/** Bytes of the whole record batches at the start of `records` that fit in `limit`. */
function wholeBatchesWithin (records: Buffer, limit: number): number {
  let end = 0
  while (end + kLogOverhead <= records.length) {
    const next = end + kLogOverhead + records.readInt32BE(end + kBatchLengthOffset)
    if (next > limit || next > records.length) break
    end = next
  }
  return end
}

/** Offset (8) and length (4) before each batch's body: the batch's size is kLogOverhead + its length field. */
const kLogOverhead = 12
const kBatchLengthOffset = 8

function topicKeyOf (apiVersion: number): (topic: { topic: string, topicId: string }) => string {
  return apiVersion >= 13 ? (t) => t.topicId : (t) => t.topic
}

/**
 * KIP-74 over a request split into `partRequests` (see the header): cuts the parts' responses (same order,
 * each listing its request's partitions in order) back in place to what one owner would have returned.
 */
export function enforceLimits (request: FetchRequest, partRequests: readonly FetchRequest[], partResponses: readonly FetchResponse[], apiVersion: number): void {
  const maxBytes = request.maxBytes > 0 ? request.maxBytes : 0x7fffffff
  let total = 0
  let oversized = false
  for (let i = 0; i < partRequests.length; i++) {
    const topics = partRequests[i].topics
    const responses = partResponses[i].responses
    for (let t = 0; t < topics.length && t < responses.length; t++) {
      const asked = topics[t].partitions
      const got = responses[t].partitions
      for (let p = 0; p < asked.length && p < got.length; p++) {
        const size = got[p].records === null ? 0 : got[p].records.length
        total += size
        if (size > asked[p].partitionMaxBytes) oversized = true
      }
    }
  }
  if (!oversized && total <= maxBytes) return
  // Rare: some part returned a batch beyond its limits. Walk the partitions in request order.
  const keyOf = topicKeyOf(apiVersion)
  const found = new Map<string, Map<number, PartitionData>>()
  for (const response of partResponses) {
    for (const topic of response.responses) {
      let byPartition = found.get(keyOf(topic))
      if (byPartition === undefined) found.set(keyOf(topic), byPartition = new Map())
      for (const p of topic.partitions) byPartition.set(p.partitionIndex, p)
    }
  }
  let budget = maxBytes
  let first = true
  for (const topic of request.topics) {
    const byPartition = found.get(keyOf(topic))
    if (byPartition === undefined) continue
    for (const p of topic.partitions) {
      const data = byPartition.get(p.partition)
      if (data === undefined || data.records === null || data.records.length === 0) continue
      let kept = wholeBatchesWithin(data.records, Math.min(Math.max(p.partitionMaxBytes, 0), budget))
      if (kept === 0 && first && data.records.length >= kLogOverhead) kept = wholeBatchesWithin(data.records, kLogOverhead + data.records.readInt32BE(kBatchLengthOffset))
      first = false
      if (kept < data.records.length) {
        count('fetch-partitions-cut-to-limits')
        data.records = kept === 0 ? kNoRecords : data.records.subarray(0, kept)
      }
      budget = Math.max(0, budget - kept)
    }
  }
}

/** KIP-227 epochs of a full fetch: 0 asks for a new session, -1 (FINAL) for none. */
const kInitialEpoch = 0
const kFinalEpoch = -1

/** Partitions one session may hold, and all of one worker's sessions together (about 200 bytes each). */
const kMaxCachedPartitions = 100_000
/** Kafka's min.incremental.fetch.session.eviction.ms: a session idle this long may be evicted by any new one. */
const kSessionStaleMs = 120_000

const sessionCaches = new WeakMap<Shard, FetchSessionCache>()

function sessionCacheOf (shard: Shard): FetchSessionCache {
  let cache = sessionCaches.get(shard)
  if (cache === undefined) {
    const config = shard.config
    const workers = Math.max(1, config.workers)
    cache = new FetchSessionCache({
      slots: Math.ceil((config.maxIncrementalFetchSessionCacheSlots ?? 1000) / workers),
      maxPartitionsPerSession: Math.min(config.maxBrokerPartitions ?? 5000, kMaxCachedPartitions),
      maxCachedPartitions: kMaxCachedPartitions,
      staleMs: kSessionStaleMs,
      workerIndex: shard.index,
      workers
    })
    sessionCaches.set(shard, cache)
  }
  return cache
}

function sessionError (errorCode: number): FetchResponse {
  count('fetch-session-errors')
  recordError(1, errorCode)
  return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] }
}

/**
 * Applies an incremental request to its session (added and changed partitions, then forgotten ones): the
 * session, or the error code to answer with. A session left empty is removed (Kafka then answers sessionless).
 */
function applyIncremental (cache: FetchSessionCache, request: FetchRequest, apiVersion: number): FetchSession | number {
  const session = cache.get(request.sessionId)
  if (session === undefined) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND
  if (session.usesTopicIds !== (apiVersion >= 13)) return ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR
  if (session.epoch !== request.sessionEpoch) return ErrorCode.INVALID_FETCH_SESSION_EPOCH
  const keyOf = topicKeyOf(apiVersion)
  const before = session.size
  for (const topic of request.topics) {
    const key = keyOf(topic)
    for (const p of topic.partitions) session.upsert(key, topic.topic, topic.topicId, p)
  }
  for (const topic of request.forgottenTopicsData ?? []) {
    const key = keyOf(topic)
    for (const partition of topic.partitions) session.forget(key, partition)
  }
  if (!cache.resized(session, session.size - before)) {
    cache.remove(session.id)
    count('fetch-sessions-evicted')
    return ErrorCode.FETCH_SESSION_ID_NOT_FOUND
  }
  session.epoch = nextSessionEpoch(session.epoch)
  cache.touch(session)
  return session
}

/**
 * The session's partitions as request topics, in the session's order. A session partition is a FetchPartition
 * (with more fields, which encoding a part ignores), so it goes into the request as it is: no copy per partition.
 */
function sessionTopics (session: FetchSession): FetchTopic[] {
  const topics: FetchTopic[] = []
  for (const partitions of session.topics.values()) {
    let topic: FetchTopic | null = null
    for (const p of partitions.values()) {
      if (topic === null) topics.push(topic = { topic: p.topic, topicId: p.topicId, partitions: [] })
      topic.partitions.push(p)
    }
  }
  return topics
}

/**
 * An incremental response: only the partitions with records, an error, or offsets other than those last sent
 * (KIP-227); the session remembers what it sent, and partitions that returned records move to the end of its order.
 */
function incrementalResponses (session: FetchSession, responses: TopicResponse[], apiVersion: number): TopicResponse[] {
  const keyOf = topicKeyOf(apiVersion)
  const out: TopicResponse[] = []
  for (const topic of responses) {
    const key = keyOf(topic)
    const kept: PartitionData[] = []
    for (const p of topic.partitions) {
      const cached = session.get(key, p.partitionIndex)
      const hasRecords = p.records !== null && p.records.length > 0
      if (cached !== undefined) {
        if (!hasRecords && p.errorCode === ErrorCode.NONE && cached.highWatermark === p.highWatermark &&
          cached.lastStableOffset === p.lastStableOffset && cached.leaderLogStartOffset === p.logStartOffset) continue
        remember(cached, p)
        if (hasRecords) session.rotate(key, cached)
      }
      kept.push(p)
    }
    if (kept.length === topic.partitions.length) out.push(topic)
    else if (kept.length > 0) out.push({ topic: topic.topic, topicId: topic.topicId, partitions: kept })
  }
  return out
}

/** What the client was told of a partition. After an error nothing is known: the next answer always includes it. */
function remember (cached: { highWatermark: number, lastStableOffset: number, leaderLogStartOffset: number }, p: PartitionData): void {
  const ok = p.errorCode === ErrorCode.NONE
  cached.highWatermark = ok ? p.highWatermark : -2
  cached.lastStableOffset = ok ? p.lastStableOffset : -2
  cached.leaderLogStartOffset = ok ? p.logStartOffset : -2
}

/** A full fetch with epoch 0 answered: a new session of its partitions, or none when the cache has no room. */
function createSession (cache: FetchSessionCache, request: FetchRequest, responses: TopicResponse[], apiVersion: number): number {
  let size = 0
  for (const topic of request.topics) size += topic.partitions.length
  const session = cache.create(size, apiVersion >= 13, () => count('fetch-sessions-evicted'))
  if (session === null) return 0
  const keyOf = topicKeyOf(apiVersion)
  for (const topic of request.topics) {
    const key = keyOf(topic)
    for (const p of topic.partitions) session.upsert(key, topic.topic, topic.topicId, p)
  }
  for (const topic of responses) {
    const key = keyOf(topic)
    for (const p of topic.partitions) {
      const cached = session.get(key, p.partitionIndex)
      if (cached !== undefined) remember(cached, p)
    }
  }
  cache.resized(session, session.size)
  count('fetch-sessions-created')
  return session.id
}

let localWakeCounter = 0

/**
 * consumer_byte_rate (KIP-13, KIP-219): the throttle time of a response of `responses` (their record bytes), 0
 * when it goes out as it is; above 0 it goes out empty, carrying the throttle, and the connection is muted.
 * Called only when some entity has a fetch quota (handle checks that once).
 */
function fetchThrottleTimeMs (context: RequestContext, responses: readonly TopicResponse[]): number {
  const quotas = context.shard.table.quotas
  let bytes = 0
  for (const topic of responses) for (const p of topic.partitions) bytes += p.records.length
  return recordFetchBytes(quotas, context.connection.principal.name, context.clientId, bytes, context.shard.config, context.connection)
}

async function handle (context: RequestContext, request: FetchRequest): Promise<FetchResponse> {
  const { apiVersion } = context
  // Under consumer_byte_rate a fetch returns at most the quota's window of bytes (Kafka's fetch.max.bytes bound).
  // Without fetch quotas this is the request's one fetch-quota check.
  const fetchQuota = context.shard.table.quotas.enabled[QuotaKind.FETCH]
  if (fetchQuota) {
    const windowBytes = fetchQuotaWindowBytes(context.shard.table.quotas, context.connection.principal.name, context.clientId, context.shard.config)
    if (windowBytes < request.maxBytes) request = { ...request, maxBytes: windowBytes, minBytes: Math.min(request.minBytes, windowBytes) }
  }
  const cache = sessionCacheOf(context.shard)
  if (request.sessionEpoch === kInitialEpoch || request.sessionEpoch === kFinalEpoch) {
    count('fetch-requests-full')
    // A full fetch naming a session closes it.
    if (request.sessionId !== 0 && cache.remove(request.sessionId)) count('fetch-sessions-closed')
    const responses = await fetchTopics(context, request)
    const throttleTimeMs = fetchQuota ? fetchThrottleTimeMs(context, responses) : 0
    if (throttleTimeMs > 0) return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: 0, responses: [] }
    const sessionId = request.sessionEpoch === kInitialEpoch && request.topics.length > 0 ? createSession(cache, request, responses, apiVersion) : 0
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId, responses }
  }
  count('fetch-requests-incremental')
  const session = applyIncremental(cache, request, apiVersion)
  if (typeof session === 'number') return sessionError(session)
  if (session.size === 0) {
    cache.remove(session.id)
    count('fetch-sessions-closed')
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: [] }
  }
  const responses = await fetchTopics(context, { ...request, topics: sessionTopics(session) })
  // Throttled: the session's partitions keep what they had (nothing was sent), as Kafka's throttled response.
  const throttleTimeMs = fetchQuota ? fetchThrottleTimeMs(context, responses) : 0
  if (throttleTimeMs > 0) return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: session.id, responses: [] }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: session.id, responses: incrementalResponses(session, responses, apiVersion) }
}

/** Reads every partition of the (full, sessionless) request: split by owner, long-polled, merged, within KIP-74. */
async function fetchTopics (context: RequestContext, request: FetchRequest): Promise<TopicResponse[]> {
  const { shard, apiVersion } = context
  // Kafka's authorization: READ per topic, TOPIC_AUTHORIZATION_FAILED for each partition of a topic without it.
  const authorized = shard.config.authorizer ? splitByTopic(context, request.topics, AclOperation.READ, (t) => apiVersion >= 13 ? shard.table.topicById(t.topicId)?.name : t.topic) : null
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  const grouping = groupByOwner(shard, request.topics, (t) => topicEntry(shard, t, apiVersion), (t) => t.partitions, (p) => p.partition,
    (t, partitions) => ({ ...t, partitions }))
  // All on one other worker, request after request: the connection may move there (src/net/connection.ts).
  context.connection.noteRequestOwners(grouping.owners)
  const parts = new Map<number, FetchRequest>()
  // Owners serve sessionless parts: sessions are the connection's worker's alone.
  for (const [owner, topics] of grouping.owners) parts.set(owner, { ...request, sessionId: 0, sessionEpoch: kFinalEpoch, topics, forgottenTopicsData: [] })
  splitMaxBytes(parts, request.maxBytes)
  const unknown: TopicResponse[] = grouping.unknown.map((t) => ({
    topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => errorPartition(p.partition, unknownCode(apiVersion)))
  }))
  if (authorized !== null) {
    for (const t of authorized.denied) unknown.push({ topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => errorPartition(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) })
  }
  const localWakeKey = parts.size > 1 ? `local:${++localWakeCounter}` : null
  // Unknown partitions are an answer in themselves: do not wait on the others.
  if (unknown.length > 0) for (const part of parts.values()) part.maxWaitMs = 0
  const calls = dispatchParts(shard, api, apiVersion, parts, serveLocal, localWakeKey)
  const results: TopicResponse[][] = []
  if (calls.length > 1) {
    // The first part that comes back with data or an error releases the others: a partition error (offset out
    // of range, a partition moved, its owner down) is an answer the client acts on at once, as Kafka answers it.
    let woken = false
    const wakeOthers = (): void => {
      if (woken) return
      woken = true
      for (const call of calls) {
        if (call.token === -1) shard.fetchWakers.get(localWakeKey as string)?.()
        else shard.wakeFetch(call.owner, call.token)
      }
    }
    for (const call of calls) {
      call.response.then((response) => {
        if (response.responses.some((t) => t.partitions.some((p) => p.records.length > 0 || p.errorCode !== ErrorCode.NONE))) wakeOthers()
      }, wakeOthers)
    }
    const partResponses: FetchResponse[] = []
    for (const call of calls) partResponses.push(await call.response)
    enforceLimits(request, calls.map((call) => parts.get(call.owner)!), partResponses, apiVersion)
    for (const response of partResponses) results.push(response.responses)
  } else {
    for (const call of calls) results.push((await call.response).responses)
  }
  if (unknown.length > 0) results.push(unknown)
  const key = apiVersion >= 13 ? (t: TopicResponse) => t.topicId : (t: TopicResponse) => t.topic
  return results.length === 0 ? [] : mergeTopics(results, key, 'partitions')
}

export const fetchHandler: Handler = { api, minVersion: 4, maxVersion: 16, handle }
export const fetchServer = remoteServer(api, serveLocal)
