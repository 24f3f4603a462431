// The quota scenario's pure parts (bench/lib/quota.ts): reading rdkafka_performance's throttle lines and table,
// the verdicts, the selection and the table. The run itself needs a broker and rdkafka_performance and is the
// bench's (npm run bench -- --scenarios quota).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  freeVerdict, kQuotaBytesPerSec, parseThrottleLines, rateVerdict, renderQuotaTable, selectQuota, steadyBytesPerSec, summarizeThrottle,
  type QuotaResult
} from '../../bench/lib/quota.ts'

// Captured from Debian's librdkafka 2.x rdkafka_performance -P -u against a Shoal broker (cells shortened).
const kOutput = [
  '% Sending 100000000 messages of size 1024 bytes',
  '% THROTTLED 800ms by 127.0.0.1:45829 (1)',
  '% THROTTLED 949ms by 127.0.0.1:45829 (1)',
  '|    elapsed |       msgs |      bytes |        rtt |         dr |     dr_m/s |    dr_MB/s |     dr_err |     tx_err |       outq |     offset ',
  '|       1000 |     110637 |  113292288 |         64 |      10637 |      10632 |      10.89 |          0 |         96 |     100000 |      26108 ',
  '% THROTTLED 1952ms by 127.0.0.1:45829 (1)',
  '|       2000 |     111604 |  114282496 |       1753 |      11604 |       5799 |       5.94 |          0 |        196 |     100000 |      27075 ',
  '|       3002 |     111604 |  114282496 |       1753 |      11604 |       3865 |       3.96 |          0 |        295 |     100000 |      27075 ',
  '% 295 backpressures for 111605 produce calls: 0.264% backpressure rate',
  '|       3009 |      11605 |  114283520 |       1753 |      11604 |       3856 |       3.95 |          0 |        295 |          0 |      27075 '
].join('\n')

test('every THROTTLED line gives its throttle_time_ms; other lines none', () => {
  assert.deepEqual(parseThrottleLines(kOutput), [800, 949, 1952])
  assert.deepEqual(parseThrottleLines('% Sending 10 messages\n|  elapsed |\n'), [])
})

test('the throttle summary: count, average, maximum, total; nulls with none', () => {
  assert.deepEqual(summarizeThrottle([800, 949, 1952]), { count: 3, avgMs: 1233.6666666666667, maxMs: 1952, totalMs: 3701 })
  assert.deepEqual(summarizeThrottle([]), { count: 0, avgMs: null, maxMs: null, totalMs: 0 })
})

test('the rate after the first row: delivered records x record size between the first and the last row', () => {
  // 11604 - 10637 = 967 records in 2.009 s.
  assert.equal(steadyBytesPerSec(kOutput, 1024), 967 * 1024 / 2.009)
  assert.equal(steadyBytesPerSec(kOutput.split('\n').slice(0, 5).join('\n'), 1024), null)
  assert.equal(steadyBytesPerSec('', 1024), null)
})

test('the rate verdict: within ±20% of the quota is met, at the edges too', () => {
  assert.equal(rateVerdict(kQuotaBytesPerSec), 'met')
  assert.equal(rateVerdict(kQuotaBytesPerSec * 0.8), 'met')
  assert.equal(rateVerdict(kQuotaBytesPerSec * 1.2), 'met')
  assert.equal(rateVerdict(kQuotaBytesPerSec * 1.21), 'NOT met')
  assert.equal(rateVerdict(kQuotaBytesPerSec * 0.5), 'NOT met')
  assert.equal(rateVerdict(null), '-')
  assert.equal(rateVerdict(150, 100, 0.5), 'met')
})

test('the free producer verdict: a ratio of at least 0.8 is met', () => {
  assert.equal(freeVerdict(0.8), 'met')
  assert.equal(freeVerdict(1.1), 'met')
  assert.equal(freeVerdict(0.79), 'NOT met')
  assert.equal(freeVerdict(null), '-')
})

test('runs only when named or with --full', () => {
  assert.equal(selectQuota([], 'default'), false)
  assert.equal(selectQuota([], 'full'), true)
  assert.equal(selectQuota(['quota'], 'default'), true)
  assert.equal(selectQuota(['quo*'], 'default'), true)
  assert.equal(selectQuota(['produce-*'], 'full'), false)
})

test('the table shows the rates in MiB/s, the verdicts and the reason', () => {
  const producer = (bytesPerSec: number, throttles: number[]) => ({
    clientId: 'x', topic: 't', bytesPerSec, steadyBytesPerSec: bytesPerSec, delivered: 1, elapsedMs: 10_000, errors: 0, throttle: summarizeThrottle(throttles)
  })
  const result: QuotaResult = {
    target: 'shoal w=1', workers: 1, scenario: 'quota', status: 'partial', reason: 'something short',
    setup: { quotaBytesPerSec: kQuotaBytesPerSec, tolerance: 0.2, freeRatioBound: 0.8, runSeconds: 10, recordBytes: 1024, acks: 1 },
    limited: producer(1_048_576, [500, 1500]), freeWithLimited: producer(90 * 1_048_576, []), freeAlone: producer(100 * 1_048_576, []),
    rateVerdict: 'met', throttleReported: true, freeRatio: 0.9, freeVerdict: 'met', commands: [], brokerSaid: ''
  }
  const table = renderQuotaTable([result])
  const row = table.split('\n').find((line) => line.startsWith('shoal w=1'))!
  assert.match(row, /1\.00 +1\.00 +met +2 +1000 \/ 1500 +90\.00 +100\.00 +0\.90x met +PARTIAL/)
  assert.match(table, /shoal w=1 quota: PARTIAL: something short/)
})
