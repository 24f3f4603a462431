// Medians, percentiles, ratios, run aggregation and the micro-benchmark comparison (no timing assertions).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { emptyMetrics, rdkafkaPaceRate, rdkafkaRateGapMicros, type RunMetrics } from '../../bench/lib/loads.ts'
import { aggregateRuns, computeRatios, primaryRatio, type CaseResult, type RunRecord } from '../../bench/lib/runner.ts'
import {
  formatDuration, formatInteger, formatRatio, median, medianRecord, percentileSorted, ratio, renderTable, summarizeLatencies
} from '../../bench/lib/stats.ts'
import { describeChange, renderMicroTable } from '../../bench/micro.ts'
import { pacingText } from '../../bench/lib/report.ts'

test('median of odd and even counts, ignoring missing values', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.equal(median([5, null, undefined, Number.NaN]), 5)
  assert.equal(median([]), null)
  assert.equal(median([null]), null)
})

test('nearest-rank percentiles and a latency summary', () => {
  const sorted = Array.from({ length: 1000 }, (_, index) => index + 1)
  assert.equal(percentileSorted(sorted, 50), 500)
  assert.equal(percentileSorted(sorted, 99), 990)
  assert.equal(percentileSorted(sorted, 99.9), 999)
  assert.equal(percentileSorted(sorted, 100), 1000)
  assert.equal(percentileSorted([], 50), null)
  assert.deepEqual(summarizeLatencies([4, 1, 3, 2]), { count: 4, avg: 2.5, min: 1, max: 4, p50: 2, p95: 4, p99: 4, p999: 4 })
  assert.equal(summarizeLatencies([]), null)
})

test('ratio needs two numbers and a positive reference', () => {
  assert.equal(ratio(50, 200), 0.25)
  assert.equal(ratio(1, 0), null)
  assert.equal(ratio(null, 2), null)
  assert.equal(ratio(2, undefined), null)
})

test('medianRecord takes the median per key', () => {
  assert.deepEqual(medianRecord<'a' | 'b'>([{ a: 1, b: null }, { a: 3, b: 10 }, { a: 2, b: 20 }]), { a: 2, b: 15 })
})

test('formatting', () => {
  assert.equal(formatInteger(1234567.8), '1,234,568')
  assert.equal(formatInteger(null), '-')
  assert.equal(formatRatio(0.4234), '0.42x')
  assert.equal(formatRatio(12.34), '12.3x')
  assert.equal(formatDuration(812), '812 ns')
  assert.equal(formatDuration(12_345), '12.3 us')
  assert.equal(formatDuration(4_560_000), '4.56 ms')
  const table = renderTable(['name', 'n'], [['a', '1'], ['bbb', '22']], new Set([1]))
  assert.deepEqual(table.split('\n'), ['name   n', '----  --', 'a      1', 'bbb   22'])
})

function metrics (msgsPerSec: number, p50: number | null = null): RunMetrics {
  return { ...emptyMetrics(), msgsPerSec, latP50Ms: p50 }
}

function run (status: RunRecord['status'], value: number | null, rss: [number, number, number] | null = null): RunRecord {
  return {
    status,
    reason: status === 'ok' ? null : 'why',
    metrics: value === null ? null : metrics(value),
    commands: [],
    rss: rss === null ? null : { startBytes: rss[0], endBytes: rss[1], maxBytes: rss[2], samples: 3 }
  }
}

test('runs aggregate to medians of the measured ones, RSS from first start to last end', () => {
  const all = aggregateRuns([run('ok', 100, [10, 20, 30]), run('ok', 300, [20, 25, 50]), run('ok', 200, [25, 40, 45])])
  assert.equal(all.status, 'ok')
  assert.equal(all.median?.msgsPerSec, 200)
  assert.deepEqual(all.rss, { startBytes: 10, endBytes: 40, maxBytes: 50 })
  const some = aggregateRuns([run('failed', null), run('partial', 50), run('ok', 150)])
  assert.equal(some.status, 'partial')
  assert.equal(some.reason, 'why')
  assert.equal(some.median?.msgsPerSec, 100)
  const none = aggregateRuns([run('failed', null)])
  assert.equal(none.status, 'failed')
  assert.equal(none.median, null)
  assert.equal(none.rss, null)
})

test('ratios: throughput for produce and consume, inverted p50 latency for e2e, inverted p99 latency for rate', () => {
  assert.equal(primaryRatio('produce', metrics(50), metrics(200)), 0.25)
  assert.equal(primaryRatio('e2e', metrics(0, 4), metrics(0, 1)), 0.25)
  assert.equal(primaryRatio('consume', null, metrics(1)), null)
  // A rate row's throughput is half of its own target's maximum: only the p99 latency counts.
  const shoal = { ...metrics(500_000, 1), latP99Ms: 20 }
  const ceiling = { ...metrics(600_000, 1), latP99Ms: 5 }
  assert.equal(primaryRatio('rate', shoal, ceiling), 0.25)
  assert.equal(primaryRatio('rate', metrics(1), ceiling), null)
})

test('rate runs aggregate their pacing to medians, from the runs that did not fail', () => {
  const paced = (status: RunRecord['status'], maxMsgsPerSec: number): RunRecord =>
    ({ ...run(status, status === 'failed' ? null : maxMsgsPerSec / 2), pacing: { maxMsgsPerSec, requestedMsgsPerSec: maxMsgsPerSec / 2, toolRate: maxMsgsPerSec / 2, lingerMs: 1, diskWatch: null } })
  const all = aggregateRuns([paced('ok', 1000), paced('ok', 3000), paced('failed', 9000), paced('ok', 2000)])
  assert.deepEqual(all.pacing, { maxMsgsPerSec: 2000, requestedMsgsPerSec: 1000, toolRate: 1000, lingerMs: 1, diskWatch: null })
  assert.equal(aggregateRuns([run('ok', 1)]).pacing, null)
})

test('a rate row is described with its maximum, requested and achieved rates and its latency percentiles', () => {
  const result = caseOf('shoal', 'rate', { ...metrics(498_000, 1.5), latP95Ms: 2, latP99Ms: 3, latP999Ms: 40, latMaxMs: 900 })
  assert.equal(pacingText(result), null)
  result.pacing = { maxMsgsPerSec: 1_140_000, requestedMsgsPerSec: 570_000, toolRate: 570_000, lingerMs: 1, diskWatch: null }
  assert.equal(pacingText(result), 'max 1,140,000 msg/s flat out; paced at 570,000 msg/s (-r 570000: a 1 us gap after each produce call; ' +
    'linger.ms=1), achieved 498,000 (0.44 of max); latency ms p50 1.50, p95 2.00, p99 3.00, p99.9 40.00, max 900.00')
  result.tool = 'kafka'
  assert.match(pacingText(result)!, /\(--throughput 570000; linger\.ms=1\)/)
})

test('rdkafka_performance -r: a gap of whole microseconds after each produce call, never 0', () => {
  assert.equal(rdkafkaRateGapMicros(5000), 200)
  assert.equal(rdkafkaRateGapMicros(291_797), 3)
  assert.equal(rdkafkaRateGapMicros(570_000), 1)
  assert.equal(rdkafkaRateGapMicros(1_005_470), 0)
  assert.equal(rdkafkaPaceRate(570_000), 570_000)
  assert.equal(rdkafkaPaceRate(1_000_000), 1_000_000)
  assert.equal(rdkafkaPaceRate(1_005_470), 1_000_000)
})

function caseOf (targetKind: CaseResult['targetKind'], kind: CaseResult['kind'], value: RunMetrics): CaseResult {
  return {
    target: targetKind, targetKind, workers: null, scenario: `${kind}-x`, kind, recordSize: 100, acks: 1, compression: 'none',
    partitions: 1, tool: 'rdkafka', records: 1, status: 'ok', reason: null, note: null, pacing: null, median: value, rss: null,
    ratio: { ceiling: null, against: null }, runs: []
  }
}

test('computeRatios gives rate rows the inverted p99 ratio against the ceiling', () => {
  const ceiling = caseOf('ceiling', 'rate', { ...metrics(600_000), latP99Ms: 2 })
  ceiling.pacing = { maxMsgsPerSec: 1_200_000, requestedMsgsPerSec: 600_000, toolRate: 600_000, lingerMs: 1, diskWatch: null }
  const shoal = caseOf('shoal', 'rate', { ...metrics(500_000), latP99Ms: 8 })
  computeRatios([ceiling, shoal])
  assert.deepEqual(shoal.ratio, { ceiling: 0.25, against: null })
})

test('computeRatios compares Shoal with the ceiling and --against, except where the mock is not comparable', () => {
  const cases = [caseOf('ceiling', 'produce', metrics(400)), caseOf('against', 'produce', metrics(100)), caseOf('shoal', 'produce', metrics(200)),
    caseOf('ceiling', 'e2e', metrics(1, 250)), caseOf('shoal', 'e2e', metrics(1, 2))]
  const partial = caseOf('ceiling', 'consume', metrics(10))
  partial.note = 'the mock kept 10 of 20 records'
  cases.push(partial, caseOf('shoal', 'consume', metrics(100)))
  computeRatios(cases)
  assert.deepEqual(cases[2].ratio, { ceiling: 0.5, against: 2 })
  assert.deepEqual(cases[6].ratio, { ceiling: null, against: null })
  assert.deepEqual(cases[1].ratio, { ceiling: 0.25, against: null })
  assert.deepEqual(cases[4].ratio, { ceiling: null, against: null })
})

test('the micro-benchmark comparison column', () => {
  assert.equal(describeChange(1.2), '1.20x slower')
  assert.equal(describeChange(0.5), '0.50x faster')
  assert.equal(describeChange(1.01), '1.01x ~same')
  assert.equal(describeChange(null), '-')
  const stats = { medianNs: 2000, avgNs: 2100, p99Ns: 5000, minNs: 1900, ops: 1000, bytesPerOp: 1024 }
  const table = renderMicroTable({ 'ring/x': stats }, {
    schema: 'shoal-bench/micro/1', date: '2026-01-01', git: { commit: null, dirty: null },
    machine: { cores: 2, logicalCpus: 2, cpuModel: null, totalMemoryBytes: 1, os: 'Linux', arch: 'x64', node: 'v26', loadAverage: null },
    results: { 'ring/x': { ...stats, medianNs: 1000 } }
  })
  assert.match(table, /ring\/x .* 2\.00x slower/)
})
