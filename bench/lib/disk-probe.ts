// Times fdatasync on the disk where the brokers keep their data, before the loads run. Shoal answers acks=-1 only
// after an fdatasync (group commit), so the disk's fdatasync tail bounds the tail of those rows; the mock cluster
// stores nothing. The probe does what a log does: appends 64 KiB to a file with writeSync, then awaits fdatasync
// (libuv's thread pool, as Shoal's flush does), one round after the other, paced to about 60 MB/s, and records how
// long each fdatasync took. The file lives in a fresh directory under the given one and is removed afterwards.
import { closeSync, fdatasync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { formatInteger, percentileSorted } from './stats.ts'

const fdatasyncAsync = promisify(fdatasync)

/** DiskProbeSummary.over10Ms counts fdatasyncs longer than this: the p99 target for acks=-1 produce. */
const kSlowFdatasyncMs = 10

/**
 * The pacing keeps a fixed schedule (round n is due at start + n x interval), so that short delays are caught up
 * and the average stays at the target rate. A round more than this late restarts the schedule from now instead:
 * after a stall the probe does not burst to make up for it (the stall is what it reports, not a backlog).
 */
const kMaxLagMs = 50

export interface DiskProbeOptions {
  /** The probe starts no round after this long (a round under way finishes). */
  durationMs: number
  /** Bytes appended before each fdatasync (default 64 KiB). */
  writeBytes?: number
  /** Target write rate (default 60 MB/s, 10^6 bytes). */
  bytesPerSec?: number
  /** Stops the probe early (after the round under way): a watch that runs alongside a load. */
  signal?: AbortSignal
}

export interface DiskProbeSummary {
  /** The directory the probe's file was made in (the brokers' data parent). */
  directory: string
  writeBytes: number
  targetBytesPerSec: number
  /** Bytes written per second over the whole probe: below the target when fdatasync stalled. */
  bytesPerSec: number
  elapsedMs: number
  /** write + fdatasync rounds done; every percentile is over that many fdatasync durations. */
  rounds: number
  p50Ms: number | null
  p99Ms: number | null
  p999Ms: number | null
  maxMs: number | null
  /** fdatasyncs that took longer than 10 ms. */
  over10Ms: number
}

/** Summary of fdatasync durations (ms) measured by a probe; pure (unit-tested). */
export function summarizeDiskProbe (durationsMs: readonly number[], fields: Pick<DiskProbeSummary, 'directory' | 'writeBytes' | 'targetBytesPerSec' | 'elapsedMs'>): DiskProbeSummary {
  const sorted = [...durationsMs].sort((a, b) => a - b)
  const written = sorted.length * fields.writeBytes
  return {
    ...fields,
    bytesPerSec: fields.elapsedMs > 0 ? written / (fields.elapsedMs / 1000) : 0,
    rounds: sorted.length,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    p999Ms: percentileSorted(sorted, 99.9),
    maxMs: sorted.length === 0 ? null : sorted[sorted.length - 1],
    over10Ms: sorted.filter((duration) => duration > kSlowFdatasyncMs).length
  }
}

export async function probeDisk (parent: string, options: DiskProbeOptions): Promise<DiskProbeSummary> {
  const writeBytes = options.writeBytes ?? 64 * 1024
  const targetBytesPerSec = options.bytesPerSec ?? 60e6
  const intervalMs = writeBytes / targetBytesPerSec * 1000
  const chunk = randomBytes(writeBytes)
  mkdirSync(parent, { recursive: true })
  const directory = mkdtempSync(join(parent, 'shoal-disk-probe-'))
  const durationsMs: number[] = []
  const start = performance.now()
  try {
    const fd = openSync(join(directory, 'probe.log'), 'w')
    try {
      let scheduleStart = start
      let scheduled = 0
      while (performance.now() - start < options.durationMs && options.signal?.aborted !== true) {
        writeSync(fd, chunk)
        const before = performance.now()
        await fdatasyncAsync(fd)
        const after = performance.now()
        durationsMs.push(after - before)
        scheduled++
        const dueAt = scheduleStart + scheduled * intervalMs
        if (after - dueAt > kMaxLagMs) {
          scheduleStart = after
          scheduled = 0
        } else if (dueAt > after) {
          await sleep(dueAt - after, undefined, { signal: options.signal }).catch(() => {})
        }
      }
    } finally {
      closeSync(fd)
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
  return summarizeDiskProbe(durationsMs, { directory: parent, writeBytes, targetBytesPerSec, elapsedMs: performance.now() - start })
}

/** Milliseconds for the probe lines: two decimals below 10, whole above, '-' for none. */
function formatMs (value: number | null): string {
  return value === null ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(0)
}

/** One line for the bench's header: `disk /tmp: fdatasync after 64 KiB writes at 58 MB/s, 2,650 rounds: ...`. */
export function formatDiskProbe (summary: DiskProbeSummary): string {
  return `disk ${summary.directory}: fdatasync after ${summary.writeBytes / 1024} KiB writes at ` +
    `${(summary.bytesPerSec / 1e6).toFixed(0)} MB/s (target ${(summary.targetBytesPerSec / 1e6).toFixed(0)}), ` +
    `${formatInteger(summary.rounds)} rounds in ${(summary.elapsedMs / 1000).toFixed(1)} s: p50 ${formatMs(summary.p50Ms)} ms, ` +
    `p99 ${formatMs(summary.p99Ms)} ms, p99.9 ${formatMs(summary.p999Ms)} ms, max ${formatMs(summary.maxMs)} ms, ` +
    `${summary.over10Ms} over 10 ms`
}

/**
 * Watches the disk while a load runs: 4 KiB + fdatasync 100 times a second (0.4 MB/s, next to nothing beside the
 * load) until `signal` aborts. What it sees is what any fdatasync on that disk saw meanwhile, Shoal's included.
 */
export function watchDisk (parent: string, signal: AbortSignal): Promise<DiskProbeSummary> {
  return probeDisk(parent, { durationMs: 10 * 60_000, writeBytes: 4096, bytesPerSec: 4096 * 100, signal })
}

/** `fdatasync watch during the run: 590 rounds, p99 0.9 ms, max 182 ms, 3 over 10 ms`. */
export function formatDiskWatch (summary: DiskProbeSummary): string {
  return `fdatasync watch on the same disk during the run: ${formatInteger(summary.rounds)} rounds, p50 ${formatMs(summary.p50Ms)} ms, ` +
    `p99 ${formatMs(summary.p99Ms)} ms, max ${formatMs(summary.maxMs)} ms, ${summary.over10Ms} over 10 ms`
}
