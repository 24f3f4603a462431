// The quota sensors of one worker thread: the rate windows and token buckets requests are recorded in, keyed
// by the resolved quota's sensor (src/quota/client-quotas.ts, ResolvedQuota.sensorKey), and the calls the
// handlers make to learn a request's throttle time.
//
// Kafka's quotas are per broker. Each worker keeps the windows of the connections it owns and judges a request
// against the whole quota by its own measure plus what the same sensor measures on the broker's other workers:
// every kShareIntervalMs each worker sends the others its rates above zero (Shard, over the rings), and a rate
// heard from a worker counts for kPeerRateTtlMs after it was sent, so a peer that stops sending stops counting.
// A client id or user whose connections land on several workers is therefore held to its quota across them, as
// on a Kafka broker, within one share interval (the rates are over windows of a second or more, so a rate a
// quarter of a second old is close). Nothing crosses threads per request: a broker with no quota shares nothing,
// and a request with a quota pays one lookup per worker. The windows and the throttle formula stay Kafka's; a
// single-connection client (the common case) sees exactly the throttles of before, its peers measuring nothing
// for its sensor. controller_mutation_rate's token buckets are kept in step the same way: each share carries the
// permits spent since the last, and the others spend them from their own buckets. Stated in README.md (Quotas).
//
// A sensor not recorded into for an hour is dropped (Kafka's inactive sensor expiry), checked at most once a
// minute, when a request is recorded.

import { SampledRate, TokenBucket, bucketThrottleTimeMs, kDefaultQuotaWindows, rateThrottleTimeMs, type QuotaWindows } from './rate.ts'
import { QuotaKind, type QuotaKindIndex, type QuotaResolver, type ResolvedQuota } from './client-quotas.ts'

const kInactiveSensorMs = 3600_000
const kExpiryScanIntervalMs = 60_000
/** How often a worker shares its rates with the others (src/shard/shard.ts). */
export const kShareIntervalMs = 250
/** How long a rate heard from another worker counts (a worker that is gone or idle stops counting). */
export const kPeerRateTtlMs = 4 * kShareIntervalMs
/** At most this many sensors go into one share (the busiest first), so a flood of client ids stays bounded. */
export const kMaxSharedSensors = 4096

/** What a quota mutes: the connection (src/net/connection.ts, Connection#throttle), structurally. */
export interface Throttleable {
  throttle (ms: number): void
}

/** The flags a worker's quota windows come from (BrokerConfig's). */
export interface QuotaWindowFlags {
  readonly quotaWindowNum: number
  readonly quotaWindowSizeSeconds: number
}

const windowsByConfig = new WeakMap<QuotaWindowFlags, QuotaWindows>()

/** The windows of a config (one object per config, so that the quota path allocates nothing for them). */
export function quotaWindowsOf (config: QuotaWindowFlags): QuotaWindows {
  let windows = windowsByConfig.get(config)
  if (windows === undefined) {
    const samples = Number.isInteger(config.quotaWindowNum) && config.quotaWindowNum >= 1 ? config.quotaWindowNum : kDefaultQuotaWindows.samples
    const seconds = Number.isInteger(config.quotaWindowSizeSeconds) && config.quotaWindowSizeSeconds >= 1 ? config.quotaWindowSizeSeconds : 1
    windows = Object.freeze({ samples, windowMs: seconds * 1000 })
    windowsByConfig.set(config, windows)
  }
  return windows
}

export class QuotaSensors {
  readonly #rates = new Map<string, SampledRate>()
  readonly #buckets = new Map<string, TokenBucket>()
  #nextExpiryScan = 0
  /** The other workers' shared rates by worker index (sensor key -> units a second), and when each was sent. */
  readonly #peerRates: Array<Map<string, number> | undefined> = []
  readonly #peerSentMs: number[] = []
  /** The last share had rates (so the next, even empty, goes out: the peers drop them at once). */
  #sharedSome = false
  /** controller_mutation_rate permits this worker recorded since its last share, by sensor key, with the bound. */
  readonly #unsharedMutations = new Map<string, { permits: number, bound: number }>()

  get size (): number {
    return this.#rates.size + this.#buckets.size
  }

  #expire (nowMs: number): void {
    if (nowMs < this.#nextExpiryScan) return
    this.#nextExpiryScan = nowMs + kExpiryScanIntervalMs
    for (const [key, rate] of this.#rates) if (nowMs - rate.lastRecordMs >= kInactiveSensorMs) this.#rates.delete(key)
    for (const [key, bucket] of this.#buckets) if (nowMs - bucket.lastRecordMs >= kInactiveSensorMs) this.#buckets.delete(key)
  }

  #rate (quota: ResolvedQuota, windows: QuotaWindows, nowMs: number): SampledRate {
    let rate = this.#rates.get(quota.sensorKey)
    if (rate === undefined) {
      rate = new SampledRate(windows, nowMs)
      this.#rates.set(quota.sensorKey, rate)
    }
    return rate
  }

  /**
   * Records `value` (bytes; for request_percentage, percent-seconds of worker time) in the quota's windows and
   * returns the throttle time Kafka gives: 0 within the bound. Request-time throttles are capped at one
   * window, as Kafka's ClientRequestQuotaManager caps them; byte-rate ones are not.
   */
  recordRate (quota: ResolvedQuota, kind: QuotaKindIndex, value: number, windows: QuotaWindows, nowMs: number): number {
    this.#expire(nowMs)
    const rate = this.#rate(quota, windows, nowMs)
    rate.record(value, nowMs)
    return rateThrottleTimeMs(rate, quota.bound, nowMs, kind === QuotaKind.REQUEST ? windows.windowMs : Infinity, this.peerRate(quota.sensorKey, nowMs))
  }

  /** What the other workers measure for the sensor `key`, in units a second (0 when none shared it lately). */
  peerRate (key: string, nowMs: number): number {
    let total = 0
    for (let worker = 0; worker < this.#peerRates.length; worker++) {
      const rates = this.#peerRates[worker]
      if (rates === undefined || nowMs - this.#peerSentMs[worker] > kPeerRateTtlMs) continue
      total += rates.get(key) ?? 0
    }
    return total
  }

  /**
   * This worker's rates for the others: [sensor key, units a second] of each sensor measuring above zero (at most
   * kMaxSharedSensors, the largest first), or null when there is nothing to say (nothing now, nothing last time).
   */
  ratesToShare (nowMs: number): Array<[string, number]> | null {
    const rates: Array<[string, number]> = []
    for (const [key, rate] of this.#rates) {
      const value = rate.measure(nowMs)
      if (value > 0) rates.push([key, value])
    }
    if (rates.length === 0 && !this.#sharedSome) return null
    this.#sharedSome = rates.length > 0
    if (rates.length > kMaxSharedSensors) {
      rates.sort((a, b) => b[1] - a[1])
      rates.length = kMaxSharedSensors
    }
    return rates
  }

  /**
   * Another worker's share (as ratesToShare made it; `sentMs` is when): replaces what it shared before. Entries
   * that are not [string, finite number >= 0] are skipped (the rings carry only what workers wrote, but a rate
   * must never make a throttle NaN).
   */
  acceptPeerRates (worker: number, rates: unknown, sentMs: number): void {
    if (!Number.isInteger(worker) || worker < 0 || worker > 1024 || !Array.isArray(rates)) return
    const map = new Map<string, number>()
    for (const entry of rates) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1]) || entry[1] < 0) continue
      map.set(entry[0], entry[1])
    }
    this.#peerRates[worker] = map
    this.#peerSentMs[worker] = sentMs
  }

  /** Forgets what `worker` shared (it died: its connections are gone). */
  forgetPeer (worker: number): void {
    this.#peerRates[worker] = undefined
  }

  /** Takes back bytes recorded for a response that was then not sent (a throttled fetch answers empty). */
  unrecordRate (quota: ResolvedQuota, value: number, windows: QuotaWindows, nowMs: number): void {
    this.#rate(quota, windows, nowMs).record(-value, nowMs)
  }

  /**
   * KIP-599 controller mutations. Strict (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+): a mutation
   * is refused while the bucket is below zero, else recorded whole (it may take the bucket below zero: the next
   * one is refused). Permissive (older versions): always recorded. Returns whether it was accepted; `out`
   * receives the throttle time (the time the bucket takes to refill to zero) when the bucket is below zero after
   * a permissive record, or when a strict one was refused, as Kafka's quotas report it.
   */
  recordMutation (quota: ResolvedQuota, permits: number, strict: boolean, windows: QuotaWindows, nowMs: number, out: { throttleTimeMs: number }): boolean {
    this.#expire(nowMs)
    let bucket = this.#buckets.get(quota.sensorKey)
    if (bucket === undefined) {
      bucket = new TokenBucket(windows, quota.bound, nowMs)
      this.#buckets.set(quota.sensorKey, bucket)
    }
    if (strict) {
      const throttle = bucketThrottleTimeMs(bucket, quota.bound, nowMs)
      if (throttle > 0) {
        out.throttleTimeMs = Math.max(out.throttleTimeMs, throttle)
        return false
      }
      bucket.record(permits, quota.bound, nowMs)
      this.#noteMutation(quota, permits)
      return true
    }
    bucket.record(permits, quota.bound, nowMs)
    this.#noteMutation(quota, permits)
    out.throttleTimeMs = Math.max(out.throttleTimeMs, bucketThrottleTimeMs(bucket, quota.bound, nowMs))
    return true
  }

  #noteMutation (quota: ResolvedQuota, permits: number): void {
    const pending = this.#unsharedMutations.get(quota.sensorKey)
    if (pending === undefined) this.#unsharedMutations.set(quota.sensorKey, { permits, bound: quota.bound })
    else pending.permits += permits
  }

  /**
   * The controller_mutation_rate permits recorded here since the last call, as [sensor key, permits, bound], or
   * null when there were none. Each worker spends the others' permits from its own bucket (acceptPeerMutations),
   * so every bucket holds the broker's spending within a share interval (each refills at the quota on its own,
   * the same for all).
   */
  mutationsToShare (): Array<[string, number, number]> | null {
    if (this.#unsharedMutations.size === 0) return null
    const mutations: Array<[string, number, number]> = []
    for (const [key, { permits, bound }] of this.#unsharedMutations) mutations.push([key, permits, bound])
    this.#unsharedMutations.clear()
    return mutations
  }

  /** Another worker's mutations (as mutationsToShare made them), spent from this worker's buckets; garbage skipped. */
  acceptPeerMutations (mutations: unknown, windows: QuotaWindows, nowMs: number): void {
    if (!Array.isArray(mutations)) return
    for (const entry of mutations) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || typeof entry[2] !== 'number') continue
      const [key, permits, bound] = entry as [string, number, number]
      if (!Number.isFinite(permits) || permits <= 0 || !Number.isFinite(bound) || bound <= 0) continue
      let bucket = this.#buckets.get(key)
      if (bucket === undefined) {
        bucket = new TokenBucket(windows, bound, nowMs)
        this.#buckets.set(key, bucket)
      }
      bucket.record(permits, bound, nowMs)
    }
  }
}

/** This thread's sensors. */
export const workerQuotaSensors = new QuotaSensors()

/**
 * A request's bytes against its producer_byte_rate or consumer_byte_rate: records them when a quota applies,
 * mutes `connection` for the throttle time (KIP-219: the response goes at once, carrying it, and the connection
 * is not read until it has passed) and returns it; 0 when no quota applies. Callers check
 * `resolver.enabled[kind]` first, so a broker without quotas pays only that.
 */
export function recordClientBytes (resolver: QuotaResolver, kind: QuotaKindIndex, user: string, clientId: string | null, bytes: number,
  config: QuotaWindowFlags, connection: Throttleable | null): number {
  const quota = resolver.resolve(kind, user, clientId ?? '')
  if (quota === null) return 0
  const throttleTimeMs = workerQuotaSensors.recordRate(quota, kind, bytes, quotaWindowsOf(config), Date.now())
  if (throttleTimeMs > 0 && connection !== null) connection.throttle(throttleTimeMs)
  return throttleTimeMs
}

/**
 * A fetch response's bytes against consumer_byte_rate, as Kafka's handleFetch charges them: recorded; when that
 * brings a throttle, taken back again (the response then goes out empty: KIP-219's throttled fetch), the
 * connection muted, and the throttle time returned. 0: send the response as it is.
 */
export function recordFetchBytes (resolver: QuotaResolver, user: string, clientId: string | null, bytes: number, config: QuotaWindowFlags, connection: Throttleable | null): number {
  const quota = resolver.resolve(QuotaKind.FETCH, user, clientId ?? '')
  if (quota === null) return 0
  const windows = quotaWindowsOf(config)
  const nowMs = Date.now()
  const throttleTimeMs = workerQuotaSensors.recordRate(quota, QuotaKind.FETCH, bytes, windows, nowMs)
  if (throttleTimeMs > 0) {
    workerQuotaSensors.unrecordRate(quota, bytes, windows, nowMs)
    if (connection !== null) connection.throttle(throttleTimeMs)
  }
  return throttleTimeMs
}

/**
 * The most bytes one fetch may return under consumer_byte_rate (Kafka's getMaxValueInQuotaWindow: the quota
 * times samples - 1 windows), so that a fetch within the quota is never throttled for its size alone; Infinity
 * without a fetch quota.
 */
export function fetchQuotaWindowBytes (resolver: QuotaResolver, user: string, clientId: string | null, config: QuotaWindowFlags): number {
  const quota = resolver.resolve(QuotaKind.FETCH, user, clientId ?? '')
  if (quota === null) return Infinity
  const windows = quotaWindowsOf(config)
  return Math.max(1, Math.floor(quota.bound * Math.max(1, windows.samples - 1) * windows.windowMs / 1000))
}

/**
 * request_percentage (KIP-124): `handlerMs` of this worker's time spent on one request, as the percentage of a
 * second Kafka records (ms / 10), against the quota; mutes `connection` for the throttle (at most one window,
 * as Kafka caps it) and returns it, 0 within the quota or without one.
 */
export function recordRequestTime (resolver: QuotaResolver, user: string, clientId: string | null, handlerMs: number, config: QuotaWindowFlags, connection: Throttleable | null): number {
  const quota = resolver.resolve(QuotaKind.REQUEST, user, clientId ?? '')
  if (quota === null) return 0
  const throttleTimeMs = workerQuotaSensors.recordRate(quota, QuotaKind.REQUEST, handlerMs / 10, quotaWindowsOf(config), Date.now())
  if (throttleTimeMs > 0 && connection !== null) connection.throttle(throttleTimeMs)
  return throttleTimeMs
}

/** The controller_mutation_rate of one request: each topic's partitions are offered in turn (`accept`). */
export class ControllerMutationQuota {
  readonly #quota: ResolvedQuota | null
  readonly #strict: boolean
  readonly #windows: QuotaWindows
  readonly #out: { throttleTimeMs: number }

  constructor (resolver: QuotaResolver, user: string, clientId: string | null, strict: boolean, config: QuotaWindowFlags) {
    this.#quota = resolver.enabled[QuotaKind.CONTROLLER_MUTATION] ? resolver.resolve(QuotaKind.CONTROLLER_MUTATION, user, clientId ?? '') : null
    this.#strict = strict
    this.#windows = quotaWindowsOf(config)
    this.#out = { throttleTimeMs: 0 }
  }

  /** Whether a mutation of `partitions` partitions may go ahead (false: THROTTLING_QUOTA_EXCEEDED for it). */
  accept (partitions: number): boolean {
    if (this.#quota === null) return true
    return workerQuotaSensors.recordMutation(this.#quota, partitions, this.#strict, this.#windows, Date.now(), this.#out)
  }

  /** The throttle time the response carries; mutes `connection` for it when above 0. */
  finish (connection: Throttleable | null): number {
    const throttleTimeMs = this.#out.throttleTimeMs
    if (throttleTimeMs > 0 && connection !== null) connection.throttle(throttleTimeMs)
    return throttleTimeMs
  }
}

/** Kafka's message for THROTTLING_QUOTA_EXCEEDED. */
export const kThrottlingQuotaExceededMessage = 'The throttling quota has been exceeded.'

/**
 * A CreateTopics / CreatePartitions / DeleteTopics request's topics through controller_mutation_rate, in order:
 * each is `accepted` or (strict versions, bucket exhausted) `throttled`. `permits(topic)` is the partitions
 * it creates or deletes, or -1 when it mutates nothing (the controller will refuse it: not recorded). Null when
 * no entity holds controller_mutation_rate: the request's one check.
 */
export function splitByMutationQuota<T> (resolver: QuotaResolver, user: string, clientId: string | null, strict: boolean, config: QuotaWindowFlags,
  topics: readonly T[], permits: (topic: T) => number): { quota: ControllerMutationQuota, accepted: T[], throttled: T[] } | null {
  if (!resolver.enabled[QuotaKind.CONTROLLER_MUTATION]) return null
  const quota = new ControllerMutationQuota(resolver, user, clientId, strict, config)
  const accepted: T[] = []
  const throttled: T[] = []
  for (const topic of topics) {
    const partitions = permits(topic)
    if (partitions < 0 || quota.accept(partitions)) accepted.push(topic)
    else throttled.push(topic)
  }
  return { quota, accepted, throttled }
}
