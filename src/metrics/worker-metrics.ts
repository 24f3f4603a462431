// A worker's side of the metrics: the hot-path counters go into this thread's slab (src/metrics/layout.ts),
// preallocated, indexed by API key and version, so a request costs a few stores and no allocation. What has
// dynamic names (the named counters of src/counters.ts, topics, partitions, groups) is read when the main thread
// scrapes: it posts {type:'metrics-scrape'} over the control channel and the worker answers with
// workerSnapshot() — one message per scrape, never one per request.
//
// Until attachMetricsSlab() is called (tests, the main thread) the counters go into a private slab nobody reads.
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks'
import { counterSnapshot } from '../counters.ts'
import {
  kConnectionsAcceptedSlot, kConnectionsClosedSlot, kFsyncHistogramSlot, kHeartbeatSlot, kLoopDelayFields, kLoopDelaySlot,
  kLoopUtilisationSlot, kRecoverySlot, kRingFullSlot, kSlabSlots, observe, recordErrorInto, recordRequestInto
} from './layout.ts'
import type { Shard } from '../shard/shard.ts'

let slab: Float64Array<ArrayBufferLike> = new Float64Array(kSlabSlots)

/** From here on this thread counts into `buffer` (the slab the main thread made for this worker). */
export function attachMetricsSlab (buffer: SharedArrayBuffer): void {
  slab = new Float64Array(buffer)
}

/** A request answered (or closed unanswered) `seconds` after its frame was read. */
export function recordRequest (apiKey: number, apiVersion: number, seconds: number): void {
  recordRequestInto(slab, apiKey, apiVersion, seconds)
}

/** An error code answered, for the whole request or one of its partitions. */
export function recordError (apiKey: number, code: number): void {
  recordErrorInto(slab, apiKey, code)
}

/** One fsync round of a partition log took `seconds`. */
export function recordFsync (seconds: number): void {
  observe(slab, kFsyncHistogramSlot, seconds)
}

/**
 * Start-up recovery of this worker: `total` partitions to open, `recovered` opened so far, holding `bytes`. The
 * worker opens them synchronously and answers no scrape meanwhile; the main thread reads these slots directly.
 */
export function recordRecovery (total: number, recovered: number, bytes: number): void {
  slab[kRecoverySlot] = total
  slab[kRecoverySlot + 1] = recovered
  slab[kRecoverySlot + 2] = bytes
}

export function recordConnectionAccepted (): void {
  slab[kConnectionsAcceptedSlot]++
}

export function recordConnectionClosed (): void {
  slab[kConnectionsClosedSlot]++
}

/** A ring write found the ring full and left its message queued until the reader frees space. */
export function recordRingFull (): void {
  slab[kRingFullSlot]++
}

// ---- per-partition traffic ---------------------------------------------------------------------------------

/** Slots of a partition's traffic counters (LocalPartition.stats), owned by the partition's worker. */
export const kBytesIn = 0
export const kRecordsIn = 1
export const kBytesOut = 2
export const kRecordsOut = 3
export const kPartitionStatSlots = 4

export function createPartitionStats (): Float64Array {
  return new Float64Array(kPartitionStatSlots)
}

/** A produced batch of `records` records and `bytes` bytes was appended to the partition. */
export function recordAppended (stats: Float64Array, bytes: number, records: number): void {
  stats[kBytesIn] += bytes
  stats[kRecordsIn] += records
}

// Record batch v2: int64 baseOffset, int32 batchLength (bytes after this field), ..., int32 recordsCount at 57.
const kBatchLengthOffset = 8
const kRecordsCountOffset = 57
const kBatchHeaderBytes = 61

/** Counts fetched bytes and the records of every whole batch in `records` (headers only; nothing allocated). */
export function recordFetched (stats: Float64Array, records: Buffer): void {
  const length = records.length
  if (length === 0) return
  stats[kBytesOut] += length
  let at = 0
  let count = 0
  while (at + kBatchHeaderBytes <= length) {
    const end = at + 12 + records.readInt32BE(at + kBatchLengthOffset)
    if (end > length || end <= at) break
    count += records.readInt32BE(at + kRecordsCountOffset)
    at = end
  }
  stats[kRecordsOut] += count
}

// ---- event-loop delay --------------------------------------------------------------------------------------

let sampler: NodeJS.Timeout | null = null

/**
 * Samples this thread's event-loop delay (perf_hooks) and utilisation every `intervalMs` into the slab: the
 * delay percentiles of the last interval, then the histogram starts again.
 */
export function startEventLoopSampler (intervalMs = 1000): void {
  if (sampler !== null) return
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  sampler = setInterval(() => {
    const values = [delay.min, delay.mean, delay.percentile(50), delay.percentile(90), delay.percentile(99), delay.max]
    for (let i = 0; i < kLoopDelayFields.length; i++) slab[kLoopDelaySlot + i] = Number.isFinite(values[i]) ? values[i] / 1e9 : 0
    const now = performance.eventLoopUtilization()
    slab[kLoopUtilisationSlot] = performance.eventLoopUtilization(now, last).utilization
    last = now
    slab[kHeartbeatSlot] = Date.now()
    delay.reset()
  }, intervalMs)
  sampler.unref()
}

// ---- the scrape snapshot -----------------------------------------------------------------------------------

/** One partition this worker owns: [topic, partition, logStartOffset, logEndOffset, sizeBytes, segments, bytesIn, recordsIn, bytesOut, recordsOut]. */
export type PartitionRow = [string, number, number, number, number, number, number, number, number, number]

/** One group this worker coordinates; offsets as [topic, partition, committed offset]. */
export interface GroupRow {
  readonly group: string
  readonly type: 'classic' | 'consumer'
  readonly state: string
  readonly members: number
  readonly offsets: Array<[string, number, number]>
}

export interface WorkerSnapshot {
  readonly counters: Record<string, number>
  readonly partitions: PartitionRow[]
  readonly groups: GroupRow[]
  /** With --s3-bucket: what the worker holds not yet in S3. */
  readonly s3?: { readonly backlogBytes: number }
}

function offsetRows (offsets: ReadonlyMap<string, { offset: number }>): Array<[string, number, number]> {
  const rows: Array<[string, number, number]> = []
  for (const [key, value] of offsets) {
    // offsetKey(topic, partition) in src/group/coordinator.ts: `${topic}\0${partition}`.
    const at = key.lastIndexOf('\u0000')
    if (at < 0) continue
    rows.push([key.slice(0, at), Number(key.slice(at + 1)), value.offset])
  }
  return rows
}

/** What this worker answers a scrape with: flat data, cloned by postMessage. */
export function workerSnapshot (shard: Shard): WorkerSnapshot {
  const partitions: PartitionRow[] = []
  for (const local of shard.localPartitions()) {
    const log = local.log
    const stats = local.stats
    partitions.push([local.topic.name, local.index, log.logStartOffset, log.nextOffset, log.sizeBytes, log.segmentCount,
      stats[kBytesIn], stats[kRecordsIn], stats[kBytesOut], stats[kRecordsOut]])
  }
  const groups: GroupRow[] = []
  for (const group of shard.groups.groups.values()) {
    if (group.state === 'Dead') continue
    groups.push({ group: group.groupId, type: 'classic', state: group.state, members: group.members.size, offsets: offsetRows(group.offsets) })
  }
  for (const group of shard.groups.consumerGroups.values()) {
    groups.push({ group: group.groupId, type: 'consumer', state: group.state, members: group.members.size, offsets: offsetRows(group.offsets) })
  }
  const tier = shard.tier
  return { counters: counterSnapshot(), partitions, groups, s3: tier === null ? undefined : { backlogBytes: tier.backlogBytes } }
}
