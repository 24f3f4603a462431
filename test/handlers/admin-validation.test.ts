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
  // One resource per request: a resource named twice in one request is refused as a duplicate (below).
  const configs = [
    [{ name: 'constructor', configOperation: 0, value: '1' }],
    [{ name: '__proto__', configOperation: 0, value: '1' }],
    [{ name: 'retention.ms', configOperation: 2, value: '5' }],
    [{ name: 'segment.bytes', configOperation: 0, value: '1' }],
    [{ name: 'retention.ms', configOperation: 9, value: '5' }]
  ]
  const incremental = { responses: [] as any[] }
  for (const config of configs) {
    const response = await client.request(44, 1, { resources: [{ resourceType: 2, resourceName: 'kept', configs: config }], validateOnly: false })
    incremental.responses.push(...response.responses)
  }
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
  // A name given twice creates neither (as Kafka answers it): every entry of it is INVALID_REQUEST.
  assert.deepEqual(response.topics.map((t: any) => t.errorCode), [
    ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_PARTITIONS, ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_CONFIG
  ])
  const metadata = await client.request(3, 12, { topics: [{ topicId: kZero, name: 'dup' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.equal(metadata.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(broker.process.exitCode, null)
})

test('CreatePartitions and AlterConfigs refuse every entry of a topic or resource named twice, and act on the rest', async () => {
  await createTopic(client, 'grow-a', 1)
  await createTopic(client, 'grow-b', 1)
  const grown = await client.request(37, 3, {
    topics: [{ name: 'grow-a', count: 2, assignments: null }, { name: 'grow-a', count: 3, assignments: null }, { name: 'grow-b', count: 2, assignments: null }],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.deepEqual(grown.results.map((r: any) => [r.name, r.errorCode]), [['grow-a', ErrorCode.INVALID_REQUEST], ['grow-a', ErrorCode.INVALID_REQUEST], ['grow-b', ErrorCode.NONE]])
  const metadata = await client.request(3, 12, { topics: [{ topicId: kZero, name: 'grow-a' }, { topicId: kZero, name: 'grow-b' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.deepEqual(metadata.topics.map((t: any) => [t.name, t.partitions.length]), [['grow-a', 1], ['grow-b', 2]])

  for (const [key, version] of [[33, 2], [44, 1]]) {
    const resources = [
      { resourceType: 2, resourceName: 'grow-a', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] },
      { resourceType: 2, resourceName: 'grow-a', configs: [{ name: 'retention.ms', configOperation: 0, value: '2000' }] },
      { resourceType: 2, resourceName: 'grow-b', configs: [{ name: 'retention.ms', configOperation: 0, value: '3000' }, { name: 'retention.ms', configOperation: 0, value: '4000' }] },
      { resourceType: 2, resourceName: 'kept', configs: [{ name: 'retention.ms', configOperation: 0, value: '5000' }] }
    ]
    const altered = await client.request(key, version, { resources, validateOnly: false })
    assert.deepEqual(altered.responses.map((r: any) => [r.resourceName, r.errorCode]), [
      ['grow-a', ErrorCode.INVALID_REQUEST], ['grow-a', ErrorCode.INVALID_REQUEST], ['grow-b', ErrorCode.INVALID_REQUEST], ['kept', ErrorCode.NONE]
    ], `api ${key}`)
  }
  const described = await client.request(32, 4, {
    resources: ['grow-a', 'grow-b', 'kept'].map((resourceName) => ({ resourceType: 2, resourceName, configurationKeys: ['retention.ms'] })),
    includeSynonyms: false,
    includeDocumentation: false
  })
  assert.deepEqual(described.results.map((r: any) => r.configs[0].value), ['604800000', '604800000', '5000'])
})
