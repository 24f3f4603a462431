// Background log maintenance of one partition worker: every `intervalMs` (Kafka's
// log.retention.check.interval.ms) a pass walks the worker's local partitions and runs each maintenance task on
// each of them: retention (src/log/retention.ts) today; compaction (src/log/cleaner.ts) plugs in as another
// PartitionMaintenanceTask.
//
// Off the hot path, in bounded slices: a task's step() does one small unit (e.g. deletes one segment: a
// checkpoint write and three renames); a slice runs steps until `sliceBudgetMs` has passed, then yields to the
// event loop (setImmediate) so that produce and fetch on this worker never wait behind a pass for more than
// about one budget plus one step. Partitions are looked up again before each step: one deleted or moved to
// another worker since the pass began is skipped, and a topic whose configs changed is seen with its new ones.
//
// Wakes: a task whose work waits for something asynchronous (compaction's fsyncs and gzip, on libuv's pool)
// returns false meanwhile and, once it is done, calls the `wake` bound to it (bindWake): the partition is
// stepped again on the next setImmediate, in the running pass (appended to it) or in a pass of its own over
// the woken partitions, under the same slice budget. So an asynchronous step costs its own latency, not the
// time to the next pass (log.cleaner.backoff.ms, 15 s by default).
//
// Threading: runs on the worker's own thread, like everything touching its logs; nothing is shared.
import type { Logger } from '../logger.ts'
import type { TopicEntry } from './shard-table.ts'
import type { LocalPartition } from './shard.ts'
import { count } from '../counters.ts'
import { topicConfigValue } from '../config/topic-config.ts'
import { deleteOneExpiredSegment, type RetentionConfig } from '../log/retention.ts'
import { kOffsetsTopic } from '../group/offset-store.ts'
import { kTransactionStateTopic } from '../txn/transaction-log.ts'
import type { RemoteTier } from '../storage/remote-tier.ts'
import {
  deleteOneExpiredEvictedRange, evictOneSegment, kEvictedPartKept, resolveLocalRetention, type LocalRetentionConfig
} from '../storage/tiered-retention.ts'

/** One kind of per-partition maintenance (retention, compaction). */
export interface PartitionMaintenanceTask {
  readonly name: string
  /**
   * Does at most one bounded unit of work on `partition` at `nowMs`; returns true when it has more to do there
   * now (it is called again, possibly in a later slice). An exception is logged and counted
   * (`log-maintenance-errors`), and the task skips that partition until the next pass.
   */
  step (partition: LocalPartition, nowMs: number): boolean
  /** After each full pass (not after a pass of woken partitions only): e.g. one log line of what it did. */
  passDone? (): void
  /**
   * Called once by the LogMaintenance running the task, with itself: its wake(partition) steps its tasks on
   * `partition` on the next setImmediate (see Wakes in the header). For tasks with asynchronous steps.
   */
  bindWake? (waker: PartitionWaker): void
}

/** What a task wakes (LogMaintenance). */
export interface PartitionWaker {
  wake (partition: LocalPartition): void
}

/** Where the scheduler finds partitions: the worker's Shard. */
export interface MaintainedPartitions {
  localPartitions (): Iterable<LocalPartition>
  partition (topic: TopicEntry, index: number): LocalPartition | undefined
}

export interface LogMaintenanceOptions {
  readonly partitions: MaintainedPartitions
  readonly logger: Logger
  readonly intervalMs: number
  readonly tasks: readonly PartitionMaintenanceTask[]
  /** How long one slice may run before it yields to the event loop (default 5 ms). */
  readonly sliceBudgetMs?: number
}

const kDefaultSliceBudgetMs = 5

export class LogMaintenance implements PartitionWaker {
  readonly tasks: readonly PartitionMaintenanceTask[]
  readonly #partitions: MaintainedPartitions
  readonly #logger: Logger
  #intervalMs: number
  readonly #sliceBudgetMs: number
  #timer: NodeJS.Timeout | null = null
  #started = false
  /** Set by stop(), for good. */
  #stopped = false
  // The running pass: the partitions it walks (as at its start), where it is, and who waits for it.
  #passTopics: TopicEntry[] = []
  #passIndexes: number[] = []
  #passPosition = 0
  #taskPosition = 0
  #running: PromiseWithResolvers<void> | null = null
  /** Whether the running pass walks every partition (runPass), not only woken ones (wake). */
  #runningFull = false
  /** Full passes finished so far (for tests and operators). */
  passes = 0
  /** Slices run so far (each one up to a budget, setImmediate between them), and wakes asked for. */
  slices = 0
  wakes = 0

  constructor (options: LogMaintenanceOptions) {
    this.tasks = options.tasks
    this.#partitions = options.partitions
    this.#logger = options.logger
    this.#intervalMs = options.intervalMs
    this.#sliceBudgetMs = options.sliceBudgetMs ?? kDefaultSliceBudgetMs
    for (const task of this.tasks) task.bindWake?.(this)
  }

  /** The time between two scheduled passes now (ms). */
  get intervalMs (): number {
    return this.#intervalMs
  }

  /**
   * Changes the time between two scheduled passes (log.cleaner.backoff.ms at run time). The pass already
   * scheduled keeps its time; the one scheduled after it (and every later one) waits the new interval.
   */
  setIntervalMs (intervalMs: number): void {
    this.#intervalMs = intervalMs
  }

  /** Schedules a pass every intervalMs (the timer does not keep the thread alive). */
  start (): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#schedule()
  }

  /** No further passes or slices; a pass in progress stops at its next slice (runPass resolves then). */
  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  /**
   * Runs a pass now (or joins the running one: a pass of woken partitions only then goes on over every
   * partition); resolves when it is done. For tests and the timer.
   */
  runPass (): Promise<void> {
    const joined = this.#running
    if (joined !== null) {
      if (!this.#runningFull) {
        this.#runningFull = true
        for (const local of this.#partitions.localPartitions()) {
          this.#passTopics.push(local.topic)
          this.#passIndexes.push(local.index)
        }
      }
      return joined.promise
    }
    const running = Promise.withResolvers<void>()
    this.#running = running
    this.#runningFull = true
    this.#passTopics = []
    this.#passIndexes = []
    for (const local of this.#partitions.localPartitions()) {
      this.#passTopics.push(local.topic)
      this.#passIndexes.push(local.index)
    }
    this.#passPosition = 0
    this.#taskPosition = 0
    this.#slice()
    return running.promise
  }

  /**
   * Steps the tasks on `partition` again soon (see Wakes in the header): appended to the running pass unless
   * it is queued there already, else in a pass of its own, whose first slice runs on the next setImmediate.
   * While a pass runs, a slice of it is either running or scheduled, so the appended partition is reached.
   */
  wake (partition: LocalPartition): void {
    if (this.#stopped) return
    this.wakes++
    const topic = partition.topic
    const index = partition.index
    if (this.#running !== null) {
      // Queued already: at the current position with no task run yet, or further on.
      for (let position = this.#passPosition; position < this.#passTopics.length; position++) {
        if (this.#passTopics[position] === topic && this.#passIndexes[position] === index &&
          (position > this.#passPosition || this.#taskPosition === 0)) return
      }
      this.#passTopics.push(topic)
      this.#passIndexes.push(index)
      return
    }
    this.#running = Promise.withResolvers<void>()
    this.#runningFull = false
    this.#passTopics = [topic]
    this.#passIndexes = [index]
    this.#passPosition = 0
    this.#taskPosition = 0
    setImmediate(runSlice, this)
  }

  #schedule (): void {
    if (this.#stopped) return
    this.#timer = setTimeout(runScheduledPass, this.#intervalMs, this)
    this.#timer.unref()
  }

  /** The timer's callback (module-level runScheduledPass calls it): a pass, then the next one scheduled. */
  scheduledPass (): void {
    this.#timer = null
    if (this.#stopped) return
    this.runPass().then(() => this.#schedule(), () => this.#schedule())
  }

  /** Steps until the pass is done or the budget is spent; then yields (setImmediate) and goes on. */
  #slice (): void {
    this.slices++
    const started = performance.now()
    const tasks = this.tasks
    while (this.#passPosition < this.#passTopics.length) {
      if (this.#stopped) break
      const local = this.#partitions.partition(this.#passTopics[this.#passPosition], this.#passIndexes[this.#passPosition])
      if (local === undefined || this.#taskPosition >= tasks.length) {
        this.#passPosition++
        this.#taskPosition = 0
        continue
      }
      const task = tasks[this.#taskPosition]
      let more = false
      try {
        more = task.step(local, Date.now())
      } catch (error) {
        count('log-maintenance-errors')
        this.#logger.limited(`log-maintenance:${task.name}`, 'error',
          `${task.name} of ${local.topic.name}-${local.index} failed: ${(error as Error).stack ?? (error as Error).message}`)
      }
      if (!more) this.#taskPosition++
      if (performance.now() - started >= this.#sliceBudgetMs) {
        setImmediate(runSlice, this)
        return
      }
    }
    this.#finishPass()
  }

  /** Resumes a pass after a yield (module-level runSlice calls it). */
  resumeSlice (): void {
    this.#slice()
  }

  #finishPass (): void {
    this.#passTopics = []
    this.#passIndexes = []
    const running = this.#running
    this.#running = null
    if (!this.#runningFull) {
      running?.resolve()
      return
    }
    this.passes++
    for (const task of this.tasks) {
      try {
        task.passDone?.()
      } catch (error) {
        count('log-maintenance-errors')
        this.#logger.limited(`log-maintenance:${task.name}:done`, 'error', `${task.name}: ${(error as Error).message}`)
      }
    }
    running?.resolve()
  }
}

function runScheduledPass (maintenance: LogMaintenance): void {
  maintenance.scheduledPass()
}

function runSlice (maintenance: LogMaintenance): void {
  maintenance.resumeSlice()
}

/** Whether a cleanup.policy value (`delete`, `compact` or both, comma-separated) includes `delete`. */
export function hasDeletePolicy (cleanupPolicy: string): boolean {
  return cleanupPolicy.split(',').some((policy) => policy.trim() === 'delete')
}

/** A numeric topic config as a number (LONG configs may exceed 2^53: approximate, which is fine for limits). */
function numericConfig (configs: Readonly<Record<string, string>>, name: string): number {
  return Number(topicConfigValue(configs, name))
}

/** Where the retention task finds the worker's S3 copy (the Shard: its `tier`, null without --s3-bucket). */
export interface TierHolder {
  readonly tier: RemoteTier | null
}

/**
 * Retention as a maintenance task: on each partition of a topic whose cleanup.policy contains `delete`, rolls
 * an active segment past segment.ms and deletes expired segments one per step (src/log/retention.ts). The
 * internal topics are skipped: their coordinators keep them compact. segment.ms rolls apply to every other
 * topic (a compacted topic's cleaner needs sealed segments too).
 *
 * With an S3 copy (`tiers.tier` set): retention covers the evicted part in S3 first, then the local segments,
 * each move of the log start told to the tier; and on topics whose cleanup.policy is `delete` alone, a step that
 * deleted nothing evicts one sealed segment already in S3 per local.retention.* (src/storage/tiered-retention.ts).
 */
export class RetentionTask implements PartitionMaintenanceTask {
  readonly name = 'retention'
  readonly #logger: Logger
  readonly #tiers: TierHolder | null
  readonly #config: RetentionConfig = { retentionMs: -1, retentionBytes: -1, fileDeleteDelayMs: 0 }
  readonly #localConfig: LocalRetentionConfig = { localRetentionMs: -1, localRetentionBytes: -1 }
  // What the running pass did, for its log line.
  #segments = 0
  #bytes = 0
  #rolled = 0
  #evicted = 0
  #partitions = new Set<string>()

  constructor (logger: Logger, tiers: TierHolder | null = null) {
    this.#logger = logger
    this.#tiers = tiers
  }

  step (partition: LocalPartition, nowMs: number): boolean {
    const topic = partition.topic
    if (topic.internal || topic.name === kOffsetsTopic || topic.name === kTransactionStateTopic) return false
    const configs = topic.configs
    const log = partition.log
    // Normally their timer removes them; this catches delays beyond a timer's range.
    if (log.pendingDeletedFiles > 0) log.removeDeletedFiles(nowMs)
    if (log.rollIfOlderThan(numericConfig(configs, 'segment.ms'), nowMs)) {
      count('segments-rolled-segment-ms')
      this.#rolled++
    }
    if (!hasDeletePolicy(topicConfigValue(configs, 'cleanup.policy'))) return false
    const config = this.#config
    config.retentionMs = numericConfig(configs, 'retention.ms')
    config.retentionBytes = numericConfig(configs, 'retention.bytes')
    config.fileDeleteDelayMs = numericConfig(configs, 'file.delete.delay.ms')
    const startBefore = log.logStartOffset
    const tier = this.#tiers?.tier ?? null
    let bytes = -1
    // Oldest first: while the evicted part's oldest range stays, so does every local segment.
    let localRetention = true
    if (tier !== null) {
      const remote = deleteOneExpiredEvictedRange(log, tier, topic.id, partition.index, config, nowMs)
      if (remote >= 0) {
        count('retention-remote-bytes-deleted', remote)
        bytes = remote
      } else if (remote === kEvictedPartKept) {
        localRetention = false
      }
    }
    if (bytes < 0 && localRetention) {
      bytes = deleteOneExpiredSegment(log, config, nowMs)
      if (bytes >= 0 && tier !== null) tier.advanceStart(topic.id, partition.index, log.logStartOffset)
    }
    if (bytes < 0) return tier !== null && this.#evict(partition, tier, nowMs)
    this.#segments++
    this.#bytes += bytes
    this.#partitions.add(`${topic.name}-${partition.index}`)
    if (this.#logger.enabled('debug')) {
      this.#logger.debug(`retention: deleted a segment of ${topic.name}-${partition.index} (${bytes} bytes); log start ${startBefore} -> ${log.logStartOffset}`,
        { topic: topic.name, partition: partition.index, bytes, logStartOffset: log.logStartOffset })
    }
    return true
  }

  /** One eviction step (local.retention.*) on a cleanup.policy=delete topic; true when a segment went. */
  #evict (partition: LocalPartition, tier: RemoteTier, nowMs: number): boolean {
    const configs = partition.topic.configs
    if (topicConfigValue(configs, 'cleanup.policy').includes('compact')) return false
    const local = this.#localConfig
    local.localRetentionMs = resolveLocalRetention(numericConfig(configs, 'local.retention.ms'), this.#config.retentionMs)
    local.localRetentionBytes = resolveLocalRetention(numericConfig(configs, 'local.retention.bytes'), this.#config.retentionBytes)
    const bytes = evictOneSegment(partition.log, tier, partition.topic.id, partition.index, local, nowMs)
    if (bytes < 0) return false
    count('local-retention-segments-evicted')
    count('local-retention-bytes-evicted', bytes)
    this.#evicted++
    return true
  }

  passDone (): void {
    if (this.#evicted > 0) this.#logger.info(`local retention: evicted ${this.#evicted} segment(s) already in S3 from the local disk`, { segmentsEvicted: this.#evicted })
    this.#evicted = 0
    if (this.#segments > 0 || this.#rolled > 0) {
      this.#logger.info(`retention: deleted ${this.#segments} segment(s), ${this.#bytes} bytes, from ${this.#partitions.size} partition(s); rolled ${this.#rolled} segment(s) past segment.ms`,
        { segmentsDeleted: this.#segments, bytesDeleted: this.#bytes, partitions: this.#partitions.size, segmentsRolled: this.#rolled })
    }
    this.#segments = 0
    this.#bytes = 0
    this.#rolled = 0
    this.#partitions.clear()
  }
}
