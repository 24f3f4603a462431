// The metrics slab: one SharedArrayBuffer per worker, made by the main thread and handed to the worker in its
// workerData, kept across the worker's restarts (so its counters only grow). The worker is its only writer
// (plain stores from one thread: a reader may see a slot one increment behind, never a torn one, as each slot
// is one aligned Float64); the main thread reads it when /metrics is scraped. Nothing is sent per request.
//
// Layout (Float64 slots; every number a count, a sum of seconds, or a gauge the worker refreshes each second):
//   [kHeartbeatSlot]            Date.now() of the worker's last event-loop sample (0: never sampled)
//   [kLoopDelaySlot + i]        event-loop delay of the last sample interval, seconds: kLoopDelayFields
//   [kLoopUtilisationSlot]      event-loop utilisation of the last interval, 0..1
//   [kConnectionsAcceptedSlot]  connections the worker adopted
//   [kConnectionsClosedSlot]    connections that closed (either side)
//   [kRingFullSlot]             times a ring write found its ring full and queued (back-pressure waits)
//   [kRecoverySlot + 0..2]      start-up recovery: partitions to open, partitions opened, their bytes (written
//                               while the worker opens them, when it cannot answer a scrape message)
//   [kFsyncHistogramSlot...]    fsync rounds of partition logs: a histogram (see below)
//   [kRequestCountSlot + apiKey * kMaxVersions + version]  requests answered, per API key and version
//   [kLatencySlot + apiKey * kHistogramSlots ...]          request latency (frame read to answered) per API key
//   [kErrorSlot + apiKey * kMaxErrorCodes + errorIndex(code)] error codes answered (request- and partition-level)
//
// A histogram takes kHistogramSlots: one count per bucket of kBucketBounds (not cumulative; the last bucket is
// +Inf), then the sum of the observed seconds. The count is the sum of the buckets.

/** Upper bounds (seconds) of the latency buckets; a value above the last goes to +Inf. */
export const kBucketBounds: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
]
const kBounds = Float64Array.from(kBucketBounds)
export const kBuckets = kBucketBounds.length + 1
export const kHistogramSlots = kBuckets + 1

/** API keys 0..kMaxApiKeys-1 and versions 0..kMaxVersions-1 are counted; others are not (none exist today). */
export const kMaxApiKeys = 96
export const kMaxVersions = 20
/** Error codes -1 (UNKNOWN_SERVER_ERROR, slot 0) and 1..kMaxErrorCodes-1. */
export const kMaxErrorCodes = 136

export const kLoopDelayFields = ['min', 'mean', 'p50', 'p90', 'p99', 'max'] as const

export const kHeartbeatSlot = 0
export const kLoopDelaySlot = 1
export const kLoopUtilisationSlot = kLoopDelaySlot + kLoopDelayFields.length
export const kConnectionsAcceptedSlot = kLoopUtilisationSlot + 1
export const kConnectionsClosedSlot = kConnectionsAcceptedSlot + 1
export const kRingFullSlot = kConnectionsClosedSlot + 1
export const kRecoverySlot = kRingFullSlot + 1
export const kRecoveryFields = ['partitions', 'recovered', 'bytes'] as const
export const kFsyncHistogramSlot = kRecoverySlot + kRecoveryFields.length
export const kRequestCountSlot = kFsyncHistogramSlot + kHistogramSlots
export const kLatencySlot = kRequestCountSlot + kMaxApiKeys * kMaxVersions
export const kErrorSlot = kLatencySlot + kMaxApiKeys * kHistogramSlots
export const kSlabSlots = kErrorSlot + kMaxApiKeys * kMaxErrorCodes

export function createMetricsSlab (): SharedArrayBuffer {
  return new SharedArrayBuffer(kSlabSlots * Float64Array.BYTES_PER_ELEMENT)
}

/** The bucket of `seconds`: the first bound not below it, or the +Inf bucket. */
export function bucketOf (seconds: number): number {
  let bucket = 0
  while (bucket < kBounds.length && seconds > kBounds[bucket]) bucket++
  return bucket
}

/** Adds one observation to the histogram at `base`. */
export function observe (slab: Float64Array, base: number, seconds: number): void {
  slab[base + bucketOf(seconds)]++
  slab[base + kBuckets] += seconds
}

/** The slot index of an error code, or -1 for codes not counted (0 is no error). */
export function errorIndex (code: number): number {
  if (code === -1) return 0
  return code > 0 && code < kMaxErrorCodes ? code : -1
}

/** The error code of a slot index (errorIndex's inverse). */
export function errorCodeAt (index: number): number {
  return index === 0 ? -1 : index
}

export function recordRequestInto (slab: Float64Array, apiKey: number, apiVersion: number, seconds: number): void {
  if (apiKey < 0 || apiKey >= kMaxApiKeys || apiVersion < 0 || apiVersion >= kMaxVersions) return
  slab[kRequestCountSlot + apiKey * kMaxVersions + apiVersion]++
  observe(slab, kLatencySlot + apiKey * kHistogramSlots, seconds)
}

export function recordErrorInto (slab: Float64Array, apiKey: number, code: number): void {
  const index = errorIndex(code)
  if (index < 0 || apiKey < 0 || apiKey >= kMaxApiKeys) return
  slab[kErrorSlot + apiKey * kMaxErrorCodes + index]++
}

/** A histogram summed over slabs, cumulative per bucket as Prometheus wants it. */
export interface HistogramSum {
  /** cumulative[i]: observations <= kBucketBounds[i]; the last entry is the total count (+Inf). */
  readonly cumulative: number[]
  readonly sum: number
  readonly count: number
}

export function sumHistograms (slabs: readonly Float64Array[], base: number): HistogramSum {
  const cumulative = new Array<number>(kBuckets).fill(0)
  let sum = 0
  for (const slab of slabs) {
    for (let bucket = 0; bucket < kBuckets; bucket++) cumulative[bucket] += slab[base + bucket]
    sum += slab[base + kBuckets]
  }
  for (let bucket = 1; bucket < kBuckets; bucket++) cumulative[bucket] += cumulative[bucket - 1]
  return { cumulative, sum, count: cumulative[kBuckets - 1] }
}

/** The sum of one slot over every slab. */
export function sumSlot (slabs: readonly Float64Array[], slot: number): number {
  let total = 0
  for (const slab of slabs) total += slab[slot]
  return total
}
