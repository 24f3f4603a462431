// A real client across connection moves (src/net/connection.ts, "Moving a connection"): confluent-kafka-python
// (librdkafka, idempotent, 5 requests in flight) produces to one partition and then the other of a topic
// whose two partitions live on different workers, then reads each back alone; the client side is
// test/interop/fixtures/connection-move.py. Whichever phase goes to the other worker than the connection's
// moves it there. Every record arrives once, in order, with no delivery error, and the broker counts the moves.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, KafkaClient } from '../helpers/kafka-client.ts'
import { parsePrometheus, sampleSum } from '../metrics/prometheus.ts'
import { run } from './processes.ts'

const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kScript = fileURLToPath(new URL('fixtures/connection-move.py', import.meta.url))
const kCount = 4000

let broker: TestBroker
before(async () => {
  broker = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0', '--connection-move-after-requests', '16'] })
})
after(() => broker.stop())

test('confluent-kafka-python produces and consumes across connection moves: every record once, in order', async (t) => {
  const admin = await KafkaClient.to(broker.bootstrap)
  try {
    await createTopic(admin, 'moving', 2)
  } finally {
    admin.close()
  }
  const { stdout } = await run(kPython, [kScript, broker.bootstrap, 'moving', String(kCount)], { timeoutMs: 120_000 })
  const result = JSON.parse(stdout) as { failed: string[], failures: number, partitions: Array<{ count: number, in_order: boolean, first_error: string | null }> }
  assert.equal(result.failures, 0, `delivery errors: ${result.failed.join('; ')}`)
  assert.deepEqual(result.partitions, [{ count: kCount, in_order: true, first_error: null }, { count: kCount, in_order: true, first_error: null }])
  const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
  const metrics = parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text())
  t.diagnostic(`connections moved: ${sampleSum(metrics, 'shoal_connections_moved_in_total')}, mid-frame: ${sampleSum(metrics, 'shoal_connection_moves_mid_frame_total')}, timed out: ${sampleSum(metrics, 'shoal_connection_moves_timed_out_total')}`)
  assert.ok(sampleSum(metrics, 'shoal_connections_moved_in_total') >= 1, 'at least the producer\'s connection moved')
  assert.equal(sampleSum(metrics, 'shoal_connections_moved_in_total'), sampleSum(metrics, 'shoal_connections_moved_out_total'))
  assert.doesNotMatch(broker.output(), /ERROR|cannot move/)
})
