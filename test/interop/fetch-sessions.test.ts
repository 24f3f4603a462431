// KIP-227 incremental fetch sessions with a real client. The confluent-kafka consumer behind /usr/bin/python3
// (librdkafka 2.0.2) does not use fetch sessions: its Fetch requests always carry session id 0 and epoch -1
// (FINAL, sessionless) and an empty forgotten-topics list (rdkafka_fetcher.c, "Broker use only - not used by the
// consumer"), and kafkajs sends the same; so the client here is @platformatic/kafka 2.x, whose consumer opens a
// session with epoch 0 and then sends only changed partitions. A group consumer of 200 partitions (over two
// workers) reads everything produced, and the broker's counters (/metrics) show its fetches were incremental.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { parsePrometheus, sampleSum } from '../metrics/prometheus.ts'

const kTopic = 'sessions-200'
const kPartitions = 200

describe('fetch sessions with @platformatic/kafka', () => {
  let broker: TestBroker
  let base: string

  const counter = async (name: string): Promise<number> =>
    sampleSum(parsePrometheus(await (await fetch(`${base}/metrics`)).text()), name)

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0', '--group-initial-rebalance-delay-ms', '0'] })
    const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
    base = `http://${address[1]}:${address[2]}`
  })

  after(async () => {
    await broker?.stop()
  })

  test('a consumer of 200 partitions uses incremental fetches (counted by the broker)', { timeout: 60_000 }, async () => {
    const options = { bootstrapBrokers: [broker.bootstrap], retries: 5, retryDelay: 100 }
    const admin = new Admin({ ...options, clientId: 'sessions-admin' })
    const producer = new Producer({ ...options, clientId: 'sessions-producer', serializers: stringSerializers })
    const consumer = new Consumer({ ...options, clientId: 'sessions-consumer', groupId: 'sessions-group', deserializers: stringDeserializers, sessionTimeout: 10_000, heartbeatInterval: 500 })
    const errors: Error[] = []
    consumer.on('error', (error: Error) => errors.push(error))
    try {
      await admin.createTopics({ topics: [kTopic], partitions: kPartitions, replicas: 1 })
      // One record in every partition, then more in a few while the consumer reads.
      await producer.send({ messages: Array.from({ length: kPartitions }, (_, partition) => ({ topic: kTopic, partition, value: `first-${partition}` })) })
      const seen = new Set<string>()
      const stream = await consumer.consume({ topics: [kTopic], mode: 'earliest', autocommit: false, maxWaitTime: 200 })
      stream.on('error', (error: Error) => errors.push(error))
      stream.on('data', (message) => { seen.add(message.value as string) })
      await waitFor(() => seen.size === kPartitions, 30_000, 'the first record of every partition')
      for (const partition of [7, 100, 199]) await producer.send({ messages: [{ topic: kTopic, partition, value: `later-${partition}` }] })
      await waitFor(() => seen.size === kPartitions + 3, 30_000, 'the later records')
      await stream.close()
      assert.deepEqual(errors, [])
      // The counters reach /metrics with the workers' next snapshot. The first fetch is a full one (200
      // partitions) that opens the session; the fetch after it, listing only the partitions whose offsets moved,
      // and the ones that bring the later records are incremental. How many there are depends on timing.
      await waitFor(async () => await counter('shoal_fetch_sessions_created_total') >= 1 &&
        await counter('shoal_fetch_requests_incremental_total') >= 2, 20_000, 'incremental fetches counted')
      assert.ok(await counter('shoal_fetch_requests_incremental_total') >= await counter('shoal_fetch_requests_full_total'))
      assert.equal(await counter('shoal_fetch_session_errors_total'), 0)
    } finally {
      await Promise.allSettled([consumer.close(), producer.close(), admin.close()])
    }
  })
})
