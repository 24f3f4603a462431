// Kafka's authorization table ("Operations and Resources on Protocols" in Kafka's security docs), one row per
// API this broker serves (src/handlers/index.ts), checked against a broker with --authorizer: each row's request
// is sent by a principal of its own with no ACL (it gets the row's `denied` outcome: an
// *_AUTHORIZATION_FAILED code, or the resource left out of a listing), then again once the ACLs the row names
// are granted (the `granted` outcome: served). APIs every client may call (ApiVersions, the SASL ones) have no
// ACL and one outcome. A last test fails when an API is served that the table has no row for.
//
// Principals come from the SHOAL_TEST_HOOKS client-id hook (`__shoal_test_principal__:NAME`); `admin` is a super
// user that sets up topics, groups and transactional ids.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, kFetchVersion, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { AclOperation as Op, AclPermissionType as Perm, PatternType, ResourceType as Type } from '../../src/auth/acl.ts'
import { buildHandlers } from '../../src/handlers/index.ts'

const kTopic = 'auth-table'
const kNoTopicId = '0'.repeat(32)
const principalHook = (name: string): string => `__shoal_test_principal__:${name}`

type Acl = readonly [resourceType: number, resourceName: string, operation: number]
/**
 * An error code; for listings whether the row's resource is in it; 'served' where the answer once authorized
 * depends on state the row does not set up (a member that is not there, a transaction not begun).
 */
type Outcome = number | 'listed' | 'absent' | 'served'

interface Row {
  /** The API key, and a name for the row (an API may have more than one: per resource type or key type). */
  readonly api: number
  readonly title: string
  /** What Kafka's table requires; empty: nothing (served to every principal). */
  readonly acls: readonly Acl[]
  /** Sends the row's request as `client` and reads the outcome that authorization decides. */
  send (client: KafkaClient, ctx: Context): Promise<Outcome>
  /** Without the ACLs. */
  readonly denied: Outcome
  /** With them (for ACL-less rows, the one outcome). */
  readonly granted: Outcome
}

interface Context {
  /** The producer id and epoch admin got for this row's transactional id (`tx-<api>`), where the row needs one. */
  producerId: number
  producerEpoch: number
}

const group = (api: number): string => `g-${api}`
const txn = (api: number): string => `tx-${api}`
const listed = (present: boolean): Outcome => present ? 'listed' : 'absent'

const rows: Row[] = [
  { api: 0, title: 'Produce: WRITE on the topic', acls: [[Type.TOPIC, kTopic, Op.WRITE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await produce(c, kTopic, 0, ['x'])).errorCode },
  { api: 1, title: 'Fetch: READ on the topic', acls: [[Type.TOPIC, kTopic, Op.READ]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: kTopic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })).responses[0].partitions[0].errorCode },
  { api: 2, title: 'ListOffsets: DESCRIBE on the topic', acls: [[Type.TOPIC, kTopic, Op.DESCRIBE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] })).topics[0].partitions[0].errorCode },
  { api: 3, title: 'Metadata (named topic): DESCRIBE on the topic', acls: [[Type.TOPIC, kTopic, Op.DESCRIBE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(3, 12, { topics: [{ topicId: kNoTopicId, name: kTopic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics[0].errorCode },
  { api: 3, title: 'Metadata (all topics): topics without DESCRIBE are left out', acls: [[Type.TOPIC, kTopic, Op.DESCRIBE]], denied: 'absent', granted: 'listed',
    send: async (c) => listed((await c.request(3, 12, { topics: null, allowAutoTopicCreation: false })).topics.some((t: any) => t.name === kTopic)) },
  { api: 8, title: 'OffsetCommit: READ on the group and the topic', acls: [[Type.GROUP, group(8), Op.READ], [Type.TOPIC, kTopic, Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(8, 8, { groupId: group(8), generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] })).topics[0].partitions[0].errorCode },
  { api: 8, title: 'OffsetCommit: READ on the group but not the topic', acls: [[Type.GROUP, 'g-8b', Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    send: async (c) => (await c.request(8, 8, { groupId: 'g-8b', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] })).topics[0].partitions[0].errorCode },
  { api: 9, title: 'OffsetFetch: DESCRIBE on the group', acls: [[Type.GROUP, group(9), Op.DESCRIBE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(9, 8, { groups: [{ groupId: group(9), topics: null }], requireStable: false })).groups[0].errorCode },
  { api: 10, title: 'FindCoordinator (group): DESCRIBE on the group', acls: [[Type.GROUP, group(10), Op.DESCRIBE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(10, 4, { keyType: 0, coordinatorKeys: [group(10)] })).coordinators[0].errorCode },
  { api: 10, title: 'FindCoordinator (transaction): DESCRIBE on the transactional id', acls: [[Type.TRANSACTIONAL_ID, txn(10), Op.DESCRIBE]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(10, 4, { keyType: 1, coordinatorKeys: [txn(10)] })).coordinators[0].errorCode },
  { api: 11, title: 'JoinGroup: READ on the group', acls: [[Type.GROUP, group(11), Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: ErrorCode.MEMBER_ID_REQUIRED,
    send: async (c) => (await c.request(11, 9, { groupId: group(11), sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null })).errorCode },
  { api: 12, title: 'Heartbeat: READ on the group', acls: [[Type.GROUP, group(12), Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: ErrorCode.UNKNOWN_MEMBER_ID,
    send: async (c) => (await c.request(12, 4, { groupId: group(12), generationId: 1, memberId: 'nobody', groupInstanceId: null })).errorCode },
  { api: 13, title: 'LeaveGroup: READ on the group', acls: [[Type.GROUP, group(13), Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 'served',
    send: async (c) => servedUnlessAuth((await c.request(13, 5, { groupId: group(13), members: [{ memberId: 'nobody', groupInstanceId: null, reason: null }] })).errorCode) },
  { api: 14, title: 'SyncGroup: READ on the group', acls: [[Type.GROUP, group(14), Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 'served',
    send: async (c) => servedUnlessAuth((await c.request(14, 5, { groupId: group(14), generationId: 1, memberId: 'nobody', groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] })).errorCode) },
  { api: 15, title: 'DescribeGroups: DESCRIBE on the group', acls: [[Type.GROUP, group(15), Op.DESCRIBE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(15, 5, { groups: [group(15)], includeAuthorizedOperations: false })).groups[0].errorCode },
  { api: 16, title: 'ListGroups: groups without DESCRIBE are left out', acls: [[Type.GROUP, group(16), Op.DESCRIBE]], denied: 'absent', granted: 'listed',
    send: async (c) => listed((await c.request(16, 4, { statesFilter: [] })).groups.some((g: any) => g.groupId === group(16))) },
  { api: 17, title: 'SaslHandshake: no ACL', acls: [], denied: 'served', granted: 'served',
    send: async (c) => servedUnlessAuth((await c.request(17, 1, { mechanism: 'PLAIN' })).errorCode) },
  { api: 18, title: 'ApiVersions: no ACL', acls: [], denied: 0, granted: 0,
    send: async (c) => (await c.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })).errorCode },
  { api: 19, title: 'CreateTopics: CREATE on the topic (or the cluster)', acls: [[Type.TOPIC, 'created-19', Op.CREATE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(19, 7, { topics: [{ name: 'created-19', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: true })).topics[0].errorCode },
  { api: 19, title: 'CreateTopics: CREATE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.CREATE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(19, 7, { topics: [{ name: 'created-19b', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: true })).topics[0].errorCode },
  { api: 20, title: 'DeleteTopics: DELETE on the topic', acls: [[Type.TOPIC, 'doomed-20', Op.DELETE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(20, 6, { topics: [{ name: 'doomed-20', topicId: kNoTopicId }], timeoutMs: 10_000 })).responses[0].errorCode },
  { api: 21, title: 'DeleteRecords: DELETE on the topic', acls: [[Type.TOPIC, kTopic, Op.DELETE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(21, 2, { topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, offset: 0 }] }], timeoutMs: 10_000 })).topics[0].partitions[0].errorCode },
  { api: 22, title: 'InitProducerId (transactional): WRITE on the transactional id', acls: [[Type.TRANSACTIONAL_ID, txn(22), Op.WRITE]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(22, 4, { transactionalId: txn(22), transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })).errorCode },
  { api: 22, title: 'InitProducerId (idempotent): IDEMPOTENT_WRITE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.IDEMPOTENT_WRITE]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })).errorCode },
  { api: 23, title: 'OffsetForLeaderEpoch: DESCRIBE on the topic', acls: [[Type.TOPIC, kTopic, Op.DESCRIBE]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(23, 4, { replicaId: -1, topics: [{ topic: kTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] })).topics[0].partitions[0].errorCode },
  { api: 24, title: 'AddPartitionsToTxn: WRITE on the transactional id and the topic', acls: [[Type.TRANSACTIONAL_ID, txn(24), Op.WRITE], [Type.TOPIC, kTopic, Op.WRITE]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 0,
    send: async (c, ctx) => (await c.request(24, 3, { v3AndBelowTransactionalId: txn(24), v3AndBelowProducerId: ctx.producerId, v3AndBelowProducerEpoch: ctx.producerEpoch, v3AndBelowTopics: [{ name: kTopic, partitions: [0] }] })).resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode },
  { api: 25, title: 'AddOffsetsToTxn: WRITE on the transactional id, READ on the group', acls: [[Type.TRANSACTIONAL_ID, txn(25), Op.WRITE], [Type.GROUP, group(25), Op.READ]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 0,
    send: async (c, ctx) => (await c.request(25, 3, { transactionalId: txn(25), producerId: ctx.producerId, producerEpoch: ctx.producerEpoch, groupId: group(25) })).errorCode },
  { api: 26, title: 'EndTxn: WRITE on the transactional id', acls: [[Type.TRANSACTIONAL_ID, txn(26), Op.WRITE]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 'served',
    send: async (c, ctx) => servedUnlessAuth((await c.request(26, 3, { transactionalId: txn(26), producerId: ctx.producerId, producerEpoch: ctx.producerEpoch, committed: false })).errorCode) },
  { api: 28, title: 'TxnOffsetCommit: WRITE on the transactional id, READ on the group and the topic', acls: [[Type.TRANSACTIONAL_ID, txn(28), Op.WRITE], [Type.GROUP, group(28), Op.READ], [Type.TOPIC, kTopic, Op.READ]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 'served',
    send: async (c, ctx) => servedUnlessAuth((await c.request(28, 3, { transactionalId: txn(28), groupId: group(28), producerId: ctx.producerId, producerEpoch: ctx.producerEpoch, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] })).topics[0].partitions[0].errorCode) },
  { api: 29, title: 'DescribeAcls: DESCRIBE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(29, 3, { resourceTypeFilter: Type.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY })).errorCode },
  { api: 30, title: 'CreateAcls: ALTER on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.ALTER]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(30, 3, { creations: [{ resourceType: Type.TOPIC, resourceName: 'acl-30', resourcePatternType: PatternType.LITERAL, principal: 'User:nobody', host: '*', operation: Op.READ, permissionType: Perm.ALLOW }] })).results[0].errorCode },
  { api: 31, title: 'DeleteAcls: ALTER on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.ALTER]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(31, 3, { filters: [{ resourceTypeFilter: Type.TOPIC, resourceNameFilter: 'acl-31', patternTypeFilter: PatternType.LITERAL, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY }] })).filterResults[0].errorCode },
  { api: 32, title: 'DescribeConfigs (topic): DESCRIBE_CONFIGS on the topic', acls: [[Type.TOPIC, kTopic, Op.DESCRIBE_CONFIGS]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(32, 4, { resources: [{ resourceType: 2, resourceName: kTopic, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0].errorCode },
  { api: 32, title: 'DescribeConfigs (broker): DESCRIBE_CONFIGS on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE_CONFIGS]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0].errorCode },
  { api: 33, title: 'AlterConfigs: ALTER_CONFIGS on the topic', acls: [[Type.TOPIC, kTopic, Op.ALTER_CONFIGS]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(33, 2, { resources: [{ resourceType: 2, resourceName: kTopic, configs: [{ name: 'retention.ms', value: '86400000' }] }], validateOnly: true })).responses[0].errorCode },
  { api: 35, title: 'DescribeLogDirs: DESCRIBE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(35, 4, { topics: null })).errorCode },
  { api: 36, title: 'SaslAuthenticate: no ACL (ILLEGAL_SASL_STATE off a SASL listener)', acls: [], denied: ErrorCode.ILLEGAL_SASL_STATE, granted: ErrorCode.ILLEGAL_SASL_STATE,
    send: async (c) => (await c.request(36, 2, { authBytes: Buffer.alloc(0) })).errorCode },
  { api: 37, title: 'CreatePartitions: ALTER on the topic', acls: [[Type.TOPIC, kTopic, Op.ALTER]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(37, 3, { topics: [{ name: kTopic, count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: true })).results[0].errorCode },
  { api: 42, title: 'DeleteGroups: DELETE on the group', acls: [[Type.GROUP, group(42), Op.DELETE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(42, 2, { groupsNames: [group(42)] })).results[0].errorCode },
  { api: 44, title: 'IncrementalAlterConfigs: ALTER_CONFIGS on the topic', acls: [[Type.TOPIC, kTopic, Op.ALTER_CONFIGS]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(44, 1, { resources: [{ resourceType: 2, resourceName: kTopic, configs: [{ name: 'retention.ms', configOperation: 0, value: '86400000' }] }], validateOnly: true })).responses[0].errorCode },
  { api: 47, title: 'OffsetDelete: DELETE on the group, READ on the topic', acls: [[Type.GROUP, group(47), Op.DELETE], [Type.TOPIC, kTopic, Op.READ]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(47, 0, { groupId: group(47), topics: [{ name: kTopic, partitions: [{ partitionIndex: 0 }] }] })).errorCode },
  { api: 48, title: 'DescribeClientQuotas: DESCRIBE_CONFIGS on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE_CONFIGS]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(48, 1, { components: [], strict: false })).errorCode },
  { api: 49, title: 'AlterClientQuotas: ALTER_CONFIGS on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.ALTER_CONFIGS]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(49, 1, { entries: [{ entity: [{ entityType: 'client-id', entityName: 'quota-49' }], ops: [{ key: 'producer_byte_rate', value: 1048576, remove: false }] }], validateOnly: true })).entries[0].errorCode },
  { api: 50, title: 'DescribeUserScramCredentials: DESCRIBE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(50, 0, { users: null })).errorCode },
  { api: 51, title: 'AlterUserScramCredentials: ALTER on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.ALTER]], denied: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, granted: ErrorCode.RESOURCE_NOT_FOUND,
    send: async (c) => (await c.request(51, 0, { deletions: [{ name: 'nobody-51', mechanism: 1 }], upsertions: [] })).results[0].errorCode },
  { api: 60, title: 'DescribeCluster: served to all; authorized operations need DESCRIBE on the cluster', acls: [[Type.CLUSTER, 'kafka-cluster', Op.DESCRIBE]], denied: 'absent', granted: 'listed',
    send: async (c) => {
      const described = await c.request(60, 1, { includeClusterAuthorizedOperations: true })
      assert.equal(described.errorCode, 0)
      return listed((described.clusterAuthorizedOperations & (1 << Op.DESCRIBE)) !== 0)
    } },
  { api: 61, title: 'DescribeProducers: READ on the topic', acls: [[Type.TOPIC, kTopic, Op.READ]], denied: ErrorCode.TOPIC_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(61, 0, { topics: [{ name: kTopic, partitionIndexes: [0] }] })).topics[0].partitions[0].errorCode },
  { api: 65, title: 'DescribeTransactions: DESCRIBE on the transactional id', acls: [[Type.TRANSACTIONAL_ID, txn(65), Op.DESCRIBE]], denied: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(65, 0, { transactionalIds: [txn(65)] })).transactionStates[0].errorCode },
  { api: 66, title: 'ListTransactions: transactional ids without DESCRIBE are left out', acls: [[Type.TRANSACTIONAL_ID, txn(66), Op.DESCRIBE]], denied: 'absent', granted: 'listed',
    send: async (c) => listed((await c.request(66, 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1 })).transactionStates.some((t: any) => t.transactionalId === txn(66))) },
  { api: 68, title: 'ConsumerGroupHeartbeat: READ on the group', acls: [[Type.GROUP, group(68), Op.READ], [Type.TOPIC, kTopic, Op.DESCRIBE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 0,
    send: async (c) => (await c.request(68, 0, { groupId: group(68), memberId: '', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: [kTopic], serverAssignor: null, topicPartitions: [] })).errorCode },
  { api: 69, title: 'ConsumerGroupDescribe: DESCRIBE on the group', acls: [[Type.GROUP, group(69), Op.DESCRIBE]], denied: ErrorCode.GROUP_AUTHORIZATION_FAILED, granted: 'served',
    send: async (c) => servedUnlessAuth((await c.request(69, 0, { groupIds: [group(69)], includeAuthorizedOperations: false })).groups[0].errorCode) }
]

const kAuthorizationErrors: ReadonlySet<number> = new Set([
  ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
])

/** The authorization error itself, else 'served'. */
function servedUnlessAuth (errorCode: number): Outcome {
  return kAuthorizationErrors.has(errorCode) ? errorCode : 'served'
}

let broker: TestBroker
let admin: KafkaClient

before(async () => {
  broker = await startBroker({ workers: 2, args: ['--authorizer', '--super-users', 'User:admin', '--group-initial-rebalance-delay-ms', '0'], env: { SHOAL_TEST_HOOKS: '1' } })
  admin = await KafkaClient.to(broker.bootstrap, principalHook('admin'))
  await createTopic(admin, kTopic, 1)
  await createTopic(admin, 'doomed-20', 1)
  assert.equal((await produce(admin, kTopic, 0, ['seed'])).errorCode, 0)
  // Groups that exist (simple groups with a committed offset) for the rows that list, delete or describe them.
  for (const api of [9, 16, 42, 47]) {
    const committed = await admin.request(8, 8, { groupId: group(api), generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] })
    assert.equal(committed.topics[0].partitions[0].errorCode, 0)
  }
})
after(async () => {
  admin?.close()
  await broker?.stop()
})

/** The producer id admin gets for `transactionalId` (a transaction the row's principal then acts on). */
async function initTransaction (transactionalId: string): Promise<Context> {
  const init = await admin.request(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
  assert.equal(init.errorCode, 0, `InitProducerId ${transactionalId}`)
  return { producerId: Number(init.producerId), producerEpoch: init.producerEpoch }
}

describe('Kafka\'s authorization table', () => {
  rows.forEach((row, index) => {
    test(`${row.api} ${row.title}`, async () => {
      const name = `row${index}`
      const client = await KafkaClient.to(broker.bootstrap, principalHook(name))
      try {
        const needsTransaction = row.acls.some(([type]) => type === Type.TRANSACTIONAL_ID) && (row.api === 24 || row.api === 25 || row.api === 26 || row.api === 28 || row.api === 65 || row.api === 66)
        const ctx = needsTransaction ? await initTransaction(txn(row.api)) : { producerId: -1, producerEpoch: -1 }
        assert.deepEqual(await row.send(client, ctx), row.denied, 'without the ACLs')
        if (row.acls.length === 0) return
        const created = await admin.request(30, 3, {
          creations: row.acls.map(([resourceType, resourceName, operation]) => ({ resourceType, resourceName, resourcePatternType: PatternType.LITERAL, principal: `User:${name}`, host: '*', operation, permissionType: Perm.ALLOW }))
        })
        assert.deepEqual(created.results.map((r: any) => r.errorCode), row.acls.map(() => 0))
        assert.deepEqual(await row.send(client, ctx), row.granted, 'with the ACLs')
      } finally {
        client.close()
      }
    })
  })

  test('every API the broker serves has a row', () => {
    const served = [...buildHandlers().handlers.keys()].sort((a, b) => a - b)
    const covered = new Set(rows.map((row) => row.api))
    assert.deepEqual(served.filter((key) => !covered.has(key)), [], 'API keys served without a row in the authorization table')
  })
})
