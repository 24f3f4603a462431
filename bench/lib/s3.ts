// The s3 scenario (issue 10, "S3 durability"): what the S3 copy costs and how it behaves when S3 goes away.
// s3rver (test/helpers/s3.ts's startS3: a real S3 HTTP server, files in a temp directory) runs in the bench
// process; every broker gets its own key prefix on its bucket (`--s3-prefix w<W>-<step>/`, so no broker waits for
// a lease an earlier, killed one left), `--s3-lease-ms 1000`, `--s3-flush-interval-ms kFlushIntervalMs`,
// `--metrics-listen 127.0.0.1:0`, and the SDK's credentials (S3RVER/S3RVER) in its environment. Per worker count
// (--workers), each step on fresh brokers with fresh data directories, 1 KiB records (rdkafka_performance -s 1024)
// to a kPartitions-partition topic:
//   1. upload: `--durability local`, `--flushers 1`, `2`, `4` (one broker each): acks=1 flat out for kRunSeconds.
//      Measured from /metrics, scraped before the producer starts and after it stops: bytes uploaded per second
//      (shoal_s3_upload_bytes_total's increase over the producer's run), PUT requests (shoal_s3_put_requests_total's
//      increase), PUT p50/p99 (shoal_s3_put_latency_seconds{quantile}, the flusher pool's last 1024 uploads), and
//      the backlog left when the producer stopped (shoal_s3_backlog_bytes, summed over workers); then, the
//      producer stopped, the upload rate over kQuietSeconds more (the same counter): the upload path without a
//      producer competing for the cores. (Each worker has one upload in flight at a time, uploader.ts, so more
//      flushers than workers can only help with multipart parts.)
//   2. acks=-1: the same flat-out load with -a -1, `--durability local` then `--durability s3`: the delivered
//      bytes per second of both and their ratio s3 / local, against kThroughputRatioBound (0.8).
//   3. latency in s3 mode: on the s3 broker of step 2, a run paced at half its flat-out rate (-r, as the rate
//      scenario; rdkafka_performance -l -A FILE gives every message's produce-to-acknowledgement latency) for
//      kRunSeconds. Its p99 against the bound --s3-flush-interval-ms + 2 x PUT p99 (from /metrics right after the
//      run): an acks=-1 request waits at most for the upload running when it arrived and then its own.
//      (The flat-out runs of step 2 have latencies too, in the result file: there librdkafka's own queue
//      dominates them.)
//   4. S3 down: the broker's --s3-endpoint is a fault proxy (test/helpers/s3-fault-proxy.ts) in front of s3rver;
//      `--durability local`, `--s3-backlog-max-bytes kOutageBacklogMaxBytes` (so that nothing is throttled or
//      refused during the run), acks=1 paced at kOutageRate msg/s. After kOutageWarmupSeconds with S3 up the
//      proxy goes 'down' for kOutageSeconds: the broker's RSS (/proc/PID/status VmRSS) and its backlog
//      (shoal_s3_backlog_bytes) are sampled at the start and every second. The claim under test: the backlog
//      waits on the local disk (the uploader re-reads it from the log), so RSS grows by a small fraction of it
//      (kRssGrowthBound). Then the producer stops, the proxy passes again, and the drain time is how long the
//      backlog takes to reach 0 (polled every 200 ms, at most kDrainTimeoutMs; the uploader's retry back-off,
//      up to 5 s, is part of it).
// About 90 s per worker count on 2 cores. Runs only when named (--scenarios s3) or with --full, like quota.
import { forEachWorkerCount, type ShoalScenarioInput } from './per-worker.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin } from '@platformatic/kafka'
import { startS3, type TestS3 } from '../../test/helpers/s3.ts'
import { startFaultProxy, type FaultProxy } from '../../test/helpers/s3-fault-proxy.ts'
import type { BenchOptions } from './args.ts'
import { emptyMetrics, failureText, latencyMetrics, rdkafkaPaceRate } from './loads.ts'
import { parseRdkafkaPerformance } from './parse-rdkafka.ts'
import { readRss, runProcess, startServer, tail, type RunResult, type ServerProcess } from './proc.ts'
import type { Progress } from './progress.ts'
import { matchesPattern } from './scenarios.ts'
import { formatFixed, formatInteger, formatRatio, ratio, renderTable } from './stats.ts'
import type { RdkafkaTool, ToolMissing } from './tools.ts'

export const kS3Scenario = 's3'
export const kRecordBytes = 1024
export const kPartitions = 16
export const kRunSeconds = 8
export const kFlushIntervalMs = 100
export const kFlusherCounts: readonly number[] = [1, 2, 4]
/** Step 1: seconds the upload rate is measured for after the producer stopped. */
export const kQuietSeconds = 3
/** acks=-1 throughput with --durability s3 over the same with local must be at least this. */
export const kThroughputRatioBound = 0.8
/** RSS growth while S3 is down over the backlog that built up meanwhile must be at most this. */
export const kRssGrowthBound = 0.25
export const kOutageRate = 20_000
export const kOutageWarmupSeconds = 2
export const kOutageSeconds = 15
/** Large enough that the outage's backlog (kOutageRate x 1 KiB x kOutageSeconds, about 300 MB) is neither throttled nor refused. */
export const kOutageBacklogMaxBytes = 8 * 1024 * 1024 * 1024
const kDrainTimeoutMs = 60_000
const kStartTimeoutMs = 30_000
const kLeaseMs = 1000
const kTopic = 's3-bench'

/** Selected when a --scenarios pattern names it, or with --full when none is given (as quota). */
export function selectS3 (patterns: readonly string[], matrix: 'default' | 'full'): boolean {
  if (patterns.length === 0) return matrix === 'full'
  return patterns.some((pattern) => matchesPattern(kS3Scenario, pattern))
}

// ------------------------------------------------------------------------------------------------ pure helpers

/**
 * The sum of every sample of metric `name` in a Prometheus text scrape whose labels include all of `labels`
 * (`name 3` or `name{worker="0"} 3`); null when no sample matches. Comment lines and other metrics are skipped.
 */
export function metricValue (scrape: string, name: string, labels: Readonly<Record<string, string>> = {}): number | null {
  let sum: number | null = null
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = new Map<string, string>()
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1], pair[2])
    if (Object.entries(labels).some(([key, value]) => have.get(key) !== value)) continue
    const value = Number(match[3])
    if (!Number.isFinite(value)) continue
    sum = (sum ?? 0) + value
  }
  return sum
}

/** The S3 figures of one scrape: the counters' totals, the backlog summed over workers, PUT latency in ms. */
export interface S3Scrape {
  uploadBytes: number | null
  uploads: number | null
  uploadErrors: number | null
  putRequests: number | null
  backlogBytes: number | null
  putP50Ms: number | null
  putP99Ms: number | null
}

/**
 * A shoal_*_total family appears once its counter was first counted, so a broker with the S3 copy (its
 * shoal_s3_backlog_bytes gauge is always there) that has no shoal_s3_upload_errors_total has counted 0 errors;
 * without that gauge every figure is null.
 */
export function s3Figures (scrape: string): S3Scrape {
  const ms = (seconds: number | null): number | null => seconds === null ? null : seconds * 1000
  const backlogBytes = metricValue(scrape, 'shoal_s3_backlog_bytes')
  const counter = (name: string): number | null => metricValue(scrape, name) ?? (backlogBytes === null ? null : 0)
  return {
    uploadBytes: counter('shoal_s3_upload_bytes_total'),
    uploads: counter('shoal_s3_uploads_total'),
    uploadErrors: counter('shoal_s3_upload_errors_total'),
    putRequests: counter('shoal_s3_put_requests_total'),
    backlogBytes,
    putP50Ms: ms(metricValue(scrape, 'shoal_s3_put_latency_seconds', { quantile: '0.5' })),
    putP99Ms: ms(metricValue(scrape, 'shoal_s3_put_latency_seconds', { quantile: '0.99' }))
  }
}

/** A counter's increase between two scrapes (a counter absent before counts from 0); null when absent after. */
export function counterIncrease (before: number | null, after: number | null): number | null {
  if (after === null) return null
  return Math.max(0, after - (before ?? 0))
}

/** `bytes` over `elapsedMs`, per second; null when either is missing or no time passed. */
export function perSecond (bytes: number | null, elapsedMs: number | null): number | null {
  if (bytes === null || elapsedMs === null || elapsedMs <= 0) return null
  return bytes / (elapsedMs / 1000)
}

export type Verdict = 'met' | 'NOT met' | '-'

/** s3 / local acks=-1 throughput against its bound. */
export function throughputVerdict (s3Ratio: number | null, bound = kThroughputRatioBound): Verdict {
  if (s3Ratio === null) return '-'
  return s3Ratio >= bound ? 'met' : 'NOT met'
}

/** The s3-mode latency bound: the flush interval plus two PUTs at their p99; null without a PUT p99. */
export function latencyBoundMs (flushIntervalMs: number, putP99Ms: number | null): number | null {
  if (putP99Ms === null) return null
  return flushIntervalMs + 2 * putP99Ms
}

export function latencyVerdict (p99Ms: number | null, boundMs: number | null): Verdict {
  if (p99Ms === null || boundMs === null) return '-'
  return p99Ms <= boundMs ? 'met' : 'NOT met'
}

export interface OutageSample {
  /** Since the proxy went down. */
  atMs: number
  rssBytes: number | null
  backlogBytes: number | null
}

export interface OutageSummary {
  rssStartBytes: number | null
  /** The range sampled: GC moves RSS by tens of MiB either way, so the start can be its peak. */
  rssMinBytes: number | null
  rssMaxBytes: number | null
  rssEndBytes: number | null
  /** The largest backlog sampled while down. */
  backlogMaxBytes: number | null
  /** rssMaxBytes - rssStartBytes (the peak, not the end: the claim is about what the backlog holds in memory). */
  rssGrowthBytes: number | null
  /** rssGrowthBytes / backlogMaxBytes. */
  growthFraction: number | null
}

export function summarizeOutage (samples: readonly OutageSample[]): OutageSummary {
  const rss = samples.map((sample) => sample.rssBytes).filter((value) => value !== null)
  const backlogs = samples.map((sample) => sample.backlogBytes).filter((value) => value !== null)
  const rssStartBytes = rss.length === 0 ? null : rss[0]
  const rssMaxBytes = rss.length === 0 ? null : Math.max(...rss)
  const backlogMaxBytes = backlogs.length === 0 ? null : Math.max(...backlogs)
  const rssGrowthBytes = rssStartBytes === null || rssMaxBytes === null ? null : rssMaxBytes - rssStartBytes
  return {
    rssStartBytes,
    rssMinBytes: rss.length === 0 ? null : Math.min(...rss),
    rssMaxBytes,
    rssEndBytes: rss.length === 0 ? null : rss[rss.length - 1],
    backlogMaxBytes,
    rssGrowthBytes,
    growthFraction: ratio(rssGrowthBytes, backlogMaxBytes)
  }
}

/** `met` when RSS grew by at most `bound` of the backlog (an empty backlog measures nothing: `-`). */
export function rssVerdict (growthFraction: number | null, bound = kRssGrowthBound): Verdict {
  if (growthFraction === null) return '-'
  return growthFraction <= bound ? 'met' : 'NOT met'
}

// ------------------------------------------------------------------------------------------------ the run

export interface S3UploadRow {
  flushers: number
  /** Delivered payload bytes per second of the acks=1 producer (rdkafka_performance's dr_MB/s x 10^6). */
  produceBytesPerSec: number | null
  /** shoal_s3_upload_bytes_total's increase over the producer's run, per second of it. */
  uploadBytesPerSec: number | null
  uploadBytes: number | null
  uploads: number | null
  uploadErrors: number | null
  putRequests: number | null
  putP50Ms: number | null
  putP99Ms: number | null
  /** Not yet in S3 when the producer stopped. */
  backlogEndBytes: number | null
  elapsedMs: number
  /** shoal_s3_upload_bytes_total's increase over kQuietSeconds after the producer stopped, per second. */
  quietUploadBytesPerSec: number | null
}

export interface S3ProduceRun {
  durability: 'local' | 's3'
  bytesPerSec: number | null
  msgsPerSec: number | null
  delivered: number | null
  errors: number | null
  elapsedMs: number | null
  latP50Ms: number | null
  latP99Ms: number | null
  latMaxMs: number | null
}

export interface S3LatencyCheck {
  /** Asked of rdkafka_performance (half the flat-out s3 rate), and achieved. */
  requestedMsgsPerSec: number
  achievedMsgsPerSec: number | null
  latP50Ms: number | null
  latP99Ms: number | null
  latMaxMs: number | null
  putP99Ms: number | null
  flushIntervalMs: number
  boundMs: number | null
  verdict: Verdict
}

export interface S3OutageCheck extends OutageSummary {
  rate: number
  downSeconds: number
  /** Delivered records/s of the producer over its whole run (warm-up included). */
  produceMsgsPerSec: number | null
  samples: OutageSample[]
  verdict: Verdict
  /** From the proxy passing again to an empty backlog; null when it did not drain within kDrainTimeoutMs. */
  drainMs: number | null
  /** PUTs the proxy saw while down (0: it refuses connections). */
  uploadErrors: number | null
}

export interface S3Result {
  target: string
  workers: number
  scenario: typeof kS3Scenario
  status: 'ok' | 'partial' | 'failed'
  reason: string | null
  setup: {
    recordBytes: number, partitions: number, runSeconds: number, flushIntervalMs: number, flusherCounts: readonly number[],
    throughputRatioBound: number, rssGrowthBound: number, outageRate: number, outageSeconds: number, outageBacklogMaxBytes: number
  }
  uploads: S3UploadRow[]
  acksAll: { local: S3ProduceRun | null, s3: S3ProduceRun | null }
  /** acksAll.s3 / acksAll.local, bytes per second. */
  throughputRatio: number | null
  throughputVerdict: Verdict
  latency: S3LatencyCheck | null
  outage: S3OutageCheck | null
  commands: string[]
  brokerSaid: string
}

export type S3Input = ShoalScenarioInput & { workDir: string }

export async function runS3Scenarios (input: S3Input): Promise<S3Result[]> {
  return forEachWorkerCount(input, kS3Scenario, (workers) => runS3(input, workers))
}

function emptyResult (workers: number): S3Result {
  return {
    target: `shoal w=${workers}`, workers, scenario: kS3Scenario, status: 'failed', reason: null,
    setup: {
      recordBytes: kRecordBytes, partitions: kPartitions, runSeconds: kRunSeconds, flushIntervalMs: kFlushIntervalMs, flusherCounts: kFlusherCounts,
      throughputRatioBound: kThroughputRatioBound, rssGrowthBound: kRssGrowthBound, outageRate: kOutageRate, outageSeconds: kOutageSeconds,
      outageBacklogMaxBytes: kOutageBacklogMaxBytes
    },
    uploads: [], acksAll: { local: null, s3: null }, throughputRatio: null, throughputVerdict: '-', latency: null, outage: null,
    commands: [], brokerSaid: ''
  }
}

/** A broker of this scenario, with its /metrics address. */
interface S3Broker {
  server: ServerProcess
  metricsAt: string
  dataDir: string
}

/** One scenario run's shared state: s3rver, the tool, where the commands and broker warnings go. */
class S3Run {
  readonly input: S3Input
  readonly workers: number
  readonly s3: TestS3
  readonly tool: RdkafkaTool
  readonly result: S3Result
  readonly #brokers = new Set<S3Broker>()
  #latencyFiles = 0

  constructor (input: S3Input, workers: number, s3: TestS3, tool: RdkafkaTool, result: S3Result) {
    this.input = input
    this.workers = workers
    this.s3 = s3
    this.tool = tool
    this.result = result
  }

  /**
   * A broker on its own prefix and data directory, with `extra` flags (the bench's broker flags last). The SDK's
   * credentials reach it through its environment: startServer spawns with the bench's own, so they are put there
   * for the (synchronous) spawn and taken out again.
   */
  async startBroker (prefix: string, endpoint: string, extra: string[]): Promise<S3Broker> {
    const { options } = this.input
    const dataDir = mkdtempSync(join(options.dataDir ?? tmpdir(), 'shoal-bench-s3-'))
    const args = [this.input.mainPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(this.workers),
      '--metrics-listen', '127.0.0.1:0', '--s3-bucket', this.s3.bucket, '--s3-endpoint', endpoint, '--s3-prefix', `w${this.workers}-${prefix}/`,
      '--s3-lease-ms', String(kLeaseMs), '--s3-flush-interval-ms', String(kFlushIntervalMs), ...extra, ...options.brokerArgs]
    const saved = new Map(Object.keys(this.s3.env).map((key) => [key, process.env[key]]))
    Object.assign(process.env, this.s3.env)
    let starting: Promise<ServerProcess>
    try {
      starting = startServer(this.input.node, args, /listening on (\S+)/, kStartTimeoutMs)
    } finally {
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
    let server: ServerProcess
    try {
      server = await starting
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true })
      throw error
    }
    const broker: S3Broker = { server, metricsAt: '', dataDir }
    this.#brokers.add(broker)
    const metricsAt = await metricsAddress(server)
    if (metricsAt === null) throw new Error('the broker printed no `metrics on` line')
    broker.metricsAt = metricsAt
    const admin = new Admin({ clientId: 'shoal-bench-s3', bootstrapBrokers: [server.bootstrap], timeout: 60_000, retries: 5 })
    try {
      await admin.createTopics({ topics: [kTopic], partitions: kPartitions, replicas: 1 })
    } finally {
      await admin.close().catch(() => {})
    }
    return broker
  }

  /** `expected`: warnings this broker was meant to log (S3 down: every failed upload), left out of brokerSaid. */
  async stopBroker (broker: S3Broker, expected: RegExp | null = null): Promise<void> {
    if (!this.#brokers.delete(broker)) return
    const warnings = warningLines(broker.server.output(), expected)
    if (warnings !== '') this.result.brokerSaid = [this.result.brokerSaid, warnings].filter((text) => text !== '').join('\n')
    broker.server.child.kill('SIGKILL')
    await broker.server.stop()
    rmSync(broker.dataDir, { recursive: true, force: true })
  }

  async stopAll (): Promise<void> {
    for (const broker of [...this.#brokers]) await this.stopBroker(broker)
  }

  /** What the last lines of the brokers still running said (for a failure's reason). */
  said (): string {
    return [...this.#brokers].map((broker) => tail(broker.server.output().split('\n')
      .filter((line) => !/^(listening|metrics) on/.test(line)).join('\n'), 2)).filter((text) => text !== '').join(' / ')
  }

  latencyFile (): string {
    return join(this.input.workDir, `s3-w${this.workers}-${++this.#latencyFiles}.lat`)
  }

  /**
   * rdkafka_performance producing 1 KiB records to the topic: flat out for kRunSeconds (stopped with SIGINT: it
   * prints its last row), or with `rate` (-r) `rate x kRunSeconds` records.
   */
  produce (broker: S3Broker, acks: number, extra: string[], timeoutSeconds = kRunSeconds, rate: number | null = null, signal?: AbortSignal): Promise<RunResult> {
    const [command, ...prefix] = [...this.tool.lineBuffered, this.tool.performance]
    const count = rate === null ? 1_000_000_000 : Math.round(rate * timeoutSeconds)
    const args = [...prefix, '-P', '-b', broker.server.bootstrap, '-t', kTopic, '-u', '-s', String(kRecordBytes), '-c', String(count),
      '-a', String(acks), '-X', `linger.ms=${this.input.options.lingerMs}`, ...(rate === null ? [] : ['-r', String(rdkafkaPaceRate(rate))]), ...extra]
    this.result.commands.push([command, ...args].join(' '))
    // A paced run ends by itself; its deadline leaves room for a slow one.
    return runProcess(command, args, { timeoutMs: (rate === null ? timeoutSeconds : timeoutSeconds * 3) * 1000, stopSignal: 'SIGINT', graceMs: 10_000, signal })
  }
}

async function scrape (broker: S3Broker): Promise<S3Scrape> {
  const response = await fetch(`http://${broker.metricsAt}/metrics`, { signal: AbortSignal.timeout(5000) })
  return s3Figures(await response.text())
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

function warningLines (output: string, expected: RegExp | null = null): string {
  return output.split('\n').filter((line) => /\b(WARN|ERROR)\b|"level":(40|50)/.test(line) && (expected === null || !expected.test(line)))
    .slice(0, 4).join('\n')
}

function produceRun (durability: 'local' | 's3', run: RunResult, latencyFile: string | null): S3ProduceRun {
  const parsed = parseRdkafkaPerformance(run.stdout)
  if (parsed === null) throw new Error(`acks=-1 producer (${durability}): no result: ${failureText(run)}`)
  const latency = emptyMetrics()
  if (latencyFile !== null) latencyMetrics(latencyFile, latency)
  return {
    durability,
    bytesPerSec: parsed.bytesPerSec,
    msgsPerSec: parsed.msgsPerSec,
    delivered: parsed.delivered,
    errors: parsed.errors,
    elapsedMs: parsed.elapsedMs,
    latP50Ms: latency.latP50Ms,
    latP99Ms: latency.latP99Ms,
    latMaxMs: latency.latMaxMs
  }
}

/** Step 1: acks=1 flat out on a local-durability broker per flusher count. */
async function measureUploads (run: S3Run): Promise<void> {
  for (const flushers of kFlusherCounts) {
    run.input.progress.update(`upload, --flushers ${flushers}: acks=1 for ${kRunSeconds} s`)
    const broker = await run.startBroker(`upload-f${flushers}`, run.s3.endpoint, ['--durability', 'local', '--flushers', String(flushers)])
    try {
      const before = await scrape(broker)
      const started = performance.now()
      const producer = await run.produce(broker, 1, [])
      const elapsedMs = performance.now() - started
      const after = await scrape(broker)
      const quietStarted = performance.now()
      await new Promise((resolve) => setTimeout(resolve, kQuietSeconds * 1000))
      const quiet = await scrape(broker)
      const quietMs = performance.now() - quietStarted
      const parsed = parseRdkafkaPerformance(producer.stdout)
      if (parsed === null) throw new Error(`acks=1 producer (--flushers ${flushers}): no result: ${failureText(producer)}`)
      const uploadBytes = counterIncrease(before.uploadBytes, after.uploadBytes)
      run.result.uploads.push({
        flushers,
        produceBytesPerSec: parsed.bytesPerSec,
        uploadBytesPerSec: perSecond(uploadBytes, elapsedMs),
        uploadBytes,
        uploads: counterIncrease(before.uploads, after.uploads),
        uploadErrors: counterIncrease(before.uploadErrors, after.uploadErrors),
        putRequests: counterIncrease(before.putRequests, after.putRequests),
        putP50Ms: after.putP50Ms,
        putP99Ms: after.putP99Ms,
        backlogEndBytes: after.backlogBytes,
        elapsedMs,
        quietUploadBytesPerSec: perSecond(counterIncrease(after.uploadBytes, quiet.uploadBytes), quietMs)
      })
    } finally {
      await run.stopBroker(broker)
    }
  }
}

/** Steps 2 and 3: acks=-1 flat out, local then s3; then the paced latency run on the s3 broker. */
async function measureAcksAll (run: S3Run): Promise<void> {
  const { result, input } = run
  for (const durability of ['local', 's3'] as const) {
    input.progress.update(`acks=-1, --durability ${durability}: ${kRunSeconds} s flat out`)
    const broker = await run.startBroker(`acksall-${durability}`, run.s3.endpoint, ['--durability', durability])
    try {
      const latencyFile = run.latencyFile()
      result.acksAll[durability] = produceRun(durability, await run.produce(broker, -1, ['-l', '-A', latencyFile]), latencyFile)
      if (durability === 'local') continue
      result.throughputRatio = ratio(result.acksAll.s3?.bytesPerSec, result.acksAll.local?.bytesPerSec)
      result.throughputVerdict = throughputVerdict(result.throughputRatio)
      const flatOut = result.acksAll.s3!.msgsPerSec
      if (flatOut === null || flatOut <= 1) throw new Error('the acks=-1 s3 run delivered nothing to pace at')
      const requested = Math.max(1, Math.round(flatOut / 2))
      input.progress.update(`acks=-1, --durability s3: paced at ${requested} msg/s for ${kRunSeconds} s`)
      const pacedFile = run.latencyFile()
      const paced = produceRun('s3', await run.produce(broker, -1, ['-l', '-A', pacedFile, '-X', `linger.ms=${input.options.rateLingerMs}`], kRunSeconds, requested), pacedFile)
      const putP99Ms = (await scrape(broker)).putP99Ms
      const boundMs = latencyBoundMs(kFlushIntervalMs, putP99Ms)
      result.latency = {
        requestedMsgsPerSec: requested,
        achievedMsgsPerSec: paced.msgsPerSec,
        latP50Ms: paced.latP50Ms,
        latP99Ms: paced.latP99Ms,
        latMaxMs: paced.latMaxMs,
        putP99Ms,
        flushIntervalMs: kFlushIntervalMs,
        boundMs,
        verdict: latencyVerdict(paced.latP99Ms, boundMs)
      }
    } finally {
      await run.stopBroker(broker)
    }
  }
}

/** Step 4: S3 down behind the fault proxy while acks=1 produce continues; RSS against the backlog, then the drain. */
async function measureOutage (run: S3Run): Promise<void> {
  const { input } = run
  let proxy: FaultProxy | null = null
  let broker: S3Broker | null = null
  try {
    proxy = await startFaultProxy(run.s3.endpoint)
    broker = await run.startBroker('outage', proxy.endpoint, ['--durability', 'local', '--s3-backlog-max-bytes', String(kOutageBacklogMaxBytes)])
    const live = broker
    const seconds = kOutageWarmupSeconds + kOutageSeconds
    input.progress.update(`S3 down: acks=1 at ${kOutageRate} msg/s, ${kOutageWarmupSeconds} s up, then ${kOutageSeconds} s down`)
    const stopProducer = new AbortController()
    const producing = run.produce(broker, 1, [], seconds, kOutageRate, stopProducer.signal)
    await new Promise((resolve) => setTimeout(resolve, kOutageWarmupSeconds * 1000))
    const errorsBefore = (await scrape(live)).uploadErrors
    await proxy.setMode('down')
    const downAt = performance.now()
    const samples: OutageSample[] = []
    const sample = async (): Promise<void> => {
      const rssBytes = readRss(live.server.pid)
      const backlogBytes = (await scrape(live).catch(() => null))?.backlogBytes ?? null
      samples.push({ atMs: Math.round(performance.now() - downAt), rssBytes, backlogBytes })
    }
    for (let second = 0; second <= kOutageSeconds; second++) {
      const due = downAt + second * 1000
      const wait = due - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      await sample()
    }
    // The producer stops (SIGINT, if it has not sent its records yet) before S3 comes back, so that the drain
    // measures the backlog alone.
    stopProducer.abort()
    const finished = await producing
    const parsed = parseRdkafkaPerformance(finished.stdout)
    const errorsDuring = counterIncrease(errorsBefore, (await scrape(live)).uploadErrors)
    input.progress.update('S3 back: draining the backlog')
    await proxy.setMode('pass')
    const passAt = performance.now()
    let drainMs: number | null = null
    while (performance.now() - passAt < kDrainTimeoutMs) {
      const backlog = (await scrape(live).catch(() => null))?.backlogBytes ?? null
      if (backlog === 0) {
        drainMs = performance.now() - passAt
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const summary = summarizeOutage(samples)
    run.result.outage = {
      ...summary,
      rate: kOutageRate,
      downSeconds: kOutageSeconds,
      produceMsgsPerSec: parsed?.msgsPerSec ?? null,
      samples,
      verdict: rssVerdict(summary.growthFraction),
      drainMs,
      uploadErrors: errorsDuring
    }
    if (parsed === null) throw new Error(`acks=1 producer (S3 down): no result: ${failureText(finished)}`)
  } finally {
    // While S3 is down every upload, lease renewal and metadata write fails and says so.
    if (broker !== null) await run.stopBroker(broker, /S3|lease|metadata/)
    await proxy?.close().catch(() => {})
  }
}

async function runS3 (input: S3Input, workers: number): Promise<S3Result> {
  const result = emptyResult(workers)
  if (!input.rdkafka.available) {
    result.reason = `rdkafka_performance (the measured load) is missing: ${input.rdkafka.reason}`
    return result
  }
  let s3: TestS3
  try {
    s3 = await startS3({ bucket: 'shoal-bench' })
  } catch (error) {
    result.reason = `s3rver did not start: ${(error as Error).message}`
    return result
  }
  const run = new S3Run(input, workers, s3, input.rdkafka, result)
  const failures: string[] = []
  // Each step on its own: one that fails leaves the others' figures (and says why in the reason).
  const steps: Array<[string, (run: S3Run) => Promise<void>]> = [['upload', measureUploads], ['acks=-1', measureAcksAll], ['S3 down', measureOutage]]
  try {
    for (const [name, step] of steps) {
      try {
        await step(run)
      } catch (error) {
        const said = run.said()
        failures.push(`${name}: ${(error as Error).message.split('\n')[0]}${said === '' ? '' : `; broker said: ${said.replace(/\n/g, ' / ')}`}`)
        input.progress.note(`${result.target} ${kS3Scenario} ${name}: failed: ${failures[failures.length - 1]}`)
        await run.stopAll()
      }
    }
  } finally {
    await run.stopAll()
    await s3.close()
  }
  const shortfalls = [
    ...failures,
    result.throughputVerdict === 'NOT met' ? `acks=-1 s3 / local throughput under ${kThroughputRatioBound}` : null,
    result.latency?.verdict === 'NOT met' ? 'the s3-mode p99 is above flush interval + 2 x PUT p99' : null,
    result.outage?.verdict === 'NOT met' ? `RSS grew by more than ${kRssGrowthBound} of the backlog while S3 was down` : null,
    result.outage !== null && result.outage.drainMs === null ? `the backlog did not drain within ${kDrainTimeoutMs / 1000} s` : null
  ].filter((item) => item !== null)
  const measured = result.uploads.length > 0 || result.acksAll.local !== null || result.acksAll.s3 !== null || result.outage !== null
  result.status = !measured ? 'failed' : shortfalls.length === 0 ? 'ok' : 'partial'
  result.reason = shortfalls.length === 0 ? null : shortfalls.join('; ')
  return result
}

// ------------------------------------------------------------------------------------------------ report

/** MiB/s (2^20 bytes). */
function mibPerSec (bytesPerSec: number | null | undefined): string {
  return formatFixed(bytesPerSec == null ? null : bytesPerSec / 1_048_576, 1)
}

function mib (bytes: number | null | undefined): string {
  return formatFixed(bytes == null ? null : bytes / 1_048_576, 1)
}

function ms (value: number | null | undefined, decimals = 1): string {
  return formatFixed(value ?? null, decimals)
}

export function renderS3Table (results: readonly S3Result[]): string {
  const uploadHeader = ['target', 'flushers', 'produce MiB/s', 'uploaded MiB/s', `then, ${kQuietSeconds} s alone`, 'uploads', 'PUTs', 'PUT p50 / p99 ms',
    'backlog at end MiB', 'upload errors']
  const uploadRows = results.flatMap((result) => result.uploads.map((row) => [
    result.target, String(row.flushers), mibPerSec(row.produceBytesPerSec), mibPerSec(row.uploadBytesPerSec), mibPerSec(row.quietUploadBytesPerSec), formatInteger(row.uploads),
    formatInteger(row.putRequests), `${ms(row.putP50Ms)} / ${ms(row.putP99Ms)}`, mib(row.backlogEndBytes), formatInteger(row.uploadErrors)
  ]))
  const checkHeader = ['target', 'check', 'measured', 'bound', 'verdict']
  const checkRows: string[][] = []
  for (const result of results) {
    const { local, s3 } = result.acksAll
    checkRows.push([result.target, 'acks=-1 s3 / local MiB/s', `${mibPerSec(s3?.bytesPerSec)} / ${mibPerSec(local?.bytesPerSec)} = ${formatRatio(result.throughputRatio)}`,
      `>= ${formatRatio(kThroughputRatioBound)}`, result.throughputVerdict])
    const latency = result.latency
    checkRows.push([result.target, 's3 p99 ms (paced)', latency === null ? '-' : `${ms(latency.latP99Ms)} at ${formatInteger(latency.achievedMsgsPerSec)} msg/s`,
      latency === null ? '-' : `${ms(latency.boundMs)} = ${latency.flushIntervalMs} + 2 x ${ms(latency.putP99Ms)}`, latency?.verdict ?? '-'])
    const outage = result.outage
    checkRows.push([result.target, `RSS growth, S3 down ${kOutageSeconds} s`,
      outage === null ? '-' : `${mib(outage.rssGrowthBytes)} MiB (${mib(outage.rssStartBytes)} -> peak ${mib(outage.rssMaxBytes)}, range ${mib(outage.rssMinBytes)}-${mib(outage.rssMaxBytes)}) ` +
      `for ${mib(outage.backlogMaxBytes)} MiB backlog = ${formatFixed(outage.growthFraction, 3)}`,
      `<= ${kRssGrowthBound} x backlog`, outage?.verdict ?? '-'])
    checkRows.push([result.target, 'backlog drain', outage === null
      ? '-'
      : `${outage.drainMs === null ? `not within ${kDrainTimeoutMs / 1000} s` : `${formatFixed(outage.drainMs / 1000, 1)} s`} (${formatInteger(outage.uploadErrors)} uploads failed while down)`,
      '-', outage === null ? '-' : outage.drainMs === null ? 'NOT met' : 'drained'])
    checkRows.push([result.target, 'status', result.status === 'ok' ? 'ok' : result.status.toUpperCase(), '', ''])
  }
  const notes = [
    `s3: s3rver in the bench process, rdkafka_performance producers of ${kRecordBytes} B records to ${kPartitions} partitions, ${kRunSeconds} s each, ` +
    `--s3-flush-interval-ms ${kFlushIntervalMs}. upload: acks=1 flat out, --durability local; uploaded MiB/s: shoal_s3_upload_bytes_total's increase over the ` +
    `producer's run, then over ${kQuietSeconds} s after it stopped; PUT p50/p99: shoal_s3_put_latency_seconds (the flusher pool's last 1024 uploads). acks=-1: flat out, a broker per --durability; ` +
    `s3 p99: acks=-1 paced at half the s3 flat-out rate; S3 down: acks=1 at ${kOutageRate} msg/s behind a fault proxy, RSS from /proc/PID/status, ` +
    'backlog from shoal_s3_backlog_bytes; drain: proxy passing again to a backlog of 0'
  ]
  for (const result of results) {
    const { local, s3 } = result.acksAll
    if (local !== null || s3 !== null) {
      notes.push(`${result.target} acks=-1 flat out: local ${formatInteger(local?.msgsPerSec)} msg/s p99 ${ms(local?.latP99Ms)} ms, ` +
        `s3 ${formatInteger(s3?.msgsPerSec)} msg/s p99 ${ms(s3?.latP99Ms)} ms (flat-out latencies are mostly librdkafka's queue)`)
    }
    if (result.outage !== null) {
      notes.push(`${result.target} S3 down, per second: ` + result.outage.samples.map((sample) => `${mib(sample.rssBytes)}/${mib(sample.backlogBytes)}`).join(' ') +
        ' (RSS / backlog MiB)')
    }
    if (result.reason !== null) notes.push(`${result.target} ${result.scenario}: ${result.status.toUpperCase()}: ${result.reason}`)
    if (result.brokerSaid !== '') notes.push(`${result.target} ${result.scenario}: broker said: ${result.brokerSaid.replace(/\n/g, ' / ').slice(0, 600)}`)
  }
  return [renderTable(uploadHeader, uploadRows, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9])), '', renderTable(checkHeader, checkRows), '', ...notes].join('\n')
}
