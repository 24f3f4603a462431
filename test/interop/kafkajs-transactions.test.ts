// kafkajs 2.x transactions against a real 2-worker broker process: a transactional producer's commit and abort,
// `sendOffsets` (AddOffsetsToTxn + TxnOffsetCommit), and read_committed consumers (kafkajs's default isolation),
// plus kcat (librdkafka) reading with isolation.level=read_committed. The topics have 4 partitions, so every
// transaction's markers go to both workers, and its coordinator is on one of them.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import kafkajs from '../helpers/kafkajs.ts'
import type { Admin, Kafka as KafkaClient, Producer } from 'kafkajs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'

const { Kafka, logLevel, Partitioners } = kafkajs
const run = promisify(execFile)
const kKcat = process.env.KCAT ?? 'kcat'
const kPartitions = 4

function client (broker: TestBroker): KafkaClient {
  return new Kafka({
    clientId: 'shoal-transactions',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 }
  })
}

function transactionalProducer (kafka: KafkaClient, transactionalId: string): Producer {
  return kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
}

/** Every value of `topic` a fresh read_committed consumer group sees, once it has seen `expected` of them. */
async function consumeCommitted (kafka: KafkaClient, topic: string, groupId: string, expected: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 })
  const seen: string[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value?.toString() ?? '') } })
    await waitFor(() => seen.length >= expected, 30_000, `${expected} committed records of ${topic} (have ${seen.length})`)
  } finally {
    await consumer.disconnect()
  }
  return seen
}

describe('kafkajs transactions', () => {
  let broker: TestBroker
  let kafka: KafkaClient
  let admin: Admin

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--group-initial-rebalance-delay-ms', '0'] })
    kafka = client(broker)
    admin = kafka.admin()
    await admin.connect()
  })

  after(async () => {
    await admin?.disconnect()
    await broker?.stop()
  })

  test('committed transactions are read once, aborted ones never, by read_committed consumers (kafkajs and kcat)', async () => {
    const topic = 'kjs-txn-commit-abort'
    await admin.createTopics({ topics: [{ topic, numPartitions: kPartitions }] })
    const producer = transactionalProducer(kafka, 'kjs-commit-abort')
    await producer.connect()
    try {
      const committed: string[] = []
      for (let round = 0; round < 3; round++) {
        const transaction = await producer.transaction()
        const values = Array.from({ length: 20 }, (_, i) => `r${round}-${i}`)
        await transaction.send({ topic, messages: values.map((value, i) => ({ partition: i % kPartitions, value })) })
        if (round === 1) {
          await transaction.abort()
        } else {
          await transaction.commit()
          committed.push(...values)
        }
      }
      const seen = await consumeCommitted(kafka, topic, 'kjs-txn-reader', committed.length)
      assert.deepEqual([...seen].sort(), [...committed].sort(), 'exactly the committed records, each once')

      const { stdout } = await run(kKcat, ['-C', '-b', broker.bootstrap, '-t', topic, '-X', 'isolation.level=read_committed', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeout: 30_000 })
      assert.deepEqual(stdout.split('\n').filter((line) => line !== '').sort(), [...committed].sort(), 'kcat read_committed sees the committed records only')
    } finally {
      await producer.disconnect()
    }
  })

  test('sendOffsets commits the group\'s offsets with the transaction, and an abort leaves them as they were', async () => {
    const topic = 'kjs-txn-offsets'
    const groupId = 'kjs-txn-offsets-group'
    await admin.createTopics({ topics: [{ topic, numPartitions: kPartitions }] })
    const producer = transactionalProducer(kafka, 'kjs-offsets')
    await producer.connect()
    const offsetsOf = async (): Promise<Map<number, string>> => {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
      return new Map(result.partitions.map((p) => [p.partition, p.offset]))
    }
    try {
      const first = await producer.transaction()
      await first.send({ topic, messages: [{ partition: 0, value: 'with offsets' }] })
      await first.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '5' }, { partition: 3, offset: '7' }] }] })
      await first.commit()
      await waitFor(async () => (await offsetsOf()).get(0) === '5', 20_000, 'the committed transaction\'s offsets')
      assert.equal((await offsetsOf()).get(3), '7')

      const second = await producer.transaction()
      await second.send({ topic, messages: [{ partition: 1, value: 'aborted with offsets' }] })
      await second.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: '50' }] }] })
      await second.abort()
      // The abort is answered once PrepareAbort is durable; the next transaction waits for its markers.
      const third = await producer.transaction()
      await third.send({ topic, messages: [{ partition: 2, value: 'after the abort' }] })
      await third.commit()
      assert.equal((await offsetsOf()).get(0), '5', 'the aborted offsets never became visible')
    } finally {
      await producer.disconnect()
    }
  })

  test('a second producer with the same transactional id fences the first', async () => {
    const topic = 'kjs-txn-fence'
    await admin.createTopics({ topics: [{ topic, numPartitions: kPartitions }] })
    const first = transactionalProducer(kafka, 'kjs-fence')
    const second = transactionalProducer(kafka, 'kjs-fence')
    await first.connect()
    try {
      const open = await first.transaction()
      await open.send({ topic, messages: [{ partition: 0, value: 'abandoned' }] })
      await second.connect()
      const fresh = await second.transaction()
      await fresh.send({ topic, messages: [{ partition: 1, value: 'fresh' }] })
      await fresh.commit()
      await assert.rejects(open.commit(), (error: Error & { type?: string }) => /fenced|epoch/i.test(`${error.type ?? ''} ${error.message}`), 'the fenced producer cannot commit')
      const seen = await consumeCommitted(kafka, topic, 'kjs-fence-reader', 1)
      assert.deepEqual(seen, ['fresh'])
    } finally {
      await first.disconnect().catch(() => {})
      await second.disconnect()
    }
  })
})
