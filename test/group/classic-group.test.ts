import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ClassicGroup, type GroupHost, type JoinRequest, type JoinResponse } from '../../src/group/classic-group.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

function host (overrides: Partial<GroupHost['limits']> = {}): GroupHost & { persisted: number } {
  return {
    persisted: 0,
    limits: { minSessionTimeoutMs: 10, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 0, maxSize: 100, maxMetadataBytes: 1024, ...overrides },
    async persistGroup () { this.persisted++ }
  }
}

function joinRequest (memberId: string, extra: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 2_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    ...extra
  }
}

async function joinNew (group: ClassicGroup, extra: Partial<JoinRequest> = {}): Promise<Promise<JoinResponse> | JoinResponse> {
  const first = await group.join(joinRequest('', extra), 9, 'client', '/127.0.0.1')
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  return group.join(joinRequest(first.memberId, extra), 9, 'client', '/127.0.0.1')
}

test('a first member gets a member id, then leads generation 1 and reaches Stable after its sync', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  const joined = await joinNew(group)
  assert.equal(joined.errorCode, ErrorCode.NONE)
  assert.equal(joined.generationId, 1)
  assert.equal(joined.leader, joined.memberId)
  assert.equal(joined.members.length, 1)
  assert.equal(group.state, 'CompletingRebalance')
  const synced = await group.sync({ generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: joined.memberId, assignment: Buffer.from('a') }] })
  assert.equal(synced.errorCode, ErrorCode.NONE)
  assert.deepEqual(synced.assignment, Buffer.from('a'))
  assert.equal(group.state, 'Stable')
  assert.equal(group.heartbeat(joined.memberId, null, 1), ErrorCode.NONE)
  assert.equal(group.heartbeat(joined.memberId, null, 0), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(group.heartbeat('nobody', null, 1), ErrorCode.UNKNOWN_MEMBER_ID)
})

test('a second member triggers a rebalance: heartbeats say REBALANCE_IN_PROGRESS until both rejoin', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  const a = await joinNew(group)
  await group.sync({ generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
  const bPending = joinNew(group)
  const b = group.join(joinRequest((await group.join(joinRequest(''), 9, 'c', 'h')).memberId), 9, 'c', 'h')
  assert.equal(group.state, 'PreparingRebalance')
  assert.equal(group.heartbeat(a.memberId, null, 1), ErrorCode.REBALANCE_IN_PROGRESS)
  const aAgain = await group.join(joinRequest(a.memberId), 9, 'client', '/127.0.0.1')
  const [second, third] = await Promise.all([bPending.then((p) => p), b])
  assert.equal(aAgain.generationId, 2)
  assert.equal(second.generationId, 2)
  assert.equal(third.generationId, 2)
  assert.equal([aAgain, second, third].filter((r) => r.members.length > 0).length, 1, 'only the leader gets the member list')
  assert.equal(group.members.size, 3)
})

test('rejects bad joins with Kafka error codes', async (t) => {
  const group = new ClassicGroup('g', host({ maxSize: 1 }))
  t.after(() => group.shutdown())
  assert.equal((await group.join(joinRequest('', { sessionTimeoutMs: 1 }), 9, 'c', 'h')).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT)
  assert.equal((await group.join(joinRequest('ghost'), 9, 'c', 'h')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  const a = await joinNew(group)
  assert.equal(a.errorCode, ErrorCode.NONE)
  assert.equal((await group.join(joinRequest('', { protocolType: 'connect' }), 9, 'c', 'h')).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal((await group.join(joinRequest('', { protocols: [{ name: 'other', metadata: Buffer.alloc(0) }] }), 9, 'c', 'h')).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal((await group.join(joinRequest(''), 9, 'c', 'h')).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED)
})

test('commits are checked against member and generation, and refused while the assignment is pending', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  assert.equal(group.validateCommit('', null, -1), ErrorCode.NONE, 'simple commits to an empty group')
  const a = await joinNew(group)
  assert.equal(group.validateCommit(a.memberId, null, 1), ErrorCode.REBALANCE_IN_PROGRESS)
  await group.sync({ generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
  assert.equal(group.validateCommit(a.memberId, null, 1), ErrorCode.NONE)
  assert.equal(group.validateCommit(a.memberId, null, 0), ErrorCode.ILLEGAL_GENERATION)
  assert.equal(group.validateCommit('ghost', null, 1), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(group.validateCommit('', null, -1), ErrorCode.UNKNOWN_MEMBER_ID)
})

test('a static member rejoining with the same protocols keeps its assignment without a rebalance and fences the old id', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  const first = await group.join(joinRequest('', { groupInstanceId: 'i1' }), 9, 'c', 'h')
  assert.equal(first.errorCode, ErrorCode.NONE)
  await group.sync({ generationId: 1, memberId: first.memberId, groupInstanceId: 'i1', protocolType: null, protocolName: null, assignments: [{ memberId: first.memberId, assignment: Buffer.from('p0') }] })
  const again = await group.join(joinRequest('', { groupInstanceId: 'i1' }), 9, 'c', 'h')
  assert.equal(again.errorCode, ErrorCode.NONE)
  assert.equal(again.generationId, 1, 'no new generation')
  assert.notEqual(again.memberId, first.memberId)
  assert.equal(group.state, 'Stable')
  assert.equal(group.heartbeat(first.memberId, 'i1', 1), ErrorCode.FENCED_INSTANCE_ID)
  assert.equal(group.heartbeat(again.memberId, 'i1', 1), ErrorCode.NONE)
  const synced = await group.sync({ generationId: 1, memberId: again.memberId, groupInstanceId: 'i1', protocolType: null, protocolName: null, assignments: [] })
  assert.deepEqual(synced.assignment, Buffer.from('p0'))
  assert.equal(group.validateCommit(first.memberId, 'i1', 1), ErrorCode.FENCED_INSTANCE_ID)
})

test('a member that stops heartbeating expires after its session timeout and the group rebalances', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  const a = await joinNew(group, { sessionTimeoutMs: 50, rebalanceTimeoutMs: 50 })
  await group.sync({ generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
  const deadline = Date.now() + 5_000
  while (group.members.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(group.members.size, 0)
  assert.equal(group.state, 'Empty')
  assert.equal(group.generationId, 2)
})

test('leaving removes the member; the last one leaves the group Empty', async (t) => {
  const group = new ClassicGroup('g', host())
  t.after(() => group.shutdown())
  const a = await joinNew(group)
  await group.sync({ generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
  assert.equal(group.leave('ghost', null), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(group.leave(a.memberId, null), ErrorCode.NONE)
  assert.equal(group.state, 'Empty')
  assert.equal(group.members.size, 0)
})
