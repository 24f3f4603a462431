import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import {
  ConsumerGroup, fromTopicPartitions, partitionKey, rangeAssignor, toTopicPartitions, uniformAssignor,
  type ConsumerGroupHost, type ConsumerGroupLimits, type ConsumerHeartbeatRequest, type ConsumerHeartbeatResponse, type TopicCatalog, type TopicInfo
} from '../../src/group/consumer-group.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { waitFor } from '../helpers/broker.ts'

function topicId (name: string): string {
  return createHash('md5').update(name).digest('hex')
}

/** A host with a replaceable topic catalog (a new catalog object per change, as ShardTable). */
class TestHost implements ConsumerGroupHost {
  consumerLimits: ConsumerGroupLimits
  persisted = 0
  #topics = new Map<string, TopicInfo>()
  #catalog: TopicCatalog

  constructor (limits: Partial<ConsumerGroupLimits> = {}, topics: Record<string, number> = { orders: 4 }) {
    this.consumerLimits = { sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5000, maxSize: 100, ...limits }
    for (const [name, partitions] of Object.entries(topics)) this.#topics.set(name, { name, id: topicId(name), partitions, internal: false })
    this.#catalog = this.#snapshot()
  }

  setTopic (name: string, partitions: number): void {
    this.#topics.set(name, { name, id: topicId(name), partitions, internal: false })
    this.#catalog = this.#snapshot()
  }

  #snapshot (): TopicCatalog {
    const byName = new Map(this.#topics)
    const byId = new Map([...byName.values()].map((t) => [t.id, t]))
    return { topic: (name) => byName.get(name), topicById: (id) => byId.get(id), topics: () => byName.values() }
  }

  topicCatalog (): TopicCatalog {
    return this.#catalog
  }

  async persistGroup (): Promise<void> {
    this.persisted++
  }
}

function request (memberId: string, memberEpoch: number, extra: Partial<ConsumerHeartbeatRequest> = {}): ConsumerHeartbeatRequest {
  return {
    groupId: 'g', memberId, memberEpoch, instanceId: null, rackId: null, rebalanceTimeoutMs: -1,
    subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: null, ...extra
  }
}

function joinRequest (memberId: string, topics: string[] = ['orders'], extra: Partial<ConsumerHeartbeatRequest> = {}): ConsumerHeartbeatRequest {
  return request(memberId, 0, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics, topicPartitions: [], ...extra })
}

/**
 * A well-behaved client: it remembers its epoch and what it owns, reports what it owns on every heartbeat, and
 * takes every assignment it is given at once (revoking what is gone, adding what is new).
 */
class Client {
  readonly group: ConsumerGroup
  readonly memberId: string
  epoch = 0
  owned = new Set<string>()
  last: ConsumerHeartbeatResponse | null = null

  constructor (group: ConsumerGroup, memberId: string) {
    this.group = group
    this.memberId = memberId
  }

  async join (topics: string[] = ['orders'], extra: Partial<ConsumerHeartbeatRequest> = {}): Promise<ConsumerHeartbeatResponse> {
    return this.#take(await this.group.heartbeat(joinRequest(this.memberId, topics, extra), 1, 'client', '/127.0.0.1'))
  }

  async beat (extra: Partial<ConsumerHeartbeatRequest> = {}): Promise<ConsumerHeartbeatResponse> {
    return this.#take(await this.group.heartbeat(request(this.memberId, this.epoch, { topicPartitions: toTopicPartitions(this.owned), ...extra }), 1, 'client', '/127.0.0.1'))
  }

  async leave (): Promise<ConsumerHeartbeatResponse> {
    const response = await this.group.heartbeat(request(this.memberId, -1), 1, 'client', '/127.0.0.1')
    this.owned = new Set()
    return response
  }

  #take (response: ConsumerHeartbeatResponse): ConsumerHeartbeatResponse {
    this.last = response
    if (response.errorCode !== ErrorCode.NONE) return response
    this.epoch = response.memberEpoch
    if (response.assignment !== null) this.owned = fromTopicPartitions(response.assignment.topicPartitions)
    return response
  }
}

/** No partition is owned by two clients at once, and the group agrees on every owner. */
function assertNoOverlap (clients: readonly Client[]): void {
  const owners = new Map<string, string>()
  for (const client of clients) {
    for (const key of client.owned) {
      assert.equal(owners.get(key), undefined, `${key} owned by ${owners.get(key)} and ${client.memberId}`)
      owners.set(key, client.memberId)
      const [id, partition] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))]
      assert.equal(client.group.ownerOf(id, partition), client.memberId, `${key}: group owner differs`)
    }
  }
}

const orders = (...partitions: number[]): Set<string> => new Set(partitions.map((p) => partitionKey(topicId('orders'), p)))

function newGroup (host: TestHost, t: { after (fn: () => void): void }): ConsumerGroup {
  const group = new ConsumerGroup('g', host)
  t.after(() => group.shutdown())
  return group
}

// ---- joining and assignment --------------------------------------------------------------------------------

test('a first member joins at epoch 1 with every partition of its topics, and the group is Stable', async (t) => {
  const host = new TestHost()
  const group = newGroup(host, t)
  const a = new Client(group, 'member-a')
  const response = await a.join()
  assert.equal(response.errorCode, ErrorCode.NONE)
  assert.equal(response.memberId, 'member-a')
  assert.equal(response.memberEpoch, 1)
  assert.equal(response.heartbeatIntervalMs, 5000)
  assert.deepEqual(a.owned, orders(0, 1, 2, 3))
  assert.deepEqual(response.assignment!.topicPartitions, [{ topicId: topicId('orders'), partitions: [0, 1, 2, 3] }])
  assert.equal(group.state, 'Stable')
  assert.equal(group.groupEpoch, 1)
  assert.equal(group.assignmentEpoch, 1)
  assert.equal(group.assignorName, 'uniform')
  assert.ok(host.persisted > 0, 'the join is persisted')
  // A heartbeat with nothing new answers no assignment (null = unchanged).
  const again = await a.beat()
  assert.equal(again.memberEpoch, 1)
  assert.equal(again.assignment, null)
})

test('v0 joins with an empty member id get a member id chosen by the coordinator', async (t) => {
  const group = newGroup(new TestHost(), t)
  const response = await group.heartbeat(joinRequest(''), 0, 'client', '/127.0.0.1')
  assert.equal(response.errorCode, ErrorCode.NONE)
  assert.ok(response.memberId !== null && response.memberId.length > 0)
  assert.ok(group.members.has(response.memberId))
  // v1 members must name themselves.
  const v1 = await group.heartbeat(joinRequest(''), 1, 'client', '/127.0.0.1')
  assert.equal(v1.errorCode, ErrorCode.INVALID_REQUEST)
})

test('subscriptions to topics that do not exist yet are assigned once the topic appears', async (t) => {
  const host = new TestHost({}, {})
  const group = newGroup(host, t)
  const a = new Client(group, 'a')
  await a.join(['later'])
  assert.equal(a.owned.size, 0)
  assert.equal(a.epoch, 1)
  host.setTopic('later', 2)
  await a.beat()
  assert.equal(a.epoch, 2, 'a new subscribed topic moves the group epoch')
  assert.deepEqual(a.owned, new Set([partitionKey(topicId('later'), 0), partitionKey(topicId('later'), 1)]))
  host.setTopic('later', 3)
  await a.beat()
  assert.equal(a.epoch, 3, 'more partitions move the group epoch')
  assert.equal(a.owned.size, 3)
})

test('a subscription by regex matches whole topic names and never internal topics', async (t) => {
  const host = new TestHost({}, { 'logs-a': 1, 'logs-b': 1, 'xlogs-c': 1 })
  const group = newGroup(host, t)
  const a = new Client(group, 'a')
  await a.join([], { subscribedTopicNames: null, subscribedTopicRegex: 'logs-.*' })
  assert.deepEqual(a.owned, new Set([partitionKey(topicId('logs-a'), 0), partitionKey(topicId('logs-b'), 0)]))
  const bad = await group.heartbeat(joinRequest('b', [], { subscribedTopicRegex: '(' }), 1, 'c', 'h')
  assert.equal(bad.errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION)
})

test('the uniform assignor balances members and keeps partitions where they were when it can', () => {
  const t1 = topicId('t1')
  const t2 = topicId('t2')
  const counts = new Map([[t1, 6], [t2, 3]])
  const both = new Set([t1, t2])
  const first = uniformAssignor([
    { memberId: 'a', topicIds: both, previous: new Set() },
    { memberId: 'b', topicIds: both, previous: new Set() }
  ], counts)
  assert.deepEqual([first.get('a')!.size, first.get('b')!.size].sort(), [4, 5])
  const second = uniformAssignor([
    { memberId: 'a', topicIds: both, previous: first.get('a')! },
    { memberId: 'b', topicIds: both, previous: first.get('b')! },
    { memberId: 'c', topicIds: both, previous: new Set() }
  ], counts)
  assert.deepEqual([...second.values()].map((s) => s.size), [3, 3, 3])
  // Sticky: a and b only gave partitions away.
  for (const member of ['a', 'b']) for (const key of second.get(member)!) assert.ok(first.get(member)!.has(key))
  const all = [...second.values()].flatMap((s) => [...s])
  assert.equal(new Set(all).size, 9, 'every partition exactly once')
  // Heterogeneous: a partition only goes to members subscribed to its topic.
  const mixed = uniformAssignor([
    { memberId: 'a', topicIds: new Set([t1]), previous: new Set() },
    { memberId: 'b', topicIds: both, previous: new Set() }
  ], counts)
  for (const key of mixed.get('a')!) assert.ok(key.startsWith(t1))
  assert.equal(mixed.get('a')!.size + mixed.get('b')!.size, 9)
  assert.ok(Math.abs(mixed.get('a')!.size - mixed.get('b')!.size) <= 1)
})

test('the range assignor gives each member a contiguous range per topic, the first ones one more', () => {
  const t1 = topicId('t1')
  const result = rangeAssignor([
    { memberId: 'b', topicIds: new Set([t1]), previous: new Set() },
    { memberId: 'a', topicIds: new Set([t1]), previous: new Set() },
    { memberId: 'c', topicIds: new Set([t1]), previous: new Set() }
  ], new Map([[t1, 7]]))
  const partitions = (member: string): number[] => [...result.get(member)!].map((k) => Number(k.split(':')[1])).sort((x, y) => x - y)
  assert.deepEqual(partitions('a'), [0, 1, 2])
  assert.deepEqual(partitions('b'), [3, 4])
  assert.deepEqual(partitions('c'), [5, 6])
})

test('serverAssignor picks the range assignor; an unknown one is UNSUPPORTED_ASSIGNOR', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join(['orders'], { serverAssignor: 'range' })
  await b.join(['orders'], { serverAssignor: 'range' })
  assert.equal(group.assignorName, 'range')
  assert.deepEqual(group.target.get('a'), orders(0, 1))
  assert.deepEqual(group.target.get('b'), orders(2, 3))
  const unknown = await group.heartbeat(joinRequest('c', ['orders'], { serverAssignor: 'sticky' }), 1, 'c', 'h')
  assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR)
  assert.equal(group.members.has('c'), false)
})

// ---- reconciliation ----------------------------------------------------------------------------------------

test('a partition moves only after its owner acknowledges the revocation: never two owners', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join()
  assert.deepEqual(a.owned, orders(0, 1, 2, 3))

  // b joins: the target gives it half, but a still holds everything, so b gets nothing yet.
  const joined = await b.join()
  assert.equal(group.groupEpoch, 2)
  assert.equal(joined.memberEpoch, 2)
  assert.equal(b.owned.size, 0)
  assertNoOverlap([a, b])
  assert.equal(group.state, 'Reconciling')

  // a's next heartbeat is told to give up b's half; it stays at epoch 1 until it acknowledges.
  const target = group.target.get('b')!
  assert.equal(target.size, 2)
  await a.beat({ topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) })
  assert.equal(a.epoch, 1)
  for (const key of target) assert.ok(!a.owned.has(key), 'revoked from a')
  assert.equal(group.members.get('a')!.state, 'unrevoked')

  // b asks again: the partitions are still pending revocation with a (which has not acknowledged).
  await b.beat()
  assert.equal(b.owned.size, 0)
  for (const key of target) assert.equal(group.ownerOf(key.split(':')[0], Number(key.split(':')[1])), 'a')

  // a acknowledges by reporting what it owns now, and moves to epoch 2; then b gets them.
  await a.beat()
  assert.equal(a.epoch, 2)
  assert.equal(group.members.get('a')!.state, 'stable')
  await b.beat()
  assert.deepEqual(b.owned, target)
  assertNoOverlap([a, b])
  assert.equal(group.state, 'Stable')
})

test('random joins, leaves and heartbeat orders never give one partition to two members, and converge', async (t) => {
  const host = new TestHost({}, { orders: 12, audit: 5 })
  const group = newGroup(host, t)
  let seed = 42
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  const active: Client[] = []
  let next = 0
  for (let step = 0; step < 600; step++) {
    const roll = random(20)
    if ((roll === 0 || active.length === 0) && active.length < 6) {
      const client = new Client(group, `m${next++}`)
      await client.join(random(3) === 0 ? ['orders'] : ['orders', 'audit'])
      active.push(client)
    } else if (roll === 1 && active.length > 1) {
      const [client] = active.splice(random(active.length), 1)
      assert.equal((await client.leave()).memberEpoch, -1)
    } else {
      await active[random(active.length)].beat()
    }
    assertNoOverlap(active)
  }
  // With everyone heartbeating, the group settles on its target.
  for (let round = 0; round < 5; round++) for (const client of active) await client.beat()
  assertNoOverlap(active)
  assert.equal(group.state, 'Stable')
  for (const client of active) assert.deepEqual(client.owned, group.target.get(client.memberId))
  const ownedCount = active.reduce((sum, client) => sum + client.owned.size, 0)
  const subscribedAudit = active.some((c) => group.members.get(c.memberId)!.subscribedTopicNames.includes('audit'))
  assert.equal(ownedCount, 12 + (subscribedAudit ? 5 : 0))
})

test('a leaving member (epoch -1) frees its partitions for the others', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join()
  await b.join()
  await a.beat({ topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) })
  await a.beat()
  await b.beat()
  assert.equal(a.owned.size, 2)
  assert.equal(b.owned.size, 2)
  const epoch = group.groupEpoch
  const left = await a.leave()
  assert.equal(left.errorCode, ErrorCode.NONE)
  assert.equal(left.memberEpoch, -1)
  assert.equal(group.groupEpoch, epoch + 1)
  assert.equal(group.members.has('a'), false)
  await b.beat()
  assert.deepEqual(b.owned, orders(0, 1, 2, 3))
  assert.equal((await group.heartbeat(request('a', -1), 1, 'c', 'h')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  await b.leave()
  assert.equal(group.state, 'Empty')
})

test('a member silent for the session timeout is removed and its partitions go to the others', async (t) => {
  const group = newGroup(new TestHost({ sessionTimeoutMs: 150 }), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join()
  await b.join()
  // Only b keeps heartbeating; a expires.
  await waitFor(async () => {
    await b.beat()
    return b.owned.size === 4
  }, 5000, 'b to inherit every partition')
  assert.equal(group.members.has('a'), false)
  const late = await a.beat()
  assert.equal(late.errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
})

test('a member too slow to revoke is removed after its rebalance timeout', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join(['orders'], { rebalanceTimeoutMs: 100 })
  await b.join()
  // a is told to revoke, and never acknowledges (it keeps reporting everything).
  const stubborn = orders(0, 1, 2, 3)
  await a.beat({ topicPartitions: toTopicPartitions(stubborn) })
  assert.equal(group.members.get('a')!.state, 'unrevoked')
  await waitFor(async () => {
    await b.beat()
    return b.owned.size === 4
  }, 5000, 'b to take over from a')
  assert.equal(group.members.has('a'), false)
})

// ---- epochs and errors -------------------------------------------------------------------------------------

test('epochs that do not match are fenced; the previous epoch is accepted while owning a subset', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join()
  assert.equal((await group.heartbeat(request('a', 5, { topicPartitions: [] }), 1, 'c', 'h')).errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
  assert.equal((await group.heartbeat(request('nobody', 1), 1, 'c', 'h')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  await b.join()
  await a.beat({ topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) })
  await a.beat()
  assert.equal(a.epoch, 2)
  // A response bumping a to epoch 2 may have been lost: epoch 1 with a subset of the assignment is fine ...
  const previous = await group.heartbeat(request('a', 1, { topicPartitions: toTopicPartitions(a.owned) }), 1, 'c', 'h')
  assert.equal(previous.errorCode, ErrorCode.NONE)
  assert.equal(previous.memberEpoch, 2)
  // ... but not while claiming more, nor without saying what it owns.
  const greedy = await group.heartbeat(request('a', 1, { topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) }), 1, 'c', 'h')
  assert.equal(greedy.errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
  const silent = await group.heartbeat(request('a', 1, { topicPartitions: null }), 1, 'c', 'h')
  assert.equal(silent.errorCode, ErrorCode.FENCED_MEMBER_EPOCH)
  // A fenced member rejoins with epoch 0 and the same id, owning nothing, and is reconciled from scratch.
  const rejoined = await a.join()
  assert.equal(rejoined.errorCode, ErrorCode.NONE)
  assert.equal(rejoined.memberEpoch, 2)
  assertNoOverlap([a, b])
})

test('malformed heartbeats are INVALID_REQUEST; a full group is GROUP_MAX_SIZE_REACHED', async (t) => {
  const group = newGroup(new TestHost({ maxSize: 1 }), t)
  const noSubscription = await group.heartbeat(request('a', 0, { rebalanceTimeoutMs: 1000, topicPartitions: [] }), 1, 'c', 'h')
  assert.equal(noSubscription.errorCode, ErrorCode.INVALID_REQUEST)
  const ownsOnJoin = await group.heartbeat(joinRequest('a', ['orders'], { topicPartitions: [{ topicId: topicId('orders'), partitions: [0] }] }), 1, 'c', 'h')
  assert.equal(ownsOnJoin.errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await group.heartbeat(request('a', -3), 1, 'c', 'h')).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await group.heartbeat(request('a', -2), 1, 'c', 'h')).errorCode, ErrorCode.INVALID_REQUEST, 'static leave needs an instance id')
  assert.equal((await group.heartbeat(joinRequest('a'), 1, 'c', 'h')).errorCode, ErrorCode.NONE)
  assert.equal((await group.heartbeat(joinRequest('b'), 1, 'c', 'h')).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED)
  assert.equal(group.members.size, 1)
})

test('a static member leaving with epoch -2 keeps its partitions for its replacement, without a new epoch', async (t) => {
  const group = newGroup(new TestHost(), t)
  const a = new Client(group, 'a1')
  const b = new Client(group, 'b')
  await a.join(['orders'], { instanceId: 'instance-a' })
  await b.join()
  await a.beat({ topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) })
  await a.beat()
  await b.beat()
  const kept = new Set(a.owned)
  const epoch = group.groupEpoch
  const left = await group.heartbeat(request('a1', -2, { instanceId: 'instance-a' }), 1, 'c', 'h')
  assert.equal(left.errorCode, ErrorCode.NONE)
  assert.equal(left.memberEpoch, -2)
  assert.equal(group.groupEpoch, epoch)
  // The same instance back under a new member id takes over a1's partitions and epoch.
  const a2 = new Client(group, 'a2')
  const back = await a2.join(['orders'], { instanceId: 'instance-a' })
  assert.equal(back.errorCode, ErrorCode.NONE)
  assert.deepEqual(a2.owned, kept)
  assert.equal(group.groupEpoch, epoch, 'no rebalance')
  assert.equal(group.members.has('a1'), false)
  // While a2 is active, another process claiming the instance is refused.
  const a3 = new Client(group, 'a3')
  assert.equal((await a3.join(['orders'], { instanceId: 'instance-a' })).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID)
  assertNoOverlap([a2, b])
})

// ---- offsets -----------------------------------------------------------------------------------------------

test('offset commits carry the member epoch: stale is STALE_MEMBER_EPOCH, simple commits only when empty', async (t) => {
  const group = newGroup(new TestHost(), t)
  assert.equal(group.validateCommit('', -1, 9), ErrorCode.NONE, 'an empty group takes simple commits')
  const a = new Client(group, 'a')
  await a.join()
  assert.equal(group.validateCommit('a', 1, 9), ErrorCode.NONE)
  assert.equal(group.validateCommit('a', 0, 9), ErrorCode.STALE_MEMBER_EPOCH)
  assert.equal(group.validateCommit('a', 2, 9), ErrorCode.FENCED_MEMBER_EPOCH)
  assert.equal(group.validateCommit('nobody', 1, 9), ErrorCode.UNKNOWN_MEMBER_ID)
  assert.equal(group.validateCommit('', -1, 9), ErrorCode.UNKNOWN_MEMBER_ID, 'no simple commits while members are in')
  assert.equal(group.validateCommit('a', 1, 8), ErrorCode.UNSUPPORTED_VERSION)
  assert.equal(group.validateFetch(null, -1), ErrorCode.NONE)
  assert.equal(group.validateFetch('a', 1), ErrorCode.NONE)
  assert.equal(group.validateFetch('a', 0), ErrorCode.STALE_MEMBER_EPOCH)
})

// ---- persistence -------------------------------------------------------------------------------------------

test('a restored group keeps its epochs and assignments; restored members expire unless they heartbeat', async (t) => {
  const host = new TestHost({ sessionTimeoutMs: 200 })
  const group = newGroup(host, t)
  const a = new Client(group, 'a')
  const b = new Client(group, 'b')
  await a.join()
  await b.join()
  await a.beat({ topicPartitions: toTopicPartitions(orders(0, 1, 2, 3)) })
  await a.beat()
  await b.beat()
  const record = JSON.parse(JSON.stringify(group.toRecord()))
  group.shutdown()

  const restored = newGroup(host, t)
  restored.restore(record)
  assert.equal(restored.groupEpoch, group.groupEpoch)
  assert.equal(restored.assignmentEpoch, group.assignmentEpoch)
  assert.equal(restored.state, 'Stable')
  assert.deepEqual(restored.members.get('a')!.assigned, a.owned)
  const a2 = new Client(restored, 'a')
  a2.epoch = a.epoch
  a2.owned = a.owned
  // a carries on in its epoch; b never comes back and expires, leaving everything to a.
  await waitFor(async () => {
    const response = await a2.beat()
    assert.equal(response.errorCode, ErrorCode.NONE)
    return a2.owned.size === 4
  }, 5000, 'a to inherit b\'s partitions')
  assert.equal(restored.members.has('b'), false)
})
