// Fetch (key 1), v4-16. Each owner reads whole batches straight from its segments (no decompression, no
// re-encoding) and long-polls until it has `minBytes` or `maxWaitMs` passes. When a request spans owners, the
// connection's worker wakes the other parts as soon as one part returns data, so a consumer is never held
// for `maxWaitMs` by an idle partition on another worker. Fetch sessions (KIP-227) are not kept: every
// response has session id 0, which clients treat as "full fetch each time".
//
// Limits (KIP-74): `partitionMaxBytes` per partition and `maxBytes` for the whole response; the first batch of
// the first partition with data is returned whole even when larger than both. A request split over owners gives
// each part a share of `maxBytes` (splitMaxBytes), so the merged response stays within it; each part may still
// return one first batch larger than its share.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import type { AppendWaiter, LocalPartition, Shard } from '../shard/shard.ts'
import { recordError, recordFetched } from '../metrics/worker-metrics.ts'
import type { TopicEntry } from '../shard/shard-table.ts'

const api = apiByKey(1)!

interface FetchPartition { partition: number, fetchOffset: number, partitionMaxBytes: number, logStartOffset: number, currentLeaderEpoch: number }
interface FetchTopic { topic: string, topicId: string, partitions: FetchPartition[] }
interface FetchRequest {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  isolationLevel: number
  sessionId: number
  sessionEpoch: number
  topics: FetchTopic[]
}
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

function unknownCode (apiVersion: number): number {
  return apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
}

/**
 * What one read of a part found: record bytes, the local partitions read, and whether any partition errored;
 * `records[i]` is what was read from `partitions[i]` (empty when that read failed).
 */
interface ReadState { bytes: number, partitions: LocalPartition[], records: Buffer[], errored: boolean }

function readState (): ReadState {
  return { bytes: 0, partitions: [], records: [], errored: false }
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
      out.partitions.push(local)
      const log = local.log
      const limit = Math.min(p.partitionMaxBytes, remaining)
      const result = log.read(p.fetchOffset, limit, out.bytes === 0, request.isolationLevel)
      if (result.errorCode !== ErrorCode.NONE) {
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
      partitions.push({
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: result.highWatermark,
        lastStableOffset: result.lastStableOffset,
        logStartOffset: result.logStartOffset,
        abortedTransactions: result.abortedTransactions,
        preferredReadReplica: -1,
        records
      })
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
      if (probe.bytes >= this.#request.minBytes || probe.errored) this.#settle(response, probe)
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
    countFetched(read)
    if (this.#timer !== null) clearTimeout(this.#timer)
    for (const local of this.#state.partitions) local.waiters.delete(this)
    if (this.#wakeKey !== null) this.#shard.fetchWakers.delete(this.#wakeKey)
    this.#shard.longPolls.delete(this.#finish)
    resolve(response)
  }
}

async function serveLocal (shard: Shard, request: FetchRequest, apiVersion: number, wakeKey: string | null): Promise<FetchResponse> {
  const state = readState()
  const response = readOnce(shard, request, apiVersion, state)
  // A worker shutting down (Shard#drain) answers with what it has rather than wait.
  if (state.bytes >= request.minBytes || state.errored || request.maxWaitMs <= 0 || state.partitions.length === 0 || shard.draining) {
    countFetched(state)
    return response
  }
  return new LongPoll(shard, request, apiVersion, wakeKey, state).start()
}

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

let localWakeCounter = 0

async function handle (context: RequestContext, request: FetchRequest): Promise<FetchResponse> {
  const { shard, apiVersion } = context
  if (request.sessionId !== 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] }
  }
  const grouping = groupByOwner(shard, request.topics, (t) => topicEntry(shard, t, apiVersion), (t) => t.partitions, (p) => p.partition,
    (t, partitions) => ({ ...t, partitions }))
  const parts = new Map<number, FetchRequest>()
  for (const [owner, topics] of grouping.owners) parts.set(owner, { ...request, topics })
  splitMaxBytes(parts, request.maxBytes)
  const unknown: TopicResponse[] = grouping.unknown.map((t) => ({
    topic: t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => errorPartition(p.partition, unknownCode(apiVersion)))
  }))
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
  }
  for (const call of calls) results.push((await call.response).responses)
  if (unknown.length > 0) results.push(unknown)
  const key = apiVersion >= 13 ? (t: TopicResponse) => t.topicId : (t: TopicResponse) => t.topic
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: results.length === 0 ? [] : mergeTopics(results, key, 'partitions') }
}

export const fetchHandler: Handler = { api, minVersion: 4, maxVersion: 16, handle }
export const fetchServer = remoteServer(api, serveLocal)
