// CreatePartitions was accepted on `__consumer_offsets` (it grew from 50 to 815 partitions), which moved every
// group to another coordinator partition, away from its committed offsets. Internal topics now cannot be
// repartitioned (INVALID_REQUEST), deleted (INVALID_REQUEST), created by clients, or have configs changed in ways
// that break them (POLICY_VIOLATION).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
let client: KafkaClient
before(async () => {
  broker = await startBroker({ workers: 2 })
  client = await KafkaClient.to(broker.bootstrap)
  // The broker creates __consumer_offsets on the first group request.
  const found = await client.request(10, 4, { keyType: 0, coordinatorKeys: ['g'] })
  assert.equal(found.coordinators[0].errorCode, ErrorCode.NONE)
})
after(async () => {
  client.close()
  await broker.stop()
})

async function offsetsTopic (): Promise<any> {
  const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name: '__consumer_offsets' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  return metadata.topics[0]
}

test('CreatePartitions on __consumer_offsets is refused and the count stays 50', async () => {
  for (const validateOnly of [true, false]) {
    const response = await client.request(37, 3, { topics: [{ name: '__consumer_offsets', count: 815, assignments: null }], timeoutMs: 10_000, validateOnly })
    assert.equal(response.results[0].errorCode, ErrorCode.INVALID_REQUEST)
    assert.match(response.results[0].errorMessage, /internal topic __consumer_offsets/)
  }
  const topic = await offsetsTopic()
  assert.equal(topic.isInternal, true)
  assert.equal(topic.partitions.length, 50)
  const found = await client.request(10, 4, { keyType: 0, coordinatorKeys: ['g'] })
  assert.equal(found.coordinators[0].errorCode, ErrorCode.NONE)
})

test('__consumer_offsets cannot be deleted, by name or by id, nor created by a client', async () => {
  const { topicId } = await offsetsTopic()
  const byName = await client.request(20, 6, { topics: [{ name: '__consumer_offsets', topicId: '0'.repeat(32) }], timeoutMs: 10_000 })
  const byId = await client.request(20, 6, { topics: [{ name: null, topicId }], timeoutMs: 10_000 })
  const old = await client.request(20, 4, { topicNames: ['__consumer_offsets'], timeoutMs: 10_000 })
  for (const response of [byName, byId, old]) assert.equal(response.responses[0].errorCode, ErrorCode.INVALID_REQUEST)
  const created = await client.request(19, 7, { topics: ['__consumer_offsets', '__transaction_state'].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })), timeoutMs: 10_000, validateOnly: false })
  assert.deepEqual(created.topics.map((t: any) => t.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
  assert.equal((await offsetsTopic()).partitions.length, 50)
})

test('configs that would break __consumer_offsets are refused; tuning ones are accepted', async () => {
  // One request each: a resource named twice in one request is refused as a duplicate.
  const codes: number[] = []
  for (const config of [
    { name: 'cleanup.policy', configOperation: 0, value: 'delete' },
    { name: 'cleanup.policy', configOperation: 1, value: null },
    { name: 'retention.ms', configOperation: 0, value: '86400000' }
  ]) {
    const incremental = await client.request(44, 1, { resources: [{ resourceType: 2, resourceName: '__consumer_offsets', configs: [config] }], validateOnly: false })
    codes.push(incremental.responses[0].errorCode)
  }
  assert.deepEqual(codes, [ErrorCode.POLICY_VIOLATION, ErrorCode.POLICY_VIOLATION, ErrorCode.NONE])
  // AlterConfigs replaces every override: without cleanup.policy=compact that breaks the topic.
  const replaced = await client.request(33, 2, { resources: [{ resourceType: 2, resourceName: '__consumer_offsets', configs: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: false })
  assert.equal(replaced.responses[0].errorCode, ErrorCode.POLICY_VIOLATION)
  const described = await client.request(32, 4, { resources: [{ resourceType: 2, resourceName: '__consumer_offsets', configurationKeys: ['cleanup.policy', 'retention.ms'] }], includeSynonyms: false, includeDocumentation: false })
  assert.deepEqual(described.results[0].configs.map((c: any) => [c.name, c.value]), [['cleanup.policy', 'compact'], ['retention.ms', '86400000']])
})
