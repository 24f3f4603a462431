// Found by `npm run fuzz`: a ConsumerGroupDescribe v0 for a 32767-byte group id answered "Group <id> not found."
// (32784 bytes), whose encoding threw; forwarded from another worker, the throw ended the worker and the
// process. The same held for every message or id the group code composes around a client's name (JoinGroup's
// member id `<clientId>-<uuid>`, static `<instanceId>-<uuid>`, ConsumerGroupHeartbeat's messages quoting a
// member id or a regex). Names are now clipped in what the broker composes (src/protocol/clip.ts).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kLongest = 'g'.repeat(32767)

let broker: TestBroker
before(async () => { broker = await startBroker({ workers: 2, args: ['--group-initial-rebalance-delay-ms', '0'] }) })
after(() => broker.stop())

test('ConsumerGroupDescribe and ConsumerGroupHeartbeat for 32767-byte names are answered with clipped messages', async () => {
  const client = await KafkaClient.to(broker.bootstrap)
  // Several ids so that some are coordinated by the other worker.
  const ids = ['a', 'b', 'c', 'd'].map((c) => c + kLongest.slice(1))
  const described = await client.request(69, 0, { groupIds: ids, includeAuthorizedOperations: false })
  assert.equal(described.groups.length, ids.length)
  for (const group of described.groups) {
    assert.equal(group.errorCode, ErrorCode.GROUP_ID_NOT_FOUND)
    assert.ok(Buffer.byteLength(group.errorMessage) < 1024, `${Buffer.byteLength(group.errorMessage)} bytes`)
  }
  for (const groupId of ids) {
    const unknown = await client.request(68, 1, { groupId, memberId: kLongest, memberEpoch: 5, instanceId: null, rackId: null, rebalanceTimeoutMs: -1, subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null })
    assert.notEqual(unknown.errorCode, ErrorCode.NONE)
    const badRegex = await client.request(68, 1, { groupId, memberId: 'm', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 1000, subscribedTopicNames: [], subscribedTopicRegex: '(' + 'x'.repeat(32766), serverAssignor: 'z'.repeat(32767), topicPartitions: [] })
    assert.notEqual(badRegex.errorCode, ErrorCode.NONE)
  }
  assert.equal(client.isClosed, false)
  client.close()
  assert.equal(broker.process.exitCode, null, broker.output())
})

test('JoinGroup from a client with a 32767-byte client id gets a member id within 32767 bytes', async () => {
  const client = await KafkaClient.to(broker.bootstrap, 'c'.repeat(32767))
  for (const groupId of ['long-client-0', 'long-client-1', 'long-client-2']) {
    const joined = await client.request(11, 5, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })
    // v4+: MEMBER_ID_REQUIRED, with the member id to rejoin with.
    assert.equal(joined.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
    assert.ok(joined.memberId.length > 0 && Buffer.byteLength(joined.memberId) <= 32767)
    const statically = await client.request(11, 5, { groupId: `${groupId}-static`, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1000, memberId: '', groupInstanceId: 'i'.repeat(32767), protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] })
    assert.equal(statically.errorCode, ErrorCode.NONE)
    assert.ok(Buffer.byteLength(statically.memberId) <= 32767)
    const described = await client.request(15, 5, { groups: [groupId, `${groupId}-static`], includeAuthorizedOperations: false })
    assert.equal(described.groups.length, 2)
  }
  assert.equal(client.isClosed, false)
  client.close()
  assert.equal(broker.process.exitCode, null, broker.output())
})
