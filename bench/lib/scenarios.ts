// The loads `npm run bench` runs. Each scenario is one kind of load on a fresh topic:
//   produce  the producer sends `records` records as fast as it can (throughput, produce->ack latency)
//   consume  the topic is filled first (not measured), then read from the beginning
//   e2e      a consumer waits at the end of the topic while a rate-limited producer sends: produce-to-consume latency
//   group    like consume, through a consumer group (-G): needs FindCoordinator/JoinGroup/SyncGroup/OffsetCommit
//   rate     latency at half the maximum rate: the producer runs flat out as in produce (the maximum rate M), then
//            again paced at M/2 for --rate-seconds; the row is the paced run's (produce->ack latency at M/2)
//   txn-produce  transactional produce (bench/.build/txn-perf: begin, recordsPerTxn records, commit) against the same
//            client idempotent (enable.idempotence, acks=all) on one topic, the two taking turns; the row is the
//            transactional run's, with the idempotent run's throughput and the ratio beside it
//   txn-consume  a topic filled by committed transactions (not measured), read from the beginning with
//            isolation.level=read_committed and with read_uncommitted; the row is read_committed's, with the ratio

export type ScenarioKind = 'produce' | 'consume' | 'e2e' | 'group' | 'rate' | 'txn-produce' | 'txn-consume'
export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

export interface Scenario {
  name: string
  kind: ScenarioKind
  recordSize: number
  /** 1, -1 (all) or 0. */
  acks: number
  compression: Codec
  partitions: number
  /** txn-produce and txn-consume: records per transaction. */
  recordsPerTxn?: number
  /**
   * produce: the producer's batch.size in bytes, with the rest of the Java producer's default request shape (see
   * javaShapedScenarios). Absent: each tool's own defaults (librdkafka packs up to 1 MB per partition and request).
   */
  batchBytes?: number
}

export const kCodecs: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

function sizeName (bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}B`
}

function acksName (acks: number): string {
  return acks === -1 ? 'acksall' : `acks${acks}`
}

export function scenarioName (scenario: Omit<Scenario, 'name'>): string {
  const size = sizeName(scenario.recordSize)
  const partitions = `${scenario.partitions}p`
  switch (scenario.kind) {
    case 'produce': return `produce-${size}-${acksName(scenario.acks)}-${scenario.compression}-${partitions}${scenario.batchBytes === undefined ? '' : `-batch${sizeName(scenario.batchBytes)}`}`
    case 'e2e': return `e2e-${size}-${acksName(scenario.acks)}-${scenario.compression}-${partitions}`
    case 'rate': return `rate-${size}-${acksName(scenario.acks)}-${scenario.compression}-${partitions}`
    case 'consume': return `consume-${size}-${partitions}`
    case 'group': return `group-${size}-${partitions}`
    case 'txn-produce': return `txn-produce-${size}-${partitions}`
    case 'txn-consume': return `txn-consume-${size}-${partitions}`
  }
}

function make (kind: ScenarioKind, recordSize: number, acks: number, compression: Codec, partitions: number): Scenario {
  const fields = { kind, recordSize, acks, compression, partitions }
  return { name: scenarioName(fields), ...fields }
}

/** The default set, sized for a small machine: every dimension of the issue, not their full cross product. */
export function defaultScenarios (): Scenario[] {
  return [
    make('produce', 100, 1, 'none', 1),
    make('produce', 100, -1, 'none', 1),
    make('produce', 1024, 1, 'none', 1),
    make('produce', 1024, -1, 'none', 1),
    make('produce', 1024, 1, 'lz4', 1),
    make('produce', 1024, 1, 'zstd', 1),
    make('produce', 100, 1, 'none', 8),
    make('produce', 1024, 1, 'none', 8),
    make('consume', 100, 1, 'none', 1),
    make('consume', 1024, 1, 'none', 8),
    make('e2e', 100, 1, 'none', 1),
    make('group', 100, 1, 'none', 1),
    make('rate', 100, -1, 'none', 1)
  ]
}

/**
 * The rows users compare with Kafka's own Java tools: the Java producer's default request shape, which is one
 * batch of at most batch.size bytes per partition per request with five requests in flight per connection, so at
 * acks=-1 the cost of each request (its fsync) sets the throughput. batch.size is 16 KiB (Java's default) or
 * 256 KiB; linger.ms is the bench's --linger-ms (5, Kafka 4.0's default). kafka-producer-perf-test runs them with
 * batch.size set and Java's other defaults (max.in.flight.requests.per.connection=5, idempotence on with
 * acks=all); rdkafka_performance with batch.size, max.in.flight=5 and idempotence off (see RdkafkaRunner.shapeArgs).
 * Part of the default set; consume-1KiB-1p is the Java consume row (its rate is the fetch rate, see KafkaRunner).
 */
export function javaShapedScenarios (): Scenario[] {
  const shaped = (recordSize: number, acks: number, partitions: number, batchBytes: number): Scenario => {
    const fields = { kind: 'produce' as const, recordSize, acks, compression: 'none' as const, partitions, batchBytes }
    return { name: scenarioName(fields), ...fields }
  }
  return [
    shaped(1024, -1, 1, 16_384),
    shaped(1024, -1, 1, 262_144),
    shaped(1024, 1, 1, 16_384),
    shaped(1024, -1, 8, 16_384),
    shaped(100, -1, 1, 16_384),
    make('consume', 1024, 1, 'none', 1)
  ]
}

/** Records per transaction of the txn-* scenarios (the issue's transactions of 1,000 records). */
export const kRecordsPerTxn = 1000

/**
 * The transaction rows, run with the default set and with the full matrix: 100 B records in transactions of
 * 1,000 on 4 partitions, produced (against idempotent) and consumed read_committed (against read_uncommitted).
 * Kept apart from defaultScenarios() and fullScenarios() (whose rows a 'produce' pattern selects by kind, as
 * test/bench/args.test.ts checks); bench/run.ts appends them to either set, so a plain 'produce' or 'consume'
 * pattern, which matches by substring, picks these rows too, and 'txn-*' picks only them.
 */
export function transactionScenarios (): Scenario[] {
  return [
    { ...make('txn-produce', 100, -1, 'none', 4), recordsPerTxn: kRecordsPerTxn },
    { ...make('txn-consume', 100, -1, 'none', 4), recordsPerTxn: kRecordsPerTxn }
  ]
}

/**
 * The full matrix: sizes x acks x {none, lz4, zstd} x {1, 8} partitions produced, consumed, end to end, grouped,
 * and both sizes at half their maximum rate with acks=-1.
 */
export function fullScenarios (): Scenario[] {
  const scenarios: Scenario[] = []
  for (const partitions of [1, 8]) {
    for (const recordSize of [100, 1024]) {
      for (const acks of [1, -1]) {
        for (const codec of ['none', 'lz4', 'zstd'] as const) scenarios.push(make('produce', recordSize, acks, codec, partitions))
      }
    }
  }
  for (const partitions of [1, 8]) {
    for (const recordSize of [100, 1024]) scenarios.push(make('consume', recordSize, 1, 'none', partitions))
  }
  for (const recordSize of [100, 1024]) {
    scenarios.push(make('e2e', recordSize, 1, 'none', 1))
    scenarios.push(make('e2e', recordSize, -1, 'none', 1))
  }
  scenarios.push(make('group', 100, 1, 'none', 1))
  for (const recordSize of [100, 1024]) scenarios.push(make('rate', recordSize, -1, 'none', 1))
  return scenarios
}

/**
 * What `npm run bench` runs before --scenarios selects: the default set or the full matrix, then the transaction
 * rows and the Java-shaped rows (a row already in the set by name is not repeated).
 */
export function allScenarios (matrix: 'default' | 'full'): Scenario[] {
  const base = matrix === 'full' ? fullScenarios() : defaultScenarios()
  const names = new Set(base.map((scenario) => scenario.name))
  return [...base, ...[...transactionScenarios(), ...javaShapedScenarios()].filter((scenario) => !names.has(scenario.name))]
}

/** `*` matches any run of characters; a pattern without `*` matches names containing it. */
export function matchesPattern (name: string, pattern: string): boolean {
  if (!pattern.includes('*')) return name.includes(pattern)
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${source}$`).test(name)
}

/** The scenarios matching any of the patterns (all of them when there are no patterns), in their order. */
export function selectScenarios (all: readonly Scenario[], patterns: readonly string[]): Scenario[] {
  if (patterns.length === 0) return [...all]
  return all.filter((scenario) => patterns.some((pattern) => matchesPattern(scenario.name, pattern)))
}

/**
 * Records per run: `--records` when given, else sized for about a second or two of work per run on a small
 * machine (larger records, fewer of them); e2e runs are rate-limited, so they get fewer. For rate scenarios this
 * is the flat-out run's count (as produce); the paced run's count follows from the rate found and --rate-seconds.
 */
export function recordsFor (scenario: Scenario, records: number | null): number {
  if (records !== null) return records
  if (scenario.kind === 'e2e') return 20_000
  // The flat-out run of a rate row sets the pace of the next: a run of a second or more keeps one stall from
  // halving it.
  if (scenario.kind === 'rate') return scenario.recordSize <= 256 ? 1_000_000 : 200_000
  return scenario.recordSize <= 256 ? 300_000 : 60_000
}
