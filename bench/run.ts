// `npm run bench -- [flags]`: Shoal's load benchmark (default) or its micro-benchmarks (--micro).
// See bench/README.md for what is measured and how to read the table; `--help` for the flags.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ArgsError, kUsage, parseArgs, type BenchOptions } from './lib/args.ts'
import { formatDiskProbe, probeDisk, type DiskProbeSummary } from './lib/disk-probe.ts'
import { gitInfo, machineInfo } from './lib/machine.ts'
import { kMaintenanceScenario, renderMaintenanceTable, runMaintenanceScenarios, selectMaintenance, type MaintenanceResult } from './lib/maintenance.ts'
import { Progress } from './lib/progress.ts'
import { kQuotaScenario, renderQuotaTable, runQuotaScenarios, selectQuota, type QuotaResult } from './lib/quota.ts'
import { kS3Scenario, renderS3Table, runS3Scenarios, selectS3, type S3Result } from './lib/s3.ts'
import { defaultResultPath, kRatioMetric, kResultSchema, renderLoadTable, toolsForFile, writeResultFile, type LoadResultFile } from './lib/report.ts'
import { renderRestartTable, restartGigabytes, restartScenarios, runRestarts, selectRestartScenarios, type RestartResult } from './lib/restart.ts'
import { runLoads, type Tools } from './lib/runner.ts'
import { allScenarios, recordsFor, selectScenarios } from './lib/scenarios.ts'
import { formatMiB, renderTable } from './lib/stats.ts'
import { findKafkaPerf, findRdkafka } from './lib/tools.ts'
import { runMicro } from './micro.ts'

const kRepoRoot = fileURLToPath(new URL('..', import.meta.url))

function scenariosOf (options: BenchOptions) {
  return selectScenarios(allScenarios(options.matrix), options.scenarios)
}

async function runLoad (options: BenchOptions): Promise<number> {
  const scenarios = scenariosOf(options)
  const restarts = selectRestartScenarios(options.scenarios, options.matrix)
  const maintenance = options.shoal && selectMaintenance(options.scenarios, options.matrix)
  const quota = options.shoal && selectQuota(options.scenarios, options.matrix)
  const s3 = options.shoal && selectS3(options.scenarios, options.matrix)
  if (scenarios.length === 0 && restarts.length === 0 && !maintenance && !quota && !s3) {
    process.stderr.write(`no scenario matches ${options.scenarios.join(', ')} (see --list${options.matrix === 'full' ? '' : ', or --full'})\n`)
    return 2
  }
  const machine = machineInfo()
  const git = gitInfo(kRepoRoot)
  const workers = options.workers ?? [machine.cores]
  const tools: Tools = {
    // The mock cluster (the ceiling) comes with rdkafka_performance, so it is looked for even when not a --tools.
    rdkafka: findRdkafka(kRepoRoot, options.rdkafkaPerf),
    kafka: options.tools.includes('kafka') ? findKafkaPerf(options.kafkaHome) : { available: false, reason: 'not selected (--tools)' }
  }
  const targets = [options.ceiling ? 'ceiling (mock)' : null, ...(options.shoal ? workers.map((count) => `shoal w=${count}`) : []),
    options.against === null ? null : `against ${options.against}`].filter((target) => target !== null)
  if (scenarios.length > 0) {
    process.stderr.write(`shoal bench: ${scenarios.length} scenarios x ${targets.length} targets (${targets.join(', ')}) x ` +
      `${options.tools.length} tools (${options.tools.join(', ')}) x ${options.repeat} runs\n`)
  }
  if (restarts.length > 0) {
    process.stderr.write(`shoal bench: restart scenarios ${restarts.map((scenario) => `${scenario.name} (${restartGigabytes(scenario, options)} GB)`).join(', ')} ` +
      `x workers ${workers.join(', ')}, once each\n`)
  }
  if (maintenance) process.stderr.write(`shoal bench: ${kMaintenanceScenario} x workers ${workers.join(', ')}, ${options.repeat} rounds each\n`)
  if (quota) process.stderr.write(`shoal bench: ${kQuotaScenario} x workers ${workers.join(', ')}, once each\n`)
  if (s3) process.stderr.write(`shoal bench: ${kS3Scenario} x workers ${workers.join(', ')}, once each\n`)
  process.stderr.write(`machine: ${machine.cores} cores, ${machine.cpuModel ?? 'unknown CPU'}, ${formatMiB(machine.totalMemoryBytes)} MiB, ` +
    `Node ${machine.node}, load average ${machine.loadAverage?.join(' ') ?? '?'}; commit ${git.commit?.slice(0, 7) ?? '?'}${git.dirty === true ? ' (dirty)' : ''}\n`)
  for (const name of options.tools) {
    const tool = tools[name]
    if (!tool.available) process.stderr.write(`${name}: MISSING: ${tool.reason}\n`)
  }
  const diskProbe = options.diskProbe ? await runDiskProbe(options) : null
  const workDir = mkdtempSync(join(tmpdir(), 'shoal-bench-work-'))
  const progress = new Progress()
  const mainPath = join(kRepoRoot, 'src', 'main.ts')
  let result: Awaited<ReturnType<typeof runLoads>> = { cases: [], targets: [] }
  let restartResults: RestartResult[] = []
  let maintenanceResults: MaintenanceResult[] = []
  let quotaResults: QuotaResult[] = []
  let s3Results: S3Result[] = []
  try {
    if (scenarios.length > 0) result = await runLoads({ options, scenarios, workers, tools, node: process.execPath, mainPath, workDir, progress })
    if (restarts.length > 0) {
      restartResults = await runRestarts({ options, scenarios: restarts, workers, rdkafka: tools.rdkafka, node: process.execPath, mainPath, progress })
    }
    if (maintenance) {
      maintenanceResults = await runMaintenanceScenarios({ options, workers, rdkafka: tools.rdkafka, node: process.execPath, mainPath, workDir, progress })
    }
    if (quota) quotaResults = await runQuotaScenarios({ options, workers, rdkafka: tools.rdkafka, node: process.execPath, mainPath, progress })
    if (s3) s3Results = await runS3Scenarios({ options, workers, rdkafka: tools.rdkafka, node: process.execPath, mainPath, workDir, progress })
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
  const diskLine = diskProbe === null ? '' : 'error' in diskProbe ? `disk probe failed: ${diskProbe.error}\n` : `${formatDiskProbe(diskProbe)}\n`
  process.stdout.write('\n' + diskLine)
  if (scenarios.length > 0) process.stdout.write(renderLoadTable(result.cases, result.targets, tools, options.against !== null) + '\n')
  if (restarts.length > 0) process.stdout.write((scenarios.length > 0 ? '\n' : '') + renderRestartTable(restartResults) + '\n')
  if (maintenance) process.stdout.write((scenarios.length > 0 || restarts.length > 0 ? '\n' : '') + renderMaintenanceTable(maintenanceResults) + '\n')
  if (quota) process.stdout.write((scenarios.length > 0 || restarts.length > 0 || maintenance ? '\n' : '') + renderQuotaTable(quotaResults) + '\n')
  if (s3) process.stdout.write((scenarios.length > 0 || restarts.length > 0 || maintenance || quota ? '\n' : '') + renderS3Table(s3Results) + '\n')
  const date = new Date()
  const { mode: _mode, ...rest } = options
  // `maintenance`: bench/lib/maintenance.ts's rows, `quota`: bench/lib/quota.ts's, `s3`: bench/lib/s3.ts's (each
  // empty when it did not run).
  const file: LoadResultFile & { maintenance: MaintenanceResult[], quota: QuotaResult[], s3: S3Result[] } = {
    schema: kResultSchema,
    date: date.toISOString(),
    git,
    machine: { ...machine, diskProbe },
    tools: toolsForFile(tools),
    options: { ...rest, workers },
    ratioMetric: kRatioMetric,
    targets: result.targets,
    results: result.cases,
    restarts: restartResults,
    maintenance: maintenanceResults,
    quota: quotaResults,
    s3: s3Results
  }
  const out = options.out === null ? defaultResultPath(kRepoRoot, date, git.commit) : resolve(options.out)
  writeResultFile(out, file)
  process.stdout.write(`\nresult: ${out}\n`)
  const measured = result.cases.filter((item) => item.status === 'ok' || item.status === 'partial')
  return measured.length > 0 || restartResults.some((item) => item.status === 'ok') ||
    maintenanceResults.some((item) => item.status !== 'failed') || quotaResults.some((item) => item.status !== 'failed') ||
    s3Results.some((item) => item.status !== 'failed') ? 0 : 1
}

/**
 * Times fdatasync where Shoal's brokers keep their data (the --data-dir parent, else the OS temp dir, as
 * startShoal uses) before any broker runs. A failed probe is reported, never fatal.
 */
async function runDiskProbe (options: BenchOptions): Promise<DiskProbeSummary | { error: string }> {
  const parent = options.dataDir ?? tmpdir()
  process.stderr.write(`disk probe: ${options.diskProbeSeconds} s of 64 KiB writes, each followed by fdatasync, in ${parent} ...\n`)
  try {
    const summary = await probeDisk(parent, { durationMs: options.diskProbeSeconds * 1000 })
    process.stderr.write(`${formatDiskProbe(summary)}\n`)
    return summary
  } catch (error) {
    const message = (error as Error).message
    process.stderr.write(`disk probe failed: ${message}\n`)
    return { error: message }
  }
}

function listScenarios (options: BenchOptions): void {
  const rows = scenariosOf(options).map((scenario) => [scenario.name, scenario.kind, `${scenario.recordSize}`,
    scenario.kind === 'consume' || scenario.kind === 'group' || scenario.kind === 'txn-consume' ? '-' : String(scenario.acks), scenario.compression,
    String(scenario.partitions), String(recordsFor(scenario, options.records))])
  if (rows.length > 0) {
    process.stdout.write(renderTable(['scenario', 'kind', 'record bytes', 'acks', 'compression', 'partitions', 'records'], rows, new Set([2, 5, 6])) + '\n\n')
  }
  // Listed always, although they run only when named (or with --full): they write gigabytes.
  const selected = new Set(selectRestartScenarios(options.scenarios, options.matrix).map((scenario) => scenario.name))
  process.stdout.write(renderTable(['restart scenario', 'partitions', 'GB', 'selected'], restartScenarios().map((scenario) =>
    [scenario.name, String(scenario.partitions), String(restartGigabytes(scenario, options)), selected.has(scenario.name) ? 'yes' : 'no (name it in --scenarios)']),
  new Set([1, 2])) + '\n')
  process.stdout.write(`\n${kMaintenanceScenario}: produce p99 while another topic is compacted and retention runs, against none running; ` +
    `${selectMaintenance(options.scenarios, options.matrix) ? 'selected' : 'not selected'} (named in --scenarios, or --full; --repeat rounds; --maintenance-mib ${options.maintenanceMib})\n`)
  process.stdout.write(`${kQuotaScenario}: a producer with producer_byte_rate 1 MiB/s beside an unlimited one, then the unlimited one alone; ` +
    `${selectQuota(options.scenarios, options.matrix) ? 'selected' : 'not selected'} (named in --scenarios, or --full)\n`)
  process.stdout.write(`${kS3Scenario}: the S3 copy against s3rver: upload rate per --flushers, acks=-1 with --durability s3 against local, the s3-mode p99, ` +
    `RSS while S3 is down; ${selectS3(options.scenarios, options.matrix) ? 'selected' : 'not selected'} (named in --scenarios, or --full)\n`)
  if (scenariosOf(options).some((scenario) => scenario.kind === 'rate')) {
    process.stdout.write(`rate: records of the flat-out run (maximum rate M); the paced run then sends round(M/2 x ${options.rateSeconds}) (--rate-seconds)\n`)
  }
  const txn = scenariosOf(options).filter((scenario) => scenario.recordsPerTxn !== undefined)
  if (txn.length > 0) {
    process.stdout.write(`txn-*: transactions of ${txn[0].recordsPerTxn} records; txn-produce runs that many records transactional and ` +
      'idempotent, txn-consume fills the topic with them in transactions, then reads them read_committed and read_uncommitted\n')
  }
}

async function main (): Promise<number> {
  let options: BenchOptions
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof ArgsError)) throw error
    process.stderr.write(`bench: ${error.message}\n\n${kUsage}\n`)
    return 2
  }
  switch (options.mode) {
    case 'help':
      process.stdout.write(kUsage + '\n')
      return 0
    case 'list':
      listScenarios(options)
      return 0
    case 'micro':
      await runMicro(options, kRepoRoot)
      return 0
    case 'load':
      return await runLoad(options)
  }
}

process.exitCode = await main()
