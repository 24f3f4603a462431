// The printed table and the JSON result file of a load run.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { BenchOptions } from './args.ts'
import { formatDiskWatch, type DiskProbeSummary } from './disk-probe.ts'
import { rdkafkaRateGapMicros } from './loads.ts'
import type { GitInfo, MachineInfo } from './machine.ts'
import type { CaseResult, TargetSummary, Tools } from './runner.ts'
import type { RestartResult } from './restart.ts'
import { formatFixed, formatInteger, formatMiB, formatRatio, renderTable } from './stats.ts'

export const kResultSchema = 'shoal-bench/load/1'

export interface LoadResultFile {
  schema: string
  date: string
  git: GitInfo
  /** diskProbe: fdatasync timings on the brokers' data disk; null with --no-disk-probe, { error } when it failed. */
  machine: MachineInfo & { diskProbe: DiskProbeSummary | { error: string } | null }
  tools: {
    rdkafka: { available: boolean, version?: string | null, path?: string, mockCluster?: string | null, reason?: string }
    kafka: { available: boolean, version?: string | null, producer?: string, consumer?: string, reason?: string }
  }
  options: Omit<BenchOptions, 'mode'> & { workers: number[] }
  /** How the ratio columns are computed. */
  ratioMetric: string
  targets: TargetSummary[]
  results: CaseResult[]
  /** The restart-* scenarios (bench/lib/restart.ts); empty when none ran. */
  restarts: RestartResult[]
}

export const kRatioMetric = 'fraction of the reference, higher is better: messages/s for produce, consume and group; ' +
  'p50 latency inverted (reference / value) for e2e; p99 latency inverted for rate (each target paced at half its own maximum rate); ' +
  'txn-produce and txn-consume: the transactional (read_committed) load\'s messages/s, and results[].comparison.ratio is ' +
  'transactional / idempotent (read_committed / read_uncommitted) on the same target, the median of the per-run ratios'

export function toolsForFile (tools: Tools): LoadResultFile['tools'] {
  const rdkafka = tools.rdkafka.available
    ? { available: true, version: tools.rdkafka.version, path: tools.rdkafka.performance, mockCluster: tools.rdkafka.mockCluster }
    : { available: false, reason: tools.rdkafka.reason }
  const kafka = tools.kafka.available
    ? { available: true, version: tools.kafka.version, producer: tools.kafka.producer, consumer: tools.kafka.consumer }
    : { available: false, reason: tools.kafka.reason }
  return { rdkafka, kafka }
}

/** bench/results/2026-01-02T03-04-05Z-abc1234.json */
export function defaultResultPath (repoRoot: string, date: Date, commit: string | null, kind = 'load'): string {
  const stamp = date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  return join(repoRoot, 'bench', 'results', `${stamp}-${kind}-${(commit ?? 'nocommit').slice(0, 7)}.json`)
}

export function writeResultFile (path: string, content: unknown): void {
  mkdirSync(dirname(path), { recursive: true })
  // Written whole, then renamed: a reader never sees half a file.
  writeFileSync(`${path}.tmp`, JSON.stringify(content, null, 2) + '\n')
  renameSync(`${path}.tmp`, path)
}

function latencyCell (result: CaseResult): string {
  const median = result.median
  if (median === null || median.latP50Ms === null) return '-'
  return `${formatFixed(median.latP50Ms)} / ${formatFixed(median.latP99Ms)}`
}

/**
 * What a rate row was paced at, what it achieved (as a fraction of its maximum: the row is "at half the maximum
 * rate" only as far as that says 0.50), and the latency percentiles the table has no room for:
 * `max 1,140,000 msg/s flat out; paced at 570,000 msg/s (-r 570000: a 1 us gap after each produce call;
 * linger.ms=1), achieved 498,000 (0.44 of max); latency ms p50 ..., max ...`.
 */
export function pacingText (result: CaseResult): string | null {
  const pacing = result.pacing
  if (pacing === null) return null
  const median = result.median
  const ms = (value: number | null | undefined): string => formatFixed(value)
  const how = result.tool === 'rdkafka'
    ? `-r ${pacing.toolRate}: a ${rdkafkaRateGapMicros(pacing.toolRate)} us gap after each produce call`
    : `--throughput ${pacing.toolRate}`
  const achieved = median?.msgsPerSec ?? null
  const fraction = achieved === null || pacing.maxMsgsPerSec <= 0 ? '' : ` (${formatFixed(achieved / pacing.maxMsgsPerSec)} of max)`
  const latency = median === null
    ? ''
    : `; latency ms p50 ${ms(median.latP50Ms)}, p95 ${ms(median.latP95Ms)}, p99 ${ms(median.latP99Ms)}, ` +
      `p99.9 ${ms(median.latP999Ms)}, max ${ms(median.latMaxMs)}`
  return `max ${formatInteger(pacing.maxMsgsPerSec)} msg/s flat out; paced at ${formatInteger(pacing.requestedMsgsPerSec)} msg/s ` +
    `(${how}; linger.ms=${pacing.lingerMs}), achieved ${formatInteger(achieved)}${fraction}${latency}` +
    (pacing.diskWatch == null ? '' : `; ${formatDiskWatch(pacing.diskWatch)}`)
}

/** The floor for each txn-* ratio (transactional / idempotent, read_committed / read_uncommitted). */
export const kTxnRatioTargets: Readonly<Record<string, number>> = { 'txn-produce': 0.7, 'txn-consume': 0.9 }

/**
 * What a txn-* row compared, with both throughputs and the ratio:
 * `transactional 520,000 msg/s (49.6 MiB/s) vs idempotent 700,000 msg/s (66.8 MiB/s): transactional / idempotent
 * 0.74x (median of the per-run ratios; the issue asks >= 0.70x); 300 transactions of 1,000 records, 0.21 s in
 * commit_transaction`.
 */
export function comparisonText (result: CaseResult): string | null {
  const comparison = result.comparison
  if (comparison == null) return null
  const mib = (bytes: number | null | undefined): string => formatFixed(bytes == null ? null : bytes / (1024 * 1024))
  const wanted = kTxnRatioTargets[result.kind]
  const floor = wanted === undefined ? '' : `; the issue asks >= ${formatRatio(wanted)}`
  const transactions = comparison.transactions === null
    ? ''
    : result.kind === 'txn-consume'
      ? `; topic filled by ${formatInteger(comparison.transactions)} transactions of ${formatInteger(comparison.recordsPerTxn)} records`
      : `; ${formatInteger(comparison.transactions)} transactions of ${formatInteger(comparison.recordsPerTxn)} records` +
        (comparison.commitSeconds === null ? '' : `, ${formatFixed(comparison.commitSeconds)} s in commit_transaction`)
  return `${comparison.measured} ${formatInteger(result.median?.msgsPerSec)} msg/s (${mib(result.median?.bytesPerSec)} MiB/s) vs ` +
    `${comparison.reference} ${formatInteger(comparison.referenceMsgsPerSec)} msg/s (${mib(comparison.referenceBytesPerSec)} MiB/s): ` +
    `${comparison.measured} / ${comparison.reference} ${formatRatio(comparison.ratio)} (median of the per-run ratios${floor})${transactions}`
}

function rssCell (result: CaseResult): [string, string] {
  if (result.rss === null) return ['-', '-']
  return [formatMiB(result.rss.maxBytes), `${formatMiB(result.rss.startBytes)} -> ${formatMiB(result.rss.endBytes)}`]
}

function statusCell (result: CaseResult): string {
  if (result.status === 'ok') return result.note === null ? 'ok' : 'ok*'
  return result.status.toUpperCase()
}

/** The results table, one row per (target, scenario, tool), missing tools collapsed to one line each. */
export function renderLoadTable (cases: readonly CaseResult[], targets: readonly TargetSummary[], tools: Tools, hasAgainst: boolean): string {
  const header = ['target', 'scenario', 'tool', 'msgs/s', 'MiB/s', 'lat p50 / p99 ms', 'RSS max MiB', 'RSS start -> end', 'x ceiling']
  if (hasAgainst) header.push('x against')
  header.push('status')
  const rows: string[][] = []
  for (const result of cases) {
    if (result.status === 'missing' || result.status === 'n/a') continue
    const [rssMax, rssSpan] = rssCell(result)
    const row = [
      result.target, result.scenario, result.tool,
      formatInteger(result.median?.msgsPerSec), formatFixed(result.median?.bytesPerSec == null ? null : result.median.bytesPerSec / (1024 * 1024)),
      latencyCell(result), rssMax, rssSpan,
      result.targetKind === 'ceiling' ? (result.note !== null || result.median === null ? '-' : '1.00x') : formatRatio(result.ratio.ceiling)
    ]
    if (hasAgainst) {
      row.push(result.targetKind === 'shoal' ? formatRatio(result.ratio.against) : result.targetKind === 'against' && result.median !== null ? '1.00x' : '-')
    }
    row.push(statusCell(result))
    rows.push(row)
  }
  const right = new Set([3, 4, 6, 8, 9])
  const lines = [renderTable(header, rows, right)]
  const notes: string[] = []
  for (const name of ['rdkafka', 'kafka'] as const) {
    const tool = tools[name]
    if (!tool.available && cases.some((result) => result.tool === name)) {
      notes.push(`${name === 'kafka' ? 'kafka-producer/consumer-perf-test' : 'rdkafka_performance'}: MISSING: ${tool.reason}`)
    }
  }
  for (const target of targets) if (target.error !== null) notes.push(`${target.label}: ${target.error}`)
  const failures = cases.filter((result) => result.status === 'failed' || result.status === 'partial')
  for (const result of failures) notes.push(`${result.target} ${result.scenario} ${result.tool}: ${result.status}: ${result.reason}`)
  for (const result of cases) if (result.note !== null) notes.push(`* ${result.target} ${result.scenario} ${result.tool}: ${result.note}`)
  for (const result of cases) {
    const pacing = pacingText(result)
    if (pacing !== null) notes.push(`${result.target} ${result.scenario} ${result.tool}: ${pacing}`)
  }
  for (const result of cases) {
    const comparison = comparisonText(result)
    if (comparison !== null) notes.push(`${result.target} ${result.scenario} ${result.tool}: ${comparison}`)
  }
  const rssTargets = targets.filter((target) => target.rss !== null && target.rss.samples > 0)
  for (const target of rssTargets) {
    notes.push(`${target.label} broker RSS over the whole run: start ${formatMiB(target.rss!.startBytes)} MiB, end ${formatMiB(target.rss!.endBytes)} MiB, max ${formatMiB(target.rss!.maxBytes)} MiB`)
  }
  if (notes.length > 0) lines.push('', ...notes)
  return lines.join('\n')
}
