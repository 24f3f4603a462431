// The authorized-operations fields, filled when a client asks for them. Without an authorizer every operation Kafka
// lists for the resource type is allowed (librdkafka's DescribeTopics and DescribeCluster admin calls check them);
// not asked, they stay Kafka's -2^31.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { AclOperation as Op, ResourceType, allOperationsMask } from '../../src/auth/acl.ts'

const kNotRequested = -2147483648
const mask = (...operations: number[]): number => operations.reduce((bits, op) => bits | (1 << op), 0)
let broker: TestBroker
let client: KafkaClient

before(async () => {
  broker = await startBroker({ workers: 1 })
  client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'ops', 1)
})
after(async () => {
  client.close()
  await broker.stop()
})

test('the masks are the operations Kafka lists per resource type', () => {
  assert.equal(allOperationsMask(ResourceType.TOPIC), mask(Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS))
  assert.equal(allOperationsMask(ResourceType.CLUSTER), mask(Op.CREATE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE, Op.ALTER, Op.DESCRIBE))
  assert.equal(allOperationsMask(ResourceType.GROUP), mask(Op.READ, Op.DESCRIBE, Op.DELETE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS))
})

test('Metadata fills topic and (v8-10) cluster authorized operations only when asked', async () => {
  const asked = await client.request(3, 10, { topics: [{ topicId: '0'.repeat(32), name: 'ops' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: true })
  assert.equal(asked.topics[0].topicAuthorizedOperations, allOperationsMask(ResourceType.TOPIC))
  assert.equal(asked.clusterAuthorizedOperations, allOperationsMask(ResourceType.CLUSTER))
  const plain = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.ok(plain.topics.every((t: any) => t.topicAuthorizedOperations === kNotRequested))
})

test('DescribeCluster fills cluster authorized operations when asked', async () => {
  const asked = await client.request(60, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 })
  assert.equal(asked.clusterAuthorizedOperations, allOperationsMask(ResourceType.CLUSTER))
  assert.equal((await client.request(60, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 })).clusterAuthorizedOperations, kNotRequested)
})

test('DescribeGroups fills group authorized operations when asked', async () => {
  // A simple commit makes the group exist (Empty) without members.
  await client.request(8, 8, { groupId: 'ops-group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'ops', partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] })
  const asked = await client.request(15, 5, { groups: ['ops-group'], includeAuthorizedOperations: true })
  assert.equal(asked.groups[0].errorCode, 0)
  assert.equal(asked.groups[0].authorizedOperations, allOperationsMask(ResourceType.GROUP))
  assert.equal((await client.request(15, 5, { groups: ['ops-group'], includeAuthorizedOperations: false })).groups[0].authorizedOperations, kNotRequested)
})
