// KIP-848 consumer groups (ConsumerGroupHeartbeat / ConsumerGroupDescribe) against a real broker process.
//
// The client is @platformatic/kafka 2.x with `groupProtocol: 'consumer'`: it heartbeats with
// ConsumerGroupHeartbeat v1 (naming itself with a UUID), takes the broker's assignment by topic id, fetches,
// commits with OffsetCommit v9 carrying its member epoch, and leaves with epoch -1. (librdkafka 2.0.2 and
// kafkajs predate the protocol.) What the library does not show (errors, epochs, other group types) is checked
// with the project's own codec client.
//
// The broker runs two workers, so the group's coordinator is one of them and requests reaching the other cross
// the worker ring. The heartbeat interval is short so that partitions move within a test's time.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Consumer, stringDeserializers, type MessagesStream } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, KafkaClient, produce } from '../helpers/kafka-client.ts'

const kPartitions = 4
const kRecordsPerPartition = 5
const kArgs = ['--group-consumer-heartbeat-interval-ms', '200', '--group-consumer-session-timeout-ms', '3000']

type StringConsumer = Consumer<string, string, string, string>

function consumerFor (broker: TestBroker, groupId: string, clientId: string): StringConsumer {
  return new Consumer({
    clientId,
    bootstrapBrokers: [broker.bootstrap],
    groupId,
    groupProtocol: 'consumer',
    deserializers: stringDeserializers,
    maxWaitTime: 200,
    retries: 10,
    retryDelay: 100
  })
}

/** What one consumer has read, by partition. */
interface Reading {
  readonly consumer: StringConsumer
  readonly stream: MessagesStream<string, string, string, string>
  readonly values: string[]
}

async function startReading (consumer: StringConsumer, topic: string): Promise<Reading> {
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false })
  const values: string[] = []
  stream.on('data', (message) => {
    values.push(message.value)
    // OffsetCommit v9 with the member epoch (the library's manual commit).
    message.commit(() => {})
  })
  stream.on('error', () => {})
  return { consumer, stream, values }
}

/** The partitions a consumer believes it owns. */
function owned (consumer: StringConsumer): string[] {
  return (consumer.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}-${p}`))
}

async function describeGroup (client: KafkaClient, groupId: string): Promise<any> {
  const response = await client.request(69, 1, { groupIds: [groupId], includeAuthorizedOperations: false })
  return response.groups[0]
}

async function committedOffsets (client: KafkaClient, groupId: string, topic: string): Promise<number[]> {
  const response = await client.request(9, 9, {
    groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: Array.from({ length: kPartitions }, (_, i) => i) }] }],
    requireStable: false
  })
  assert.equal(response.groups[0].errorCode, 0)
  return response.groups[0].topics[0].partitions.map((p: { committedOffset: number }) => p.committedOffset)
}

function heartbeatRequest (groupId: string, memberId: string, memberEpoch: number, extra: object = {}): object {
  return {
    groupId, memberId, memberEpoch, instanceId: null, rackId: null, rebalanceTimeoutMs: -1,
    subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null, ...extra
  }
}

describe('KIP-848 consumer groups', () => {
  let broker: TestBroker
  let admin: KafkaClient

  before(async () => {
    broker = await startBroker({ workers: 2, args: kArgs })
    admin = await KafkaClient.to(broker.bootstrap, 'kip848-admin')
  })

  after(async () => {
    admin?.close()
    await broker?.stop()
  })

  test('two @platformatic/kafka consumers share a topic: partitions move without overlap, commits carry epochs', async () => {
    const topic = 'kip848-shared'
    const groupId = 'kip848-shared-group'
    await createTopic(admin, topic, kPartitions)
    const expected: string[] = []
    for (let p = 0; p < kPartitions; p++) {
      const values = Array.from({ length: kRecordsPerPartition }, (_, i) => `p${p}-${i}`)
      expected.push(...values)
      assert.equal((await produce(admin, topic, p, values)).errorCode, 0)
    }

    const first = await startReading(consumerFor(broker, groupId, 'kip848-a'), topic)
    try {
      await waitFor(() => owned(first.consumer).length === kPartitions, 20_000, 'the first consumer to own every partition')
      await waitFor(() => first.values.length === expected.length, 20_000, 'the first consumer to read every record')
      assert.deepEqual([...first.values].sort(), [...expected].sort())
      await waitFor(async () => (await committedOffsets(admin, groupId, topic)).every((o) => o === kRecordsPerPartition), 20_000, 'commits of every record')

      let described = await describeGroup(admin, groupId)
      assert.equal(described.errorCode, 0)
      assert.equal(described.groupState, 'Stable')
      assert.equal(described.assignorName, 'uniform')
      assert.equal(described.members.length, 1)
      assert.equal(described.members[0].memberId, first.consumer.memberId)
      assert.equal(described.members[0].clientId, 'kip848-a')
      assert.deepEqual(described.members[0].subscribedTopicNames, [topic])
      assert.equal(described.members[0].assignment.topicPartitions[0].topicName, topic)

      const second = await startReading(consumerFor(broker, groupId, 'kip848-b'), topic)
      try {
        // While the group rebalances, no partition is ever owned by both (as each client sees it, and as the
        // coordinator records it); it settles two and two.
        const overlaps: string[] = []
        let samples = 0
        await waitFor(async () => {
          samples++
          const a = owned(first.consumer)
          const b = owned(second.consumer)
          if (a.some((tp) => b.includes(tp))) overlaps.push(`clients: ${a} / ${b}`)
          const group = await describeGroup(admin, groupId)
          const held = group.members.flatMap((m: any) => m.assignment.topicPartitions.flatMap((tp: any) => tp.partitions.map((p: number) => `${tp.topicName}-${p}`)))
          if (new Set(held).size !== held.length) overlaps.push(`coordinator: ${held}`)
          return a.length === 2 && b.length === 2 && group.groupState === 'Stable'
        }, 20_000, 'two members with two partitions each')
        assert.deepEqual(overlaps, [], `a partition had two owners (${samples} samples)`)
        described = await describeGroup(admin, groupId)
        assert.equal(described.members.length, 2)
        assert.ok(described.groupEpoch >= 2)
        for (const member of described.members) assert.equal(member.memberEpoch, described.assignmentEpoch)

        // New records reach whichever member owns their partition, exactly once.
        const more: string[] = []
        for (let p = 0; p < kPartitions; p++) {
          const value = `p${p}-late`
          more.push(value)
          assert.equal((await produce(admin, topic, p, [value])).errorCode, 0)
        }
        await waitFor(() => first.values.length + second.values.length === expected.length + more.length, 20_000, 'the late records')
        assert.deepEqual([...second.values].sort(), more.filter((v) => owned(second.consumer).includes(`${topic}-${v.slice(1, v.indexOf('-'))}`)).sort())
        await waitFor(async () => (await committedOffsets(admin, groupId, topic)).every((o) => o === kRecordsPerPartition + 1), 20_000, 'commits of the late records')

        // ListGroups says what kind of group it is.
        const listed = await admin.request(16, 5, { statesFilter: [], typesFilter: ['consumer'] })
        const entry = listed.groups.find((g: { groupId: string }) => g.groupId === groupId)
        assert.equal(entry?.groupType, 'consumer')
        assert.equal(entry?.groupState, 'Stable')

        // The second member leaves (epoch -1): the first gets everything back.
        await second.stream.close()
        await second.consumer.close()
        await waitFor(() => owned(first.consumer).length === kPartitions, 20_000, 'the first consumer to own every partition again')
      } finally {
        await second.consumer.close(true).catch(() => {})
      }
    } finally {
      await first.stream.close().catch(() => {})
      await first.consumer.close(true).catch(() => {})
    }
    const empty = await describeGroup(admin, groupId)
    assert.equal(empty.groupState, 'Empty')
    assert.equal(empty.members.length, 0)
    // The classic protocol may take the id over once the group is empty; offsets stay.
    assert.deepEqual(await committedOffsets(admin, groupId, topic), Array(kPartitions).fill(kRecordsPerPartition + 1))
  })

  test('epochs, errors and session expiry on the wire (codec client)', async () => {
    const topic = 'kip848-wire'
    const groupId = 'kip848-wire-group'
    await createTopic(admin, topic, 2)
    const client = await KafkaClient.to(broker.bootstrap, 'kip848-wire')
    try {
      const join = (memberId: string, extra: object = {}): Promise<any> => client.request(68, 1, heartbeatRequest(groupId, memberId, 0, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: [topic], topicPartitions: [], ...extra }))
      assert.equal((await join('m1', { serverAssignor: 'nope' })).errorCode, 112, 'UNSUPPORTED_ASSIGNOR')
      assert.equal((await join('m1', { subscribedTopicNames: null })).errorCode, 42, 'INVALID_REQUEST without a subscription')
      const joined = await join('m1')
      assert.equal(joined.errorCode, 0)
      assert.equal(joined.memberId, 'm1')
      assert.equal(joined.memberEpoch, 1)
      assert.equal(joined.heartbeatIntervalMs, 200)
      assert.equal(joined.assignment.topicPartitions[0].partitions.length, 2)
      const v0 = await client.request(68, 0, heartbeatRequest(groupId, '', 0, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: [topic], topicPartitions: [] }))
      assert.equal(v0.errorCode, 0)
      assert.ok(v0.memberId.length > 0, 'v0: the coordinator names the member')

      assert.equal((await client.request(68, 1, heartbeatRequest(groupId, 'm1', 7, { topicPartitions: [] }))).errorCode, 110, 'FENCED_MEMBER_EPOCH')
      assert.equal((await client.request(68, 1, heartbeatRequest(groupId, 'ghost', 1))).errorCode, 25, 'UNKNOWN_MEMBER_ID')

      // OffsetCommit v9 checks the member epoch.
      const commit = (memberId: string, epoch: number): Promise<any> => client.request(8, 9, {
        groupId, generationIdOrMemberEpoch: epoch, memberId, groupInstanceId: null,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }]
      })
      const described = await describeGroup(client, groupId)
      const m1 = described.members.find((m: any) => m.memberId === 'm1')
      assert.equal((await commit('m1', m1.memberEpoch)).topics[0].partitions[0].errorCode, 0)
      assert.equal((await commit('m1', m1.memberEpoch - 1)).topics[0].partitions[0].errorCode, 113, 'STALE_MEMBER_EPOCH')
      assert.equal((await commit('ghost', 1)).topics[0].partitions[0].errorCode, 25, 'UNKNOWN_MEMBER_ID')
      assert.equal((await commit('', -1)).topics[0].partitions[0].errorCode, 25, 'no simple commits while the group has members')

      // The classic protocol cannot join a consumer group with members.
      const classic = await client.request(11, 9, {
        groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null
      })
      assert.equal(classic.errorCode, 23, 'INCONSISTENT_GROUP_PROTOCOL')
      const classicDescribe = await client.request(15, 5, { groups: [groupId], includeAuthorizedOperations: false })
      assert.equal(classicDescribe.groups[0].protocolType, 'consumer')

      // Silent members expire (session timeout 3 s) and the group empties.
      await waitFor(async () => (await describeGroup(client, groupId)).groupState === 'Empty', 20_000, 'the silent members to expire')
      assert.equal((await client.request(68, 1, heartbeatRequest(groupId, 'm1', 1, { topicPartitions: [] }))).errorCode, 25)
      assert.equal((await describeGroup(client, 'no-such-group')).errorCode, 69, 'GROUP_ID_NOT_FOUND')
    } finally {
      client.close()
    }
  })

  test('a group id is classic or consumer: an empty classic group converts with its offsets, a busy one refuses', async () => {
    const topic = 'kip848-types'
    await createTopic(admin, topic, 1)
    const client = await KafkaClient.to(broker.bootstrap, 'kip848-types')
    try {
      const join = (groupId: string, memberId: string): Promise<any> => client.request(68, 1, heartbeatRequest(groupId, memberId, 0, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: [topic], topicPartitions: [] }))
      // Offsets committed without a member (a classic, Empty group) stay when the consumer protocol takes over.
      const simple = await client.request(8, 8, {
        groupId: 'kip848-converted', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null }] }]
      })
      assert.equal(simple.topics[0].partitions[0].errorCode, 0)
      assert.equal((await join('kip848-converted', 'c1')).errorCode, 0)
      const fetched = await client.request(9, 9, { groups: [{ groupId: 'kip848-converted', memberId: 'c1', memberEpoch: 1, topics: [{ name: topic, partitionIndexes: [0] }] }], requireStable: false })
      assert.equal(fetched.groups[0].errorCode, 0)
      assert.equal(fetched.groups[0].topics[0].partitions[0].committedOffset, 7)
      const stale = await client.request(9, 9, { groups: [{ groupId: 'kip848-converted', memberId: 'c1', memberEpoch: 0, topics: [{ name: topic, partitionIndexes: [0] }] }], requireStable: false })
      assert.equal(stale.groups[0].errorCode, 113, 'OffsetFetch v9 checks the member epoch too')

      // A classic group with a (pending) member keeps its id from the consumer protocol.
      const classic = await client.request(11, 9, {
        groupId: 'kip848-classic', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null
      })
      assert.equal(classic.errorCode, 79, 'MEMBER_ID_REQUIRED')
      assert.equal((await join('kip848-classic', 'k1')).errorCode, 69, 'GROUP_ID_NOT_FOUND: not a consumer group')
      assert.equal((await describeGroup(client, 'kip848-classic')).errorCode, 69)
    } finally {
      client.close()
    }
  })

  test('a consumer group survives a broker restart: epochs, assignments and offsets', async () => {
    const topic = 'kip848-restart'
    const groupId = 'kip848-restart-group'
    const dataBroker = await startBroker({ workers: 2, args: kArgs, cleanup: false })
    let restarted: TestBroker | null = null
    try {
      let client = await KafkaClient.to(dataBroker.bootstrap, 'kip848-restart')
      await createTopic(client, topic, 2)
      const joined = await client.request(68, 1, heartbeatRequest(groupId, 'survivor', 0, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: [topic], topicPartitions: [] }))
      assert.equal(joined.errorCode, 0)
      const commit = await client.request(8, 9, {
        groupId, generationIdOrMemberEpoch: joined.memberEpoch, memberId: 'survivor', groupInstanceId: null,
        topics: [{ name: topic, partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: null }] }]
      })
      assert.equal(commit.topics[0].partitions[0].errorCode, 0)
      client.close()
      await dataBroker.stop()

      restarted = await startBroker({ workers: 2, args: kArgs, dataDir: dataBroker.dataDir, cleanup: true })
      client = await KafkaClient.to(restarted.bootstrap, 'kip848-restart')
      try {
        const described = await describeGroup(client, groupId)
        assert.equal(described.errorCode, 0)
        assert.equal(described.groupEpoch, joined.memberEpoch)
        assert.equal(described.members[0].memberId, 'survivor')
        assert.deepEqual(described.members[0].assignment.topicPartitions[0].partitions, [0, 1])
        // The member carries on in its epoch.
        const beat = await client.request(68, 1, heartbeatRequest(groupId, 'survivor', joined.memberEpoch, { topicPartitions: joined.assignment.topicPartitions }))
        assert.equal(beat.errorCode, 0)
        assert.equal(beat.memberEpoch, joined.memberEpoch)
        const fetched = await client.request(9, 9, {
          groups: [{ groupId, memberId: 'survivor', memberEpoch: joined.memberEpoch, topics: [{ name: topic, partitionIndexes: [1] }] }],
          requireStable: false
        })
        assert.equal(fetched.groups[0].topics[0].partitions[0].committedOffset, 42)
      } finally {
        client.close()
      }
    } finally {
      await dataBroker.stop().catch(() => {})
      await restarted?.stop()
    }
  })
})
