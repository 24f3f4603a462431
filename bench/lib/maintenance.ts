// The maintenance scenario: the produce p99 of one topic while the broker compacts another and retention deletes
// segments of a third, against the same p99 with no maintenance running (the issue's "within 1.2x"), and the
// cleaner's throughput. Per worker count (--workers):
//   1. a fresh data directory and a broker on it, `--log-level info` (the cleaner's and retention's lines are the
//      measurements), `--log-cleaner-backoff-ms 200` and `--log-retention-check-interval-ms 200` (so that both
//      start within 200 ms of the config change; broker flags after them win). Three topics, all with
//      segment.bytes 1 MiB (Kafka's floor):
//        latency    1 partition, the measured one
//        compacted  one partition per worker (partition p is owned by worker (seed + p) % workers, so every
//                   worker, the one owning `latency` included, cleans one), created cleanup.policy=delete so
//                   that nothing cleans it yet
//        retained   one partition per worker too, cleanup.policy=delete, retention.bytes=-1, file.delete.delay.ms
//                   1000 (so the deleted files are unlinked during the run too, not a minute later)
//   2. --repeat rounds of:
//      a. the fill (not measured), with @platformatic/kafka's Producer (rdkafka_performance has one fixed key):
//         `compacted` gets --maintenance-mib MiB per partition of 1 KiB values whose keys cycle over
//         kKeysPerPartition keys per partition (about a dozen rewrites of each key at the default 24 MiB);
//         `retained` gets kRetainedMiB MiB per partition. Then `sync`: the fill is acks=1, and its dirty pages
//         written back by the kernel in the middle of one run but not the other would skew the comparison.
//         From the second round on, the maintenance is switched off first (compacted back to delete, retained
//         to retention.bytes=-1), so that the refill makes the same work again.
//      b. a warm-up: kWarmupSeconds of the paced run below, not measured
//      c. baseline: rdkafka_performance paced on `latency` (the rate scenario's paced run: RdkafkaRunner from
//         loads.ts, -r, acks=-1, -l -A, linger.ms=--rate-linger-ms) at kPacedRate msg/s of 100 B for
//         kRunSeconds, nothing cleaning or deleting
//      d. maintenance: the same run; right as it starts, IncrementalAlterConfigs sets `compacted` to
//         cleanup.policy=compact, min.cleanable.dirty.ratio=0.01 and `retained` to retention.bytes=
//         kRetainedKeepBytes. After it the bench waits (up to kSettleTimeoutMs) for every compacted partition's
//         clean line.
//      Odd rounds run c then d, even rounds d then c (the baseline once the cleans ended), as the txn-* rows
//      alternate: a drift of the shared machine's speed then favours neither. The row gives the median p99s
//      and the median of the rounds' ratios (each compares two runs seconds apart).
//   3. the broker killed, the directory removed.
// During each run /metrics (--metrics-listen) is scraped every 500 ms for the workers' longest event-loop delay
// (shoal_worker_event_loop_delay_seconds, stat "max"): a maintenance step that holds a worker's thread shows there.
// What comes from the broker's log (text or json format, parseBrokerLogLine):
//   `log cleaner: cleaned <dir> up to offset N: read X bytes, wrote Y, removed Z records in D ms` (one per clean,
//   logged when it ends: it ran from the line's time - D to the line's time), and
//   `retention: deleted S segment(s), B bytes, from P partition(s); ...` (one per pass that deleted something).
// Compaction throughput is the cleaner's bytes read (its map pass and its copy pass each read the dirty part)
// over the wall time from the first clean's start to the last one's end, in MB/s (10^6 bytes). The overlap of
// those intervals with the measured run is reported: a clean outside the run measures nothing.
// On Shoal's cleaner a clean's duration is mostly waits: each group of segments it rewrites (with 1 MiB segments,
// one segment per group) ends with an fdatasync, and the clean resumes at the next backoff tick, so a clean of
// N segments lasts about N x --log-cleaner-backoff-ms; --maintenance-mib sizes the clean through N.
// It runs when named in --scenarios or with --full, not in the plain default set: a round takes about 30 s on
// 2 cores (a second of fill, 5 + 2 x 10 s of paced runs), so the default 3 rounds take about 1.5 minutes per
// worker count and write 120 MiB per worker, and its p99s need a quiet machine to mean anything (the restart
// scenarios are selected the same way).
import { forEachWorkerCount, type ShoalScenarioInput } from './per-worker.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes, Producer } from '@platformatic/kafka'
import type { BenchOptions } from './args.ts'
import { judge, latencyMetrics, metricsOf, RdkafkaRunner, rdkafkaPaceRate, failureText, type LoadContext, type RunMetrics } from './loads.ts'
import { parseRdkafkaPerformance } from './parse-rdkafka.ts'
import { runProcess, startServer, tail, type ServerProcess } from './proc.ts'
import type { Progress } from './progress.ts'
import { matchesPattern, type Scenario } from './scenarios.ts'
import { formatFixed, formatInteger, formatMiB, formatRatio, median, ratio, renderTable } from './stats.ts'
import type { RdkafkaTool, ToolMissing } from './tools.ts'

export const kMaintenanceScenario = 'maintenance'
/** The issue's bound: the p99 with maintenance running at most this many times the p99 without. */
export const kMaintenanceP99Bound = 1.2
/** The measured load on `latency`: 100 B records, acks=-1, paced at this many messages/s for kRunSeconds. */
export const kPacedRate = 10_000
export const kRunSeconds = 10
/**
 * A shorter paced run after each fill, not measured: the first paced run after a fill measured several times the
 * p99 of the run right after it on the 2-core machine (24.4 ms against 3.45 ms: the broker settling after tens of
 * MiB at acks=1), which would favour whichever of the two measured runs comes second.
 */
const kWarmupSeconds = 5
const kRecordBytes = 100
const kSegmentBytes = 1024 * 1024
const kValueBytes = 1024
const kKeysPerPartition = 2000
const kRetainedMiB = 16
/** retention.bytes set on `retained` when maintenance starts: 2 of its 16 segments stay. */
export const kRetainedKeepBytes = 2 * kSegmentBytes
const kBackoffMs = 200
const kStartTimeoutMs = 120_000
/** How long after the measured run the bench waits for the cleans to end. */
const kSettleTimeoutMs = 60_000
const kFillBatch = 1000
const kFillInFlight = 4

/**
 * Whether a run asks for the maintenance scenario: --full, or a --scenarios pattern that matches its name (not the
 * plain default set: see the header).
 */
export function selectMaintenance (patterns: readonly string[], matrix: 'default' | 'full'): boolean {
  if (patterns.length === 0) return matrix === 'full'
  return patterns.some((pattern) => matchesPattern(kMaintenanceScenario, pattern))
}

// ------------------------------------------------------------------------------------------------ broker log

/** One line of the broker's log: its time (epoch ms), thread (`main`, `worker-0`) and message. */
export interface BrokerLogLine {
  timeMs: number
  thread: string
  message: string
}

/**
 * A line of either --log-format: text `2026-12-04T01:50:29.681Z INFO  [worker-0] message` or json
 * `{"level":30,"time":1735689600000,...,"thread":"worker-0",...,"msg":"message"}`. Null for anything else.
 */
export function parseBrokerLogLine (line: string): BrokerLogLine | null {
  const text = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) +[A-Z]+ +\[([^\]]+)\] (.*)$/.exec(line)
  if (text !== null) {
    const timeMs = Date.parse(text[1])
    return Number.isFinite(timeMs) ? { timeMs, thread: text[2], message: text[3] } : null
  }
  if (!line.startsWith('{')) return null
  try {
    const entry = JSON.parse(line) as { time?: unknown, thread?: unknown, msg?: unknown }
    if (typeof entry.time !== 'number' || typeof entry.msg !== 'string') return null
    return { timeMs: entry.time, thread: typeof entry.thread === 'string' ? entry.thread : '?', message: entry.msg }
  } catch {
    return null
  }
}

/** One clean, from the cleaner's line. */
export interface CleanEntry {
  thread: string
  /** The partition directory's name, `compacted-0`. */
  partition: string
  endOffset: number
  bytesRead: number
  bytesWritten: number
  recordsRemoved: number
  durationMs: number
  /** When it started (the line's time - durationMs) and ended (the line's time), epoch ms. */
  startMs: number
  endMs: number
}

const kCleanPattern = /^log cleaner: cleaned (.+) up to offset (\d+): read (\d+) bytes, wrote (\d+), removed (\d+) records in (\d+) ms$/

export function parseCleanLine (line: BrokerLogLine): CleanEntry | null {
  const match = kCleanPattern.exec(line.message)
  if (match === null) return null
  const durationMs = Number(match[6])
  return {
    thread: line.thread, partition: basename(match[1]), endOffset: Number(match[2]), bytesRead: Number(match[3]),
    bytesWritten: Number(match[4]), recordsRemoved: Number(match[5]), durationMs, startMs: line.timeMs - durationMs, endMs: line.timeMs
  }
}

/** One retention pass that deleted something, from its line. */
export interface RetentionEntry {
  thread: string
  timeMs: number
  segmentsDeleted: number
  bytesDeleted: number
  partitions: number
}

const kRetentionPattern = /^retention: deleted (\d+) segment\(s\), (\d+) bytes, from (\d+) partition\(s\)/

export function parseRetentionLine (line: BrokerLogLine): RetentionEntry | null {
  const match = kRetentionPattern.exec(line.message)
  if (match === null) return null
  return { thread: line.thread, timeMs: line.timeMs, segmentsDeleted: Number(match[1]), bytesDeleted: Number(match[2]), partitions: Number(match[3]) }
}

/** The cleans of `topic`'s partitions and every retention pass in a broker's output, from `sinceMs` on. */
export function maintenanceLines (output: string, topic: string, sinceMs: number): { cleans: CleanEntry[], retention: RetentionEntry[] } {
  const cleans: CleanEntry[] = []
  const retention: RetentionEntry[] = []
  const partitionName = new RegExp(`^${topic.replace(/[.+?^${}()|[\]\\*-]/g, '\\$&')}-\\d+$`)
  for (const raw of output.split('\n')) {
    const line = parseBrokerLogLine(raw)
    if (line === null || line.timeMs < sinceMs) continue
    const clean = parseCleanLine(line)
    if (clean !== null) {
      if (partitionName.test(clean.partition)) cleans.push(clean)
      continue
    }
    const pass = parseRetentionLine(line)
    if (pass !== null) retention.push(pass)
  }
  return { cleans, retention }
}

/**
 * The largest `stat="max"` sample of shoal_worker_event_loop_delay_seconds in a /metrics scrape (each worker's
 * longest event-loop delay over its last one-second sample), in ms; null when the scrape has none.
 */
export function maxLoopDelayMs (scrape: string): number | null {
  let max: number | null = null
  for (const match of scrape.matchAll(/^shoal_worker_event_loop_delay_seconds\{([^}]*)\} (\S+)$/gm)) {
    if (!/(^|,)stat="max"(,|$)/.test(match[1])) continue
    const seconds = Number(match[2])
    if (Number.isFinite(seconds)) max = Math.max(max ?? 0, seconds * 1000)
  }
  return max
}

/** Scrapes `http://address/metrics` every `intervalMs` until stop(); stop() gives the largest maxLoopDelayMs seen. */
function watchLoopDelay (address: string | null, intervalMs = 500): { stop (): Promise<number | null> } {
  if (address === null) return { stop: async () => null }
  let max: number | null = null
  let scraping: Promise<void> = Promise.resolve()
  const scrape = (): void => {
    scraping = fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) })
      .then((response) => response.text())
      .then((text) => {
        const delay = maxLoopDelayMs(text)
        if (delay !== null) max = Math.max(max ?? 0, delay)
      }, () => {})
  }
  const timer = setInterval(scrape, intervalMs)
  return {
    stop: async () => {
      clearInterval(timer)
      await scraping
      // The gauges cover the last full second: one more scrape after it has passed takes in the run's end.
      await new Promise((resolve) => setTimeout(resolve, 1100))
      scrape()
      await scraping
      return max
    }
  }
}

// ------------------------------------------------------------------------------------------------ figures

export interface CompactionSummary {
  cleans: number
  bytesRead: number
  bytesWritten: number
  recordsRemoved: number
  /** First clean's start to last clean's end. */
  wallMs: number
  /** bytesRead / wallMs, in 10^6 bytes per second; null when wallMs is 0. */
  mbPerSec: number | null
}

export function summarizeCleans (cleans: readonly CleanEntry[]): CompactionSummary | null {
  if (cleans.length === 0) return null
  let bytesRead = 0
  let bytesWritten = 0
  let recordsRemoved = 0
  let startMs = Infinity
  let endMs = -Infinity
  for (const clean of cleans) {
    bytesRead += clean.bytesRead
    bytesWritten += clean.bytesWritten
    recordsRemoved += clean.recordsRemoved
    startMs = Math.min(startMs, clean.startMs)
    endMs = Math.max(endMs, clean.endMs)
  }
  const wallMs = endMs - startMs
  return { cleans: cleans.length, bytesRead, bytesWritten, recordsRemoved, wallMs, mbPerSec: wallMs > 0 ? bytesRead / 1e6 / (wallMs / 1000) : null }
}

/** How the maintenance overlapped the measured run; times relative to the run's start, in ms. */
export interface MaintenanceOverlap {
  runMs: number
  /** The cleans' span: the first start and the last end. */
  cleanFromMs: number | null
  cleanToMs: number | null
  /** Milliseconds of the run during which a clean was going on. */
  overlapMs: number
  /** overlapMs / the cleans' span: 1 when every clean ran inside the run. */
  cleanInsideRun: number | null
  /** The retention passes' times, and how many of the segments they deleted were deleted during the run. */
  retentionAtMs: number[]
  segmentsDeletedInRun: number
}

export function maintenanceOverlap (runStartMs: number, runEndMs: number, cleans: readonly CleanEntry[], retention: readonly RetentionEntry[]): MaintenanceOverlap {
  // The cleans may overlap each other (one per worker): the union of their intervals within the run.
  const intervals = cleans.map((clean) => [Math.max(clean.startMs, runStartMs), Math.min(clean.endMs, runEndMs)] as const)
    .filter(([from, to]) => to > from).sort((a, b) => a[0] - b[0])
  let overlapMs = 0
  let coveredTo = -Infinity
  for (const [from, to] of intervals) {
    if (to <= coveredTo) continue
    overlapMs += to - Math.max(from, coveredTo)
    coveredTo = to
  }
  const cleanFrom = cleans.length === 0 ? null : Math.min(...cleans.map((clean) => clean.startMs))
  const cleanTo = cleans.length === 0 ? null : Math.max(...cleans.map((clean) => clean.endMs))
  const span = cleanFrom === null || cleanTo === null ? 0 : cleanTo - cleanFrom
  const inRun = retention.filter((pass) => pass.timeMs >= runStartMs && pass.timeMs <= runEndMs)
  return {
    runMs: runEndMs - runStartMs,
    cleanFromMs: cleanFrom === null ? null : cleanFrom - runStartMs,
    cleanToMs: cleanTo === null ? null : cleanTo - runStartMs,
    overlapMs,
    cleanInsideRun: span > 0 ? Math.min(1, overlapMs / span) : null,
    retentionAtMs: retention.map((pass) => pass.timeMs - runStartMs),
    segmentsDeletedInRun: inRun.reduce((sum, pass) => sum + pass.segmentsDeleted, 0)
  }
}

/** p99 with maintenance / p99 without, and whether that is within kMaintenanceP99Bound. */
export function p99Verdict (baselineP99Ms: number | null | undefined, maintenanceP99Ms: number | null | undefined): { ratio: number | null, verdict: 'met' | 'NOT met' | null } {
  const value = ratio(maintenanceP99Ms, baselineP99Ms)
  return { ratio: value, verdict: value === null ? null : value <= kMaintenanceP99Bound ? 'met' : 'NOT met' }
}

// ------------------------------------------------------------------------------------------------ the run

/** One round: a fill, a warm-up, then the baseline and the maintenance run (their order alternating by round). */
export interface MaintenanceRound {
  round: number
  first: 'baseline' | 'maintenance'
  baseline: RunMetrics | null
  maintenance: RunMetrics | null
  /** The longest worker event-loop delay /metrics showed during each run (ms). */
  loopDelayMaxMs: { baseline: number | null, maintenance: number | null }
  /** maintenance p99 / baseline p99. */
  p99Ratio: number | null
  compaction: CompactionSummary | null
  retention: RetentionSummary
  overlap: MaintenanceOverlap | null
  cleans: CleanEntry[]
  retentionPasses: RetentionEntry[]
  /** Null when the round measured what it is for (maintenanceShortfall). */
  shortfall: string | null
}

export interface RetentionSummary {
  passes: number
  segmentsDeleted: number
  bytesDeleted: number
}

export function summarizeRetention (passes: readonly RetentionEntry[]): RetentionSummary {
  let segmentsDeleted = 0
  let bytesDeleted = 0
  for (const pass of passes) {
    segmentsDeleted += pass.segmentsDeleted
    bytesDeleted += pass.bytesDeleted
  }
  return { passes: passes.length, segmentsDeleted, bytesDeleted }
}

/** A worker count's figures from its rounds. */
export interface MaintenanceTotals {
  /** Medians over the rounds. */
  baselineP99Ms: number | null
  maintenanceP99Ms: number | null
  /** The median of the rounds' ratios (each compares two runs seconds apart), and its verdict. */
  p99Ratio: number | null
  verdict: 'met' | 'NOT met' | null
  /** Every round's cleans: bytes summed, wallMs the sum of the rounds' spans, mbPerSec their quotient. */
  compaction: CompactionSummary | null
  retention: RetentionSummary
}

export function combineRounds (rounds: readonly MaintenanceRound[]): MaintenanceTotals {
  const p99Ratio = median(rounds.map((round) => round.p99Ratio))
  let compaction: CompactionSummary | null = null
  for (const round of rounds) {
    const clean = round.compaction
    if (clean === null) continue
    compaction ??= { cleans: 0, bytesRead: 0, bytesWritten: 0, recordsRemoved: 0, wallMs: 0, mbPerSec: null }
    compaction.cleans += clean.cleans
    compaction.bytesRead += clean.bytesRead
    compaction.bytesWritten += clean.bytesWritten
    compaction.recordsRemoved += clean.recordsRemoved
    compaction.wallMs += clean.wallMs
  }
  if (compaction !== null && compaction.wallMs > 0) compaction.mbPerSec = compaction.bytesRead / 1e6 / (compaction.wallMs / 1000)
  return {
    baselineP99Ms: median(rounds.map((round) => round.baseline?.latP99Ms)),
    maintenanceP99Ms: median(rounds.map((round) => round.maintenance?.latP99Ms)),
    p99Ratio,
    verdict: p99Ratio === null ? null : p99Ratio <= kMaintenanceP99Bound ? 'met' : 'NOT met',
    compaction,
    retention: summarizeRetention(rounds.flatMap((round) => round.retentionPasses))
  }
}

export interface MaintenanceResult extends MaintenanceTotals {
  target: string
  workers: number
  scenario: string
  status: 'ok' | 'partial' | 'failed'
  reason: string | null
  setup: {
    pacedRate: number
    runSeconds: number
    recordBytes: number
    compactedPartitions: number
    compactedBytesPerPartition: number
    keysPerPartition: number
    retainedBytesPerPartition: number
    retainedKeepBytes: number
    segmentBytes: number
    /** All rounds' fills together. */
    fillSeconds: number | null
  }
  rounds: MaintenanceRound[]
  /** The broker's warnings and errors during the scenario. */
  brokerSaid: string
  commands: string[]
}

type MaintenanceInput = ShoalScenarioInput & { workDir: string }

export async function runMaintenanceScenarios (input: MaintenanceInput): Promise<MaintenanceResult[]> {
  return forEachWorkerCount(input, kMaintenanceScenario, (workers) => runMaintenance(input, workers))
}

function emptyResult (workers: number, options: BenchOptions): MaintenanceResult {
  return {
    target: `shoal w=${workers}`, workers, scenario: kMaintenanceScenario, status: 'failed', reason: null,
    setup: {
      pacedRate: kPacedRate, runSeconds: kRunSeconds, recordBytes: kRecordBytes, compactedPartitions: workers,
      compactedBytesPerPartition: options.maintenanceMib * 1024 * 1024, keysPerPartition: kKeysPerPartition,
      retainedBytesPerPartition: kRetainedMiB * 1024 * 1024, retainedKeepBytes: kRetainedKeepBytes, segmentBytes: kSegmentBytes, fillSeconds: null
    },
    ...combineRounds([]),
    rounds: [],
    brokerSaid: '',
    commands: []
  }
}

/** Produces `bytesPerPartition` of `valueBytes` values to each partition; keyed: keys cycle over kKeysPerPartition per partition. */
async function fill (producer: Producer<Buffer, Buffer, Buffer, Buffer>, topic: string, partitions: number, bytesPerPartition: number, keyed: boolean): Promise<void> {
  const value = Buffer.alloc(kValueBytes, 'v')
  const keys = keyed ? Array.from({ length: kKeysPerPartition * partitions }, (_, index) => Buffer.from(`key-${index}`)) : []
  const total = Math.ceil(bytesPerPartition / kValueBytes) * partitions
  const inFlight: Promise<unknown>[] = []
  for (let sent = 0; sent < total;) {
    const count = Math.min(kFillBatch, total - sent)
    const messages = Array.from({ length: count }, (_, index) => {
      const record = sent + index
      // Key k always goes to partition k % partitions, so each partition holds kKeysPerPartition keys.
      return keyed
        ? { topic, partition: (record % keys.length) % partitions, key: keys[record % keys.length], value }
        : { topic, partition: record % partitions, value }
    })
    sent += count
    inFlight.push(producer.send({ messages }))
    if (inFlight.length >= kFillInFlight) await inFlight.shift()
  }
  await Promise.all(inFlight)
}

function setConfig (name: string, value: string) {
  return { name, configOperation: IncrementalAlterConfigOperationTypes.SET, value }
}

/** The maintenance switch: `compacted` to compact (or back to delete), `retained` to retention.bytes kRetainedKeepBytes (or -1). */
async function switchMaintenance (admin: Admin, on: boolean): Promise<void> {
  await admin.incrementalAlterConfigs({
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: 'compacted',
        configs: [setConfig('cleanup.policy', on ? 'compact' : 'delete'), setConfig('min.cleanable.dirty.ratio', '0.01')]
      },
      { resourceType: ConfigResourceTypes.TOPIC, resourceName: 'retained', configs: [setConfig('retention.bytes', on ? String(kRetainedKeepBytes) : '-1')] }
    ]
  })
}

async function runMaintenance (input: MaintenanceInput, workers: number): Promise<MaintenanceResult> {
  const { options, progress } = input
  const result = emptyResult(workers, options)
  if (!input.rdkafka.available) {
    result.reason = `rdkafka_performance (the measured load) is missing: ${input.rdkafka.reason}`
    return result
  }
  const tool = input.rdkafka
  const parent = options.dataDir ?? tmpdir()
  const dataDir = mkdtempSync(join(parent, 'shoal-bench-maintenance-'))
  const brokerArgs = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(workers), '--log-level', 'info',
    '--log-cleaner-backoff-ms', String(kBackoffMs), '--log-retention-check-interval-ms', String(kBackoffMs), '--metrics-listen', '127.0.0.1:0',
    ...options.brokerArgs]
  let server: ServerProcess | null = null
  let admin: Admin | null = null
  let producer: Producer<Buffer, Buffer, Buffer, Buffer> | null = null
  try {
    server = await startServer(input.node, [input.mainPath, ...brokerArgs], /listening on (\S+)/, kStartTimeoutMs)
    const live = server
    const bootstrap = server.bootstrap
    const metricsAt = await metricsAddress(server)
    admin = new Admin({ clientId: 'shoal-bench-maintenance', bootstrapBrokers: [bootstrap], timeout: 60_000, retries: 5 })
    const liveAdmin = admin
    const segment = { name: 'segment.bytes', value: String(kSegmentBytes) }
    await admin.createTopics({ topics: ['latency'], partitions: 1, replicas: 1, configs: [segment] })
    await admin.createTopics({ topics: ['compacted'], partitions: workers, replicas: 1, configs: [segment, { name: 'cleanup.policy', value: 'delete' }] })
    await admin.createTopics({
      topics: ['retained'],
      partitions: workers,
      replicas: 1,
      configs: [segment, { name: 'cleanup.policy', value: 'delete' }, { name: 'retention.bytes', value: '-1' }, { name: 'file.delete.delay.ms', value: '1000' }]
    })
    producer = new Producer({ clientId: 'shoal-bench-maintenance-fill', bootstrapBrokers: [bootstrap], acks: 1, timeout: 60_000, retries: 5 })
    const liveProducer = producer
    const ctx: LoadContext = {
      bootstrap,
      targetKind: 'shoal',
      topic: 'latency',
      scenario: pacedScenario(),
      records: kPacedRate * kRunSeconds,
      run: 1,
      options,
      workDir: input.workDir,
      progress,
      measureStart: () => {},
      measureEnd: () => {}
    }
    const runner = new RdkafkaRunner(tool, ctx)
    result.commands = runner.commands
    /** One paced run on `latency`; `atStart` runs right after the producer is spawned. */
    const paced = async (label: string, atStart: () => Promise<void>, records = ctx.records): Promise<{ metrics: RunMetrics, startMs: number, endMs: number, loopDelayMaxMs: number | null }> => {
      const latencyFile = join(input.workDir, `maintenance-w${workers}-${label.replace(/[^\w-]+/g, '-')}.lat`)
      const args = runner.producerArgs(records, -1, ['-l', '-A', latencyFile, '-r', String(rdkafkaPaceRate(kPacedRate))], options.rateLingerMs)
      const watch = watchLoopDelay(metricsAt)
      const startMs = Date.now()
      const running = runner.run(args, Math.max(options.durationSec, kRunSeconds * 3) * 1000, label, { expected: records })
      await atStart()
      const run = await running
      const endMs = Date.now()
      const loopDelayMaxMs = await watch.stop()
      const parsed = parseRdkafkaPerformance(run.stdout)
      if (parsed === null) {
        rmSync(latencyFile, { force: true })
        throw new Error(`${label} run: no result: ${failureText(run)}`)
      }
      const metrics = metricsOf(parsed)
      latencyMetrics(latencyFile, metrics)
      const verdict = judge(records, parsed.delivered - parsed.errors, run, 'delivered')
      if (verdict.status !== 'ok') throw new Error(`${label} run: ${verdict.reason}`)
      return { metrics, startMs, endMs, loopDelayMaxMs }
    }
    let fillSeconds = 0
    for (let round = 1; round <= options.repeat; round++) {
      const label = `round ${round}/${options.repeat}`
      // 2: the fill (the maintenance switched off again after the first round), then sync (see the header).
      if (round > 1) await switchMaintenance(liveAdmin, false)
      progress.update(`${label}: filling compacted (${options.maintenanceMib} MiB x ${workers}) and retained (${kRetainedMiB} MiB x ${workers})`)
      const fillStarted = performance.now()
      await fill(liveProducer, 'compacted', workers, options.maintenanceMib * 1024 * 1024, true)
      await fill(liveProducer, 'retained', workers, kRetainedMiB * 1024 * 1024, false)
      fillSeconds += (performance.now() - fillStarted) / 1000
      result.setup.fillSeconds = fillSeconds
      await runProcess('sync', [], { timeoutMs: 60_000 })
      progress.update(`${label}: warm-up`)
      await paced('warm-up', async () => {}, kPacedRate * kWarmupSeconds)
      // 3-4: odd rounds measure the baseline first, even ones the maintenance run first (the baseline then
      // starts once the cleans ended), so that a drift of the machine's speed favours neither.
      const first = round % 2 === 1 ? 'baseline' : 'maintenance'
      const entry: MaintenanceRound = {
        round, first, baseline: null, maintenance: null, loopDelayMaxMs: { baseline: null, maintenance: null }, p99Ratio: null,
        compaction: null, retention: summarizeRetention([]), overlap: null, cleans: [], retentionPasses: [], shortfall: null
      }
      result.rounds.push(entry)
      for (const what of first === 'baseline' ? ['baseline', 'maintenance'] as const : ['maintenance', 'baseline'] as const) {
        progress.update(`${label}: ${what}`)
        if (what === 'baseline') {
          const baseline = await paced(`${label} baseline`, async () => {})
          entry.baseline = baseline.metrics
          entry.loopDelayMaxMs.baseline = baseline.loopDelayMaxMs
          continue
        }
        const maintained = await paced(`${label} maintenance`, () => switchMaintenance(liveAdmin, true))
        entry.maintenance = maintained.metrics
        entry.loopDelayMaxMs.maintenance = maintained.loopDelayMaxMs
        // Every compacted partition's clean must end (it may outlast the run) before anything else runs.
        progress.update(`${label}: waiting for the cleans to end`)
        const deadline = Date.now() + kSettleTimeoutMs
        let lines = maintenanceLines(live.output(), 'compacted', maintained.startMs)
        while (new Set(lines.cleans.map((clean) => clean.partition)).size < workers && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200))
          lines = maintenanceLines(live.output(), 'compacted', maintained.startMs)
        }
        entry.cleans = lines.cleans
        entry.retentionPasses = lines.retention
        entry.compaction = summarizeCleans(lines.cleans)
        entry.retention = summarizeRetention(lines.retention)
        entry.overlap = maintenanceOverlap(maintained.startMs, maintained.endMs, lines.cleans, lines.retention)
      }
      entry.p99Ratio = p99Verdict(entry.baseline?.latP99Ms, entry.maintenance?.latP99Ms).ratio
      entry.shortfall = maintenanceShortfall(entry, workers)
    }
    Object.assign(result, combineRounds(result.rounds))
    const shortfalls = result.rounds.filter((round) => round.shortfall !== null).map((round) => `round ${round.round}: ${round.shortfall}`)
    result.status = shortfalls.length === 0 ? 'ok' : 'partial'
    result.reason = shortfalls.length === 0 ? null : shortfalls.join('; ')
  } catch (error) {
    Object.assign(result, combineRounds(result.rounds))
    const said = server === null ? '' : tail(server.output().split('\n').filter((line) => !line.startsWith('listening on')).join('\n'), 2)
    result.reason = (error as Error).message.split('\n')[0] + (said === '' ? '' : `; broker said: ${said.replace(/\n/g, ' / ')}`)
    progress.note(`${result.target} ${kMaintenanceScenario}: failed: ${result.reason}`)
  } finally {
    if (server !== null) result.brokerSaid = warningLines(server.output())
    await producer?.close().catch(() => {})
    await admin?.close().catch(() => {})
    if (server !== null) {
      server.child.kill('SIGKILL')
      await server.stop()
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return result
}

/** The /metrics address the broker printed (`metrics on HOST:PORT`, right after `listening on`); null if it did not within 5 s. */
async function metricsAddress (server: ServerProcess): Promise<string | null> {
  const deadline = Date.now() + 5000
  for (;;) {
    const match = /^metrics on (\S+)$/m.exec(server.output())
    if (match !== null) return match[1]
    if (Date.now() > deadline) return null
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The `latency` topic's load, as a Scenario for RdkafkaRunner: 100 B, acks=-1, no compression, 1 partition. */
function pacedScenario (): Scenario {
  return { name: kMaintenanceScenario, kind: 'rate', recordSize: kRecordBytes, acks: -1, compression: 'none', partitions: 1 }
}

/** Null when the run measured what it is for, else what is missing (the row is then partial). */
export function maintenanceShortfall (result: Pick<MaintenanceRound, 'cleans' | 'retention' | 'overlap'>, partitions: number): string | null {
  const problems: string[] = []
  const cleaned = new Set(result.cleans.map((clean) => clean.partition)).size
  if (cleaned < partitions) problems.push(`${cleaned} of ${partitions} compacted partitions cleaned within ${kSettleTimeoutMs / 1000} s of the run's end`)
  if (result.retention.segmentsDeleted === 0) problems.push('retention deleted nothing')
  if (result.overlap !== null && result.cleans.length > 0 && result.overlap.overlapMs === 0) problems.push('no clean overlapped the measured run')
  if (result.overlap !== null && result.retention.segmentsDeleted > 0 && result.overlap.segmentsDeletedInRun === 0) problems.push('retention deleted nothing during the measured run')
  return problems.length === 0 ? null : problems.join('; ')
}

/** The broker's warnings and errors (text or json format), a few of them. */
function warningLines (output: string): string {
  return output.split('\n').filter((line) => /\b(WARN|ERROR)\b|"level":(40|50)/.test(line)).slice(0, 6).map((line) => line.replace(/^\S+T\S+Z /, '')).join('\n')
}

// ------------------------------------------------------------------------------------------------ report

function seconds (ms: number | null | undefined): string {
  return ms == null ? '-' : (ms / 1000).toFixed(1)
}

/** The maintenance table: one row per worker count, then each round's runs and how its maintenance overlapped its run. */
export function renderMaintenanceTable (results: readonly MaintenanceResult[]): string {
  const header = ['target', 'scenario', 'p99 baseline ms', 'p99 maintenance ms', `x (<= ${kMaintenanceP99Bound}x)`, 'x per round', 'compaction MB/s',
    'cleaner read / wrote MiB', 'retention deleted', 'clean in run s', 'status']
  const rows = results.map((result) => {
    const compaction = result.compaction
    const overlaps = result.rounds.map((round) => round.overlap).filter((overlap) => overlap !== null)
    const leastOverlap = overlaps.length === 0 ? null : overlaps.reduce((least, overlap) => overlap.overlapMs < least.overlapMs ? overlap : least)
    return [
      result.target, result.scenario, formatFixed(result.baselineP99Ms), formatFixed(result.maintenanceP99Ms),
      result.p99Ratio === null ? '-' : `${formatRatio(result.p99Ratio)} ${result.verdict}`,
      result.rounds.length === 0 ? '-' : result.rounds.map((round) => formatRatio(round.p99Ratio)).join(', '),
      formatFixed(compaction?.mbPerSec, 1),
      compaction === null ? '-' : `${formatMiB(compaction.bytesRead)} / ${formatMiB(compaction.bytesWritten)}`,
      result.retention.passes === 0 ? '-' : `${result.retention.segmentsDeleted} segments, ${formatMiB(result.retention.bytesDeleted)} MiB`,
      leastOverlap === null ? '-' : `${overlaps.length > 1 ? '>= ' : ''}${seconds(leastOverlap.overlapMs)} of ${seconds(leastOverlap.runMs)}`,
      result.status === 'ok' ? 'ok' : result.status.toUpperCase()
    ]
  })
  const lines = [renderTable(header, rows, new Set([2, 3, 6, 7]))]
  const notes: string[] = [
    `maintenance: produce p99 on 'latency' (rdkafka_performance -r ${kPacedRate}, ${kRecordBytes} B, acks=-1, ${kRunSeconds} s) while 'compacted' ` +
    'is cleaned and \'retained\' loses segments to retention.bytes, against the same run with neither, in --repeat rounds (p99s: medians; ' +
    `x: maintenance / baseline p99, the median of the rounds' ratios; the issue asks <= ${kMaintenanceP99Bound}x). compaction MB/s: the cleaner's ` +
    'bytes read / the time from the first clean\'s start to the last one\'s end, summed over the rounds (10^6 bytes)'
  ]
  for (const result of results) {
    const where = `${result.target} ${result.scenario}`
    if (result.reason !== null) notes.push(`${where}: ${result.status.toUpperCase()}: ${result.reason}`)
    for (const round of result.rounds) {
      const at = `${where} round ${round.round} (${round.first} first)`
      for (const what of ['baseline', 'maintenance'] as const) {
        const metrics = round[what]
        if (metrics === null) continue
        notes.push(`${at} ${what}: ${formatInteger(metrics.msgsPerSec)} msg/s; latency ms p50 ${formatFixed(metrics.latP50Ms)}, p95 ${formatFixed(metrics.latP95Ms)}, ` +
          `p99 ${formatFixed(metrics.latP99Ms)}, p99.9 ${formatFixed(metrics.latP999Ms)}, max ${formatFixed(metrics.latMaxMs)}; ` +
          `longest worker event-loop delay ${formatFixed(round.loopDelayMaxMs[what], 1)} ms`)
      }
      const overlap = round.overlap
      if (overlap !== null) {
        notes.push(`${at}: run ${seconds(overlap.runMs)} s; cleans from ${seconds(overlap.cleanFromMs)} to ${seconds(overlap.cleanToMs)} s after its start ` +
          `(${formatFixed(overlap.cleanInsideRun == null ? null : overlap.cleanInsideRun * 100, 0)}% of it inside the run); retention passes at ` +
          `${overlap.retentionAtMs.length === 0 ? 'none' : overlap.retentionAtMs.map((time) => `${seconds(time)} s`).join(', ')} ` +
          `(${overlap.segmentsDeletedInRun} of ${round.retention.segmentsDeleted} segments deleted during the run)`)
      }
      for (const clean of round.cleans) {
        notes.push(`${at}: ${clean.partition} [${clean.thread}]: read ${formatMiB(clean.bytesRead)} MiB, wrote ${formatMiB(clean.bytesWritten)} MiB, ` +
          `removed ${formatInteger(clean.recordsRemoved)} records in ${formatInteger(clean.durationMs)} ms (${formatFixed(clean.durationMs > 0 ? clean.bytesRead / 1e3 / clean.durationMs : null, 1)} MB/s)`)
      }
    }
    if (result.brokerSaid !== '') notes.push(`${where}: broker said: ${result.brokerSaid.replace(/\n/g, ' / ')}`)
  }
  lines.push('', ...notes)
  return lines.join('\n')
}
