// Start-up progress of a worker opening (and, after an unclean shutdown, recovering) its partitions: on a large
// data directory this takes a while, and an operator watching the log should see it move. Shard#applyMetadata
// opens the partitions synchronously, so no timer could fire meanwhile: each partition opened costs one clock
// read, and a progress line is logged at info once kIntervalMs has passed since the last one. A final line
// gives the totals and the time taken. No line per partition.
import type { Logger } from '../logger.ts'
import type { PartitionLog } from '../log/partition-log.ts'
import { recordRecovery } from '../metrics/worker-metrics.ts'

/**
 * Milliseconds between progress lines; SHOAL_RECOVERY_PROGRESS_INTERVAL_MS overrides it (internal, for tests:
 * 0 logs a line after every partition). Not a flag: nothing an operator needs to tune.
 */
const kIntervalMs = intervalFromEnv(process.env.SHOAL_RECOVERY_PROGRESS_INTERVAL_MS, 2000)

function intervalFromEnv (value: string | undefined, fallback: number): number {
  const ms = Number(value)
  return value !== undefined && value !== '' && Number.isFinite(ms) && ms >= 0 ? ms : fallback
}

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

function formatMs (ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

export class RecoveryProgress {
  readonly #logger: Logger
  readonly #worker: number
  readonly #total: number
  readonly #startedAt: number
  #lastLineAt: number
  #recovered = 0
  #bytes = 0
  #unclean = 0
  #segmentsRebuilt = 0
  #bytesTruncated = 0

  /** `total`: the partitions this worker is about to open. */
  constructor (logger: Logger, worker: number, total: number) {
    this.#logger = logger
    this.#worker = worker
    this.#total = total
    this.#startedAt = performance.now()
    this.#lastLineAt = this.#startedAt
    recordRecovery(total, 0, 0)
  }

  /** A partition's log is open (recovered where it needed to be). */
  opened (log: PartitionLog): void {
    this.#recovered++
    this.#bytes += log.sizeBytes
    const report = log.recovery
    if (!report.clean) this.#unclean++
    this.#segmentsRebuilt += report.segmentsRebuilt
    this.#bytesTruncated += report.bytesTruncated
    // The metrics slab (shoal_recovery_*), read by the main thread while this worker cannot answer a scrape.
    recordRecovery(this.#total, this.#recovered, this.#bytes)
    const now = performance.now()
    if (now - this.#lastLineAt < kIntervalMs || this.#recovered === this.#total) return
    this.#lastLineAt = now
    this.#logger.info(`worker ${this.#worker}: recovered ${this.#recovered}/${this.#total} partitions (${formatBytes(this.#bytes)}) in ${formatMs(now - this.#startedAt)}`, {
      worker: this.#worker,
      recovered: this.#recovered,
      partitions: this.#total,
      bytes: this.#bytes,
      elapsedMs: Math.round(now - this.#startedAt)
    })
  }

  /** All opened: the summary line (none for a worker with no partitions). */
  done (): void {
    if (this.#total === 0) return
    const elapsedMs = performance.now() - this.#startedAt
    const unclean = this.#unclean === 0
      ? 'all shut down cleanly'
      : `${this.#unclean} after an unclean shutdown: ${this.#segmentsRebuilt} segment(s) rebuilt, ${formatBytes(this.#bytesTruncated)} truncated`
    this.#logger.info(`worker ${this.#worker}: recovered ${this.#recovered} partitions (${formatBytes(this.#bytes)}; ${unclean}) in ${formatMs(elapsedMs)}`, {
      worker: this.#worker,
      recovered: this.#recovered,
      partitions: this.#total,
      bytes: this.#bytes,
      unclean: this.#unclean,
      segmentsRebuilt: this.#segmentsRebuilt,
      bytesTruncated: this.#bytesTruncated,
      elapsedMs: Math.round(elapsedMs)
    })
  }
}
