// A CreatePartitions raised one topic to ~20,000 partitions; every worker opened a segment and two indexes per
// partition until it ran out of file descriptors. The controller now holds every CreateTopics and
// CreatePartitions to --max-partitions-per-topic, --max-broker-partitions (KIP-578's max.broker.partitions) and
// --max-topics: a breach answers POLICY_VIOLATION, creates nothing, and the broker keeps serving.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
let client: KafkaClient
before(async () => {
  broker = await startBroker({ workers: 2, args: ['--max-broker-partitions', '60', '--max-topics', '4'] })
  client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'grown', 2)
})
after(async () => {
  client.close()
  await broker.stop()
})

async function partitionsOf (name: string): Promise<number> {
  const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  return metadata.topics[0].partitions.length
}

function partitionDirs (): number {
  return readdirSync(broker.dataDir).filter((entry) => entry.startsWith('grown-')).length
}

test('raising a topic to 20,000 partitions answers POLICY_VIOLATION, creates nothing, and the broker keeps serving', async () => {
  for (const version of [0, 3]) {
    const response = await client.request(37, version, { topics: [{ name: 'grown', count: 20_000, assignments: null }], timeoutMs: 10_000, validateOnly: false })
    assert.equal(response.results[0].errorCode, ErrorCode.POLICY_VIOLATION)
    assert.match(response.results[0].errorMessage, /max-partitions-per-topic/)
  }
  assert.equal(await partitionsOf('grown'), 2)
  assert.equal(partitionDirs(), 2)
  assert.equal((await produce(client, 'grown', 1, ['still served'])).errorCode, ErrorCode.NONE)
  assert.equal(broker.process.exitCode, null)
  assert.match(broker.output(), /refused: CreatePartitions grown/)
})

test('the broker-wide partition and topic limits hold across CreateTopics and CreatePartitions, judged topic by topic', async () => {
  const grow = await client.request(37, 3, { topics: [{ name: 'grown', count: 61, assignments: null }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(grow.results[0].errorCode, ErrorCode.POLICY_VIOLATION)
  assert.match(grow.results[0].errorMessage, /max.broker.partitions/)
  // 2 exist: a (30) fits, b (30 more) would pass 60, c (20) fits, d is the 4th topic and fits, e would be a 5th.
  const created = await client.request(19, 7, {
    topics: [
      { name: 'a', numPartitions: 30, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'b', numPartitions: 30, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'c', numPartitions: 20, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'd', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'e', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }
    ],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.deepEqual(created.topics.map((t: any) => [t.name, t.errorCode]), [
    ['a', 0], ['b', ErrorCode.POLICY_VIOLATION], ['c', 0], ['d', 0], ['e', ErrorCode.POLICY_VIOLATION]
  ])
  assert.match(created.topics[4].errorMessage, /max-topics/)
  assert.equal(await partitionsOf('b'), 0)
  assert.equal((await produce(client, 'c', 19, ['served'])).errorCode, ErrorCode.NONE)
})
