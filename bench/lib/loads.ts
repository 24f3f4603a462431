// One run of one scenario with one load generator against one target, the way each tool's users run it:
//   rdkafka  rdkafka_performance -P / -C / -G with -u (table output), -l and -A (per-message latencies); -r paces
//            txn-perf (bench/rdkafka/txn-perf.c) -m transactional|idempotent for the txn-produce rows, and to fill
//            txn-consume's topic; rdkafka_performance -C -X isolation.level=read_committed|read_uncommitted reads it
//   kafka    kafka-producer-perf-test --num-records --record-size --throughput -1|RATE --producer-props ...
//            kafka-consumer-perf-test --bootstrap-server --topic --messages --timeout
// Every process has a deadline (--duration, --group-timeout); a run that does not finish is reported as partial or
// failed with the reason, never waited on forever.
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchOptions } from './args.ts'
import { parseKafkaConsumerOutput, parseKafkaProducerLine, parseKafkaProducerOutput, type KafkaConsumerResult, type KafkaProducerResult } from './parse-kafka-perf.ts'
import { headerFromLine, parseLatencyFile, parseRdkafkaPerformance, progressFromLine, type RdkafkaResult } from './parse-rdkafka.ts'
import { parseTxnPerfOutput, parseTxnPerfProgressLine, type TxnPerfMode, type TxnPerfResult } from './parse-txn-perf.ts'
import { runProcess, tail, type RunResult } from './proc.ts'
import type { Progress } from './progress.ts'
import { kRecordsPerTxn, type Scenario } from './scenarios.ts'
import { ratio, summarizeLatencies } from './stats.ts'
import { watchDisk, type DiskProbeSummary } from './disk-probe.ts'
import type { KafkaTool, RdkafkaTool } from './tools.ts'

export interface RunMetrics {
  msgsPerSec: number | null
  bytesPerSec: number | null
  records: number | null
  elapsedMs: number | null
  /** Produce and rate rows: produce-to-acknowledgement latency; e2e rows: produce-to-consume latency (ms). */
  latAvgMs: number | null
  latP50Ms: number | null
  latP95Ms: number | null
  latP99Ms: number | null
  latP999Ms: number | null
  latMaxMs: number | null
}

export type RunStatus = 'ok' | 'partial' | 'failed'

/**
 * How a rate run was paced. Kept apart from `note`, which marks a result as not comparable (no ratio): a rate row
 * is compared, by its p99 latency.
 */
export interface RatePacing {
  /** Acknowledged messages/s of the flat-out run: the maximum rate. */
  maxMsgsPerSec: number
  /** The rate wanted: round(maxMsgsPerSec / 2). The rate achieved is metrics.msgsPerSec. */
  requestedMsgsPerSec: number
  /** What the tool was given (rdkafka_performance -r, kafka-producer-perf-test --throughput): see rdkafkaPaceRate. */
  toolRate: number
  /** linger.ms of the paced run (--rate-linger-ms). */
  lingerMs: number
  /** An fdatasync watch on the brokers' disk during the paced run (watchDisk); null when it failed. */
  diskWatch: DiskProbeSummary | null
}

/**
 * The gap rdkafka_performance leaves after each produce call for `-r RATE`: (int)(1000000.0 / RATE) microseconds,
 * truncated as its C code does, spent polling for delivery reports. -r is a gap, not a schedule.
 */
export function rdkafkaRateGapMicros (rate: number): number {
  return Math.trunc(1_000_000 / rate)
}

/**
 * The -r to pass for a wanted rate: the rate itself, except above 1 000 000 msg/s, where the gap truncates to
 * 0 us and nothing would be paced: 1 000 000 there (a 1 us gap, the finest -r can pace).
 */
export function rdkafkaPaceRate (wanted: number): number {
  return rdkafkaRateGapMicros(wanted) >= 1 ? wanted : 1_000_000
}

/**
 * What a txn-* run compares: the row's metrics are the load under test (transactional produce, read_committed
 * consume), measured seconds apart from the reference load (idempotent produce, read_uncommitted consume) of the
 * same client on the same broker; ratio is metrics.msgsPerSec / referenceMsgsPerSec.
 */
export interface TxnComparison {
  measured: 'transactional' | 'read_committed'
  reference: 'idempotent' | 'read_uncommitted'
  referenceMsgsPerSec: number | null
  referenceBytesPerSec: number | null
  ratio: number | null
  recordsPerTxn: number
  /** Transactions committed by the transactional producer (txn-produce: the measured run; txn-consume: the fill). */
  transactions: number | null
  /** txn-produce: seconds the measured run spent in rd_kafka_commit_transaction (flush + EndTxn). */
  commitSeconds: number | null
  /** Which load ran first in this run (they alternate run by run); absent in a case's medians. */
  first?: 'measured' | 'reference'
}

export interface RunOutcome {
  status: RunStatus
  reason: string | null
  /** Something to know about an ok run (the ceiling's consume runs read only what the mock kept). */
  note?: string | null
  /** Rate rows only; metrics are the paced run's. */
  pacing?: RatePacing | null
  /** txn-* rows only; metrics are the transactional (read_committed) load's. */
  comparison?: TxnComparison | null
  metrics: RunMetrics | null
  commands: string[]
}

export interface LoadContext {
  bootstrap: string
  /** The ceiling (librdkafka's mock cluster) keeps only the last ~5 MiB of each partition. */
  targetKind: 'shoal' | 'against' | 'ceiling'
  topic: string
  scenario: Scenario
  records: number
  /** Which of the --repeat runs this is (1-based): the txn-* loads alternate their order by it. */
  run: number
  options: BenchOptions
  /** Scratch directory for latency files. */
  workDir: string
  progress: Progress
  /** Called right before and after the measured part (RSS sampling). */
  measureStart (): void
  measureEnd (): void
}

export function emptyMetrics (): RunMetrics {
  return {
    msgsPerSec: null, bytesPerSec: null, records: null, elapsedMs: null,
    latAvgMs: null, latP50Ms: null, latP95Ms: null, latP99Ms: null, latP999Ms: null, latMaxMs: null
  }
}

function commandLine (command: string, args: readonly string[]): string {
  return [command, ...args].map((part) => /^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, "'\\''")}'`).join(' ')
}

/** The last lines of a failed process's output that say something. */
export function failureText (run: RunResult): string {
  if (run.error !== null) return run.error.message
  const lines = `${run.stderr}\n${run.stdout}`.split('\n')
    .filter((line) => line.trim() !== '' && !/CONFWARN/.test(line) && !/^\|/.test(line))
  const exit = run.timedOut ? `stopped after its deadline${run.killed ? ' (killed)' : ''}` : `exit ${run.code ?? run.signal}`
  const last = lines.slice(-2).join(' / ').slice(0, 300)
  return last === '' ? exit : `${exit}: ${last}`
}

export function latencyMetrics (file: string, into: RunMetrics): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return
  }
  rmSync(file, { force: true })
  const summary = summarizeLatencies(parseLatencyFile(text))
  if (summary === null) return
  into.latAvgMs = summary.avg
  into.latP50Ms = summary.p50
  into.latP95Ms = summary.p95
  into.latP99Ms = summary.p99
  into.latP999Ms = summary.p999
  into.latMaxMs = summary.max
}

export function metricsOf (result: RdkafkaResult): RunMetrics {
  const metrics = emptyMetrics()
  metrics.msgsPerSec = result.msgsPerSec
  metrics.bytesPerSec = result.bytesPerSec
  metrics.records = result.delivered
  metrics.elapsedMs = result.elapsedMs
  return metrics
}

export function judge (expected: number, got: number, run: RunResult, what: string): { status: RunStatus, reason: string | null } {
  if (got >= expected && !run.killed) return { status: 'ok', reason: null }
  if (got <= 0) return { status: 'failed', reason: `no messages ${what}: ${failureText(run)}` }
  return { status: 'partial', reason: `${got} of ${expected} messages ${what}: ${failureText(run)}` }
}

/**
 * A rate row's verdict from both of its runs: the paced run's, made partial (with the flat-out run's reason) when
 * the flat-out run was stopped before it sent everything: its maximum rate then comes from fewer records.
 */
function judgeRate (flatOut: { status: RunStatus, reason: string | null }, paced: { status: RunStatus, reason: string | null }): { status: RunStatus, reason: string | null } {
  if (flatOut.status === 'ok' || paced.status === 'failed') return paced
  return { status: 'partial', reason: [`flat-out run: ${flatOut.reason}`, paced.reason].filter((item) => item !== null).join('; ') }
}

/** Half the flat-out rate, or the reason there is none. */
function halfRate (maxMsgsPerSec: number): number | string {
  const half = Math.round(maxMsgsPerSec / 2)
  return Number.isFinite(half) && half >= 1 ? half : `the flat-out run measured ${maxMsgsPerSec} msg/s: no rate to pace at`
}

/**
 * The measured part of a rate row: `load` runs with RSS sampling on and a disk watch (watchDisk) where the brokers
 * keep their data; the watch's summary is null when it could not run.
 */
async function measureWatchingDisk (ctx: LoadContext, load: () => Promise<RunResult>): Promise<{ run: RunResult, diskWatch: DiskProbeSummary | null }> {
  const stopWatch = new AbortController()
  const watch = watchDisk(ctx.options.dataDir ?? ctx.workDir, stopWatch.signal).catch(() => null)
  ctx.measureStart()
  let run: RunResult
  try {
    run = await load()
  } finally {
    ctx.measureEnd()
    stopWatch.abort()
  }
  return { run, diskWatch: await watch }
}

// ------------------------------------------------------------------------------------------------ rdkafka

export class RdkafkaRunner {
  readonly tool: RdkafkaTool
  readonly ctx: LoadContext
  readonly commands: string[] = []

  constructor (tool: RdkafkaTool, ctx: LoadContext) {
    this.tool = tool
    this.ctx = ctx
  }

  get timeoutMs (): number {
    return this.ctx.options.durationSec * 1000
  }

  partitionArgs (): string[] {
    const args: string[] = []
    for (let partition = 0; partition < this.ctx.scenario.partitions; partition++) args.push('-p', String(partition))
    return args
  }

  producerArgs (count: number, acks: number, extra: string[], lingerMs = this.ctx.options.lingerMs): string[] {
    const { scenario } = this.ctx
    return ['-P', '-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-u', '-s', String(scenario.recordSize), '-c', String(count),
      '-a', String(acks), '-X', `linger.ms=${lingerMs}`, ...RdkafkaRunner.shapeArgs(scenario),
      ...(scenario.compression === 'none' ? [] : ['-z', scenario.compression]), ...extra]
  }

  /**
   * A Java-shaped row (scenario.batchBytes, see javaShapedScenarios) as librdkafka can send it: batch.size, five
   * requests in flight, and idempotence off. librdkafka 2.0's idempotent producer counts the messages in flight
   * against its window of five requests per partition, so once a batch holds five records it keeps one request in
   * flight (measured against Shoal, 1 KiB records, 16 KiB batches, acks=-1: 17 MB/s idempotent, 52 MB/s not) and
   * would measure the client, not the broker; Java's keeps five requests, and the broker's cost per request differs
   * only by the sequence check.
   */
  static shapeArgs (scenario: Scenario): string[] {
    if (scenario.batchBytes === undefined) return []
    return ['-X', `batch.size=${scenario.batchBytes}`, '-X', 'max.in.flight=5', '-X', 'enable.idempotence=false']
  }

  /** `extra.expected`: the message count the progress line counts towards (default: the case's records). */
  run (args: string[], timeoutMs: number, label: string, extra: { onLine?: (line: string) => void, signal?: AbortSignal, graceMs?: number, expected?: number } = {}): Promise<RunResult> {
    const [command, ...prefix] = [...this.tool.lineBuffered, this.tool.performance]
    this.commands.push(commandLine(command, [...prefix, ...args]))
    let header: string[] = []
    const expected = extra.expected ?? this.ctx.records
    return runProcess(command, [...prefix, ...args], {
      timeoutMs,
      stopSignal: 'SIGINT',
      graceMs: extra.graceMs ?? 10_000,
      signal: extra.signal,
      onLine: (line) => {
        extra.onLine?.(line)
        const found = headerFromLine(line)
        if (found !== null) {
          header = found
          return
        }
        const progress = progressFromLine(line, header)
        if (progress !== null) this.ctx.progress.update(`${label} ${progress.msgs}/${expected} msgs, ${(progress.elapsedMs / 1000).toFixed(1)} s`)
      }
    })
  }

  /** Fills the topic for the consume scenarios (not measured): acks=1, no compression beyond the scenario's. */
  async prefill (): Promise<string | null> {
    const run = await this.run(this.producerArgs(this.ctx.records, 1, []), this.timeoutMs, 'prefill')
    const result = parseRdkafkaPerformance(run.stdout)
    if (result === null || result.delivered < this.ctx.records) {
      return `prefill delivered ${result?.delivered ?? 0} of ${this.ctx.records}: ${failureText(run)}`
    }
    return null
  }

  async produce (): Promise<RunOutcome> {
    const latencyFile = join(this.ctx.workDir, `${this.ctx.topic}.produce.lat`)
    this.ctx.measureStart()
    const run = await this.run(this.producerArgs(this.ctx.records, this.ctx.scenario.acks, ['-l', '-A', latencyFile]), this.timeoutMs, 'produce')
    this.ctx.measureEnd()
    const result = parseRdkafkaPerformance(run.stdout)
    if (result === null) return { status: 'failed', reason: `no result: ${failureText(run)}`, metrics: null, commands: this.commands }
    const metrics = metricsOf(result)
    latencyMetrics(latencyFile, metrics)
    const verdict = judge(this.ctx.records, result.delivered - result.errors, run, 'delivered')
    return { ...verdict, metrics, commands: this.commands }
  }

  /**
   * Latency at half the maximum rate, on one topic: first the producer runs flat out exactly as in produce() (its
   * delivered messages/s is the maximum rate M), then again with `-r round(M/2)`, `-c round(M/2 x --rate-seconds)`
   * and linger.ms=--rate-linger-ms. The row's metrics are the paced run's. `-r` is no schedule: the producer waits
   * a whole number of microseconds after each produce call (rdkafkaRateGapMicros), so at these rates it paces
   * coarsely (every RATE from 500 001 to 1 000 000 is the same 1 us gap) and the produce call's own cost comes on
   * top: the achieved rate (metrics.msgsPerSec) can land well above or below RATE, and the report shows it.
   */
  async rate (): Promise<RunOutcome> {
    const { scenario, options, topic, workDir } = this.ctx
    const flatOutLatency = join(workDir, `${topic}.flat-out.lat`)
    const flatOutRun = await this.run(this.producerArgs(this.ctx.records, scenario.acks, ['-l', '-A', flatOutLatency]), this.timeoutMs, 'rate flat out')
    rmSync(flatOutLatency, { force: true })
    const flatOut = parseRdkafkaPerformance(flatOutRun.stdout)
    if (flatOut === null) return { status: 'failed', reason: `flat-out run: no result: ${failureText(flatOutRun)}`, metrics: null, commands: this.commands }
    const flatOutVerdict = judge(this.ctx.records, flatOut.delivered - flatOut.errors, flatOutRun, 'delivered')
    if (flatOutVerdict.status === 'failed') return { status: 'failed', reason: `flat-out run: ${flatOutVerdict.reason}`, metrics: null, commands: this.commands }
    const requested = halfRate(flatOut.msgsPerSec)
    if (typeof requested === 'string') return { status: 'failed', reason: requested, metrics: null, commands: this.commands }
    const count = Math.max(1, Math.round(requested * options.rateSeconds))
    const toolRate = rdkafkaPaceRate(requested)
    const latencyFile = join(workDir, `${topic}.paced.lat`)
    const { run, diskWatch } = await measureWatchingDisk(this.ctx, () =>
      this.run(this.producerArgs(count, scenario.acks, ['-l', '-A', latencyFile, '-r', String(toolRate)], options.rateLingerMs),
        this.timeoutMs, 'rate paced', { expected: count }))
    const pacing: RatePacing = { maxMsgsPerSec: flatOut.msgsPerSec, requestedMsgsPerSec: requested, toolRate, lingerMs: options.rateLingerMs, diskWatch }
    const result = parseRdkafkaPerformance(run.stdout)
    if (result === null) {
      rmSync(latencyFile, { force: true })
      return { status: 'failed', reason: `paced run: no result: ${failureText(run)}`, pacing, metrics: null, commands: this.commands }
    }
    const metrics = metricsOf(result)
    latencyMetrics(latencyFile, metrics)
    const verdict = judgeRate(flatOutVerdict, judge(count, result.delivered - result.errors, run, 'delivered'))
    return { ...verdict, pacing, metrics, commands: this.commands }
  }

  async consume (): Promise<RunOutcome> {
    const prefill = await this.prefill()
    if (prefill !== null) return { status: 'failed', reason: prefill, metrics: null, commands: this.commands }
    this.ctx.measureStart()
    const run = await this.run(['-C', '-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-u', ...this.partitionArgs(),
      '-o', 'beginning', '-e', '-c', String(this.ctx.records)], this.timeoutMs, 'consume')
    this.ctx.measureEnd()
    const result = parseRdkafkaPerformance(run.stdout)
    if (result === null) return { status: 'failed', reason: `no result: ${failureText(run)}`, metrics: null, commands: this.commands }
    return { ...this.judgeConsumed(result, run), metrics: metricsOf(result), commands: this.commands }
  }

  /**
   * librdkafka's mock cluster keeps only the last 5 MiB (and 100000 batches) of each partition and drops the
   * rest, so reading it from the beginning (-e: until the end of every partition) gets fewer records than were
   * produced: its consume runs count as done when the consumer reached the end, with a note.
   */
  judgeConsumed (result: RdkafkaResult, run: RunResult): { status: RunStatus, reason: string | null, note: string | null } {
    if (this.ctx.targetKind === 'ceiling' && result.msgs > 0 && result.msgs < this.ctx.records && !run.timedOut && run.code === 0) {
      return { status: 'ok', reason: null, note: `the mock kept ${result.msgs} of ${this.ctx.records} records (it holds ~5 MiB per partition; no ratio)` }
    }
    return { ...judge(this.ctx.records, result.msgs, run, 'consumed'), note: null }
  }

  /** A consumer waits at the end of every partition; then a rate-limited producer sends; latency is the consumer's. */
  async e2e (): Promise<RunOutcome> {
    const { scenario, options } = this.ctx
    const consumerLatency = join(this.ctx.workDir, `${this.ctx.topic}.consume.lat`)
    const producerLatency = join(this.ctx.workDir, `${this.ctx.topic}.produce.lat`)
    const abortConsumer = new AbortController()
    let eofs = 0
    let markReady: () => void = () => {}
    const ready = new Promise<void>((resolve) => { markReady = resolve })
    // -v undoes the verbosity -u takes away, so that "Consumer reached end of ..." lines show when it is in place.
    let consumerEnded = false
    const consumer = this.run(['-C', '-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-u', '-v', ...this.partitionArgs(),
      '-o', 'end', '-c', String(this.ctx.records), '-l', '-A', consumerLatency],
    this.timeoutMs + 30_000, 'e2e consumer', {
      signal: abortConsumer.signal,
      onLine: (line) => {
        if (/Consumer reached end of/.test(line) && ++eofs >= scenario.partitions) markReady()
      }
    }).then((run) => {
      consumerEnded = true
      markReady()
      return run
    })
    let readyTimer: NodeJS.Timeout | undefined
    const readyTimeout = new Promise<'timeout'>((resolve) => { readyTimer = setTimeout(() => resolve('timeout'), 15_000) })
    const started = await Promise.race([ready.then(() => 'ready' as const), readyTimeout])
    clearTimeout(readyTimer)
    if (started === 'timeout' || consumerEnded) {
      const why = consumerEnded ? 'exited' : 'did not reach the end of the topic within 15 s'
      abortConsumer.abort()
      const run = await consumer
      return { status: 'failed', reason: `the consumer ${why} before the producer started: ${failureText(run)}`, metrics: null, commands: this.commands }
    }
    this.ctx.measureStart()
    const producerRun = await this.run(this.producerArgs(this.ctx.records, scenario.acks,
      ['-l', '-A', producerLatency, '-r', String(options.latencyRate)]), this.timeoutMs, 'e2e producer')
    // The consumer should be a few milliseconds behind; give it 10 s at most.
    const grace = setTimeout(() => abortConsumer.abort(), 10_000)
    const consumerRun = await consumer
    clearTimeout(grace)
    this.ctx.measureEnd()
    rmSync(producerLatency, { force: true })
    const consumed = parseRdkafkaPerformance(consumerRun.stdout)
    const produced = parseRdkafkaPerformance(producerRun.stdout)
    if (consumed === null) {
      return { status: 'failed', reason: `no consumer result: ${failureText(consumerRun)}; producer: ${failureText(producerRun)}`, metrics: null, commands: this.commands }
    }
    const metrics = metricsOf(consumed)
    if (produced !== null) {
      metrics.msgsPerSec = produced.msgsPerSec
      metrics.bytesPerSec = produced.bytesPerSec
    }
    latencyMetrics(consumerLatency, metrics)
    const note = this.ctx.targetKind === 'ceiling'
      ? 'the mock answers a waiting fetch when fetch.wait.max.ms (500 ms) runs out, not when records arrive: its e2e latency is no ceiling (no ratio)'
      : null
    return { ...judge(this.ctx.records, consumed.msgs, consumerRun, 'consumed'), note, metrics, commands: this.commands }
  }

  async group (): Promise<RunOutcome> {
    const prefill = await this.prefill()
    if (prefill !== null) return { status: 'failed', reason: prefill, metrics: null, commands: this.commands }
    this.ctx.measureStart()
    const run = await this.run(['-G', `${this.ctx.topic}-group`, '-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-u',
      '-e', '-c', String(this.ctx.records)],
    Math.min(this.timeoutMs, this.ctx.options.groupTimeoutSec * 1000), 'group consume', { graceMs: 5000 })
    this.ctx.measureEnd()
    const result = parseRdkafkaPerformance(run.stdout)
    const consumed = result?.msgs ?? 0
    if (consumed === 0 && /Waiting for group rebalance/.test(run.stderr) && !/Group rebalanced/.test(run.stderr)) {
      return {
        status: 'failed',
        reason: `no partitions assigned within ${this.ctx.options.groupTimeoutSec} s (the broker answered no group join: consumer groups unsupported?)`,
        metrics: null,
        commands: this.commands
      }
    }
    if (result === null) return { status: 'failed', reason: `no result: ${failureText(run)}`, metrics: null, commands: this.commands }
    return { ...this.judgeConsumed(result, run), metrics: metricsOf(result), commands: this.commands }
  }

  /**
   * bench/.build/txn-perf in one mode: `count` records of the scenario's size to the topic, librdkafka's
   * partitioner choosing the partition (as rdkafka_performance's multi-partition rows), linger.ms as the other
   * producers; transactional mode commits every scenario.recordsPerTxn records.
   */
  runTxnPerf (mode: TxnPerfMode, count: number, label: string): Promise<RunResult> {
    const binary = this.tool.txnPerf!
    const { scenario, options } = this.ctx
    const args = ['-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-m', mode, '-s', String(scenario.recordSize), '-c', String(count),
      '-n', String(scenario.recordsPerTxn ?? kRecordsPerTxn), '-X', `linger.ms=${options.lingerMs}`,
      ...(scenario.compression === 'none' ? [] : ['-X', `compression.codec=${scenario.compression}`])]
    this.commands.push(commandLine(binary, args))
    return runProcess(binary, args, {
      timeoutMs: this.timeoutMs,
      stopSignal: 'SIGINT',
      graceMs: 10_000,
      onLine: (line) => {
        const progress = parseTxnPerfProgressLine(line)
        if (progress !== null) {
          this.ctx.progress.update(`${label} ${progress.delivered}/${count} msgs, ${progress.transactions} transactions, ${(progress.elapsedMs / 1000).toFixed(1)} s`)
        }
      }
    })
  }

  /** The two loads of a txn-* run in this run's order: measured first on odd runs, the reference first on even ones. */
  txnOrder<T> (measured: T, reference: T): { order: T[], first: TxnComparison['first'] } {
    return this.ctx.run % 2 === 1 ? { order: [measured, reference], first: 'measured' } : { order: [reference, measured], first: 'reference' }
  }

  /**
   * Transactional against idempotent produce of the same records by the same client (txn-perf), on one topic,
   * one after the other (the order alternates run by run). The row's metrics are the transactional run's.
   */
  async txnProduce (): Promise<RunOutcome> {
    const { scenario, records } = this.ctx
    if (this.tool.txnPerf === null) return { status: 'failed', reason: this.tool.txnPerfReason, metrics: null, commands: this.commands }
    const { order, first } = this.txnOrder<TxnPerfMode>('transactional', 'idempotent')
    const runs = new Map<TxnPerfMode, { run: RunResult, result: TxnPerfResult | null }>()
    this.ctx.measureStart()
    for (const mode of order) {
      const run = await this.runTxnPerf(mode, records, mode)
      runs.set(mode, { run, result: parseTxnPerfOutput(run.stdout) })
    }
    this.ctx.measureEnd()
    const measured = runs.get('transactional')!
    const reference = runs.get('idempotent')!
    const comparison: TxnComparison = {
      measured: 'transactional',
      reference: 'idempotent',
      referenceMsgsPerSec: reference.result?.recordsPerSec ?? null,
      referenceBytesPerSec: reference.result?.bytesPerSec ?? null,
      ratio: ratio(measured.result?.recordsPerSec, reference.result?.recordsPerSec),
      recordsPerTxn: scenario.recordsPerTxn ?? kRecordsPerTxn,
      transactions: measured.result?.transactions ?? null,
      commitSeconds: measured.result?.commitSeconds ?? null,
      first
    }
    const verdict = combineVerdicts(judgeTxnPerf(records, measured.run, measured.result, 'transactional'),
      judgeTxnPerf(records, reference.run, reference.result, 'idempotent'))
    return { ...verdict, comparison, metrics: measured.result === null ? null : txnPerfMetrics(measured.result), commands: this.commands }
  }

  /**
   * A topic filled by committed transactions (txn-perf -m transactional, not measured), then read from the
   * beginning to the end of every partition by rdkafka_performance -C with isolation.level=read_committed and
   * with read_uncommitted (the order alternates run by run). The row's metrics are read_committed's.
   */
  async txnConsume (): Promise<RunOutcome> {
    const { scenario, records } = this.ctx
    if (this.tool.txnPerf === null) return { status: 'failed', reason: this.tool.txnPerfReason, metrics: null, commands: this.commands }
    const fill = await this.runTxnPerf('transactional', records, 'fill (transactions)')
    const filled = parseTxnPerfOutput(fill.stdout)
    const fillVerdict = judgeTxnPerf(records, fill, filled, 'fill (transactional)')
    if (fillVerdict.status !== 'ok') return { status: 'failed', reason: fillVerdict.reason, metrics: null, commands: this.commands }
    type Level = 'read_committed' | 'read_uncommitted'
    const { order, first } = this.txnOrder<Level>('read_committed', 'read_uncommitted')
    const runs = new Map<Level, { run: RunResult, result: RdkafkaResult | null }>()
    this.ctx.measureStart()
    for (const level of order) {
      const run = await this.run(['-C', '-b', this.ctx.bootstrap, '-t', this.ctx.topic, '-u', ...this.partitionArgs(),
        '-o', 'beginning', '-e', '-c', String(records), '-X', `isolation.level=${level}`], this.timeoutMs, `consume ${level}`)
      runs.set(level, { run, result: parseRdkafkaPerformance(run.stdout) })
    }
    this.ctx.measureEnd()
    const measured = runs.get('read_committed')!
    const reference = runs.get('read_uncommitted')!
    const comparison: TxnComparison = {
      measured: 'read_committed',
      reference: 'read_uncommitted',
      referenceMsgsPerSec: reference.result?.msgsPerSec ?? null,
      referenceBytesPerSec: reference.result?.bytesPerSec ?? null,
      ratio: ratio(measured.result?.msgsPerSec, reference.result?.msgsPerSec),
      recordsPerTxn: scenario.recordsPerTxn ?? kRecordsPerTxn,
      transactions: filled!.transactions,
      commitSeconds: null,
      first
    }
    const consumed = (entry: { run: RunResult, result: RdkafkaResult | null }, level: Level): { status: RunStatus, reason: string | null, note: string | null } => {
      if (entry.result === null) return { status: 'failed', reason: `${level}: no result: ${failureText(entry.run)}`, note: null }
      const judged = this.judgeConsumed(entry.result, entry.run)
      return { ...judged, reason: judged.reason === null ? null : `${level}: ${judged.reason}` }
    }
    const measuredVerdict = consumed(measured, 'read_committed')
    const referenceVerdict = consumed(reference, 'read_uncommitted')
    const verdict = combineVerdicts(measuredVerdict, referenceVerdict)
    return {
      ...verdict,
      note: measuredVerdict.note ?? referenceVerdict.note,
      comparison,
      metrics: measured.result === null ? null : metricsOf(measured.result),
      commands: this.commands
    }
  }
}

export function runRdkafka (tool: RdkafkaTool, ctx: LoadContext): Promise<RunOutcome> {
  const runner = new RdkafkaRunner(tool, ctx)
  switch (ctx.scenario.kind) {
    case 'produce': return runner.produce()
    case 'consume': return runner.consume()
    case 'e2e': return runner.e2e()
    case 'group': return runner.group()
    case 'rate': return runner.rate()
    case 'txn-produce': return runner.txnProduce()
    case 'txn-consume': return runner.txnConsume()
  }
}

/** A txn-perf run's verdict: ok when it sent every record and exited cleanly. */
function judgeTxnPerf (expected: number, run: RunResult, result: TxnPerfResult | null, what: string): { status: RunStatus, reason: string | null } {
  if (result === null) return { status: 'failed', reason: `${what}: no result: ${failureText(run)}` }
  if (result.records >= expected && result.complete && run.code === 0 && !run.killed) return { status: 'ok', reason: null }
  if (result.records <= 0) return { status: 'failed', reason: `${what}: no records acknowledged: ${failureText(run)}` }
  return { status: 'partial', reason: `${what}: ${result.records} of ${expected} records acknowledged: ${failureText(run)}` }
}

/**
 * The verdict of a txn-* run from its two loads: the measured load's, made partial when it measured something but
 * the reference did not finish (the ratio is then missing or from fewer records).
 */
function combineVerdicts (measured: { status: RunStatus, reason: string | null }, reference: { status: RunStatus, reason: string | null }): { status: RunStatus, reason: string | null } {
  const reason = [measured.reason, reference.reason].filter((item) => item !== null).join('; ')
  if (measured.status === 'failed') return { status: 'failed', reason }
  if (measured.status === 'ok' && reference.status === 'ok') return { status: 'ok', reason: null }
  return { status: 'partial', reason }
}

function txnPerfMetrics (result: TxnPerfResult): RunMetrics {
  const metrics = emptyMetrics()
  metrics.msgsPerSec = result.recordsPerSec
  metrics.bytesPerSec = result.bytesPerSec
  metrics.records = result.records
  metrics.elapsedMs = result.seconds * 1000
  return metrics
}

// ------------------------------------------------------------------------------------------------ kafka

/** Scenarios Kafka's perf tools have no mode for, with why. */
export function kafkaUnsupported (scenario: Scenario): string | null {
  if (scenario.kind === 'e2e') return 'kafka-*-perf-test have no end-to-end latency mode (see the rdkafka rows)'
  if (scenario.kind === 'group') return 'kafka-consumer-perf-test always consumes through a group: see its consume rows'
  if (scenario.kind === 'txn-produce' || scenario.kind === 'txn-consume') {
    return 'kafka-producer-perf-test commits transactions by time (--transaction-duration-ms), not every N records: see the rdkafka rows (txn-perf)'
  }
  return null
}

function kafkaProducerMetrics (result: KafkaProducerResult): RunMetrics {
  return {
    msgsPerSec: result.recordsPerSec,
    bytesPerSec: result.bytesPerSec,
    records: result.records,
    elapsedMs: result.recordsPerSec > 0 ? result.records / result.recordsPerSec * 1000 : null,
    latAvgMs: result.avgLatencyMs,
    latP50Ms: result.p50Ms,
    latP95Ms: result.p95Ms,
    latP99Ms: result.p99Ms,
    latP999Ms: result.p999Ms,
    latMaxMs: result.maxLatencyMs
  }
}

/**
 * A kafka-consumer-perf-test row's rate: the fetch rate (fetch.nMsg.sec, fetch.MB.sec), which leaves out the time
 * the group took to form (rebalance.time.ms: mostly the coordinator's group.initial.rebalance.delay.ms, 3 s by
 * Kafka's default, which would otherwise dominate a run of a second or two); the overall rate when the tool's
 * version prints no fetch columns. The note says which, with the rebalance time.
 */
export function kafkaConsumerMetrics (result: KafkaConsumerResult): { metrics: RunMetrics, note: string } {
  const metrics = emptyMetrics()
  metrics.records = result.records
  const fetchRate = result.fetchRecordsPerSec !== null && result.fetchMbPerSec !== null && result.fetchRecordsPerSec > 0
  if (fetchRate) {
    metrics.msgsPerSec = result.fetchRecordsPerSec
    metrics.bytesPerSec = result.fetchMbPerSec! * 1024 * 1024
    metrics.elapsedMs = result.fetchMs ?? result.records / result.fetchRecordsPerSec! * 1000
  } else {
    metrics.msgsPerSec = result.recordsPerSec
    metrics.bytesPerSec = result.bytesPerSec
    metrics.elapsedMs = result.recordsPerSec > 0 ? result.records / result.recordsPerSec * 1000 : null
  }
  const rebalance = result.rebalanceMs === null ? 'not printed' : `${Math.round(result.rebalanceMs)} ms`
  const note = fetchRate
    ? `fetch rate (the group's join, ${rebalance}, left out; with it ${Math.round(result.recordsPerSec)} msg/s)`
    : `overall rate, the group's join included (this version prints no fetch rate; rebalance ${rebalance})`
  return { metrics, note }
}

class KafkaRunner {
  readonly tool: KafkaTool
  readonly ctx: LoadContext
  readonly commands: string[] = []

  constructor (tool: KafkaTool, ctx: LoadContext) {
    this.tool = tool
    this.ctx = ctx
  }

  run (command: string, args: string[], timeoutMs: number, label: string): Promise<RunResult> {
    this.commands.push(commandLine(command, args))
    return runProcess(command, args, {
      timeoutMs,
      stopSignal: 'SIGTERM',
      graceMs: 10_000,
      onLine: (line) => {
        const window = parseKafkaProducerLine(line)
        if (window !== null) this.ctx.progress.update(`${label} ${window.records} records in the last window, ${Math.round(window.recordsPerSec)} records/s`)
      }
    })
  }

  /** `throughput`: records/s for ProducerPerformance's throttle, -1 for none. */
  producerArgs (acks: number, records = this.ctx.records, throughput = -1, lingerMs = this.ctx.options.lingerMs): string[] {
    const { scenario } = this.ctx
    return ['--topic', this.ctx.topic, '--num-records', String(records), '--record-size', String(scenario.recordSize),
      '--throughput', String(throughput), '--producer-props', `bootstrap.servers=${this.ctx.bootstrap}`, `acks=${acks === -1 ? 'all' : acks}`,
      `compression.type=${scenario.compression}`, `linger.ms=${lingerMs}`,
      // A Java-shaped row sets only batch.size: the other defaults are the shape (javaShapedScenarios).
      ...(scenario.batchBytes === undefined ? [] : [`batch.size=${scenario.batchBytes}`])]
  }

  async produce (): Promise<RunOutcome> {
    this.ctx.measureStart()
    const run = await this.run(this.tool.producer, this.producerArgs(this.ctx.scenario.acks), this.ctx.options.durationSec * 1000, 'produce')
    this.ctx.measureEnd()
    const result = parseKafkaProducerOutput(run.stdout)
    if (result === null) return { status: 'failed', reason: `no result: ${failureText(run)}`, metrics: null, commands: this.commands }
    return { ...judge(this.ctx.records, result.records, run, 'sent'), metrics: kafkaProducerMetrics(result), commands: this.commands }
  }

  /**
   * As RdkafkaRunner.rate: a flat-out run as in produce() (--throughput -1), then --throughput round(M/2) for
   * round(M/2 x --rate-seconds) records at linger.ms=--rate-linger-ms. ProducerPerformance's throttle keeps a
   * schedule (it sleeps whenever it is ahead of RATE since the start), so the paced run holds RATE unless the
   * producer cannot.
   */
  async rate (): Promise<RunOutcome> {
    const { scenario, options } = this.ctx
    const timeoutMs = options.durationSec * 1000
    const flatOutRun = await this.run(this.tool.producer, this.producerArgs(scenario.acks), timeoutMs, 'rate flat out')
    const flatOut = parseKafkaProducerOutput(flatOutRun.stdout)
    if (flatOut === null) return { status: 'failed', reason: `flat-out run: no result: ${failureText(flatOutRun)}`, metrics: null, commands: this.commands }
    const flatOutVerdict = judge(this.ctx.records, flatOut.records, flatOutRun, 'sent')
    if (flatOutVerdict.status === 'failed') return { status: 'failed', reason: `flat-out run: ${flatOutVerdict.reason}`, metrics: null, commands: this.commands }
    const requested = halfRate(flatOut.recordsPerSec)
    if (typeof requested === 'string') return { status: 'failed', reason: requested, metrics: null, commands: this.commands }
    const count = Math.max(1, Math.round(requested * options.rateSeconds))
    const { run, diskWatch } = await measureWatchingDisk(this.ctx, () =>
      this.run(this.tool.producer, this.producerArgs(scenario.acks, count, requested, options.rateLingerMs), timeoutMs, 'rate paced'))
    const pacing: RatePacing = { maxMsgsPerSec: flatOut.recordsPerSec, requestedMsgsPerSec: requested, toolRate: requested, lingerMs: options.rateLingerMs, diskWatch }
    const result = parseKafkaProducerOutput(run.stdout)
    if (result === null) return { status: 'failed', reason: `paced run: no result: ${failureText(run)}`, pacing, metrics: null, commands: this.commands }
    const verdict = judgeRate(flatOutVerdict, judge(count, result.records, run, 'sent'))
    return { ...verdict, pacing, metrics: kafkaProducerMetrics(result), commands: this.commands }
  }

  async consume (): Promise<RunOutcome> {
    const fill = await this.run(this.tool.producer, this.producerArgs(1), this.ctx.options.durationSec * 1000, 'prefill')
    const filled = parseKafkaProducerOutput(fill.stdout)
    if (filled === null || filled.records < this.ctx.records) {
      return { status: 'failed', reason: `prefill sent ${filled?.records ?? 0} of ${this.ctx.records}: ${failureText(fill)}`, metrics: null, commands: this.commands }
    }
    const timeoutMs = this.ctx.options.groupTimeoutSec * 1000
    const common = ['--bootstrap-server', this.ctx.bootstrap, '--topic', this.ctx.topic, '--timeout', String(timeoutMs)]
    this.ctx.measureStart()
    let run = await this.run(this.tool.consumer, [...common, '--messages', String(this.ctx.records)], this.ctx.options.durationSec * 1000 + timeoutMs, 'consume')
    // Kafka 4.x renamed --messages to --num-records; older versions know only --messages.
    if (/messages.*(not a recognized option|is not a recognized|Unrecognized)/i.test(`${run.stdout}${run.stderr}`)) {
      run = await this.run(this.tool.consumer, [...common, '--num-records', String(this.ctx.records)], this.ctx.options.durationSec * 1000 + timeoutMs, 'consume')
    }
    this.ctx.measureEnd()
    const result = parseKafkaConsumerOutput(run.stdout)
    if (result === null) return { status: 'failed', reason: `no result: ${failureText(run)}`, metrics: null, commands: this.commands }
    const { metrics, note } = kafkaConsumerMetrics(result)
    const verdict = judge(this.ctx.records, result.records, run, 'consumed')
    if (result.timedOut && verdict.reason !== null) verdict.reason += ' (its --timeout passed between records: a consumer group problem?)'
    // (Not on the ceiling's row, where a note means its result is not comparable: see computeRatios.)
    return { ...verdict, note: this.ctx.targetKind === 'ceiling' ? null : note, metrics, commands: this.commands }
  }
}

export function runKafka (tool: KafkaTool, ctx: LoadContext): Promise<RunOutcome> {
  const runner = new KafkaRunner(tool, ctx)
  switch (ctx.scenario.kind) {
    case 'produce': return runner.produce()
    case 'consume': return runner.consume()
    case 'rate': return runner.rate()
    default: return Promise.resolve({ status: 'failed', reason: kafkaUnsupported(ctx.scenario), metrics: null, commands: [] })
  }
}
