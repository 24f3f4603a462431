// The two measures Kafka's quotas are judged by, and Kafka's throttle-time formulas over them.
//
// SampledRate is Kafka's `Rate` over a `SampledStat` (org.apache.kafka.common.metrics.stats): `samples` windows
// of `windowMs` each (quota.window.num 11, quota.window.size.seconds 1), the oldest reused once the newest is
// complete; a window older than samples * windowMs is reset before the rate is read. The rate is the sum of the
// windows over the elapsed time since the oldest window began, but never over less than samples - 1 whole
// windows (so a client's first burst is not divided by a few milliseconds). KIP-13 / KIP-124 quotas
// (producer_byte_rate, consumer_byte_rate, request_percentage) are judged by it.
//
// TokenBucket is KIP-599's stat for controller_mutation_rate: `tokens` start at the burst (samples * window
// seconds * quota), are refilled at `quota` a second up to the burst, and spent by each mutation; below zero
// the quota is exceeded.
//
// Both keep flat numeric state (typed arrays, no per-record allocation). Times are milliseconds from the
// caller's clock (Date.now() in the broker, a fake one in tests).

export interface QuotaWindows {
  /** quota.window.num: windows kept (Kafka's default 11). */
  readonly samples: number
  /** quota.window.size.seconds * 1000 (Kafka's default 1 s). */
  readonly windowMs: number
}

export const kDefaultQuotaWindows: QuotaWindows = Object.freeze({ samples: 11, windowMs: 1000 })

/** The longest throttle: throttle_time_ms is an int32 (and so is the longest timer Node keeps). */
export const kMaxThrottleTimeMs = 2 ** 31 - 1

export class SampledRate {
  readonly #samples: number
  readonly #windowMs: number
  /** Sum recorded in each window, and when each window began; [0, #used) are in use. */
  readonly #values: Float64Array
  readonly #starts: Float64Array
  #used: number
  #current: number
  /** When this rate was last recorded into (idle sensors are dropped; see QuotaSensors). */
  lastRecordMs: number

  constructor (windows: QuotaWindows, nowMs: number) {
    this.#samples = windows.samples
    this.#windowMs = windows.windowMs
    this.#values = new Float64Array(windows.samples)
    this.#starts = new Float64Array(windows.samples)
    this.#starts[0] = nowMs
    this.#used = 1
    this.#current = 0
    this.lastRecordMs = nowMs
  }

  record (value: number, nowMs: number): void {
    let current = this.#current
    if (nowMs - this.#starts[current] >= this.#windowMs) {
      current = (current + 1) % this.#samples
      if (current >= this.#used) this.#used = current + 1
      this.#starts[current] = nowMs
      this.#values[current] = 0
      this.#current = current
    }
    this.#values[current] += value
    this.lastRecordMs = nowMs
  }

  /** Resets the windows that are older than the whole span (Kafka's purgeObsoleteSamples). */
  #purge (nowMs: number): void {
    const expireAge = this.#samples * this.#windowMs
    for (let i = 0; i < this.#used; i++) {
      if (nowMs - this.#starts[i] >= expireAge) {
        this.#starts[i] = nowMs
        this.#values[i] = 0
      }
    }
  }

  /** The span the rate is taken over, in ms (Kafka's Rate.windowSize). */
  windowSizeMs (nowMs: number): number {
    this.#purge(nowMs)
    let oldest = this.#starts[0]
    for (let i = 1; i < this.#used; i++) if (this.#starts[i] < oldest) oldest = this.#starts[i]
    let elapsed = nowMs - oldest
    const fullWindows = Math.floor(elapsed / this.#windowMs)
    const minFullWindows = this.#samples - 1
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * this.#windowMs
    return elapsed
  }

  /** Units a second over the windows. */
  measure (nowMs: number): number {
    const windowMs = this.windowSizeMs(nowMs)
    let total = 0
    for (let i = 0; i < this.#used; i++) total += this.#values[i]
    return total / (windowMs / 1000)
  }
}

/**
 * Kafka's QuotaUtils.throttleTime: the delay X that brings an observed rate O back to the bound T over the
 * window W, were nothing more recorded: O * W / (W + X) = T, so X = (O - T) / T * W, rounded. 0 within the
 * bound. `maxMs` caps it (Kafka caps request_percentage throttles at one window, not byte-rate ones). `otherRate`
 * is added to the observed rate: the rest of the broker's measure of the same sensor.
 */
export function rateThrottleTimeMs (rate: SampledRate, bound: number, nowMs: number, maxMs = Infinity, otherRate = 0): number {
  // otherRate: what the same sensor measures on the broker's other workers (QuotaSensors' shared rates).
  const observed = rate.measure(nowMs) + otherRate
  if (observed <= bound) return 0
  const throttle = Math.round((observed - bound) / bound * rate.windowSizeMs(nowMs))
  return Math.min(throttle, maxMs, kMaxThrottleTimeMs)
}

export class TokenBucket {
  #tokens: number
  #lastMs: number
  /** When a mutation was last recorded (idle buckets are dropped; see QuotaSensors). */
  lastRecordMs: number
  readonly #burstSeconds: number

  constructor (windows: QuotaWindows, quota: number, nowMs: number) {
    this.#burstSeconds = windows.samples * windows.windowMs / 1000
    this.#tokens = quota * this.#burstSeconds
    this.#lastMs = nowMs
    this.lastRecordMs = nowMs
  }

  /** Refills for the time since the last call at `quota` a second, up to the burst; returns the tokens left. */
  tokens (quota: number, nowMs: number): number {
    const burst = quota * this.#burstSeconds
    const elapsedSeconds = Math.max(0, nowMs - this.#lastMs) / 1000
    this.#tokens = Math.min(burst, this.#tokens + quota * elapsedSeconds)
    this.#lastMs = nowMs
    return this.#tokens
  }

  record (permits: number, quota: number, nowMs: number): void {
    this.tokens(quota, nowMs)
    this.#tokens -= permits
    this.lastRecordMs = nowMs
  }
}

/**
 * KIP-599's throttle time for a token bucket below zero: the time the refill takes to bring it back to zero,
 * -tokens / quota seconds, rounded to ms (Kafka's QuotaUtils for TokenBucket). 0 while tokens remain.
 */
export function bucketThrottleTimeMs (bucket: TokenBucket, quota: number, nowMs: number): number {
  const tokens = bucket.tokens(quota, nowMs)
  if (tokens >= 0) return 0
  return Math.min(Math.round(-tokens / quota * 1000), kMaxThrottleTimeMs)
}
