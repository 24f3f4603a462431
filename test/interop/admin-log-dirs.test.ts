// kafkajs and @platformatic/kafka admin clients against a real broker process: topics created and grown with a
// manual replica assignment naming this broker (node id 1, the default), and @platformatic/kafka's
// describeLogDirs reading back each partition's size.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { realpathSync } from 'node:fs'
import { Admin, Producer } from '@platformatic/kafka'
import kafkajs from '../helpers/kafkajs.ts'
import { startBroker } from '../helpers/broker.ts'

const { Kafka, logLevel } = kafkajs
const kNodeId = 1

test('kafkajs and @platformatic/kafka admin: DescribeLogDirs, replica assignment', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())

  const kafka = new Kafka({ clientId: 'shoal-interop-kafkajs-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } })
  const kafkajsAdmin = kafka.admin()
  await kafkajsAdmin.connect()
  t.after(() => kafkajsAdmin.disconnect())
  assert.equal(await kafkajsAdmin.createTopics({
    topics: [{ topic: 'kafkajs-assigned', replicaAssignment: [{ partition: 0, replicas: [kNodeId] }, { partition: 1, replicas: [kNodeId] }] }]
  }), true)
  await kafkajsAdmin.createPartitions({ topicPartitions: [{ topic: 'kafkajs-assigned', count: 3, assignments: [[kNodeId]] }] })
  await assert.rejects(kafkajsAdmin.createTopics({ topics: [{ topic: 'kafkajs-refused', replicaAssignment: [{ partition: 0, replicas: [kNodeId + 1] }] }] }),
    (error: any) => error.errors?.[0]?.type === 'INVALID_REPLICA_ASSIGNMENT')
  const described = await kafkajsAdmin.fetchTopicMetadata({ topics: ['kafkajs-assigned'] })
  assert.deepEqual(described.topics[0].partitions.map((p) => [p.partitionId, p.leader, p.replicas]).sort(),
    [[0, kNodeId, [kNodeId]], [1, kNodeId, [kNodeId]], [2, kNodeId, [kNodeId]]])

  const base = { bootstrapBrokers: [broker.bootstrap], retries: 2, retryDelay: 100, autocreateTopics: false }
  const admin = new Admin({ ...base, clientId: 'shoal-interop-platformatic-admin' })
  const producer = new Producer({ ...base, clientId: 'shoal-interop-platformatic-producer' })
  t.after(() => Promise.allSettled([admin.close(), producer.close()]))
  const created = await admin.createTopics({ topics: ['platformatic-assigned'], partitions: -1, replicas: -1, assignments: [{ partition: 0, brokers: [kNodeId] }, { partition: 1, brokers: [kNodeId] }] })
  assert.deepEqual(created.map((c) => [c.name, c.partitions, c.replicas]), [['platformatic-assigned', 2, 1]])
  await admin.createPartitions({ topics: [{ name: 'platformatic-assigned', count: 3, assignments: [{ brokerIds: [kNodeId] }] }] })
  await producer.send({ messages: [{ topic: 'platformatic-assigned', partition: 2, value: Buffer.from('x'.repeat(500)) }], acks: -1 })

  const dirs = await admin.describeLogDirs({ topics: [{ name: 'platformatic-assigned', partitions: [0, 1, 2] }, { name: 'kafkajs-assigned', partitions: [0] }] })
  assert.equal(dirs.length, 1)
  assert.equal(dirs[0].broker, kNodeId)
  assert.equal(dirs[0].results.length, 1)
  const [dir] = dirs[0].results
  assert.equal(realpathSync(dir.logDir), realpathSync(broker.dataDir))
  assert.ok(dir.totalBytes > 0 && dir.usableBytes > 0 && dir.usableBytes <= dir.totalBytes)
  const sizes = new Map<string, number>()
  for (const topic of dir.topics) for (const p of topic.partitions) sizes.set(`${topic.name}/${p.partitionIndex}`, Number(p.partitionSize))
  assert.deepEqual([...sizes.keys()].sort(), ['kafkajs-assigned/0', 'platformatic-assigned/0', 'platformatic-assigned/1', 'platformatic-assigned/2'])
  assert.ok((sizes.get('platformatic-assigned/2') ?? 0) > 500, `size ${sizes.get('platformatic-assigned/2')}`)
  assert.equal(sizes.get('platformatic-assigned/0'), 0)
})
