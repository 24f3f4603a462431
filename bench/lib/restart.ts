// The restart scenarios: how long Shoal takes to serve again after a clean shutdown and after kill -9, on a data
// directory the bench builds itself. Per worker count (--workers):
//   1. a fresh data directory (under --data-dir, else the OS temp dir), refused up front when its disk has less
//      free space than 1.2 x the size asked for; a broker on it; one topic of `partitions` partitions
//   2. the fill: rdkafka_performance -P (no -p: librdkafka's partitioner picks a random partition per record;
//      its sticky partitioning is turned off, with which one run put nearly everything into half the partitions),
//      16 KiB records, acks=1, linger.ms=200 and batches up to 1 MB, until `gigabytes` x 10^9 bytes of payload
//      are acknowledged; then the end offset of every partition (ListOffsets) is kept
//   3. clean: SIGTERM (the broker answers what is in flight, fsyncs, writes its logs' `.clean-shutdown` markers,
//      exits 0; the bench gives it --shutdown-timeout-ms 600000), then a restart, timed from spawn to
//      `listening on` and to "serving": a new client's Metadata for the topic and ListOffsets (latest) of every
//      partition answered with exactly the end offsets kept
//   4. kill -9: a top-up of 1% more data through the restarted broker (so that the crash finds data written since
//      its last clean start), its end offsets kept, SIGKILL, then a restart timed the same way
//   5. the broker stopped, the data directory removed
// The targets are for 1,000 partitions and 10 GB: serving within 5 s after a clean shutdown and within 30 s
// after kill -9. The ratio columns are target / measured (1.00x or more: met), whatever the size.
// The page cache stays warm across these restarts (a process restart, not a reboot): the bench drops no caches.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin } from '@platformatic/kafka'
import type { BenchOptions } from './args.ts'
import { parseRdkafkaPerformance, progressFromLine, headerFromLine } from './parse-rdkafka.ts'
import { runProcess, startServer, tail, type RunResult, type ServerProcess } from './proc.ts'
import type { Progress } from './progress.ts'
import { matchesPattern } from './scenarios.ts'
import { formatFixed, formatRatio, renderTable } from './stats.ts'
import type { RdkafkaTool, ToolMissing } from './tools.ts'

export interface RestartScenario {
  name: string
  partitions: number
  /** Payload to fill the topic with, in GB (10^9 bytes); null: --restart-gb. */
  gigabytes: number | null
}

/** The targets, for 1,000 partitions and 10 GB. */
export const kCleanRestartTargetSec = 5
export const kKillRestartTargetSec = 30
/** Free space wanted on the data disk before filling it, as a multiple of the payload. */
export const kDiskHeadroom = 1.2
const kFillRecordBytes = 16 * 1024
const kTopUpFraction = 0.01
const kStartTimeoutMs = 300_000
const kStopTimeoutMs = 600_000

/** `restart-1000p` (its size from --restart-gb, default 1) and the issue's `restart-1000p-10GB`. */
export function restartScenarios (): RestartScenario[] {
  return [
    { name: 'restart-1000p', partitions: 1000, gigabytes: null },
    { name: 'restart-1000p-10GB', partitions: 1000, gigabytes: 10 }
  ]
}

/**
 * The restart scenarios a run asks for. They write gigabytes, so no plain `npm run bench` runs them: only a
 * --scenarios pattern that matches them (a pattern equal to a scenario's name picks that one alone, so that
 * `restart-1000p` does not pick the 10 GB one too), or --full (the small one).
 */
export function selectRestartScenarios (patterns: readonly string[], matrix: 'default' | 'full'): RestartScenario[] {
  const all = restartScenarios()
  if (patterns.length === 0) return matrix === 'full' ? all.filter((scenario) => scenario.gigabytes === null) : []
  return all.filter((scenario) => patterns.some((pattern) =>
    all.some((other) => other.name === pattern) ? scenario.name === pattern : matchesPattern(scenario.name, pattern)))
}

export function restartGigabytes (scenario: RestartScenario, options: Pick<BenchOptions, 'restartGb'>): number {
  return scenario.gigabytes ?? options.restartGb
}

/** Null when `freeBytes` holds kDiskHeadroom x the payload, else why not (for the refusal). */
export function diskShortfall (directory: string, payloadBytes: number, freeBytes: number): string | null {
  const needed = payloadBytes * kDiskHeadroom
  if (freeBytes >= needed) return null
  return `not enough free disk space in ${directory}: ${formatGB(freeBytes)} GB free, the fill needs ${formatGB(needed)} GB ` +
    `(${kDiskHeadroom} x ${formatGB(payloadBytes)} GB); free some (df -h ${directory}), or lower --restart-gb, or point --data-dir elsewhere`
}

function formatGB (bytes: number): string {
  return (bytes / 1e9).toFixed(1)
}

/** target / measured: 1.00x or more meets the target. */
export function targetRatio (targetSec: number, measuredSec: number | null): number | null {
  if (measuredSec === null || !(measuredSec > 0)) return null
  return targetSec / measuredSec
}

export interface RestartTiming {
  /** Spawn to the `listening on` line. */
  listeningSec: number | null
  /** Spawn to Metadata + ListOffsets of every partition answered with the expected end offsets. */
  servingSec: number | null
  /** targetSec / servingSec. */
  ratio: number | null
  targetSec: number
  /** The end offsets after the restart equal those kept before it (nothing acknowledged lost, nothing invented). */
  offsetsMatch: boolean | null
  /** What the broker logged while it started: each worker's recovery summary, warnings and errors. */
  brokerSaid: string
}

export interface RestartResult {
  target: string
  workers: number
  scenario: string
  partitions: number
  gigabytes: number
  status: 'ok' | 'failed'
  reason: string | null
  fill: { payloadBytes: number, records: number, seconds: number | null, mibPerSec: number | null } | null
  /** Bytes of the partitions' files (segments, indexes, snapshots) after the fill. */
  dataBytes: number | null
  /** Records per partition after the fill: the fewest and the most (how evenly the fill spread). */
  recordsPerPartition: { min: number, max: number } | null
  /** SIGTERM to exit (answering, fsyncing 1,000 logs, writing their markers). */
  cleanStopSec: number | null
  cleanStopExit: number | string | null
  clean: RestartTiming | null
  topUpRecords: number | null
  kill: RestartTiming | null
  commands: string[]
}

/** Sum of the sizes of every file under `directory` (the data directory after the fill). */
function directoryBytes (directory: string): number {
  let total = 0
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) total += directoryBytes(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

function commandLine (command: string, args: readonly string[]): string {
  return [command, ...args].join(' ')
}

interface RestartInput {
  options: BenchOptions
  scenarios: RestartScenario[]
  workers: number[]
  rdkafka: RdkafkaTool | ToolMissing
  node: string
  mainPath: string
  progress: Progress
}

export async function runRestarts (input: RestartInput): Promise<RestartResult[]> {
  const results: RestartResult[] = []
  for (const scenario of input.scenarios) {
    for (const workers of input.workers) {
      input.progress.step(`shoal w=${workers} ${scenario.name}`)
      results.push(await runRestart(input, scenario, workers))
    }
  }
  input.progress.clear()
  return results
}

/** One broker of a restart run: its process, admin client and the time it was spawned. */
interface Broker {
  server: ServerProcess
  admin: Admin
  listeningSec: number
}

async function runRestart (input: RestartInput, scenario: RestartScenario, workers: number): Promise<RestartResult> {
  const { options, progress } = input
  const gigabytes = restartGigabytes(scenario, options)
  const result: RestartResult = {
    target: `shoal w=${workers}`, workers, scenario: scenario.name, partitions: scenario.partitions, gigabytes, status: 'failed',
    reason: null, fill: null, dataBytes: null, recordsPerPartition: null, cleanStopSec: null, cleanStopExit: null, clean: null, topUpRecords: null, kill: null,
    commands: []
  }
  if (!input.rdkafka.available) {
    result.reason = `rdkafka_performance (the fill) is missing: ${input.rdkafka.reason}`
    return result
  }
  const tool = input.rdkafka
  const parent = options.dataDir ?? tmpdir()
  mkdirSync(parent, { recursive: true })
  const payloadBytes = Math.round(gigabytes * 1e9)
  const stats = statfsSync(parent)
  const shortfall = diskShortfall(parent, payloadBytes, stats.bavail * stats.bsize)
  if (shortfall !== null) {
    result.reason = shortfall
    progress.note(`${result.target} ${scenario.name}: refused: ${shortfall}`)
    return result
  }
  const dataDir = mkdtempSync(join(parent, 'shoal-bench-restart-'))
  const topic = `bench-${scenario.name}`
  const brokerArgs = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(workers), '--log-level', 'info',
    '--shutdown-timeout-ms', String(kStopTimeoutMs), ...options.brokerArgs]
  let broker: Broker | null = null
  const start = async (): Promise<Broker> => {
    const started = performance.now()
    const server = await startServer(input.node, [input.mainPath, ...brokerArgs], /listening on (\S+)/, kStartTimeoutMs)
    const listeningSec = (performance.now() - started) / 1000
    const admin = new Admin({ clientId: 'shoal-bench-restart', bootstrapBrokers: [server.bootstrap], timeout: 60_000, retries: 5 })
    return { server, admin, listeningSec }
  }
  const endOffsets = async (admin: Admin): Promise<bigint[]> => {
    const partitions = Array.from({ length: scenario.partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }))
    const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions }] })
    const offsets = new Array<bigint>(scenario.partitions).fill(-1n)
    for (const partition of listed?.partitions ?? []) offsets[partition.partitionIndex] = partition.offset
    return offsets
  }
  /** Metadata for the topic, then the end offset of every partition: the broker serves. */
  const timeServing = async (targetSec: number, expected: bigint[]): Promise<RestartTiming> => {
    const started = performance.now()
    broker = await start()
    const { admin, listeningSec } = broker
    await admin.metadata({ topics: [topic] })
    const offsets = await endOffsets(admin)
    const servingSec = (performance.now() - started) / 1000
    const offsetsMatch = offsets.every((offset, index) => offset === expected[index])
    const brokerSaid = startupLines(broker.server.output())
    return { listeningSec, servingSec, ratio: targetRatio(targetSec, servingSec), targetSec, offsetsMatch, brokerSaid }
  }
  const fill = async (bootstrap: string, bytes: number, label: string): Promise<{ run: RunResult, records: number }> => {
    const records = Math.max(1, Math.ceil(bytes / kFillRecordBytes))
    const args = ['-P', '-b', bootstrap, '-t', topic, '-u', '-s', String(kFillRecordBytes), '-c', String(records), '-a', '1',
      '-X', 'linger.ms=200', '-X', 'batch.size=1000000', '-X', 'sticky.partitioning.linger.ms=0']
    const [command, ...prefix] = [...tool.lineBuffered, tool.performance]
    result.commands.push(commandLine(command, [...prefix, ...args]))
    let header: string[] = []
    const run = await runProcess(command, [...prefix, ...args], {
      timeoutMs: Math.max(120_000, gigabytes * 60_000),
      stopSignal: 'SIGINT',
      onLine: (line) => {
        const found = headerFromLine(line)
        if (found !== null) { header = found; return }
        const at = progressFromLine(line, header)
        if (at !== null) progress.update(`${label} ${at.msgs}/${records} records of 16 KiB, ${(at.elapsedMs / 1000).toFixed(1)} s`)
      }
    })
    return { run, records }
  }
  try {
    // 1-2: the data directory, filled through the Kafka protocol.
    broker = await start()
    await broker.admin.createTopics({ topics: [topic], partitions: scenario.partitions, replicas: 1 })
    progress.update(`filling ${topic} with ${formatGB(payloadBytes)} GB`)
    const filled = await fill(broker.server.bootstrap, payloadBytes, 'fill')
    const fillResult = parseRdkafkaPerformance(filled.run.stdout)
    if (fillResult === null || fillResult.delivered - fillResult.errors < filled.records) {
      throw new Error(`the fill delivered ${fillResult?.delivered ?? 0} of ${filled.records} records: ${tail(filled.run.stderr || filled.run.stdout, 2)}`)
    }
    result.fill = {
      payloadBytes: filled.records * kFillRecordBytes,
      records: filled.records,
      seconds: fillResult.elapsedMs / 1000,
      mibPerSec: fillResult.bytesPerSec / (1024 * 1024)
    }
    let expected = await endOffsets(broker.admin)
    const total = expected.reduce((sum, offset) => sum + offset, 0n)
    if (total !== BigInt(filled.records)) throw new Error(`after the fill the partitions hold ${total} records, ${filled.records} were acknowledged`)
    result.dataBytes = directoryBytes(dataDir)
    const counts = expected.map(Number)
    result.recordsPerPartition = { min: Math.min(...counts), max: Math.max(...counts) }

    // 3: SIGTERM, then the clean restart.
    progress.update('clean shutdown (SIGTERM)')
    const stopped = await stopBroker(broker, 'SIGTERM')
    broker = null
    result.cleanStopSec = stopped.seconds
    result.cleanStopExit = stopped.exit
    if (stopped.exit !== 0) throw new Error(`the broker's clean shutdown exited ${stopped.exit} (markers not all written)`)
    progress.update('clean restart')
    result.clean = await timeServing(kCleanRestartTargetSec, expected)
    if (result.clean.offsetsMatch !== true) throw new Error('after the clean restart the end offsets differ from before it')

    // 4: more data since the last clean start, then kill -9 and the restart after it.
    const live = broker as Broker | null
    if (live === null) throw new Error('no broker after the clean restart')
    progress.update('top-up before kill -9')
    const topUp = await fill(live.server.bootstrap, Math.max(payloadBytes * kTopUpFraction, kFillRecordBytes * scenario.partitions), 'top-up')
    const topUpResult = parseRdkafkaPerformance(topUp.run.stdout)
    if (topUpResult === null || topUpResult.delivered - topUpResult.errors < topUp.records) {
      throw new Error(`the top-up delivered ${topUpResult?.delivered ?? 0} of ${topUp.records} records`)
    }
    result.topUpRecords = topUp.records
    expected = await endOffsets(live.admin)
    progress.update('kill -9')
    await stopBroker(live, 'SIGKILL')
    broker = null
    progress.update('restart after kill -9')
    result.kill = await timeServing(kKillRestartTargetSec, expected)
    if (result.kill.offsetsMatch !== true) throw new Error('after kill -9 and the restart the end offsets differ from the acknowledged ones')
    result.status = 'ok'
  } catch (error) {
    const live = broker as Broker | null
    const said = live === null ? '' : tail(live.server.output().split('\n').filter((line) => !line.startsWith('listening on')).join('\n'), 2)
    result.reason = (error as Error).message.split('\n')[0] + (said === '' ? '' : `; broker said: ${said.replace(/\n/g, ' / ')}`)
    progress.note(`${result.target} ${scenario.name}: failed: ${result.reason}`)
  } finally {
    const live = broker as Broker | null
    if (live !== null) await stopBroker(live, 'SIGKILL').catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
  return result
}

/** The lines of a broker's start worth keeping: the workers' recovery summaries (src/shard/recovery-progress.ts), warnings, errors. */
function startupLines (output: string): string {
  return output.split('\n').filter((line) => /recovered \d+ partitions \(|"recovered":\d+,"partitions".*"unclean"|\b(WARN|ERROR)\b|"level":(40|50)/.test(line))
    .slice(0, 8).map((line) => line.replace(/^\S+T\S+Z /, '')).join('\n')
}

/** Sends `signal` and waits for the exit (SIGKILL after kStopTimeoutMs); the exit code, or the signal's name. */
async function stopBroker (broker: Broker, signal: NodeJS.Signals): Promise<{ seconds: number, exit: number | string | null }> {
  await broker.admin.close().catch(() => {})
  const child = broker.server.child
  const started = performance.now()
  if (child.exitCode !== null || child.signalCode !== null) return { seconds: 0, exit: child.exitCode ?? child.signalCode }
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, name) => resolve(code ?? name)))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), kStopTimeoutMs)
  const exit = await exited
  clearTimeout(timer)
  return { seconds: (performance.now() - started) / 1000, exit }
}

function seconds (value: number | null | undefined): string {
  return formatFixed(value)
}

function timingCells (timing: RestartTiming | null): [string, string] {
  if (timing === null) return ['-', '-']
  const met = timing.ratio === null ? '' : timing.ratio >= 1 ? ' met' : ' NOT met'
  return [`${seconds(timing.listeningSec)} / ${seconds(timing.servingSec)}`, `${formatRatio(timing.ratio)}${met}`]
}

/** The restart table: one row per (worker count, scenario), then the failures. */
export function renderRestartTable (results: readonly RestartResult[]): string {
  const header = ['target', 'scenario', 'data', 'fill MiB/s', 'clean stop s', 'clean restart: listening / serving s',
    `x ${kCleanRestartTargetSec} s`, 'kill -9 restart: listening / serving s', `x ${kKillRestartTargetSec} s`, 'status']
  const rows = results.map((result) => {
    const [clean, cleanRatio] = timingCells(result.clean)
    const [kill, killRatio] = timingCells(result.kill)
    const data = result.dataBytes === null
      ? `${result.gigabytes} GB asked, ${result.partitions}p`
      : `${formatGB(result.dataBytes)} GB, ${result.partitions}p` +
        (result.recordsPerPartition === null ? '' : ` (${result.recordsPerPartition.min}-${result.recordsPerPartition.max} records each)`)
    return [result.target, result.scenario, data, formatFixed(result.fill?.mibPerSec, 0), seconds(result.cleanStopSec), clean, cleanRatio,
      kill, killRatio, result.status === 'ok' ? 'ok' : 'FAILED']
  })
  const lines = [renderTable(header, rows, new Set([3, 4, 5, 6, 7, 8]))]
  const notes: string[] = [`x N s: the issue's target for 1,000 partitions and 10 GB / the time to serving (Metadata + ListOffsets of ` +
    'every partition answered with the end offsets kept before the restart); 1.00x or more meets it']
  for (const result of results) {
    if (result.reason !== null) notes.push(`${result.target} ${result.scenario}: FAILED: ${result.reason}`)
    for (const [what, timing] of [['clean', result.clean], ['kill -9', result.kill]] as const) {
      if (timing !== null && timing.brokerSaid !== '') notes.push(`${result.target} ${result.scenario} ${what} restart, broker said: ${timing.brokerSaid.replace(/\n/g, ' / ')}`)
    }
  }
  lines.push('', ...notes)
  return lines.join('\n')
}
