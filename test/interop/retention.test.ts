// Log retention against a real broker process with kafkajs: retention by time and by size on topics receiving
// produce, with consumers reading concurrently. The log start offset moves (ListOffsets EARLIEST reports it),
// the partition directory shrinks, and a consumer whose committed offset fell below the log start resets by its
// auto.offset.reset (kafkajs: fromBeginning, so to the new earliest offset) instead of failing.
//
// Small and quick: segment.bytes at Kafka's minimum (1 MiB), segment.ms and retention.ms of a fraction of a
// second, and a maintenance pass every 100 ms (--log-retention-check-interval-ms).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import kafkajs from '../helpers/kafkajs.ts'
import type { Admin, Consumer, Kafka as KafkaClient, Producer } from 'kafkajs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { kFetchVersion, KafkaClient as RawClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { assertBrokerQuiet } from './records.ts'

const { Kafka, logLevel, Partitioners } = kafkajs

const kMiB = 1024 * 1024
const kValue = Buffer.alloc(100 * 1024, 'r')

/** Bytes of the files in a partition's directory, and how many of them are `.deleted`. */
function partitionDisk (broker: TestBroker, topic: string): { bytes: number, deleted: number } {
  const directory = join(broker.dataDir, `${topic}-0`)
  let bytes = 0
  let deleted = 0
  for (const name of readdirSync(directory)) {
    try {
      bytes += statSync(join(directory, name)).size
    } catch {} // removed meanwhile
    if (name.endsWith('.deleted')) deleted++
  }
  return { bytes, deleted }
}

async function offsets (admin: Admin, topic: string): Promise<{ low: number, high: number }> {
  const [partition] = await admin.fetchTopicOffsets(topic)
  return { low: Number(partition.low), high: Number(partition.high) }
}

/** Creates a one-partition topic of 1 MiB segments with `configs`, and waits for its leader. */
async function createTopic (admin: Admin, topic: string, configs: Record<string, string>): Promise<void> {
  const configEntries = Object.entries({ 'segment.bytes': String(kMiB), ...configs }).map(([name, value]) => ({ name, value }))
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries }] })
}

/** Sends `count` records of 100 KiB in batches of `perSend`. */
async function produce (producer: Producer, topic: string, count: number, perSend = 4): Promise<void> {
  for (let sent = 0; sent < count; sent += perSend) {
    await producer.send({ topic, messages: Array.from({ length: Math.min(perSend, count - sent) }, () => ({ value: kValue })) })
  }
}

/** A consumer of one group that records the offsets it receives, from the earliest offset when it has none. */
async function startConsumer (kafka: KafkaClient, groupId: string, topic: string, received: number[]): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => { received.push(Number(message.offset)) } })
  return consumer
}

describe('log retention with kafkajs', () => {
  let broker: TestBroker
  let kafka: KafkaClient
  let admin: Admin
  let producer: Producer
  const consumers: Consumer[] = []

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--log-retention-check-interval-ms', '100', '--group-initial-rebalance-delay-ms', '0'] })
    kafka = new Kafka({ clientId: 'shoal-retention', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })
    admin = kafka.admin()
    await admin.connect()
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
  })

  after(async () => {
    for (const consumer of consumers) await consumer.disconnect().catch(() => {})
    await producer?.disconnect()
    await admin?.disconnect()
    await broker?.stop()
  })

  test('retention.bytes keeps the partition near its limit while produce goes on; a consumer below the log start resets to it', async () => {
    const topic = 'retention-bytes'
    await createTopic(admin, topic, { 'retention.bytes': String(2 * kMiB), 'retention.ms': '-1', 'file.delete.delay.ms': '200' })
    // A consumer reads the first records and commits, then goes away while retention deletes them.
    const early: number[] = []
    await produce(producer, topic, 2)
    const lagging = await startConsumer(kafka, 'lagging', topic, early)
    await waitFor(() => early.length === 2, 20_000, 'the lagging consumer reading the first records')
    await waitFor(async () => {
      const [committed] = await admin.fetchOffsets({ groupId: 'lagging', topics: [topic] })
      return committed.partitions[0].offset === '2'
    }, 20_000, 'the lagging consumer committing offset 2')
    await lagging.disconnect()
    // Another consumer keeps reading while produce goes on and retention deletes behind it.
    const live: number[] = []
    consumers.push(await startConsumer(kafka, 'live', topic, live))
    await produce(producer, topic, 60) // about 6 MiB in 1 MiB segments
    const { low, high } = (await waitFor(async () => {
      const current = await offsets(admin, topic)
      return current.low > 2 ? current : null
    }, 20_000, 'the log start offset to move'))!
    assert.equal(high, 62)
    // Disk: retention.bytes plus at most a segment and the active one; the .deleted files go after their delay.
    const disk = (await waitFor(() => {
      const current = partitionDisk(broker, topic)
      return current.deleted === 0 && current.bytes < 4.5 * kMiB ? current : null
    }, 20_000, 'the partition to shrink'))!
    assert.ok(disk.bytes >= 2 * kMiB, `${disk.bytes} bytes left: retention.bytes is a lower bound`)
    await waitFor(() => live.length > 0 && live[live.length - 1] === high - 1, 20_000, 'the live consumer reaching the log end')

    // Fetch below the log start: OFFSET_OUT_OF_RANGE with the log start offset, as Kafka answers.
    const raw = await RawClient.connect(broker.host, broker.port)
    try {
      const response = await raw.request(1, kFetchVersion, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
        forgottenTopicsData: [], rackId: ''
      })
      const data = response.responses[0].partitions[0]
      assert.equal(data.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
      assert.equal(Number(data.logStartOffset), (await offsets(admin, topic)).low)
    } finally {
      raw.close()
    }

    // The lagging consumer's committed offset (2) is below the log start: it resets to the earliest offset.
    const resumed: number[] = []
    consumers.push(await startConsumer(kafka, 'lagging', topic, resumed))
    await waitFor(() => resumed.length > 0 && resumed[resumed.length - 1] === high - 1, 20_000, `the lagging consumer resuming (got ${resumed.slice(0, 3).join(', ')}...)`)
    const earliest = (await offsets(admin, topic)).low
    assert.ok(resumed[0] >= low && resumed[0] === earliest, `resumed at ${resumed[0]}, log start ${earliest}`)
    assertBrokerQuiet(broker.output())
  })

  test('retention.ms deletes segments past it as produce goes on, and segment.ms lets it empty a quiet partition', async () => {
    const topic = 'retention-ms'
    await createTopic(admin, topic, { 'segment.ms': '300', 'retention.ms': '1000', 'file.delete.delay.ms': '0' })
    const received: number[] = []
    consumers.push(await startConsumer(kafka, 'timed', topic, received))
    // Produce until retention has deleted something behind the producer (each round ~400 KiB).
    let produced = 0
    await waitFor(async () => {
      await produce(producer, topic, 4)
      produced += 4
      return (await offsets(admin, topic)).low > 0
    }, 30_000, 'retention.ms to move the log start')
    // Then quiet: segment.ms rolls the active segment, retention.ms deletes it, the partition holds no records.
    const quiet = (await waitFor(async () => {
      const current = await offsets(admin, topic)
      return current.low === produced && current.high === produced ? current : null
    }, 20_000, 'the quiet partition to empty'))!
    assert.equal(quiet.high, produced)
    await waitFor(() => partitionDisk(broker, topic).bytes < 64 * 1024, 20_000, 'the segment files to go')
    // New records after an empty log get the next offsets, and the consumer (which read along, resetting
    // forward to the log start whenever retention overtook it) gets them: its offsets only ever went up.
    await produce(producer, topic, 1)
    await waitFor(() => received[received.length - 1] === produced, 20_000, 'the record produced after the log emptied')
    assert.ok(received.length > 1)
    for (let index = 1; index < received.length; index++) assert.ok(received[index] > received[index - 1], `offset ${received[index]} after ${received[index - 1]}`)
    assertBrokerQuiet(broker.output())
  })
})
