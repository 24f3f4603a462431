// @platformatic/kafka 2.x consumer groups (classic protocol) and group admin against a real broker process:
// a group round trip (produce, consume with two members, commit, resume), then ListGroups, DescribeGroups,
// OffsetDelete (Admin.deleteConsumerGroupOffsets) and DeleteGroups. The client picks its versions from the
// broker's ApiVersions answer; a recording proxy shows which.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers, type MessagesStream } from '@platformatic/kafka'
import { waitFor, type TestBroker } from '../helpers/broker.ts'
import { ApiVersionProxy } from './api-version-proxy.ts'

const kPartitions = 4
const kGroupArgs = ['--group-initial-rebalance-delay-ms', '0']

/** A group member consuming with manual commits: every message is committed as soon as it is seen. */
class Member {
  readonly name: string
  readonly consumer: Consumer<string, string, string, string>
  stream: MessagesStream<string, string, string, string> | null = null
  readonly commits: Array<Promise<void>> = []
  readonly errors: Error[] = []
  /** Completed fetches (the stream's 'fetch' event). */
  fetches = 0
  /** Set once stop() begins: what fails after it is the client closing, not the group. */
  #stopping = false

  constructor (bootstrap: string, name: string, groupId: string) {
    this.name = name
    this.consumer = new Consumer({
      clientId: name,
      groupId,
      bootstrapBrokers: [bootstrap],
      deserializers: stringDeserializers,
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 300,
      retries: 5,
      retryDelay: 100
    })
    // A member closing while the group rebalances (the other member just left) can be in the middle of its
    // rejoin: the client then reports the SyncGroup its own close cut short as an 'error' event, which would
    // throw if nobody listened. Errors before stop() are the test's business and are asserted on.
    this.consumer.on('error', (error: Error) => {
      if (!this.#stopping) this.errors.push(error)
    })
  }

  async start (topic: string, ledger: Map<string, string[]>): Promise<void> {
    this.stream = await this.consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 200 })
    this.stream.on('error', (error: Error) => { this.errors.push(error) })
    this.stream.on('fetch', () => { this.fetches++ })
    this.stream.on('data', (message) => {
      const who = ledger.get(message.value) ?? []
      who.push(`${this.name}@${message.partition}:${message.offset}`)
      ledger.set(message.value, who)
      this.commits.push(message.commit() as Promise<void>)
    })
  }

  get partitions (): number[] {
    return (this.consumer.assignments ?? []).flatMap((a) => a.partitions).sort((a, b) => a - b)
  }

  async stop (): Promise<void> {
    this.#stopping = true
    await Promise.all(this.commits)
    await this.stream?.close()
    await this.consumer.close()
  }
}

/**
 * Runs `body`, then stops `members`. When `body` fails, its error is the one thrown: stopping members after a
 * failed step can fail too (a close racing a rejoin), and that must not hide why the test failed.
 */
async function withMembers (members: Member[], body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    await Promise.allSettled(members.map((member) => member.stop()))
    throw error
  }
  for (const member of members) await member.stop()
}

function duplicates (ledger: Map<string, string[]>): string[] {
  return [...ledger].filter(([, who]) => who.length > 1).map(([value, who]) => `${value}: ${who.join(', ')}`)
}

describe('@platformatic/kafka consumer groups', { timeout: 90_000 }, () => {
  const proxy = new ApiVersionProxy()
  let broker: TestBroker
  let admin: Admin
  let producer: Producer<string, string, string, string>
  const topic = 'platformatic-groups'
  const groupId = 'platformatic-group'

  async function produce (tag: string, count: number): Promise<string[]> {
    const values = Array.from({ length: count }, (_, i) => `${tag}-${i}`)
    await producer.send({ messages: values.map((value, i) => ({ topic, partition: i % kPartitions, value })) })
    return values
  }

  async function committed (group: string): Promise<Map<number, bigint>> {
    const [entry] = await admin.listConsumerGroupOffsets({ groups: [group] })
    return new Map((entry.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.committedOffset]))
  }

  before(async () => {
    broker = await proxy.startBroker({ workers: 2, args: kGroupArgs })
    admin = new Admin({ clientId: 'platformatic-admin', bootstrapBrokers: [proxy.bootstrap] })
    producer = new Producer({ clientId: 'platformatic-producer', bootstrapBrokers: [proxy.bootstrap], serializers: stringSerializers })
    await admin.createTopics({ topics: [topic], partitions: kPartitions, replicas: 1 })
  })

  after(async () => {
    await producer?.close()
    await admin?.close()
    await broker?.stop()
    await proxy.close()
    // A closed connection seen by the client could be the broker's doing: say so if the broker logged anything.
    const log = broker?.output() ?? ''
    if (/ERROR|WARN/.test(log)) console.error(`broker log:\n${log}`)
  })

  test('two members of a group consume every record once with manual commits, and a later member resumes after the commits', async () => {
    const ledger = new Map<string, string[]>()
    const one = new Member(proxy.bootstrap, 'platformatic-one', groupId)
    const two = new Member(proxy.bootstrap, 'platformatic-two', groupId)
    const produced: string[] = []
    const allConsumed = (what: string): Promise<unknown> =>
      waitFor(() => produced.every((v) => ledger.has(v)), 30_000, `${what}: ${produced.filter((v) => !ledger.has(v)).length} records unconsumed`)
    await withMembers([one, two], async () => {
      produced.push(...await produce('first', 40))
      await one.start(topic, ledger)
      await allConsumed('one member')
      await Promise.all(one.commits)
      assert.deepEqual([...(await committed(groupId)).values()], [10n, 10n, 10n, 10n])

      // A second member joins: the group rebalances and the partitions are split.
      await two.start(topic, ledger)
      await waitFor(async () => {
        if (one.partitions.length === 0 || two.partitions.length === 0) return false
        const [group] = [...(await admin.describeGroups({ groups: [groupId] })).values()]
        return group.state === 'Stable' && group.members.size === 2 && one.partitions.length + two.partitions.length === kPartitions
      }, 30_000, 'both members assigned')
      // The client hands over whatever a fetch returns, even for partitions revoked while that fetch was in
      // flight (the Java consumer drops those), so a record produced now could reach the old owner from a
      // fetch sent before the rebalance, as well as the new owner. Let each member finish one fetch first:
      // the ones after it are sent for the new assignment.
      const fetched = [one.fetches, two.fetches]
      await waitFor(() => one.fetches > fetched[0] && two.fetches > fetched[1], 10_000, 'a fetch with the new assignment')
      produced.push(...await produce('second', 40))
      await allConsumed('two members')
      await waitFor(() => proxy.requests.some((r) => r.apiName === 'Heartbeat'), 10_000, 'a heartbeat')
      await Promise.all([...one.commits, ...two.commits])
      assert.deepEqual(duplicates(ledger), [])
      assert.deepEqual([...(await committed(groupId)).entries()].sort(([a], [b]) => a - b), [[0, 20n], [1, 20n], [2, 20n], [3, 20n]])
      assert.deepEqual([...one.errors, ...two.errors], [])
    })

    // Everyone left: a new member starts from the committed offsets.
    const later = new Member(proxy.bootstrap, 'platformatic-later', groupId)
    const resumed = new Map<string, string[]>()
    await withMembers([later], async () => {
      const third = await produce('third', 20)
      await later.start(topic, resumed)
      await waitFor(() => third.every((v) => resumed.has(v)), 30_000, 'records after the commits consumed')
      assert.deepEqual([...resumed.keys()].filter((v) => !v.startsWith('third-')), [], 'records before the committed offsets were redelivered')
      assert.deepEqual(duplicates(resumed), [])
    })
    assert.deepEqual([...(await committed(groupId)).values()], [25n, 25n, 25n, 25n])
  })

  test('admin lists, describes and deletes groups, and deletes committed offsets once nobody subscribes to them', async () => {
    const group = 'platformatic-admin-group'
    const member = new Member(proxy.bootstrap, 'platformatic-admin-member', group)
    const ledger = new Map<string, string[]>()
    await withMembers([member], async () => {
      const values = await produce('admin', 8)
      await member.start(topic, ledger)
      await waitFor(() => member.partitions.length === kPartitions, 30_000, 'member assigned')
      // The topic's records so far (the first test's and these) are all consumed; commits are per message.
      await waitFor(() => values.every((v) => ledger.has(v)), 30_000, 'records consumed')
      await Promise.all(member.commits)
      await waitFor(() => proxy.requests.some((r) => r.apiName === 'Heartbeat' && r.clientId === member.name), 10_000, 'a heartbeat')

      const listed = await admin.listGroups()
      assert.deepEqual(listed.get(group), { id: group, state: 'Stable', groupType: 'classic', protocolType: 'consumer' })
      const described = (await admin.describeGroups({ groups: [group] })).get(group)
      assert.ok(described !== undefined)
      assert.equal(described.state, 'Stable')
      assert.equal(described.protocolType, 'consumer')
      assert.equal(described.members.size, 1)
      const [info] = [...described.members.values()]
      assert.equal(info.clientId, 'platformatic-admin-member')
      assert.equal(info.id, member.consumer.memberId)
      assert.deepEqual(info.metadata?.topics, [topic])
      assert.deepEqual(info.assignments?.get(topic)?.partitions, [0, 1, 2, 3])

      // OffsetDelete refuses the offsets of a topic an active member subscribes to.
      await assert.rejects(
        admin.deleteConsumerGroupOffsets({ groupId: group, topics: [{ name: topic, partitionIndexes: [0] }] }),
        (error: AggregateError & { errors: Array<{ response?: { topics: Array<{ partitions: Array<{ errorCode: number }> }> } }> }) => {
          assert.equal(error.errors[0].response?.topics[0].partitions[0].errorCode, 86) // GROUP_SUBSCRIBED_TO_TOPIC
          return true
        })
      // DeleteGroups refuses a group with members.
      await assert.rejects(admin.deleteGroups({ groups: [group] }))
    })

    const empty = (await admin.describeGroups({ groups: [group] })).get(group)
    assert.equal(empty?.state, 'Empty')
    assert.equal(empty?.members.size, 0)
    const previous = await committed(group)
    assert.deepEqual([...previous.keys()].sort(), [0, 1, 2, 3])
    const deleted = await admin.deleteConsumerGroupOffsets({ groupId: group, topics: [{ name: topic, partitionIndexes: [0, 2] }] })
    assert.deepEqual(deleted, [{ name: topic, partitionIndexes: [0, 2] }])
    const remaining = await committed(group)
    assert.deepEqual([...remaining.keys()].sort(), [1, 3])
    assert.equal(remaining.get(1), previous.get(1))

    await admin.deleteGroups({ groups: [group] })
    assert.equal((await admin.listGroups()).has(group), false)
    assert.equal((await admin.describeGroups({ groups: [group] })).get(group)?.state, 'Dead')
    assert.deepEqual([...(await committed(group)).keys()], [])

    // @platformatic/kafka's choice of versions from ApiVersions (its newest, all supported by the broker).
    const versions = proxy.versions()
    const expected: Record<string, number[]> = {
      FindCoordinator: [6],
      JoinGroup: [9],
      SyncGroup: [5],
      Heartbeat: [4],
      LeaveGroup: [5],
      OffsetCommit: [9],
      OffsetFetch: [9],
      ListGroups: [5],
      DescribeGroups: [5],
      DeleteGroups: [2],
      OffsetDelete: [0]
    }
    for (const [name, seen] of Object.entries(expected)) assert.deepEqual(versions[name], seen, `${name}: all versions seen ${JSON.stringify(versions)}`)
  })
})
