// A broker with --authorizer: what each API answers an unprivileged principal (alice, granted a little) and a
// super user (admin), the principal set through the SHOAL_TEST_HOOKS client-id hook. Kafka's authorization table:
// Metadata leaves out or refuses topics without DESCRIBE, Produce/Fetch/ListOffsets answer
// TOPIC_AUTHORIZATION_FAILED per topic, group APIs GROUP_AUTHORIZATION_FAILED, configs TOPIC_/CLUSTER_
// AUTHORIZATION_FAILED, transactional ids TRANSACTIONAL_ID_AUTHORIZATION_FAILED, idempotent producers KIP-679.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce, kFetchVersion } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { AclOperation as Op, AclPermissionType as Perm, PatternType, ResourceType as Type } from '../../src/auth/acl.ts'

const principal = (name: string): string => `__shoal_test_principal__:${name}`
let broker: TestBroker
let admin: KafkaClient
let alice: KafkaClient
let bob: KafkaClient

function allow (resourceType: number, resourceName: string, operation: number, patternType: number = PatternType.LITERAL): object {
  return { resourceType, resourceName, resourcePatternType: patternType, principal: 'User:alice', host: '*', operation, permissionType: Perm.ALLOW }
}

before(async () => {
  broker = await startBroker({ workers: 2, args: ['--authorizer', '--super-users', 'User:admin'], env: { SHOAL_TEST_HOOKS: '1' } })
  admin = await KafkaClient.to(broker.bootstrap, principal('admin'))
  alice = await KafkaClient.to(broker.bootstrap, principal('alice'))
  bob = await KafkaClient.to(broker.bootstrap, principal('bob'))
  await createTopic(admin, 'open', 2)
  await createTopic(admin, 'secret', 1)
  const created = await admin.request(30, 3, {
    creations: [
      allow(Type.TOPIC, 'open', Op.WRITE), allow(Type.TOPIC, 'open', Op.READ), allow(Type.GROUP, 'g1', Op.READ),
      allow(Type.TOPIC, 'alice-', Op.CREATE, PatternType.PREFIXED), allow(Type.TRANSACTIONAL_ID, 'tx-ok', Op.WRITE)
    ]
  })
  assert.deepEqual(created.results.map((r: any) => r.errorCode), [0, 0, 0, 0, 0])
})
after(async () => {
  for (const client of [admin, alice, bob]) client?.close()
  await broker.stop()
})

const metadata = (client: KafkaClient, topics: string[] | null, includeTopicAuthorizedOperations = false): Promise<any> =>
  client.request(3, 12, { topics: topics === null ? null : topics.map((name) => ({ topicId: '0'.repeat(32), name })), allowAutoTopicCreation: false, includeTopicAuthorizedOperations })

test('Metadata leaves out topics the principal may not describe and refuses them by name', async () => {
  assert.deepEqual((await metadata(alice, null)).topics.map((t: any) => t.name).sort(), ['open'])
  assert.deepEqual((await metadata(admin, null)).topics.map((t: any) => t.name).filter((n: string) => !n.startsWith('__')).sort(), ['open', 'secret'])
  assert.deepEqual((await metadata(bob, null)).topics, [])
  const named = await metadata(alice, ['open', 'secret'])
  assert.deepEqual(named.topics.map((t: any) => [t.name, t.errorCode]), [['open', 0], ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED]])
})

test('Metadata fills topic authorized operations when asked', async () => {
  const described = await metadata(alice, ['open'], true)
  assert.equal(described.topics[0].topicAuthorizedOperations, (1 << Op.READ) | (1 << Op.WRITE) | (1 << Op.DESCRIBE))
  assert.equal((await metadata(alice, ['open'], false)).topics[0].topicAuthorizedOperations, -2147483648)
})

test('Produce and Fetch answer TOPIC_AUTHORIZATION_FAILED for topics without WRITE / READ', async () => {
  assert.equal((await produce(alice, 'open', 0, ['a'])).errorCode, 0)
  assert.equal((await produce(alice, 'secret', 0, ['a'])).errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  assert.equal((await produce(admin, 'secret', 0, ['a'])).errorCode, 0)
  const fetch = (client: KafkaClient, topic: string): Promise<any> => client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  })
  assert.equal((await fetch(alice, 'open')).responses[0].partitions[0].errorCode, 0)
  assert.equal((await fetch(alice, 'secret')).responses[0].partitions[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  const offsets = await alice.request(2, 7, { replicaId: -1, isolationLevel: 0, topics: ['open', 'secret'].map((name) => ({ name, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] })) })
  assert.deepEqual(offsets.topics.map((t: any) => [t.name, t.partitions[0].errorCode]).sort(), [['open', 0], ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED]])
})

test('an acks=0 Produce authorization refuses closes the connection (no response could carry the error), as Kafka does', async () => {
  const unanswered = await KafkaClient.to(broker.bootstrap, principal('alice'))
  await produce(unanswered, 'open', 0, ['a'], { acks: 0 })
  assert.equal((await produce(unanswered, 'open', 0, ['b'])).errorCode, 0)
  await produce(unanswered, 'secret', 0, ['a'], { acks: 0 })
  await unanswered.closed
  assert.equal(unanswered.isClosed, true)
})

test('CreateTopics needs CREATE on the cluster or the topic; DeleteTopics DELETE on the topic', async () => {
  const create = (client: KafkaClient, name: string): Promise<any> => client.request(19, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  assert.equal((await create(alice, 'other')).topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  const own = (await create(alice, 'alice-own')).topics[0]
  assert.equal(own.errorCode, 0)
  // Created, but its configs are not for a principal without DESCRIBE_CONFIGS on it.
  assert.deepEqual([own.topicConfigErrorCode, own.configs], [ErrorCode.TOPIC_AUTHORIZATION_FAILED, null])
  const deleted = await alice.request(20, 6, { topics: [{ name: 'secret', topicId: '0'.repeat(32) }], timeoutMs: 10_000 })
  assert.equal(deleted.responses[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  assert.ok((await metadata(admin, ['secret'])).topics[0].errorCode === 0, 'secret still exists')
})

test('DescribeConfigs and AlterConfigs need DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic or the cluster', async () => {
  const described = await alice.request(32, 4, { resources: [{ resourceType: 2, resourceName: 'open', configurationKeys: null }, { resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  assert.deepEqual(described.results.map((r: any) => r.errorCode), [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED])
  const altered = await alice.request(44, 1, { resources: [{ resourceType: 2, resourceName: 'open', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: true })
  assert.equal(altered.responses[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  const byAdmin = await admin.request(32, 4, { resources: [{ resourceType: 2, resourceName: 'open', configurationKeys: ['retention.ms'] }], includeSynonyms: false, includeDocumentation: false })
  assert.equal(byAdmin.results[0].errorCode, 0)
})

test('group APIs answer GROUP_AUTHORIZATION_FAILED without READ/DESCRIBE/DELETE on the group', async () => {
  const join = (client: KafkaClient, groupId: string): Promise<any> => client.request(11, 9, {
    groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null
  })
  assert.equal((await join(alice, 'g2')).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const commit = (groupId: string, topics: string[]): Promise<any> => alice.request(8, 8, {
    groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: topics.map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }))
  })
  const committed = await commit('g1', ['open', 'secret'])
  assert.deepEqual(committed.topics.map((t: any) => [t.name, t.partitions[0].errorCode]).sort(), [['open', 0], ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED]])
  assert.equal((await commit('g2', ['open'])).topics[0].partitions[0].errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const fetched = await alice.request(9, 8, { groups: [{ groupId: 'g1', topics: null }, { groupId: 'g2', topics: null }], requireStable: false })
  assert.deepEqual(fetched.groups.map((g: any) => [g.groupId, g.errorCode]).sort(), [['g1', 0], ['g2', ErrorCode.GROUP_AUTHORIZATION_FAILED]])
  assert.deepEqual(fetched.groups.find((g: any) => g.groupId === 'g1').topics.map((t: any) => t.name), ['open'])
  const coordinator = await alice.request(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] })
  assert.deepEqual(coordinator.coordinators.map((c: any) => c.errorCode), [0, ErrorCode.GROUP_AUTHORIZATION_FAILED])
  const described = await alice.request(15, 5, { groups: ['g1', 'g2'], includeAuthorizedOperations: true })
  assert.deepEqual(described.groups.map((g: any) => [g.groupId, g.errorCode, g.authorizedOperations]).sort(),
    [['g1', 0, (1 << Op.READ) | (1 << Op.DESCRIBE)], ['g2', ErrorCode.GROUP_AUTHORIZATION_FAILED, -2147483648]])
  const offsetsDeleted = await alice.request(47, 0, { groupId: 'g1', topics: [{ name: 'open', partitions: [{ partitionIndex: 0 }] }] })
  assert.equal(offsetsDeleted.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const deleted = await alice.request(42, 2, { groupsNames: ['g1'] })
  assert.equal(deleted.results[0].errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const listed = await alice.request(16, 4, { statesFilter: [] })
  assert.deepEqual(listed.groups.map((g: any) => g.groupId), ['g1'])
})

test('InitProducerId: WRITE on the transactional id, or for an idempotent producer WRITE on some topic (KIP-679)', async () => {
  const init = (client: KafkaClient, transactionalId: string | null): Promise<any> => client.request(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
  assert.equal((await init(alice, null)).errorCode, 0)
  assert.equal((await init(bob, null)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
  assert.equal((await init(alice, 'tx-other')).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  assert.equal((await init(alice, 'tx-ok')).errorCode, 0)
  const ended = await alice.request(26, 3, { transactionalId: 'tx-other', producerId: 1, producerEpoch: 0, committed: true })
  assert.equal(ended.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
})

test('AddPartitionsToTxn: TOPIC_AUTHORIZATION_FAILED for topics without WRITE, OPERATION_NOT_ATTEMPTED for the rest', async () => {
  const added = await alice.request(24, 3, { v3AndBelowTransactionalId: 'tx-ok', v3AndBelowProducerId: 1, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 'open', partitions: [0] }, { name: 'secret', partitions: [0] }] })
  assert.deepEqual(added.resultsByTopicV3AndBelow.map((t: any) => [t.name, t.resultsByPartition[0].partitionErrorCode]).sort(),
    [['open', ErrorCode.OPERATION_NOT_ATTEMPTED], ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED]])
  const otherId = await alice.request(24, 3, { v3AndBelowTransactionalId: 'tx-other', v3AndBelowProducerId: 1, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 'open', partitions: [0] }] })
  assert.equal(otherId.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
})

test('CreatePartitions needs ALTER on the topic; DescribeLogDirs DESCRIBE on the cluster', async () => {
  const grown = await alice.request(37, 3, { topics: [{ name: 'secret', count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: true })
  assert.equal(grown.results[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  const dirs = await alice.request(35, 4, { topics: null })
  assert.equal(dirs.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
  assert.equal((await admin.request(35, 4, { topics: null })).errorCode, 0)
})

test('an ACL created or deleted applies to the next request of an open connection', async () => {
  const topicOps = async (): Promise<number> => (await metadata(alice, ['secret'])).topics[0].errorCode
  assert.equal(await topicOps(), ErrorCode.TOPIC_AUTHORIZATION_FAILED)
  const created = await admin.request(30, 3, { creations: [allow(Type.TOPIC, 'sec', Op.DESCRIBE, PatternType.PREFIXED)] })
  assert.equal(created.results[0].errorCode, 0)
  assert.equal(await topicOps(), 0)
  const deleted = await admin.request(31, 3, { filters: [{ resourceTypeFilter: Type.TOPIC, resourceNameFilter: 'sec', patternTypeFilter: PatternType.PREFIXED, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY }] })
  assert.equal(deleted.filterResults[0].matchingAcls.length, 1)
  assert.equal(await topicOps(), ErrorCode.TOPIC_AUTHORIZATION_FAILED)
})
