// The metrics endpoints of a real broker process (--metrics-listen 127.0.0.1:0, two workers): kafkajs produces
// to a topic spread over both workers and consumes it in a group, and /metrics shows the requests, bytes,
// records, offsets, fsyncs and group lag rise; /healthz and /readyz answer 200 once the broker serves. A worker
// that dies and is restarted takes none of the counts with it.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import kafkajs from '../helpers/kafkajs.ts'
import type { Consumer, Kafka as KafkaClient } from 'kafkajs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { parsePrometheus, sampleSum, hasSample, type PromSample } from './prometheus.ts'

const { Kafka, logLevel, Partitioners } = kafkajs

const kTopic = 'metrics-orders'
const kPartitions = 4
const kRecords = 40
/** Records produced while the group's member is paused: its lag. */
const kLate = 12

describe('metrics endpoint of a running broker', () => {
  let broker: TestBroker
  let base: string
  let kafka: KafkaClient
  let consumer: Consumer | null = null

  const scrape = async (): Promise<PromSample[]> => {
    const response = await fetch(`${base}/metrics`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/)
    return parsePrometheus(await response.text())
  }

  before(async () => {
    // SHOAL_TEST_HOOKS=1: SIGUSR2 terminates worker 1 (the last test).
    broker = await startBroker({ workers: 2, env: { SHOAL_TEST_HOOKS: '1' }, args: ['--metrics-listen', '127.0.0.1:0', '--group-initial-rebalance-delay-ms', '0'] })
    // Printed right after `listening on`; the helper keeps collecting stdout.
    const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
    base = `http://${address[1]}:${address[2]}`
    kafka = new Kafka({ clientId: 'shoal-metrics-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } })
  })

  after(async () => {
    await consumer?.disconnect().catch(() => {})
    await broker?.stop()
  })

  test('/healthz answers 200 and /readyz 200 once the broker serves; other paths 404', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 10_000, '/readyz 200')
    assert.equal((await fetch(`${base}/nothing-here`)).status, 404)
    const samples = await scrape()
    assert.equal(sampleSum(samples, 'shoal_ready'), 1)
    assert.equal(sampleSum(samples, 'shoal_worker_up'), 2)
    assert.ok(hasSample(samples, 'process_resident_memory_bytes'), 'prom-client process metrics')
  })

  test('producing and consuming raise request counts, bytes and records in and out, offsets, fsyncs and show the group caught up', async () => {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: kTopic, numPartitions: kPartitions }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }
    const before = await scrape()

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    try {
      const messages = Array.from({ length: kRecords }, (_, i) => ({ partition: i % kPartitions, key: `k${i}`, value: `value-${i}-${'x'.repeat(100)}` }))
      await producer.send({ topic: kTopic, acks: -1, messages })
    } finally {
      await producer.disconnect()
    }

    consumer = kafka.consumer({ groupId: 'metrics-group', sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 200 })
    await consumer.connect()
    await consumer.subscribe({ topic: kTopic, fromBeginning: true })
    let received = 0
    await consumer.run({ eachMessage: async () => { received++ } })
    await waitFor(() => received >= kRecords, 30_000, `${kRecords} records consumed`)

    // kafkajs commits after each batch; the lag is 0 once every partition's commit is in.
    const samples = (await waitFor(async () => {
      const now = await scrape()
      return sampleSum(now, 'kafka_consumergroup_current_offset', { consumergroup: 'metrics-group', topic: kTopic }) === kRecords ? now : null
    }, 20_000, 'the group\'s commits in /metrics'))!
    assert.equal(sampleSum(samples, 'kafka_consumergroup_lag', { consumergroup: 'metrics-group', topic: kTopic }), 0)
    assert.equal(sampleSum(samples, 'kafka_consumergroup_members', { consumergroup: 'metrics-group' }), 1)

    // The lag moves: records produced while the member is paused show up as lag, and go once it reads them.
    consumer.pause([{ topic: kTopic }])
    const late = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await late.connect()
    try {
      await late.send({ topic: kTopic, acks: -1, messages: Array.from({ length: kLate }, (_, i) => ({ partition: i % kPartitions, value: `late-${i}` })) })
    } finally {
      await late.disconnect()
    }
    const lagged = await scrape()
    assert.equal(sampleSum(lagged, 'kafka_consumergroup_lag', { consumergroup: 'metrics-group', topic: kTopic }), kLate)
    consumer.resume([{ topic: kTopic }])
    await waitFor(async () => sampleSum(await scrape(), 'kafka_consumergroup_lag', { consumergroup: 'metrics-group', topic: kTopic }) === 0,
      20_000, 'the lag back to 0 once the late records are read and committed')

    const rose = (name: string, labels: Record<string, string | number> = {}): number => sampleSum(samples, name, labels) - sampleSum(before, name, labels)
    assert.ok(rose('kafka_network_requestmetrics_requests_total', { request: 'Produce' }) >= 1, 'Produce requests counted')
    assert.ok(rose('kafka_network_requestmetrics_requests_total', { request: 'Fetch' }) >= 1, 'Fetch requests counted')
    assert.ok(rose('kafka_network_requestmetrics_totaltime_seconds_count', { request: 'Produce' }) >= 1, 'Produce latencies observed')
    assert.ok(rose('kafka_network_requestmetrics_requests_total', { request: 'JoinGroup' }) >= 1, 'JoinGroup requests counted')
    assert.ok(samples.some((s) => s.name === 'kafka_network_requestmetrics_requests_total' && s.labels.request === 'Metadata' && /^\d+$/.test(s.labels.version)), 'requests carry their version')
    assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: kTopic }), kRecords)
    const bytesIn = sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: kTopic })
    assert.ok(bytesIn > kRecords * 100, `bytes in ${bytesIn}`)
    assert.ok(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesout_total', { topic: kTopic }) >= bytesIn, 'every batch fetched at least once')
    assert.ok(sampleSum(samples, 'shoal_brokertopicmetrics_messagesout_total', { topic: kTopic }) >= kRecords)
    assert.equal(sampleSum(samples, 'kafka_log_log_logendoffset', { topic: kTopic }), kRecords)
    assert.equal(samples.filter((s) => s.name === 'kafka_log_log_logendoffset' && s.labels.topic === kTopic).length, kPartitions)
    assert.ok(sampleSum(samples, 'kafka_log_log_size', { topic: kTopic }) >= bytesIn)
    assert.ok(rose('kafka_log_logflushstats_logflushtime_seconds_count') >= 1, 'acks=-1 produce fsynced')
    assert.ok(sampleSum(samples, 'kafka_server_socket_server_metrics_connection_count') >= 1)
    assert.ok(sampleSum(samples, 'kafka_server_socket_server_metrics_connection_creation_total') >= 2)
  })

  test('each worker reports its event-loop delay', async () => {
    // Sampled once a second by each worker.
    await waitFor(async () => {
      const samples = await scrape()
      return hasSample(samples, 'shoal_worker_event_loop_delay_seconds', { worker: 0, stat: 'p99' }) &&
        hasSample(samples, 'shoal_worker_event_loop_delay_seconds', { worker: 1, stat: 'p99' })
    }, 10_000, 'event-loop delay of both workers')
  })

  test('a worker that dies and is restarted leaves the counters where they were, and the broker ready again', async () => {
    await consumer?.disconnect()
    consumer = null
    const before = await scrape()
    const messagesIn = sampleSum(before, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: kTopic })
    assert.equal(messagesIn, kRecords + kLate)
    assert.ok(broker.process.kill('SIGUSR2'))
    const after = (await waitFor(async () => {
      const now = await scrape()
      // A scrape that began while worker 1 was down did not ask it: its partitions are back once one asks it.
      const restarted = sampleSum(now, 'shoal_worker_restarts_total') === 1 && sampleSum(now, 'shoal_ready') === 1
      return restarted && sampleSum(now, 'kafka_log_log_logendoffset', { topic: kTopic }) === kRecords + kLate ? now : null
    }, 20_000, 'worker 1 restarted, serving, and reporting its recovered partitions'))!
    assert.equal((await fetch(`${base}/readyz`)).status, 200)
    assert.equal(sampleSum(after, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: kTopic }), messagesIn)
    assert.ok(sampleSum(after, 'kafka_network_requestmetrics_requests_total', { request: 'Produce' }) >= sampleSum(before, 'kafka_network_requestmetrics_requests_total', { request: 'Produce' }))
    assert.equal(sampleSum(after, 'shoal_worker_up'), 2)
  })
})
