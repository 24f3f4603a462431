// The quota scenario (issue 11): a producer whose client id has producer_byte_rate 1 MiB/s must be held at that
// rate (± 20%) and told so through throttle_time_ms, while an unlimited producer on the same broker is not slowed.
// Per worker count (--workers):
//   1. a fresh data directory and a broker on it with default flags (plus the bench's broker flags), then
//      AlterClientQuotas `producer_byte_rate=1048576` for client-id `limited` (@platformatic/kafka's Admin), and
//      two 1-partition topics, `quota-limited` and `quota-free`.
//   2. together: two rdkafka_performance producers (-X client.id=limited on quota-limited, -X client.id=free on
//      quota-free), 1 KiB records, acks=1, as fast as they can, each stopped with SIGINT after kRunSeconds.
//   3. alone: the free producer once more for kRunSeconds on the same topic (its unthrottled baseline).
// Measured: each run's delivered payload bytes / elapsed (rdkafka_performance's last table row: dr_MB/s), and the
// limited producer's throttles: librdkafka's throttle_cb, which rdkafka_performance prints as
// `% THROTTLED <ms>ms by <broker> (<id>)` for every response with throttle_time_ms > 0 (no -T needed).
// The rate verdict compares delivered payload bytes with the quota's 1048576 bytes/s; the broker counts request
// bytes (record batch overhead included), so a producer exactly at its quota delivers slightly less payload.
// A run starts with a burst above the quota (the first responses come before any throttle), which the
// whole-run rate includes; the row also shows the rate after the first second (the table rows' difference).
// Runs only when named (--scenarios quota) or with --full, like restart-* and maintenance.
import { forEachWorkerCount, type ShoalScenarioInput } from './per-worker.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin, ClientQuotaEntityTypes, ClientQuotaKeys } from '@platformatic/kafka'
import type { BenchOptions } from './args.ts'
import { failureText } from './loads.ts'
import { parseRdkafkaPerformance, parseRdkafkaTable, resultFromRow } from './parse-rdkafka.ts'
import { runProcess, startServer, tail, type RunResult, type ServerProcess } from './proc.ts'
import type { Progress } from './progress.ts'
import { matchesPattern } from './scenarios.ts'
import { formatFixed, formatRatio, ratio, renderTable } from './stats.ts'
import type { RdkafkaTool, ToolMissing } from './tools.ts'

export const kQuotaScenario = 'quota'
/** producer_byte_rate of client id `limited`: 1 MiB/s. */
export const kQuotaBytesPerSec = 1_048_576
/** The limited producer's rate must be within this fraction of the quota. */
export const kQuotaTolerance = 0.2
/** The free producer's rate beside the limited one / alone must be at least this ("not slowed" on a shared 2-core box). */
export const kFreeRatioBound = 0.8
export const kRunSeconds = 10
export const kRecordBytes = 1024
const kStartTimeoutMs = 30_000
const kLimitedClientId = 'limited'
const kFreeClientId = 'free'

/** Selected when a --scenarios pattern names it, or with --full when none is given (as maintenance). */
export function selectQuota (patterns: readonly string[], matrix: 'default' | 'full'): boolean {
  if (patterns.length === 0) return matrix === 'full'
  return patterns.some((pattern) => matchesPattern(kQuotaScenario, pattern))
}

// ------------------------------------------------------------------------------------------------ pure helpers

export interface ThrottleSummary {
  /** Responses that carried throttle_time_ms > 0. */
  count: number
  avgMs: number | null
  maxMs: number | null
  totalMs: number
}

/** The throttle_time_ms of each `% THROTTLED 950ms by 127.0.0.1:9092 (1)` line of rdkafka_performance's output. */
export function parseThrottleLines (output: string): number[] {
  const values: number[] = []
  for (const match of output.matchAll(/^% THROTTLED (\d+)ms by /gm)) values.push(Number(match[1]))
  return values
}

export function summarizeThrottle (throttles: readonly number[]): ThrottleSummary {
  const totalMs = throttles.reduce((sum, value) => sum + value, 0)
  return {
    count: throttles.length,
    avgMs: throttles.length === 0 ? null : totalMs / throttles.length,
    maxMs: throttles.length === 0 ? null : Math.max(...throttles),
    totalMs
  }
}

/**
 * Delivered payload bytes per second after the first table row (`elapsed` >= 1 s) to the last: the rate once the
 * first throttles arrived, without the opening burst. Null with fewer than two rows or no time between them.
 */
export function steadyBytesPerSec (output: string, recordBytes: number): number | null {
  const rows = parseRdkafkaTable(output).rows.map(resultFromRow).filter((row) => row !== null && row.mode === 'producer')
  if (rows.length < 2) return null
  const first = rows[0]!
  const last = rows[rows.length - 1]!
  const elapsedMs = last.elapsedMs - first.elapsedMs
  if (elapsedMs <= 0) return null
  return (last.delivered - first.delivered) * recordBytes / (elapsedMs / 1000)
}

/** `met` when `bytesPerSec` is within ± tolerance of the quota, else `NOT met`; `-` when not measured. */
export function rateVerdict (bytesPerSec: number | null, quota = kQuotaBytesPerSec, tolerance = kQuotaTolerance): 'met' | 'NOT met' | '-' {
  if (bytesPerSec === null) return '-'
  return Math.abs(bytesPerSec - quota) <= quota * tolerance ? 'met' : 'NOT met'
}

/** `met` when the free producer kept at least `bound` of its alone rate beside the limited one. */
export function freeVerdict (freeRatio: number | null, bound = kFreeRatioBound): 'met' | 'NOT met' | '-' {
  if (freeRatio === null) return '-'
  return freeRatio >= bound ? 'met' : 'NOT met'
}

// ------------------------------------------------------------------------------------------------ the run

export interface QuotaProducerRun {
  clientId: string
  topic: string
  /** Delivered payload bytes / elapsed over the whole run (rdkafka_performance's dr_MB/s x 10^6). */
  bytesPerSec: number | null
  /** The same after the first second (see steadyBytesPerSec). */
  steadyBytesPerSec: number | null
  delivered: number | null
  elapsedMs: number | null
  errors: number | null
  throttle: ThrottleSummary
}

export interface QuotaResult {
  target: string
  workers: number
  scenario: typeof kQuotaScenario
  status: 'ok' | 'partial' | 'failed'
  reason: string | null
  setup: { quotaBytesPerSec: number, tolerance: number, freeRatioBound: number, runSeconds: number, recordBytes: number, acks: number }
  limited: QuotaProducerRun | null
  freeWithLimited: QuotaProducerRun | null
  freeAlone: QuotaProducerRun | null
  /** limited.bytesPerSec against the quota. */
  rateVerdict: 'met' | 'NOT met' | '-'
  /** The limited producer was told of its throttling (at least one response with throttle_time_ms > 0). */
  throttleReported: boolean
  /** freeWithLimited / freeAlone (bytes per second). */
  freeRatio: number | null
  freeVerdict: 'met' | 'NOT met' | '-'
  commands: string[]
  brokerSaid: string
}

export type QuotaInput = ShoalScenarioInput

export async function runQuotaScenarios (input: QuotaInput): Promise<QuotaResult[]> {
  return forEachWorkerCount(input, kQuotaScenario, (workers) => runQuota(input, workers))
}

function emptyResult (workers: number): QuotaResult {
  return {
    target: `shoal w=${workers}`, workers, scenario: kQuotaScenario, status: 'failed', reason: null,
    setup: { quotaBytesPerSec: kQuotaBytesPerSec, tolerance: kQuotaTolerance, freeRatioBound: kFreeRatioBound, runSeconds: kRunSeconds, recordBytes: kRecordBytes, acks: 1 },
    limited: null, freeWithLimited: null, freeAlone: null, rateVerdict: '-', throttleReported: false, freeRatio: null, freeVerdict: '-',
    commands: [], brokerSaid: ''
  }
}

function producerArgs (bootstrap: string, topic: string, clientId: string, options: BenchOptions): string[] {
  // -c: far more than 10 s can send; the run ends at its deadline (SIGINT prints the last row).
  return ['-P', '-b', bootstrap, '-t', topic, '-u', '-s', String(kRecordBytes), '-c', '1000000000', '-a', '1',
    '-X', `client.id=${clientId}`, '-X', `linger.ms=${options.lingerMs}`]
}

function producerRun (clientId: string, topic: string, run: RunResult): QuotaProducerRun {
  const parsed = parseRdkafkaPerformance(run.stdout)
  if (parsed === null) throw new Error(`${clientId} producer: no result: ${failureText(run)}`)
  return {
    clientId,
    topic,
    bytesPerSec: parsed.bytesPerSec,
    steadyBytesPerSec: steadyBytesPerSec(run.stdout, kRecordBytes),
    delivered: parsed.delivered,
    elapsedMs: parsed.elapsedMs,
    errors: parsed.errors,
    throttle: summarizeThrottle(parseThrottleLines(run.stdout))
  }
}

async function runQuota (input: QuotaInput, workers: number): Promise<QuotaResult> {
  const { options, progress } = input
  const result = emptyResult(workers)
  if (!input.rdkafka.available) {
    result.reason = `rdkafka_performance (the measured load) is missing: ${input.rdkafka.reason}`
    return result
  }
  const tool = input.rdkafka
  const dataDir = mkdtempSync(join(options.dataDir ?? tmpdir(), 'shoal-bench-quota-'))
  let server: ServerProcess | null = null
  let admin: Admin | null = null
  try {
    server = await startServer(input.node, [input.mainPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(workers), ...options.brokerArgs],
      /listening on (\S+)/, kStartTimeoutMs)
    const bootstrap = server.bootstrap
    admin = new Admin({ clientId: 'shoal-bench-quota', bootstrapBrokers: [bootstrap], timeout: 60_000, retries: 5 })
    const altered = await admin.alterClientQuotas({
      entries: [{
        entities: [{ entityType: ClientQuotaEntityTypes.CLIENT_ID, entityName: kLimitedClientId }],
        ops: [{ key: ClientQuotaKeys.PRODUCER_BYTE_RATE, value: kQuotaBytesPerSec, remove: false }]
      }]
    })
    if (altered.some((entry) => entry.errorCode !== 0)) throw new Error(`AlterClientQuotas answered ${JSON.stringify(altered)}`)
    await admin.createTopics({ topics: ['quota-limited', 'quota-free'], partitions: 1, replicas: 1 })
    const [command, ...prefix] = [...tool.lineBuffered, tool.performance]
    const produce = (topic: string, clientId: string): Promise<RunResult> => {
      const args = [...prefix, ...producerArgs(bootstrap, topic, clientId, options)]
      result.commands.push([command, ...args].join(' '))
      return runProcess(command, args, { timeoutMs: kRunSeconds * 1000, stopSignal: 'SIGINT', graceMs: 10_000 })
    }
    progress.update(`together: ${kLimitedClientId} and ${kFreeClientId}, ${kRunSeconds} s`)
    const [limitedRun, freeRun] = await Promise.all([produce('quota-limited', kLimitedClientId), produce('quota-free', kFreeClientId)])
    result.limited = producerRun(kLimitedClientId, 'quota-limited', limitedRun)
    result.freeWithLimited = producerRun(kFreeClientId, 'quota-free', freeRun)
    progress.update(`alone: ${kFreeClientId}, ${kRunSeconds} s`)
    result.freeAlone = producerRun(kFreeClientId, 'quota-free', await produce('quota-free', kFreeClientId))
    result.rateVerdict = rateVerdict(result.limited.bytesPerSec)
    result.throttleReported = result.limited.throttle.count > 0
    result.freeRatio = ratio(result.freeWithLimited.bytesPerSec, result.freeAlone.bytesPerSec)
    result.freeVerdict = freeVerdict(result.freeRatio)
    const shortfalls = [
      result.rateVerdict === 'met' ? null : `the limited producer's rate is outside ${kQuotaTolerance * 100}% of the quota`,
      result.throttleReported ? null : 'no throttle_time_ms reported to the limited producer',
      result.freeVerdict === 'met' ? null : `the free producer kept less than ${kFreeRatioBound} of its alone rate`
    ].filter((item) => item !== null)
    result.status = shortfalls.length === 0 ? 'ok' : 'partial'
    result.reason = shortfalls.length === 0 ? null : shortfalls.join('; ')
  } catch (error) {
    const said = server === null ? '' : tail(server.output().split('\n').filter((line) => !line.startsWith('listening on')).join('\n'), 2)
    result.status = 'failed'
    result.reason = (error as Error).message.split('\n')[0] + (said === '' ? '' : `; broker said: ${said.replace(/\n/g, ' / ')}`)
    progress.note(`${result.target} ${kQuotaScenario}: failed: ${result.reason}`)
  } finally {
    if (server !== null) result.brokerSaid = server.output().split('\n').filter((line) => /\b(WARN|ERROR)\b|"level":(40|50)/.test(line)).slice(0, 6).join('\n')
    await admin?.close().catch(() => {})
    if (server !== null) {
      server.child.kill('SIGKILL')
      await server.stop()
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return result
}

// ------------------------------------------------------------------------------------------------ report

/** MiB/s (2^20 bytes), the quota's unit. */
function mibPerSec (bytesPerSec: number | null | undefined): string {
  return formatFixed(bytesPerSec == null ? null : bytesPerSec / 1_048_576, 2)
}

export function renderQuotaTable (results: readonly QuotaResult[]): string {
  const header = ['target', 'scenario', 'limited MiB/s', 'after 1st s', `quota 1 ±${kQuotaTolerance * 100}%`, 'throttles', 'throttle avg / max ms',
    'free with MiB/s', 'free alone MiB/s', `ratio (>= ${kFreeRatioBound})`, 'status']
  const rows = results.map((result) => [
    result.target, result.scenario, mibPerSec(result.limited?.bytesPerSec), mibPerSec(result.limited?.steadyBytesPerSec), result.rateVerdict,
    String(result.limited?.throttle.count ?? '-'),
    result.limited === null ? '-' : `${formatFixed(result.limited.throttle.avgMs, 0)} / ${formatFixed(result.limited.throttle.maxMs, 0)}`,
    mibPerSec(result.freeWithLimited?.bytesPerSec), mibPerSec(result.freeAlone?.bytesPerSec),
    result.freeRatio === null ? '-' : `${formatRatio(result.freeRatio)} ${result.freeVerdict}`,
    result.status === 'ok' ? 'ok' : result.status.toUpperCase()
  ])
  const notes = [
    `quota: client-id '${kLimitedClientId}' has producer_byte_rate ${kQuotaBytesPerSec}; rdkafka_performance producers of ${kRecordBytes} B records, acks=1, ` +
    `${kRunSeconds} s each: '${kLimitedClientId}' and '${kFreeClientId}' together, then '${kFreeClientId}' alone. MiB/s: delivered payload / elapsed; ` +
    'after 1st s: the same from the first table row on (without the opening burst); throttles: responses with throttle_time_ms > 0 (throttle_cb)'
  ]
  for (const result of results) {
    if (result.reason !== null) notes.push(`${result.target} ${result.scenario}: ${result.status.toUpperCase()}: ${result.reason}`)
    if (result.brokerSaid !== '') notes.push(`${result.target} ${result.scenario}: broker said: ${result.brokerSaid.replace(/\n/g, ' / ')}`)
  }
  return [renderTable(header, rows, new Set([2, 3, 5, 6, 7, 8])), '', ...notes].join('\n')
}
