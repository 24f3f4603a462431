// Quota enforcement on a real broker, with short windows (--quota-window-num 2 --quota-window-size-seconds 1,
// so a rate is taken over at least one second): a producer above producer_byte_rate gets throttle_time_ms > 0
// (bounded by Kafka's formula) and its connection is not read until the throttle has passed; a consumer above
// consumer_byte_rate gets an empty throttled response and its data once the rate allows; controller_mutation_rate
// refuses CreateTopics (v6+) and DeleteTopics (v5+) topics with THROTTLING_QUOTA_EXCEEDED and lets older
// versions through, throttled; request_percentage throttles a client using more than its share of the worker.
// Nothing here asserts on elapsed time: the mute is shown by the broker's
// counters (a request sent after a throttled response is answered only after the unmute was counted).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { parsePrometheus, sampleSum } from '../metrics/prometheus.ts'

const kQuotaBytes = 10_000

function setQuota (client: KafkaClient, entity: Record<string, string | null>, key: string, value: number): Promise<any> {
  return client.request(49, 1, {
    entries: [{ entity: Object.entries(entity).map(([entityType, entityName]) => ({ entityType, entityName })), ops: [{ key, value, remove: false }] }],
    validateOnly: false
  })
}

function batchOf (bytes: number): Buffer {
  return buildRecordBatch([{ key: null, value: Buffer.alloc(bytes, 'q') }])
}

describe('client quota enforcement', () => {
  let broker: TestBroker
  let admin: KafkaClient
  let counter: (name: string) => Promise<number>

  before(async () => {
    // SHOAL_TEST_HOOKS: a client id `__shoal_test_principal__:NAME` makes the connection User:NAME (until SASL).
    broker = await startBroker({ workers: 1, env: { SHOAL_TEST_HOOKS: '1' }, args: ['--metrics-listen', '127.0.0.1:0', '--quota-window-num', '2', '--quota-window-size-seconds', '1'] })
    const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
    counter = async (name: string) => sampleSum(parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text()), name)
    admin = await KafkaClient.connect(broker.host, broker.port, 'quota-admin')
    await createTopic(admin, 'quota-topic', 1)
    for (const [entity, key, value] of [
      [{ 'client-id': 'fast-producer' }, 'producer_byte_rate', kQuotaBytes],
      [{ 'client-id': 'fast-consumer' }, 'consumer_byte_rate', kQuotaBytes],
      [{ 'client-id': null }, 'controller_mutation_rate', 1]
    ] as Array<[Record<string, string | null>, string, number]>) {
      const response = await setQuota(admin, entity, key, value)
      assert.equal(response.entries[0].errorCode, ErrorCode.NONE)
    }
  })
  after(async () => {
    admin?.close()
    await broker?.stop()
  })

  test('a producer above producer_byte_rate is throttled by Kafka\'s formula and not read until the throttle has passed', async (t) => {
    const producer = await KafkaClient.connect(broker.host, broker.port, 'fast-producer')
    t.after(() => producer.close())
    const batch = batchOf(15_000)
    const response = await producer.request(0, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'quota-topic', partitionData: [{ index: 0, records: batch }] }] })
    assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
    const throttle: number = response.throttleTimeMs
    // (O - T) / T * W with O = bytes / W and W at least one window: at most bytes / T windows less one window.
    const requestBytes = batch.length + 100
    assert.ok(throttle > 0, `throttle_time_ms ${throttle}`)
    assert.ok(throttle <= Math.round(requestBytes * 1000 / kQuotaBytes) - 1000 + 100, `throttle_time_ms ${throttle}`)
    assert.equal(await counter('shoal_quota_connections_muted_total'), 1)
    // The next request on this connection is read only once the mute has ended.
    const versions = await producer.request(18, 3, { clientSoftwareName: 'quota-test', clientSoftwareVersion: '1' })
    assert.equal(versions.errorCode, ErrorCode.NONE)
    assert.equal(await counter('shoal_quota_connections_unmuted_total'), 1)
    // Another client id has no quota: never throttled.
    const other = await KafkaClient.connect(broker.host, broker.port, 'unlimited')
    t.after(() => other.close())
    const free = await other.request(0, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'quota-topic', partitionData: [{ index: 0, records: batchOf(15_000) }] }] })
    assert.equal(free.throttleTimeMs, 0)
  })

  test('a consumer above consumer_byte_rate gets an empty throttled response, then its records once the rate allows', async (t) => {
    await createTopic(admin, 'quota-fetch', 1)
    for (let i = 0; i < 3; i++) assert.equal((await produce(admin, 'quota-fetch', 0, batchOf(4_500))).errorCode, ErrorCode.NONE)
    const consumer = await KafkaClient.connect(broker.host, broker.port, 'fast-consumer')
    t.after(() => consumer.close())
    const fetchFrom = (offset: number): Promise<any> => consumer.request(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'quota-fetch', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    // The fetch is bounded by one quota window of bytes: two of the three batches, within the quota.
    const first = await fetchFrom(0)
    assert.equal(first.throttleTimeMs, 0)
    const firstBytes = first.responses[0].partitions[0].records.length
    assert.ok(firstBytes > 0 && firstBytes <= kQuotaBytes, `${firstBytes} bytes`)
    // The rest goes above the rate: answered empty with a throttle, until the windows have room again.
    let throttled = 0
    const rest = await waitFor(async () => {
      const response = await fetchFrom(2)
      if (response.throttleTimeMs > 0) {
        throttled++
        assert.deepEqual(response.responses, [])
        return null
      }
      return response
    }, 20_000, 'the throttled records')
    assert.ok(throttled > 0)
    assert.ok(rest!.responses[0].partitions[0].records.length > 0)
  })

  test('request_percentage throttles a client whose requests take more of the worker than its share, capped at one window', async (t) => {
    assert.equal((await setQuota(admin, { 'client-id': 'cpu-hog' }, 'request_percentage', 0.0001)).entries[0].errorCode, ErrorCode.NONE)
    const hog = await KafkaClient.connect(broker.host, broker.port, 'cpu-hog')
    t.after(() => hog.close())
    const metadata = await hog.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    assert.ok(metadata.throttleTimeMs > 0 && metadata.throttleTimeMs <= 1000, `throttle_time_ms ${metadata.throttleTimeMs}`)
    // Others are not throttled.
    const other = await admin.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    assert.equal(other.throttleTimeMs, 0)
  })

  test('controller_mutation_rate refuses CreateTopics v6+ and DeleteTopics v5+ topics once the bucket is spent, and only throttles older versions', async (t) => {
    // The burst is samples * window * rate = 2 partitions; 5 overdraw it, so the next topic is refused.
    const strict = await KafkaClient.connect(broker.host, broker.port, 'admin-strict')
    t.after(() => strict.close())
    const topic = (name: string, partitions: number) => ({ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] })
    const created = await strict.request(19, 7, { topics: [topic('mutation-a', 5), topic('mutation-b', 1)], timeoutMs: 10_000, validateOnly: false })
    const codes = new Map(created.topics.map((t: any) => [t.name, t.errorCode]))
    assert.equal(codes.get('mutation-a'), ErrorCode.NONE)
    assert.equal(codes.get('mutation-b'), ErrorCode.THROTTLING_QUOTA_EXCEEDED)
    assert.ok(created.throttleTimeMs > 0)
    assert.equal(created.topics.find((t: any) => t.name === 'mutation-b').errorMessage, 'The throttling quota has been exceeded.')

    // v5 is permissive: every topic is created, and the response carries the throttle.
    const permissive = await KafkaClient.connect(broker.host, broker.port, 'admin-permissive')
    t.after(() => permissive.close())
    const old = await permissive.request(19, 5, { topics: [topic('mutation-c', 5), topic('mutation-d', 1)], timeoutMs: 10_000, validateOnly: false })
    assert.deepEqual(old.topics.map((t: any) => t.errorCode), [ErrorCode.NONE, ErrorCode.NONE])
    assert.ok(old.throttleTimeMs > 0)

    // DeleteTopics v6 (strict): the 5-partition topic spends the bucket, the next one is refused.
    const deleter = await KafkaClient.connect(broker.host, broker.port, 'admin-delete')
    t.after(() => deleter.close())
    const deleted = await deleter.request(20, 6, { topics: [{ name: 'mutation-c', topicId: '0'.repeat(32) }, { name: 'mutation-d', topicId: '0'.repeat(32) }], timeoutMs: 10_000 })
    const deleteCodes = new Map(deleted.responses.map((r: any) => [r.name, r.errorCode]))
    assert.equal(deleteCodes.get('mutation-c'), ErrorCode.NONE)
    assert.equal(deleteCodes.get('mutation-d'), ErrorCode.THROTTLING_QUOTA_EXCEEDED)
    assert.ok(deleted.throttleTimeMs > 0)
  })

  test('a user quota applies to the connection\'s principal, whatever its client id', async (t) => {
    assert.equal((await setQuota(admin, { user: 'alice' }, 'producer_byte_rate', kQuotaBytes)).entries[0].errorCode, ErrorCode.NONE)
    const produceAs = async (clientId: string): Promise<number> => {
      const client = await KafkaClient.connect(broker.host, broker.port, clientId)
      t.after(() => client.close())
      const response = await client.request(0, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'quota-topic', partitionData: [{ index: 0, records: batchOf(15_000) }] }] })
      assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
      return response.throttleTimeMs
    }
    assert.ok(await produceAs('__shoal_test_principal__:alice') > 0)
    assert.equal(await produceAs('anonymous-producer'), 0)
  })
})

describe('client quotas across workers', () => {
  let broker: TestBroker
  let metric: (name: string) => Promise<number>

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0', '--quota-window-num', '2', '--quota-window-size-seconds', '1'] })
    const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
    metric = async (name: string) => sampleSum(parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text()), name)
  })
  after(async () => {
    await broker?.stop()
  })

  test('one client id on connections of both workers is held to its quotas together, as on one Kafka broker', async (t) => {
    const admin = await KafkaClient.connect(broker.host, broker.port, 'quota-admin')
    await createTopic(admin, 'shared-quota', 1)
    assert.equal((await setQuota(admin, { 'client-id': 'shared-producer' }, 'producer_byte_rate', kQuotaBytes)).entries[0].errorCode, ErrorCode.NONE)
    assert.equal((await setQuota(admin, { 'client-id': 'shared-producer' }, 'controller_mutation_rate', 1)).entries[0].errorCode, ErrorCode.NONE)
    admin.close()
    // With no connection open, the acceptor (least connections first) gives the next two one worker each.
    await waitFor(async () => await metric('kafka_server_socket_server_metrics_connection_count') === 0, 10_000, 'the admin connection to close')
    const first = await KafkaClient.connect(broker.host, broker.port, 'shared-producer')
    const second = await KafkaClient.connect(broker.host, broker.port, 'shared-producer')
    t.after(() => { first.close(); second.close() })
    const produceOn = async (client: KafkaClient): Promise<number> => {
      const response = await client.request(0, 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'shared-quota', partitionData: [{ index: 0, records: batchOf(8000) }] }] })
      assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
      return response.throttleTimeMs
    }
    // 8 KB against 10 KB/s over a one-second window: within the quota on its own...
    assert.equal(await produceOn(first), 0)
    // ...and once the first worker has shared its rate, the second connection's 8 KB on the other worker is not.
    await waitFor(async () => await metric('shoal_quota_rate_shares_received_total') > 0, 10_000, 'a worker to hear the other\'s quota rates')
    assert.ok(await produceOn(second) > 0, 'the second connection was not throttled: the workers did not share the rate')

    // controller_mutation_rate 1/s (a bucket of 2 permits): the first connection's 5-partition topic empties it; once
    // that is shared, the second connection's CreateTopics v6 (strict) is refused on the other worker. The probe
    // asks for 0 partitions: it spends nothing and creates nothing (the controller refuses it, INVALID_PARTITIONS)
    // while the second worker's bucket is still full, so it can be sent until the share has arrived.
    const topic = (name: string, partitions: number) => ({ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] })
    const spent = await first.request(19, 6, { topics: [topic('shared-mutation-a', 5)], timeoutMs: 10_000, validateOnly: false })
    assert.equal(spent.topics[0].errorCode, ErrorCode.NONE)
    let refused: any
    await waitFor(async () => {
      refused = await second.request(19, 6, { topics: [topic('shared-mutation-probe', 0)], timeoutMs: 10_000, validateOnly: false })
      assert.ok([ErrorCode.INVALID_PARTITIONS, ErrorCode.THROTTLING_QUOTA_EXCEEDED].includes(refused.topics[0].errorCode), `CreateTopics answered ${refused.topics[0].errorCode}`)
      return refused.topics[0].errorCode === ErrorCode.THROTTLING_QUOTA_EXCEEDED
    }, 10_000, 'the other worker to refuse a mutation once the first worker\'s spending is shared')
    assert.ok(refused.throttleTimeMs > 0)
  })
})
