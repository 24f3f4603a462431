// Finds the load generators. A tool that is not there is reported as missing (with why and how to get it),
// never replaced by something else.
//   rdkafka  bench/.build/rdkafka_performance (or --rdkafka-perf), built on demand by scripts/build-rdkafka-perf.sh,
//            with bench/.build/mock-cluster (the ceiling) and bench/.build/txn-perf (the txn-* scenarios' producer)
//   kafka    kafka-producer-perf-test(.sh) and kafka-consumer-perf-test(.sh) from $KAFKA_HOME/bin (or
//            --kafka-home), else the PATH (Apache's .sh names, or the Confluent packages' names without .sh)
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { parseLibrdkafkaVersion } from './parse-rdkafka.ts'

export interface ToolFound {
  available: true
  version: string | null
}

export interface ToolMissing {
  available: false
  reason: string
}

export interface RdkafkaTool extends ToolFound {
  performance: string
  /**
   * `stdbuf -oL` when coreutils has it: rdkafka_performance prints with printf, fully buffered into a pipe, so
   * without it progress rows and the e2e consumer's "reached end" line arrive only at exit.
   */
  lineBuffered: string[]
  mockCluster: string | null
  mockReason: string | null
  /** bench/.build/txn-perf (bench/rdkafka/txn-perf.c): idempotent and transactional produce; null when not built. */
  txnPerf: string | null
  txnPerfReason: string | null
}

export interface KafkaTool extends ToolFound {
  producer: string
  consumer: string
  home: string | null
}

function isExecutable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable named one of `names` in the PATH directories. */
export function whichIn (pathVariable: string, names: readonly string[]): string | null {
  for (const directory of pathVariable.split(delimiter)) {
    if (directory === '') continue
    for (const name of names) {
      const candidate = join(directory, name)
      if (isExecutable(candidate)) return candidate
    }
  }
  return null
}

function build (repoRoot: string): string | null {
  const result = spawnSync('bash', [join(repoRoot, 'scripts', 'build-rdkafka-perf.sh')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 })
  if (result.status === 0) return null
  return (result.stderr || result.stdout || String(result.error ?? 'failed')).trim().split('\n').slice(-3).join(' ')
}

/** rdkafka_performance and the mock cluster, building them when absent (and buildable). */
export function findRdkafka (repoRoot: string, explicit: string | null): RdkafkaTool | ToolMissing {
  const built = join(repoRoot, 'bench', '.build')
  const performance = explicit ?? join(built, 'rdkafka_performance')
  const mock = join(built, 'mock-cluster')
  const txnPerf = join(built, 'txn-perf')
  let buildError: string | null = null
  if ((explicit === null && !isExecutable(performance)) || !isExecutable(mock) || !isExecutable(txnPerf)) buildError = build(repoRoot)
  if (!isExecutable(performance)) {
    return {
      available: false,
      reason: explicit !== null
        ? `${explicit} is not executable`
        : `rdkafka_performance could not be built (${buildError ?? 'no binary'}); needs gcc and librdkafka-dev, then scripts/build-rdkafka-perf.sh`
    }
  }
  // Its usage text (any unknown option) names the librdkafka version.
  const usage = spawnSync(performance, ['-h'], { encoding: 'utf8', timeout: 10_000 })
  const stdbuf = whichIn(process.env.PATH ?? '', ['stdbuf'])
  return {
    available: true,
    version: parseLibrdkafkaVersion(`${usage.stdout}${usage.stderr}`),
    performance,
    lineBuffered: stdbuf === null ? [] : [stdbuf, '-oL'],
    mockCluster: isExecutable(mock) ? mock : null,
    mockReason: isExecutable(mock) ? null : `mock-cluster could not be built (${buildError ?? 'no binary'})`,
    txnPerf: isExecutable(txnPerf) ? txnPerf : null,
    txnPerfReason: isExecutable(txnPerf) ? null : `txn-perf could not be built (${buildError ?? 'no binary'}): scripts/build-rdkafka-perf.sh`
  }
}

/** Kafka's perf tools from --kafka-home, $KAFKA_HOME or the PATH. */
export function findKafkaPerf (explicitHome: string | null, env: NodeJS.ProcessEnv = process.env): KafkaTool | ToolMissing {
  const home = explicitHome ?? env.KAFKA_HOME ?? null
  const producerNames = ['kafka-producer-perf-test.sh', 'kafka-producer-perf-test']
  const consumerNames = ['kafka-consumer-perf-test.sh', 'kafka-consumer-perf-test']
  let producer: string | null = null
  let consumer: string | null = null
  if (home !== null) {
    producer = whichIn(join(home, 'bin'), producerNames)
    consumer = whichIn(join(home, 'bin'), consumerNames)
    if (producer === null || consumer === null) {
      return { available: false, reason: `no kafka-producer-perf-test.sh / kafka-consumer-perf-test.sh in ${join(home, 'bin')} (KAFKA_HOME)` }
    }
  } else {
    producer = whichIn(env.PATH ?? '', producerNames)
    consumer = whichIn(env.PATH ?? '', consumerNames)
    if (producer === null || consumer === null) {
      return { available: false, reason: 'Apache Kafka perf tools not found: set KAFKA_HOME (or --kafka-home) to a Kafka installation, or put kafka-producer-perf-test.sh on the PATH' }
    }
  }
  const versionScript = producer.replace(/kafka-producer-perf-test(\.sh)?$/, (_, sh: string | undefined) => `kafka-topics${sh ?? ''}`)
  let version: string | null = null
  if (existsSync(versionScript)) {
    const result = spawnSync(versionScript, ['--version'], { encoding: 'utf8', timeout: 30_000 })
    version = /(\d+\.\d+\.\d+\S*)/.exec(result.stdout ?? '')?.[1] ?? null
  }
  return { available: true, version, producer, consumer, home }
}
