// Hostile admin input from a client answers error codes in the response, never an exception: DeleteTopics with
// both or neither of name and id, duplicates and unknown ids; AlterConfigs and DescribeConfigs with names
// like `constructor`, list operations on non-list configs, and absurd values.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kZero = '0'.repeat(32)
let broker: TestBroker
let client: KafkaClient
before(async () => {
  broker = await startBroker({ workers: 1 })
  client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'kept', 1)
  await createTopic(client, 'twice', 1)
})
after(async () => {
  client.close()
  await broker.stop()
})

test('DeleteTopics v6 refuses entries with both or neither of name and id, and duplicates; unknown ids answer UNKNOWN_TOPIC_ID', async () => {
  const unknownId = 'cd'.repeat(16)
  const response = await client.request(20, 6, {
    topics: [
      { name: null, topicId: kZero }, { name: 'kept', topicId: unknownId }, { name: 'twice', topicId: kZero },
      { name: 'twice', topicId: kZero }, { name: null, topicId: unknownId }, { name: 'no-such', topicId: kZero }
    ],
    timeoutMs: 10_000
  })
  const byKey = new Map(response.responses.map((r: any) => [`${r.name}/${r.topicId}`, [r.errorCode, r.errorMessage]]))
  assert.equal(response.responses.length, 5)
  assert.deepEqual(byKey.get(`null/${kZero}`), [ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'])
  assert.deepEqual(byKey.get(`kept/${unknownId}`), [ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'])
  assert.deepEqual(byKey.get(`twice/${kZero}`), [ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'])
  assert.equal((byKey.get(`null/${unknownId}`) as any)[0], ErrorCode.UNKNOWN_TOPIC_ID)
  assert.equal((byKey.get(`no-such/${kZero}`) as any)[0], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.deepEqual(metadata.topics.map((t: any) => t.name).sort(), ['kept', 'twice'])
})

test('AlterConfigs and DescribeConfigs answer prototype names, list operations on scalars and absurd values with errors', async () => {
  const incremental = await client.request(44, 1, {
    resources: [
      { resourceType: 2, resourceName: 'kept', configs: [{ name: 'constructor', configOperation: 0, value: '1' }] },
      { resourceType: 2, resourceName: 'kept', configs: [{ name: '__proto__', configOperation: 0, value: '1' }] },
      { resourceType: 2, resourceName: 'kept', configs: [{ name: 'retention.ms', configOperation: 2, value: '5' }] },
      { resourceType: 2, resourceName: 'kept', configs: [{ name: 'segment.bytes', configOperation: 0, value: '1' }] },
      { resourceType: 2, resourceName: 'kept', configs: [{ name: 'retention.ms', configOperation: 9, value: '5' }] }
    ],
    validateOnly: false
  })
  assert.deepEqual(incremental.responses.map((r: any) => r.errorCode), [
    ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_REQUEST
  ])
  const legacy = await client.request(33, 2, { resources: [{ resourceType: 2, resourceName: 'kept', configs: [{ name: 'retention.ms', value: '1e400' }] }], validateOnly: false })
  assert.equal(legacy.responses[0].errorCode, ErrorCode.INVALID_CONFIG)
  const described = await client.request(32, 4, { resources: [{ resourceType: 2, resourceName: 'kept', configurationKeys: ['constructor', 'toString', 'segment.bytes'] }], includeSynonyms: true, includeDocumentation: false })
  assert.deepEqual(described.results[0].configs.map((c: any) => [c.name, c.value]), [['segment.bytes', '1073741824']])
})

test('CreateTopics answers duplicates, bad counts and bad configs per topic and creates only the valid ones', async () => {
  const response = await client.request(19, 7, {
    topics: [
      { name: 'dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'neg', numPartitions: -5, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'rf', numPartitions: 1, replicationFactor: -2, assignments: [], configs: [] },
      { name: 'cfg', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: 'abc' }] }
    ],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.deepEqual(response.topics.map((t: any) => t.errorCode), [
    ErrorCode.NONE, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_PARTITIONS, ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_CONFIG
  ])
  assert.equal(broker.process.exitCode, null)
})
