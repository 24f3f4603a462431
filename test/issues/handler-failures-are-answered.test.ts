// A handler that throws, rejects or returns a response its definition cannot encode used to close the
// connection ("handler failed: RangeError"), and an encoder throwing inside a worker ended the process. Each is
// now logged with the API, version and client id, counted, and answered in order with the API's error response
// (UNKNOWN_SERVER_ERROR); the connection stays up. The failures are injected through the test-only hooks of
// src/net/connection.ts (SHOAL_TEST_HOOKS=1, a client id of `__shoal_test_*__`).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
before(async () => {
  process.env.SHOAL_TEST_HOOKS = '1'
  broker = await startBroker({ workers: 2 })
  delete process.env.SHOAL_TEST_HOOKS
  const admin = await KafkaClient.to(broker.bootstrap)
  await createTopic(admin, 'hooks', 2)
  admin.close()
})
after(() => broker.stop())

const kHooks = ['__shoal_test_throw__', '__shoal_test_reject__', '__shoal_test_bad_response__']

for (const hook of kHooks) {
  test(`${hook}: Metadata, Produce, Heartbeat and OffsetFetch are answered with UNKNOWN_SERVER_ERROR on an open connection`, async () => {
    const client = await KafkaClient.to(broker.bootstrap, hook)
    const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'hooks' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
    assert.deepEqual(metadata.topics.map((t: any) => [t.name, t.errorCode]), [['hooks', ErrorCode.UNKNOWN_SERVER_ERROR]])
    const produced = await produce(client, 'hooks', 1, ['lost to a bug'])
    assert.equal(produced.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR)
    const heartbeat = await client.request(12, 4, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null })
    assert.equal(heartbeat.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR)
    const offsets = await client.request(9, 5, { groupId: 'g', topics: [{ name: 'hooks', partitionIndexes: [0, 1] }], requireStable: false })
    assert.equal(offsets.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR)
    assert.deepEqual(offsets.topics[0].partitions.map((p: any) => [p.partitionIndex, p.errorCode]), [[0, -1], [1, -1]])
    assert.equal(client.isClosed, false)
    client.close()
    // Another client is served as before, and the failure is in the log with the API, version and client id.
    const other = await KafkaClient.to(broker.bootstrap)
    assert.equal((await produce(other, 'hooks', 1, ['kept'])).errorCode, ErrorCode.NONE)
    other.close()
    await waitFor(() => broker.output().includes(`client "${hook}"`) || broker.output().includes('response could not be encoded'), 10_000, 'the failure in the log')
    assert.equal(broker.process.exitCode, null)
  })
}

test('requests pipelined around a failing one are answered in order', async () => {
  const client = await KafkaClient.to(broker.bootstrap, '__shoal_test_throw__')
  const order: number[] = []
  const requests = Array.from({ length: 20 }, (_, i) => client.request(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }).then(() => order.push(i)))
  await Promise.all(requests)
  assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i))
  client.close()
})

test('a Produce with acks=0 whose handler fails closes the connection, as Kafka does (it has no response to carry the error)', async () => {
  const client = await KafkaClient.to(broker.bootstrap, '__shoal_test_throw__')
  client.request(0, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'hooks', partitionData: [{ index: 0, records: null }] }] }, { noResponse: true }).catch(() => {})
  await waitFor(() => client.isClosed, 10_000, 'the connection to close')
  assert.equal(broker.process.exitCode, null)
})
