// kcat's balanced consumer (`kcat -G group topic`: librdkafka's KafkaConsumer, so FindCoordinator, JoinGroup,
// SyncGroup, Heartbeat, OffsetFetch, OffsetCommit and LeaveGroup at the versions librdkafka negotiates)
// against a real broker process. Records are produced with the project's own client, one batch per partition,
// so each partition's records and offsets are known exactly.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { createTopic, KafkaClient, produce } from '../helpers/kafka-client.ts'

const kKcat = '/usr/bin/kcat'
const kPartitions = 6

interface KcatRun { code: number | null, lines: string[], stderr: string }

/** Runs kcat as a balanced consumer until it has read to the end of its partitions (-e). */
function consumeWithKcat (bootstrap: string, group: string, topic: string, timeoutMs = 30_000): Promise<KcatRun> {
  const child = spawn(kKcat, [
    '-b', bootstrap, '-G', group, '-e', '-q', '-u',
    '-X', 'auto.offset.reset=earliest', '-X', 'broker.address.family=v4',
    '-f', '%p %o %s\\n', topic
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer)
    resolve({ code, lines: stdout.split('\n').filter((line) => line !== ''), stderr })
  }))
}

/** Produces `count` records `<tag>-<partition>-<i>` to every partition; returns the lines kcat should print. */
async function produceAll (client: KafkaClient, topic: string, tag: string, count: number, startOffset: number): Promise<string[]> {
  const expected: string[] = []
  for (let partition = 0; partition < kPartitions; partition++) {
    const values = Array.from({ length: count }, (_, i) => `${tag}-${partition}-${i}`)
    const result = await produce(client, topic, partition, values)
    assert.equal(result.errorCode, 0)
    assert.equal(result.baseOffset, startOffset)
    values.forEach((value, i) => expected.push(`${partition} ${startOffset + i} ${value}`))
  }
  return expected.sort()
}

async function committedOffsets (client: KafkaClient, group: string, topic: string): Promise<number[]> {
  const response = await client.request(9, 8, { groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }] }], requireStable: true })
  const [entry] = response.groups
  assert.equal(entry.errorCode, 0)
  return entry.topics[0].partitions.map((p: { partitionIndex: number, committedOffset: number, errorCode: number }) => {
    assert.equal(p.errorCode, 0)
    return p.committedOffset
  })
}

describe('kcat balanced consumer', { timeout: 90_000 }, () => {
  let broker: TestBroker
  let client: KafkaClient

  before(async () => {
    // A short initial rebalance delay, so that two kcat processes started together land in one generation.
    broker = await startBroker({ workers: 2, args: ['--group-initial-rebalance-delay-ms', '1500'] })
    client = await KafkaClient.to(broker.bootstrap)
  })

  after(async () => {
    client?.close()
    await broker?.stop()
  })

  test('kcat -G consumes every record of a multi-partition topic, commits, and the next run resumes after the commits', async () => {
    const topic = 'kcat-balanced'
    const group = 'kcat-group'
    await createTopic(client, topic, kPartitions)
    const first = await produceAll(client, topic, 'first', 10, 0)
    const run = await consumeWithKcat(broker.bootstrap, group, topic)
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(run.lines.sort(), first)
    assert.deepEqual(await committedOffsets(client, group, topic), [10, 10, 10, 10, 10, 10])

    const second = await produceAll(client, topic, 'second', 5, 10)
    const again = await consumeWithKcat(broker.bootstrap, group, topic)
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(again.lines.sort(), second)
    assert.deepEqual(await committedOffsets(client, group, topic), [15, 15, 15, 15, 15, 15])
  })

  test('two kcat consumers in one group split the partitions and read every record once', async () => {
    const topic = 'kcat-shared'
    const group = 'kcat-shared-group'
    await createTopic(client, topic, kPartitions)
    const expected = await produceAll(client, topic, 'shared', 10, 0)
    const [one, two] = await Promise.all([consumeWithKcat(broker.bootstrap, group, topic), consumeWithKcat(broker.bootstrap, group, topic)])
    assert.equal(one.code, 0, one.stderr)
    assert.equal(two.code, 0, two.stderr)
    assert.deepEqual([...one.lines, ...two.lines].sort(), expected)
    assert.ok(one.lines.length > 0 && two.lines.length > 0, `one consumer read everything: ${one.lines.length} and ${two.lines.length}`)
    const partitionsOf = (run: KcatRun): Set<string> => new Set(run.lines.map((line) => line.split(' ')[0]))
    assert.deepEqual([...partitionsOf(one)].filter((p) => partitionsOf(two).has(p)), [], 'a partition was read by both')
    assert.deepEqual(await committedOffsets(client, group, topic), [10, 10, 10, 10, 10, 10])
  })
})
