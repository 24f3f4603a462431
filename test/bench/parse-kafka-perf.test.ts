// The Apache Kafka perf tool parsers, on lines in the formats of ProducerPerformance and ConsumerPerformance.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseKafkaConsumerOutput, parseKafkaProducerLine, parseKafkaProducerOutput } from '../../bench/lib/parse-kafka-perf.ts'
import { kafkaConsumerMetrics } from '../../bench/lib/loads.ts'

const kMiB = 1024 * 1024

test('the producer total line gives rates, latencies and percentiles', () => {
  const result = parseKafkaProducerLine('1000000 records sent, 253485.424588 records/sec (24.17 MB/sec), 1121.36 ms avg latency, 1623.00 ms max latency, 1117 ms 50th, 1588 ms 95th, 1615 ms 99th, 1622 ms 99.9th.')
  assert.deepEqual(result, {
    records: 1000000,
    recordsPerSec: 253485.424588,
    mbPerSec: 24.17,
    bytesPerSec: 24.17 * kMiB,
    avgLatencyMs: 1121.36,
    maxLatencyMs: 1623,
    p50Ms: 1117,
    p95Ms: 1588,
    p99Ms: 1615,
    p999Ms: 1622
  })
})

test('window lines parse without percentiles; the output result is the total line', () => {
  const window = parseKafkaProducerLine('549228 records sent, 109538.9 records/sec (10.45 MB/sec), 2754.9 ms avg latency, 2818.0 ms max latency.')
  assert.ok(window !== null)
  assert.equal('p50Ms' in window, false)
  assert.equal(window.recordsPerSec, 109538.9)
  const output = [
    '549228 records sent, 109538.9 records/sec (10.45 MB/sec), 2754.9 ms avg latency, 2818.0 ms max latency.',
    '[2024-01-01 00:00:00,000] WARN something (org.apache.kafka.clients.NetworkClient)',
    '5000000 records sent, 108934.835182 records/sec (10.39 MB/sec), 2662.82 ms avg latency, 2892.00 ms max latency, 2785 ms 50th, 2809 ms 95th, 2840 ms 99th, 2890 ms 99.9th.',
    ''
  ].join('\n')
  const total = parseKafkaProducerOutput(output)
  assert.equal(total?.records, 5000000)
  assert.equal(total?.p999Ms, 2890)
  assert.equal(parseKafkaProducerOutput(output.split('\n')[0]), null)
  assert.equal(parseKafkaProducerLine('org.apache.kafka.common.errors.TimeoutException: Topic t not present'), null)
})

test('the consumer line is read by its header columns', () => {
  const output = [
    'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
    '2024-06-27 09:44:58:834, 2024-06-27 09:45:07:905, 953.6911, 105.1363, 10000176, 1102433.6898, 3411, 5660, 168.4967, 1766815.5477',
    ''
  ].join('\n')
  assert.deepEqual(parseKafkaConsumerOutput(output), {
    startTime: '2024-06-27 09:44:58:834',
    endTime: '2024-06-27 09:45:07:905',
    mb: 953.6911,
    mbPerSec: 105.1363,
    bytesPerSec: 105.1363 * kMiB,
    records: 10000176,
    recordsPerSec: 1102433.6898,
    rebalanceMs: 3411,
    fetchMs: 5660,
    fetchMbPerSec: 168.4967,
    fetchRecordsPerSec: 1766815.5477,
    timedOut: false
  })
})

test('a consumer that gave up on its timeout is flagged; older six-column output and a hidden header parse', () => {
  const timedOut = parseKafkaConsumerOutput([
    'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
    'WARNING: Exiting before consuming the expected number of messages: timeout (10000 ms) exceeded. You can use the --timeout option to increase the timeout.',
    '2026-10-07 18:45:03:329, 2026-10-07 18:45:06:880, 9.5682, 2.6945, 50165, 14127.0065, 3314, 237, 40.3722, 211666.6667'
  ].join('\n'))
  assert.equal(timedOut?.timedOut, true)
  assert.equal(timedOut?.records, 50165)
  const old = parseKafkaConsumerOutput('start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec\n2019-01-01 00:00:00:000, 2019-01-01 00:00:01:000, 1.0000, 1.0000, 10000, 10000.0000\n')
  assert.equal(old?.recordsPerSec, 10000)
  assert.equal(old?.rebalanceMs, null)
  const hidden = parseKafkaConsumerOutput('2023-03-30 13:18:56:066, 2023-03-30 13:19:11:826, 0.9766, 0.0620, 1000, 63.4518, 6219, 9541, 0.1024, 104.8108\n')
  assert.equal(hidden?.fetchMs, 9541)
  assert.equal(parseKafkaConsumerOutput('Exception in thread "main" org.apache.kafka.common.errors.TimeoutException'), null)
})

test("a consume row's rate is the fetch rate, the group's join left out, where the tool prints it", () => {
  const result = parseKafkaConsumerOutput('2024-06-27 09:44:58:834, 2024-06-27 09:45:07:905, 953.6911, 105.1363, 10000176, 1102433.6898, 3411, 5660, 168.4967, 1766815.5477\n')!
  const { metrics, note } = kafkaConsumerMetrics(result)
  assert.equal(metrics.msgsPerSec, 1766815.5477)
  assert.equal(metrics.bytesPerSec, 168.4967 * kMiB)
  assert.equal(metrics.elapsedMs, 5660)
  assert.equal(metrics.records, 10000176)
  assert.match(note, /fetch rate .*3411 ms.*1102434 msg\/s/)
  // No fetch columns (or a zero fetch rate): the overall rate, said so.
  const overall = kafkaConsumerMetrics({ ...result, fetchMs: null, fetchMbPerSec: null, fetchRecordsPerSec: null })
  assert.equal(overall.metrics.msgsPerSec, 1102433.6898)
  assert.equal(overall.metrics.bytesPerSec, 105.1363 * kMiB)
  assert.match(overall.note, /overall rate/)
})
