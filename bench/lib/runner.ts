// Runs every (target, scenario, tool) case `--repeat` times on fresh topics, samples the broker's RSS during each
// measured run, and keeps the median of each metric. The targets (the ceiling: librdkafka's mock cluster,
// restarted for each scenario so that its memory holds one scenario's data; Shoal once per worker count;
// --against) take turns run by run within each scenario, so the runs a ratio compares are close in time.
import { randomBytes } from 'node:crypto'
import type { BenchOptions, ToolName } from './args.ts'
import {
  emptyMetrics, kafkaUnsupported, runKafka, runRdkafka, type LoadContext, type RatePacing, type RunMetrics, type RunOutcome, type RunStatus,
  type TxnComparison
} from './loads.ts'
import type { DiskProbeSummary } from './disk-probe.ts'
import { RssSampler, tail, type RssSummary } from './proc.ts'
import type { Progress } from './progress.ts'
import { recordsFor, type Scenario, type ScenarioKind } from './scenarios.ts'
import { median, medianRecord, ratio } from './stats.ts'
import { connectAgainst, startCeiling, startShoal, type Target, type TargetKind } from './targets.ts'
import type { KafkaTool, RdkafkaTool, ToolMissing } from './tools.ts'

export type CaseStatus = RunStatus | 'missing' | 'n/a'

export interface RunRecord extends RunOutcome {
  rss: RssSummary | null
}

export interface CaseResult {
  target: string
  targetKind: TargetKind
  workers: number | null
  scenario: string
  kind: ScenarioKind
  recordSize: number
  acks: number
  compression: string
  partitions: number
  tool: ToolName
  records: number
  status: CaseStatus
  reason: string | null
  note: string | null
  /** Rate rows: per-field medians of the runs' pacing (metrics are the paced runs'). */
  pacing: RatePacing | null
  /**
   * txn-* rows: medians of the runs' comparisons (metrics are the transactional / read_committed load's); ratio is
   * the median of the per-run ratios (each of two loads seconds apart), not the ratio of the medians.
   */
  comparison?: TxnComparison | null
  /** Medians over the runs that measured something (ok or partial). */
  median: RunMetrics | null
  /** Broker RSS: at the start of the first run, at the end of the last, the largest sample of any. */
  rss: { startBytes: number | null, endBytes: number | null, maxBytes: number | null } | null
  /** Shoal's (or --against's) result as a fraction of the ceiling's, and Shoal's as a fraction of --against's. */
  ratio: { ceiling: number | null, against: number | null }
  runs: RunRecord[]
}

export interface TargetSummary {
  label: string
  kind: TargetKind
  workers: number | null
  bootstrap: string | null
  /** RSS of the broker over its whole life in the bench (not for the ceiling, restarted per scenario). */
  rss: RssSummary | null
  error: string | null
}

export interface Tools {
  rdkafka: RdkafkaTool | ToolMissing
  kafka: KafkaTool | ToolMissing
}

export interface RunnerInput {
  options: BenchOptions
  scenarios: Scenario[]
  workers: number[]
  tools: Tools
  node: string
  mainPath: string
  workDir: string
  progress: Progress
}

interface TargetPlan {
  kind: TargetKind
  workers: number | null
  label: string
}

/**
 * The case's headline comparison as "fraction of the reference", higher is better, 1 is even: throughput
 * (messages/s) for produce, consume and group; for e2e the p50 latency inverted (reference / value); for rate the
 * p99 latency inverted, each target paced at half of its own maximum rate.
 */
export function primaryRatio (kind: ScenarioKind, value: RunMetrics | null, reference: RunMetrics | null): number | null {
  if (value === null || reference === null) return null
  if (kind === 'e2e') return ratio(reference.latP50Ms, value.latP50Ms)
  if (kind === 'rate') return ratio(reference.latP99Ms, value.latP99Ms)
  return ratio(value.msgsPerSec, reference.msgsPerSec)
}

/** Per-field medians of the runs' pacing; null when no run got as far as pacing. */
function medianPacing (runs: readonly RunRecord[]): RatePacing | null {
  const paced = runs.filter((run) => run.status !== 'failed').map((run) => run.pacing).filter((pacing) => pacing != null)
  if (paced.length === 0) return null
  return {
    maxMsgsPerSec: median(paced.map((pacing) => pacing.maxMsgsPerSec))!,
    requestedMsgsPerSec: median(paced.map((pacing) => pacing.requestedMsgsPerSec))!,
    toolRate: median(paced.map((pacing) => pacing.toolRate))!,
    lingerMs: paced[0].lingerMs,
    // The worst watch of the runs: a stall in any run is what explains a tail in the medians.
    diskWatch: paced.map((pacing) => pacing.diskWatch).filter((watch) => watch != null)
      .reduce<DiskProbeSummary | null>((worst, watch) => worst === null || (watch.maxMs ?? 0) > (worst.maxMs ?? 0) ? watch : worst, null)
  }
}

/** Per-field medians of the runs' txn-* comparisons; null when no run has one. */
export function medianComparison (runs: readonly RunRecord[]): TxnComparison | null {
  const compared = runs.filter((run) => run.status !== 'failed').map((run) => run.comparison).filter((comparison) => comparison != null)
  if (compared.length === 0) return null
  const [one] = compared
  return {
    measured: one.measured,
    reference: one.reference,
    referenceMsgsPerSec: median(compared.map((comparison) => comparison.referenceMsgsPerSec)),
    referenceBytesPerSec: median(compared.map((comparison) => comparison.referenceBytesPerSec)),
    ratio: median(compared.map((comparison) => comparison.ratio)),
    recordsPerTxn: one.recordsPerTxn,
    transactions: median(compared.map((comparison) => comparison.transactions)),
    commitSeconds: median(compared.map((comparison) => comparison.commitSeconds))
  }
}

/** Aggregates the runs of one case: ok when all are, partial when some measured something, else failed. */
export function aggregateRuns (runs: readonly RunRecord[]): {
  status: RunStatus, reason: string | null, note: string | null, pacing: RatePacing | null, comparison: TxnComparison | null,
  median: RunMetrics | null, rss: CaseResult['rss']
} {
  const measured = runs.filter((run) => run.status !== 'failed' && run.metrics !== null)
  const status: RunStatus = measured.length === 0 ? 'failed' : measured.length === runs.length && runs.every((run) => run.status === 'ok') ? 'ok' : 'partial'
  const reason = runs.find((run) => run.reason !== null)?.reason ?? null
  const note = runs.find((run) => run.note != null)?.note ?? null
  const median = measured.length === 0 ? null : { ...emptyMetrics(), ...medianRecord(measured.map((run) => run.metrics! as unknown as Record<string, number | null>)) } as RunMetrics
  const sampled = runs.filter((run) => run.rss !== null && run.rss.samples > 0)
  const rss = sampled.length === 0
    ? null
    : {
        startBytes: sampled[0].rss!.startBytes,
        endBytes: sampled[sampled.length - 1].rss!.endBytes,
        maxBytes: Math.max(...sampled.map((run) => run.rss!.maxBytes ?? 0))
      }
  return { status, reason, note, pacing: medianPacing(runs), comparison: medianComparison(runs), median, rss }
}

/** Fills `ratio` of every case: against the ceiling's and --against's case of the same scenario and tool. */
export function computeRatios (cases: CaseResult[]): void {
  const find = (kind: TargetKind, scenario: string, tool: ToolName): CaseResult | undefined =>
    cases.find((other) => other.targetKind === kind && other.scenario === scenario && other.tool === tool)
  for (const result of cases) {
    if (result.targetKind === 'ceiling') continue
    // No ratio where the mock's result is not comparable: its e2e latency is its fetch long-poll timeout, and a
    // consume run that found only the ~5 MiB per partition the mock keeps read less (the case's note says which).
    const ceiling = find('ceiling', result.scenario, result.tool)
    if (result.kind !== 'e2e' && ceiling !== undefined && ceiling.note === null) {
      result.ratio.ceiling = primaryRatio(result.kind, result.median, ceiling.median)
    }
    if (result.targetKind === 'shoal') {
      result.ratio.against = primaryRatio(result.kind, result.median, find('against', result.scenario, result.tool)?.median ?? null)
    }
  }
}

/** An error message on one line (a broker's startup output joined with ' / '), at most 200 characters. */
function oneLine (message: string): string {
  return message.split('\n').map((line) => line.trim()).filter((line) => line !== '').join(' / ').slice(0, 200)
}

function topicName (scenario: Scenario, tool: ToolName, repeat: number): string {
  return `bench-${scenario.name}-${tool}-${repeat}-${randomBytes(3).toString('hex')}`
}

export async function runLoads (input: RunnerInput): Promise<{ cases: CaseResult[], targets: TargetSummary[] }> {
  const { options, scenarios, tools, progress } = input
  const plans: TargetPlan[] = []
  const rdkafkaCeiling = tools.rdkafka.available && tools.rdkafka.mockCluster !== null
  if (options.ceiling) plans.push({ kind: 'ceiling', workers: null, label: 'ceiling (mock)' })
  if (options.shoal) for (const workers of input.workers) plans.push({ kind: 'shoal', workers, label: `shoal w=${workers}` })
  if (options.against !== null) plans.push({ kind: 'against', workers: null, label: `against ${options.against}` })

  const cases: CaseResult[] = []
  const summaries: TargetSummary[] = []
  const total = plans.length * scenarios.length * options.tools.length * options.repeat
  let step = 0

  const newCase = (plan: TargetPlan, scenario: Scenario, tool: ToolName): CaseResult => ({
    target: plan.label,
    targetKind: plan.kind,
    workers: plan.workers,
    scenario: scenario.name,
    kind: scenario.kind,
    recordSize: scenario.recordSize,
    acks: scenario.acks,
    compression: scenario.compression,
    partitions: scenario.partitions,
    tool,
    records: recordsFor(scenario, options.records),
    status: 'failed',
    reason: null,
    note: null,
    pacing: null,
    comparison: null,
    median: null,
    rss: null,
    ratio: { ceiling: null, against: null },
    runs: []
  })

  // Targets take turns run by run (ceiling, w=1, w=2, against, then the ceiling's second run, ...), so that a
  // ratio compares runs seconds apart rather than minutes apart on a machine whose speed drifts. Brokers stay up
  // for the whole bench; the mock cluster is restarted for each scenario, since it keeps what it is sent in memory.
  interface Live { plan: TargetPlan, summary: TargetSummary, target: Target | null, sampler: RssSampler | null }
  const startTarget = async (plan: TargetPlan): Promise<Target> => {
    switch (plan.kind) {
      case 'shoal': return await startShoal({ node: input.node, mainPath: input.mainPath, workers: plan.workers!, dataParent: options.dataDir, brokerArgs: options.brokerArgs })
      case 'against': return await connectAgainst(options.against!)
      case 'ceiling': {
        if (!rdkafkaCeiling) throw new Error(tools.rdkafka.available ? tools.rdkafka.mockReason ?? 'no mock-cluster' : tools.rdkafka.reason)
        return await startCeiling((tools.rdkafka as RdkafkaTool).mockCluster!)
      }
    }
  }
  const live: Live[] = plans.map((plan) => {
    const summary: TargetSummary = { label: plan.label, kind: plan.kind, workers: plan.workers, bootstrap: null, rss: null, error: null }
    summaries.push(summary)
    return { plan, summary, target: null, sampler: null }
  })
  const open = async (entry: Live): Promise<void> => {
    try {
      entry.target = await startTarget(entry.plan)
      entry.summary.bootstrap = entry.target.bootstrap
      entry.summary.error = null
      if (entry.plan.kind !== 'ceiling' && entry.target.pid !== null) entry.sampler = new RssSampler(entry.target.pid, 500).start()
    } catch (error) {
      entry.target = null
      entry.summary.error = oneLine((error as Error).message)
      progress.note(`${entry.plan.label}: could not start: ${entry.summary.error}`)
    }
  }
  const close = async (entry: Live): Promise<void> => {
    if (entry.sampler !== null) entry.summary.rss = entry.sampler.stop()
    entry.sampler = null
    const target = entry.target
    entry.target = null
    if (target !== null) await target.stop()
  }

  try {
    for (const entry of live) {
      if (entry.plan.kind === 'ceiling') continue
      progress.step(entry.plan.label)
      await open(entry)
    }
    for (const scenario of scenarios) {
      for (const entry of live) if (entry.plan.kind === 'ceiling') await open(entry)
      for (const tool of options.tools) {
        const found = tools[tool]
        const unsupported = tool === 'kafka' ? kafkaUnsupported(scenario) : null
        const turns: Array<{ entry: Live, result: CaseResult }> = []
        for (const entry of live) {
          const result = newCase(entry.plan, scenario, tool)
          cases.push(result)
          if (!found.available) {
            result.status = 'missing'
            result.reason = found.reason
          } else if (unsupported !== null) {
            result.status = 'n/a'
            result.reason = unsupported
          } else if (entry.target === null) {
            result.reason = `target not started: ${entry.summary.error}`
          } else {
            turns.push({ entry, result })
            continue
          }
          step += options.repeat
        }
        for (let repeat = 1; repeat <= options.repeat; repeat++) {
          for (const { entry, result } of turns) {
            step++
            progress.step(`[${step}/${total}] ${entry.plan.label} ${scenario.name} ${tool} run ${repeat}/${options.repeat}`)
            result.runs.push(await runOnce(entry.target!, scenario, tool, repeat, result.records, input, found as RdkafkaTool | KafkaTool))
          }
        }
        for (const { entry, result } of turns) {
          Object.assign(result, aggregateRuns(result.runs))
          if (result.status !== 'ok') progress.note(`${entry.plan.label} ${scenario.name} ${tool}: ${result.status}: ${result.reason}`)
        }
      }
      for (const entry of live) if (entry.plan.kind === 'ceiling') await close(entry)
    }
  } finally {
    for (const entry of live) await close(entry)
  }
  // Cases in target order (all of the ceiling's, then each broker's), as the table lists them.
  const order = new Map(plans.map((plan, index) => [plan.label, index]))
  cases.sort((a, b) => order.get(a.target)! - order.get(b.target)!)
  progress.clear()
  computeRatios(cases)
  return { cases, targets: summaries }
}

async function runOnce (target: Target, scenario: Scenario, tool: ToolName, repeat: number, records: number,
  input: RunnerInput, found: RdkafkaTool | KafkaTool): Promise<RunRecord> {
  const topic = topicName(scenario, tool, repeat)
  try {
    await target.admin.create(topic, scenario.partitions)
  } catch (error) {
    return { status: 'failed', reason: `could not create ${topic}: ${(error as Error).message}`, metrics: null, commands: [], rss: null }
  }
  let sampler: RssSampler | null = null
  let rss: RssSummary | null = null
  const ctx: LoadContext = {
    bootstrap: target.bootstrap,
    targetKind: target.kind,
    topic,
    scenario,
    records,
    run: repeat,
    options: input.options,
    workDir: input.workDir,
    progress: input.progress,
    measureStart: () => {
      if (target.pid !== null) sampler = new RssSampler(target.pid, 200).start()
    },
    measureEnd: () => {
      if (sampler !== null) rss = sampler.stop()
      sampler = null
    }
  }
  let outcome: RunOutcome
  try {
    outcome = tool === 'rdkafka' ? await runRdkafka(found as RdkafkaTool, ctx) : await runKafka(found as KafkaTool, ctx)
  } catch (error) {
    outcome = { status: 'failed', reason: (error as Error).message, metrics: null, commands: [] }
  } finally {
    ctx.measureEnd()
  }
  if (target.kind === 'shoal' && outcome.status === 'failed') {
    const said = tail(target.output().split('\n').filter((line) => !line.startsWith('listening on')).join('\n'), 2)
    if (said !== '') outcome.reason = `${outcome.reason}; broker said: ${said.replace(/\n/g, ' / ')}`
  }
  await target.admin.delete(topic).catch(() => {})
  return { ...outcome, rss }
}
