// The rdkafka_performance output parser, on output captured from librdkafka 2.0.2's example.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  headerFromLine,
  parseLatencyFile,
  parseLibrdkafkaVersion,
  parseRdkafkaPerformance,
  parseRdkafkaSummaryLine,
  parseRdkafkaTable,
  progressFromLine
} from '../../bench/lib/parse-rdkafka.ts'

const kProducerTable = `%4|1795452695.211|CONFWARN|rdkafka#producer-1| [thrd:app]: Configuration property session.timeout.ms is a consumer property and will be ignored by this producer instance
% Sending 20000 messages of size 100 bytes
|    elapsed |       msgs |      bytes |        rtt |         dr |     dr_m/s |    dr_MB/s |     dr_err |     tx_err |       outq |     offset |   lat_curr |    lat_avg |     lat_lo |     lat_hi 
|       1000 |      20000 |    2000000 |          0 |      18164 |      18157 |       1.82 |          0 |          0 |       1836 |      18163 |       6.82 |       9.48 |       6.82 |      11.99 
|       1011 |      20000 |    2000000 |          0 |      20000 |      19779 |       1.98 |          0 |          0 |          0 |      19999 |     999.17 |     100.44 |       6.82 |    1001.47 
`

const kConsumerTable = `|    elapsed |       msgs |      bytes |        rtt |        m/s |       MB/s |     rx_err |     offset 
|          0 |          0 |          0 |          0 |          0 |       0.00 |          0 |          0 
|          4 |      20000 |    2000000 |          0 |    4317789 |     431.78 |          0 |      19999 
% Average application fetch latency: 25us
`

test('the last producer table row is the result, with delivered counts and -l latencies', () => {
  const result = parseRdkafkaPerformance(kProducerTable)
  assert.ok(result !== null)
  assert.equal(result.mode, 'producer')
  assert.equal(result.elapsedMs, 1011)
  assert.equal(result.msgs, 20000)
  assert.equal(result.bytes, 2000000)
  assert.equal(result.delivered, 20000)
  assert.equal(result.msgsPerSec, 19779)
  assert.equal(result.bytesPerSec, 1.98e6)
  assert.equal(result.errors, 0)
  assert.equal(result.txErrors, 0)
  assert.equal(result.outq, 0)
  assert.equal(result.offset, 19999)
  assert.deepEqual(result.latency, { currMs: 999.17, avgMs: 100.44, loMs: 6.82, hiMs: 1001.47 })
})

test('a consumer table gives messages per second and no latency without -l', () => {
  const result = parseRdkafkaPerformance(kConsumerTable)
  assert.ok(result !== null)
  assert.equal(result.mode, 'consumer')
  assert.equal(result.msgs, 20000)
  assert.equal(result.delivered, 20000)
  assert.equal(result.msgsPerSec, 4317789)
  assert.ok(Math.abs(result.bytesPerSec - 431.78e6) < 1)
  assert.equal(result.errors, 0)
  assert.equal(result.txErrors, null)
  assert.equal(result.latency, null)
})

test('a header repeated every 20 rows and rows of another width are handled', () => {
  const header = '|    elapsed |       msgs |      bytes |        rtt |        m/s |       MB/s |     rx_err |     offset '
  const row = (msgs: number): string => `|       ${msgs} |       ${msgs} |      0 |          0 |          1 |       0.00 |          0 |          0 `
  const table = parseRdkafkaTable([header, row(1), '| broken | row', header, row(2), '% done'].join('\n'))
  assert.equal(table.rows.length, 2)
  assert.equal(table.rows[1].msgs, 2)
})

test('summary lines (the output without -u) parse for both modes, the last one winning', () => {
  const produced = parseRdkafkaSummaryLine('% 3000 messages produced (300000 bytes), 3000 delivered (offset 2999, 0 failed) in 7ms: 422773 msgs/s and 42.28 MB/s, 0 produce failures, 0 in queue, no compression')
  assert.deepEqual(produced, {
    mode: 'producer', elapsedMs: 7, msgs: 3000, bytes: 300000, delivered: 3000, msgsPerSec: 422773, bytesPerSec: 42.28e6,
    errors: 0, txErrors: 0, outq: 0, offset: 2999, rttMs: null, latency: null
  })
  const output = '% 0 messages (0 bytes) consumed in 0ms: 0 msgs/s (0.00 MB/s)\n% 3000 messages (300000 bytes) consumed in 0ms: 15384615 msgs/s (1538.46 MB/s)\n% Average application fetch latency: 167us\n'
  const consumed = parseRdkafkaPerformance(output)
  assert.equal(consumed?.mode, 'consumer')
  assert.equal(consumed?.msgs, 3000)
  assert.equal(consumed?.msgsPerSec, 15384615)
  const withLatency = parseRdkafkaSummaryLine('% 500 messages (50000 bytes) consumed in 1000ms: 500 msgs/s (0.05 MB/s), latency curr/avg/lo/hi 1.50/2.25/0.75/9.00ms')
  assert.deepEqual(withLatency?.latency, { currMs: 1.5, avgMs: 2.25, loMs: 0.75, hiMs: 9 })
})

test('output without a result (a group consumer that never got partitions) parses as null', () => {
  assert.equal(parseRdkafkaPerformance('% Waiting for group rebalance..\n'), null)
  assert.equal(parseRdkafkaPerformance(''), null)
})

test('progress comes from rows read one at a time, under the last header seen', () => {
  const lines = kProducerTable.split('\n')
  const header = headerFromLine(lines[2])
  assert.ok(header !== null)
  assert.equal(headerFromLine(lines[3]), null)
  assert.deepEqual(progressFromLine(lines[3], header), { msgs: 18164, elapsedMs: 1000 })
  assert.equal(progressFromLine('% Sending 20000 messages', header), null)
})

test('the librdkafka version comes from the usage text, latencies from the -A file', () => {
  assert.equal(parseLibrdkafkaVersion('Usage: x\n\nlibrdkafka version 2.0.2 (0x020002ff)\n'), '2.0.2')
  assert.equal(parseLibrdkafkaVersion('nothing'), null)
  assert.deepEqual(parseLatencyFile('1500\n250\n\nbogus\n1000000\n'), [1.5, 0.25, 1000])
})
