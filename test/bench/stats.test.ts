// Medians, percentiles, ratios, run aggregation and the micro-benchmark comparison (no timing assertions).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { emptyMetrics, type RunMetrics } from '../../bench/lib/loads.ts'
import { aggregateRuns, computeRatios, primaryRatio, type CaseResult, type RunRecord } from '../../bench/lib/runner.ts'
import {
  formatDuration, formatInteger, formatRatio, median, medianRecord, percentileSorted, ratio, renderTable, summarizeLatencies
} from '../../bench/lib/stats.ts'
import { describeChange, renderMicroTable } from '../../bench/micro.ts'

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

test('ratios: throughput for produce and consume, inverted p50 latency for e2e', () => {
  assert.equal(primaryRatio('produce', metrics(50), metrics(200)), 0.25)
  assert.equal(primaryRatio('e2e', metrics(0, 4), metrics(0, 1)), 0.25)
  assert.equal(primaryRatio('consume', null, metrics(1)), null)
})

function caseOf (targetKind: CaseResult['targetKind'], kind: CaseResult['kind'], value: RunMetrics): CaseResult {
  return {
    target: targetKind, targetKind, workers: null, scenario: `${kind}-x`, kind, recordSize: 100, acks: 1, compression: 'none',
    partitions: 1, tool: 'rdkafka', records: 1, status: 'ok', reason: null, note: null, median: value, rss: null,
    ratio: { ceiling: null, against: null }, runs: []
  }
}

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
