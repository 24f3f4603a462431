// confluent-kafka-python (librdkafka) consumer groups against a real broker process, one Python process per
// member (test/interop/fixtures/group-consumer.py, run with Debian's /usr/bin/python3 and its
// python3-confluent-kafka). librdkafka picks its protocol versions from the broker's ApiVersions answer; a
// recording proxy shows which.
//
// - cooperative-sticky (KIP-429): members join and leave, and partitions move incrementally: a member keeps
//   the partitions it is not asked to give up, and its callbacks see only what is added or taken away.
// - static membership (KIP-345): a member with group.instance.id closes without LeaveGroup and comes back
//   with the same instance id within its session timeout; the group does not rebalance, the other member
//   keeps its partitions, and the returning member gets its old ones.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import kafkajs from '../helpers/kafkajs.ts'
import type { Admin, Producer } from 'kafkajs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ApiVersionProxy } from './api-version-proxy.ts'

const { Kafka, logLevel, Partitioners } = kafkajs

const kPython = '/usr/bin/python3'
const kConsumerScript = fileURLToPath(new URL('./fixtures/group-consumer.py', import.meta.url))
const kGroupArgs = ['--group-initial-rebalance-delay-ms', '0']
const kPartitions = 6

interface RebalanceEvent { event: 'assign' | 'revoke' | 'lost', partitions: number[], before?: number[] }

/** One librdkafka group member in a Python process. */
class PyMember {
  readonly name: string
  readonly child: ChildProcessWithoutNullStreams
  readonly rebalances: RebalanceEvent[] = []
  readonly records: Array<{ partition: number, offset: number, value: string }> = []
  readonly errors: string[] = []
  assignment: number[] = []
  output = ''
  readonly exited: Promise<number | null>

  constructor (name: string, options: { bootstrap: string, topic: string, group: string, config?: Record<string, string | number | boolean> }) {
    this.name = name
    this.child = spawn(kPython, [kConsumerScript, JSON.stringify({ ...options, name })], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => { this.output += text })
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.output += line + '\n'
      const event = JSON.parse(line)
      switch (event.event) {
        case 'record':
          this.records.push(event)
          break
        case 'assign':
          this.rebalances.push(event)
          this.assignment = [...new Set([...this.assignment, ...event.partitions])].sort((a, b) => a - b)
          break
        case 'revoke':
        case 'lost':
          this.rebalances.push(event)
          this.assignment = this.assignment.filter((p) => !event.partitions.includes(p))
          break
        case 'error':
          this.errors.push(event.error)
          break
      }
    })
  }

  /** Closes the consumer (commit, LeaveGroup unless static) and waits for the process to exit. */
  async close (): Promise<void> {
    if (this.child.exitCode === null) this.child.stdin.end('close\n')
    const code = await this.exited
    assert.equal(code, 0, `${this.name} exited with ${code}:\n${this.output.slice(-3000)}`)
  }

  kill (): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

function kafkaClient (bootstrap: string): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'confluent-groups', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })
}

/** Produces `count` records `<tag>-<i>` round-robin over the partitions, in `sends` separate requests. */
async function produce (producer: Producer, topic: string, tag: string, count: number, sends = 1): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${tag}-${i}`)
  const per = Math.ceil(count / sends)
  for (let start = 0; start < count; start += per) {
    await producer.send({ topic, messages: values.slice(start, start + per).map((value, i) => ({ partition: (start + i) % kPartitions, value })) })
  }
  return values
}

/** Waits until the members' assignments split the partitions between them, each holding some. */
async function waitSplit (admin: Admin, groupId: string, members: PyMember[], timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    if (members.some((m) => m.assignment.length === 0)) return false
    const all = members.flatMap((m) => m.assignment).sort((a, b) => a - b)
    if (all.length !== kPartitions || !all.every((p, i) => p === i)) return false
    const { groups: [group] } = await admin.describeGroups([groupId])
    return group.state === 'Stable' && group.members.length === members.length
  }, timeoutMs, `${members.map((m) => `${m.name} ${JSON.stringify(m.assignment)}`).join(', ')} to split the partitions`)
}

/**
 * The group's generation, found with Heartbeats for one of its members from the project's own client: only
 * the current generation is answered with NONE (others with ILLEGAL_GENERATION), and a heartbeat for a live
 * member changes nothing but its session timer.
 */
async function generationOf (client: KafkaClient, group: string, instanceId: string): Promise<number> {
  const described = await client.request(15, 5, { groups: [group], includeAuthorizedOperations: false })
  const member = described.groups[0].members.find((m: { groupInstanceId: string | null }) => m.groupInstanceId === instanceId)
  assert.ok(member !== undefined, `no member ${instanceId} in ${JSON.stringify(described.groups[0].members)}`)
  for (let generation = 1; generation <= 50; generation++) {
    const { errorCode } = await client.request(12, 4, { groupId: group, generationId: generation, memberId: member.memberId, groupInstanceId: instanceId })
    if (errorCode === 0) return generation
    assert.equal(errorCode, 22, `Heartbeat for generation ${generation}: error ${errorCode}`) // ILLEGAL_GENERATION
  }
  throw new Error(`no generation of ${group} up to 50 accepted a heartbeat`)
}

function consumed (members: PyMember[]): Map<string, string[]> {
  const ledger = new Map<string, string[]>()
  for (const member of members) {
    for (const record of member.records) {
      const who = ledger.get(record.value) ?? []
      who.push(`${member.name}@${record.partition}:${record.offset}`)
      ledger.set(record.value, who)
    }
  }
  return ledger
}

function duplicates (ledger: Map<string, string[]>): string[] {
  return [...ledger].filter(([, who]) => who.length > 1).map(([value, who]) => `${value}: ${who.join(', ')}`)
}

describe('confluent-kafka (librdkafka) consumer groups', { timeout: 90_000 }, () => {
  test('cooperative-sticky members joining and leaving consume every record, with incremental assign and revoke', async () => {
    const broker = await startBroker({ workers: 2, args: kGroupArgs })
    const kafka = kafkaClient(broker.bootstrap)
    const admin = kafka.admin()
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    const topic = 'cooperative'
    const group = 'cooperative-group'
    const config = { 'partition.assignment.strategy': 'cooperative-sticky' }
    const member = (name: string): PyMember => new PyMember(name, { bootstrap: broker.bootstrap, topic, group, config })
    const members: PyMember[] = []
    const produced: string[] = []
    const allConsumed = (what: string): Promise<unknown> => waitFor(() => {
      const ledger = consumed(members)
      return produced.every((v) => ledger.has(v))
    }, 30_000, `${what}: every record consumed`)
    const failure = (): string => members.map((m) => `--- ${m.name} ---\n${m.output.split('\n').filter((l) => !l.includes('"record"')).join('\n')}`).join('\n')
    try {
      await admin.connect()
      await producer.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: kPartitions }], waitForLeaders: true })

      const a = member('a')
      members.push(a)
      await waitSplit(admin, group, [a])
      produced.push(...await produce(producer, topic, 'one', 60))
      await allConsumed('a alone')

      // b joins while records keep coming: a gives up some partitions and keeps the others.
      const b = member('b')
      members.push(b)
      produced.push(...await produce(producer, topic, 'b-joins', 60, 10))
      await waitSplit(admin, group, [a, b])
      produced.push(...await produce(producer, topic, 'two', 60))
      await allConsumed('a and b')

      const c = member('c')
      members.push(c)
      produced.push(...await produce(producer, topic, 'c-joins', 60, 10))
      await waitSplit(admin, group, [a, b, c])
      produced.push(...await produce(producer, topic, 'three', 60))
      await allConsumed('a, b and c')

      // b leaves (LeaveGroup on close): only its partitions move, to a and c.
      const bLast = [...b.assignment]
      const aMark = a.rebalances.length
      const cMark = c.rebalances.length
      const closing = b.close()
      produced.push(...await produce(producer, topic, 'b-leaves', 60, 10))
      await closing
      await waitSplit(admin, group, [a, c])
      produced.push(...await produce(producer, topic, 'after', 60))
      await allConsumed('after b left')

      const ledger = consumed(members)
      assert.equal(produced.filter((v) => !ledger.has(v)).length, 0)
      assert.deepEqual(duplicates(ledger), [], `records consumed more than once\n${failure()}`)
      for (const m of members) assert.deepEqual(m.errors, [], `${m.name} reported errors`)

      // Incremental: no revoke ever took a member's whole assignment while it stayed in the group, and gains
      // came on top of what a member kept.
      for (const m of [a, c]) {
        for (const event of m.rebalances) {
          if (event.event === 'revoke') assert.ok(event.partitions.length < (event.before ?? []).length, `${m.name} had everything revoked: ${JSON.stringify(event)}\n${failure()}`)
          assert.notEqual(event.event, 'lost', `${m.name} lost its partitions\n${failure()}`)
        }
      }
      assert.ok(a.rebalances.some((e) => e.event === 'revoke'), `a never gave partitions up\n${failure()}`)
      // Sticky: when b left, a and c were given b's partitions and nothing else, on top of their own.
      const gained = [...a.rebalances.slice(aMark), ...c.rebalances.slice(cMark)]
      assert.ok(gained.every((e) => e.event === 'assign' && (e.before ?? []).length > 0), `after b left: ${JSON.stringify(gained)}`)
      assert.deepEqual(gained.flatMap((e) => e.partitions).sort((x, y) => x - y), bLast)
    } finally {
      for (const m of members) m.kill()
      await producer.disconnect()
      await admin.disconnect()
      await broker.stop()
    }
  })

  describe('static membership', () => {
    const proxy = new ApiVersionProxy()
    let broker: TestBroker

    before(async () => {
      broker = await proxy.startBroker({ workers: 2, args: kGroupArgs })
    })

    after(async () => {
      await broker?.stop()
      await proxy.close()
    })

    test('a static member that restarts within its session timeout gets its partitions back without a rebalance', async () => {
      const kafka = kafkaClient(proxy.bootstrap)
      const admin = kafka.admin()
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
      const topic = 'static'
      const group = 'static-group'
      const member = (name: string): PyMember => new PyMember(name, { bootstrap: proxy.bootstrap, topic, group, config: { 'group.instance.id': name, 'session.timeout.ms': 10_000 } })
      const members: PyMember[] = []
      const own = await KafkaClient.to(broker.bootstrap)
      const failure = (): string => members.map((m) => `--- ${m.name} ---\n${m.output.split('\n').filter((l) => !l.includes('"record"')).join('\n')}`).join('\n')
      try {
        await admin.connect()
        await producer.connect()
        await admin.createTopics({ topics: [{ topic, numPartitions: kPartitions }], waitForLeaders: true })
        // static-1 joins first, so it is the group's leader: when it comes back, the broker hands the leader
        // the member list (librdkafka's JoinGroup v5 has no skipAssignment) and must keep the assignment.
        const one = member('static-1')
        members.push(one)
        await waitSplit(admin, group, [one])
        const two = member('static-2')
        members.push(two)
        await waitSplit(admin, group, [one, two])
        const produced = await produce(producer, topic, 'first', 60)
        await waitFor(() => produced.every((v) => consumed(members).has(v)), 30_000, 'first records consumed')
        const generation = await generationOf(own, group, 'static-2')
        const oneBefore = [...one.assignment]
        const twoEvents = two.rebalances.length
        const requestsBefore = proxy.requests.length

        // static-1 closes: it commits, and sends no LeaveGroup, so the group keeps it as a member.
        await one.close()
        const afterClose = proxy.requests.slice(requestsBefore).filter((r) => r.clientId === 'static-1')
        assert.ok(afterClose.some((r) => r.apiName === 'OffsetCommit' || r.apiName === 'Heartbeat'), `static-1 sent nothing on close: ${JSON.stringify(afterClose)}`)
        assert.deepEqual(afterClose.filter((r) => r.apiName === 'LeaveGroup'), [], 'a static member sent LeaveGroup on close')
        const { groups: [closed] } = await admin.describeGroups([group])
        assert.equal(closed.state, 'Stable')
        assert.equal(closed.members.length, 2, 'the closed static member is still in the group')

        // Records for both members' partitions arrive while static-1 is away.
        produced.push(...await produce(producer, topic, 'away', 60))
        const back = member('static-1')
        members.push(back)
        await waitFor(() => back.assignment.length > 0, 20_000, `static-1 back with partitions\n${failure()}`)
        await waitFor(() => produced.every((v) => consumed(members).has(v)), 30_000, 'records produced while away consumed')

        assert.deepEqual(back.assignment, oneBefore, 'static-1 came back with other partitions')
        assert.deepEqual(two.rebalances.slice(twoEvents), [], `static-2 saw a rebalance\n${failure()}`)
        assert.equal(await generationOf(own, group, 'static-2'), generation, 'the group moved to another generation')
        const rejoins = proxy.requests.slice(requestsBefore).filter((r) => r.clientId === 'static-2' && (r.apiName === 'JoinGroup' || r.apiName === 'SyncGroup'))
        assert.deepEqual(rejoins, [], 'static-2 rejoined')
        assert.deepEqual(two.assignment, [0, 1, 2, 3, 4, 5].filter((p) => !oneBefore.includes(p)))
        assert.deepEqual(duplicates(consumed(members)), [], `records consumed more than once\n${failure()}`)

        // DescribeGroups v5 (the first with instance ids): still two members, under their instance ids.
        const described = await own.request(15, 5, { groups: [group], includeAuthorizedOperations: false })
        const state = described.groups[0]
        assert.equal(state.groupState, 'Stable')
        assert.deepEqual(state.members.map((m: { groupInstanceId: string }) => m.groupInstanceId).sort(), ['static-1', 'static-2'])

        // librdkafka's own choice of versions, from ApiVersions: the newest librdkafka 2.0 knows, all of
        // which the broker supports. JoinGroup v5, SyncGroup v3, Heartbeat v3 and OffsetCommit v7 are the
        // first to carry group.instance.id (Kafka 2.3).
        const versions = proxy.versions((r) => r.clientId === 'static-1' || r.clientId === 'static-2')
        const expected: Record<string, number[]> = { FindCoordinator: [2], JoinGroup: [5], SyncGroup: [3], Heartbeat: [3], OffsetCommit: [7], OffsetFetch: [7] }
        for (const [name, seen] of Object.entries(expected)) assert.deepEqual(versions[name], seen, `${name}: all versions seen ${JSON.stringify(versions)}`)
      } finally {
        for (const m of members) m.kill()
        own.close()
        await producer.disconnect()
        await admin.disconnect()
      }
    })
  })
})
