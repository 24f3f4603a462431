// Found by `npm run fuzz` (a 1,000,000-frame run ended with its RSS 55% above the start after every topic and group
// was deleted): a refused JoinGroup (a session timeout out of range) or OffsetCommit (an unknown member) made an
// Empty classic group for its group id and left it in memory for good. Such a group held nothing, so DeleteGroups
// answered GROUP_ID_NOT_FOUND and ListGroups did not list it, and a client naming endless group ids grew the worker
// without bound. A group that holds nothing is now forgotten once the request that made it is answered
// (GroupCoordinator.releaseIfUnused).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

test('refused JoinGroup and OffsetCommit requests leave no group behind', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  const ids = Array.from({ length: 40 }, (_, i) => `refused-${i}`)
  for (const groupId of ids) {
    const join = await client.request(11, 5, {
      groupId, sessionTimeoutMs: 1, rebalanceTimeoutMs: 1000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }]
    })
    assert.equal(join.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT)
    const commit = await client.request(8, 7, {
      groupId: `${groupId}-commit`, generationIdOrMemberEpoch: 3, memberId: 'nobody', groupInstanceId: null,
      topics: [{ name: 'whatever', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }]
    })
    assert.notEqual(commit.topics[0].partitions[0].errorCode, ErrorCode.NONE)
  }
  // Every id is unknown again: Dead, as for a group never named.
  const described = await client.request(15, 5, { groups: [...ids, ...ids.map((id) => `${id}-commit`)], includeAuthorizedOperations: false })
  for (const group of described.groups) assert.equal(group.groupState, 'Dead', `${group.groupId} is ${group.groupState}`)
})
