// Log compaction against a real broker process and a real client (kafkajs): keyed records written to a
// cleanup.policy=compact topic with small segments are compacted by the broker's cleaner (src/log/cleaner.ts),
// and a kafkajs consumer reading from the beginning sees each key's last value, at the offset it was written
// to. Then a kill -9 while a clean is in progress (a low --log-cleaner-io-max-bytes-per-second keeps it going;
// its `.cleaned` files show it), a restart on the same data dir, and nothing lost.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs from '../helpers/kafkajs.ts'
import type { Kafka as KafkaClient } from 'kafkajs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'

const { Kafka, logLevel } = kafkajs

function client (broker: TestBroker): KafkaClient {
  return new Kafka({ clientId: 'shoal-compaction', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } })
}

/** Writes `rounds` values of each of `keys` keys; returns key -> [last value, its offset]. */
async function writeRounds (kafka: KafkaClient, topic: string, keys: number, rounds: number, valueBytes: number): Promise<Map<string, [string, number]>> {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const latest = new Map<string, [string, number]>()
  try {
    for (let round = 0; round < rounds; round++) {
      const messages = Array.from({ length: keys }, (_, key) => ({ key: `key-${key}`, value: `${round}-${key}-`.padEnd(valueBytes, 'x') }))
      const [result] = await producer.send({ topic, acks: -1, messages })
      const base = Number(result.baseOffset)
      messages.forEach((message, index) => latest.set(message.key, [message.value, base + index]))
    }
  } finally {
    await producer.disconnect()
  }
  return latest
}

async function createCompactedTopic (kafka: KafkaClient, topic: string): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' }] }]
    })
  } finally {
    await admin.disconnect()
  }
}

/** Every record of partition 0 from the beginning, read by a kafkajs consumer (its own group each time). */
async function consumeAll (kafka: KafkaClient, topic: string): Promise<Array<{ key: string, value: string, offset: number }>> {
  const admin = kafka.admin()
  await admin.connect()
  const [{ high }] = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const lastOffset = Number(high) - 1
  const records: Array<{ key: string, value: string, offset: number }> = []
  const consumer = kafka.consumer({ groupId: `reader-${Math.random()}`, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    let done = false
    await consumer.run({
      eachMessage: async ({ message }) => {
        records.push({ key: message.key!.toString(), value: message.value!.toString(), offset: Number(message.offset) })
        if (Number(message.offset) >= lastOffset) done = true
      }
    })
    await waitFor(() => done, 30_000, `the consumer to reach offset ${lastOffset}`)
  } finally {
    await consumer.disconnect()
  }
  return records
}

function assertLatestValues (records: Array<{ key: string, value: string, offset: number }>, latest: Map<string, [string, number]>): void {
  for (let index = 1; index < records.length; index++) assert.ok(records[index].offset > records[index - 1].offset, 'offsets increase')
  const seen = new Map<string, [string, number]>()
  for (const record of records) seen.set(record.key, [record.value, record.offset])
  assert.equal(seen.size, latest.size)
  for (const [key, expected] of latest) assert.deepEqual(seen.get(key), expected, key)
}

function partitionDirectory (dataDir: string, topic: string): string {
  return join(dataDir, `${topic}-0`)
}

function logBytes (directory: string): number {
  let bytes = 0
  for (const name of readdirSync(directory)) if (name.endsWith('.log')) bytes += statSync(join(directory, name)).size
  return bytes
}

function segmentBytes (directory: string, baseOffset: number): number {
  return statSync(join(directory, `${String(baseOffset).padStart(20, '0')}.log`)).size
}

test('the broker compacts a compact topic: a consumer from the beginning sees each key\'s last value', async (t) => {
  const broker = await startBroker({ workers: 1, args: ['--segment-bytes', '16384', '--log-cleaner-backoff-ms', '100'] })
  t.after(() => broker.stop())
  const kafka = client(broker)
  const topic = 'compacted-keys'
  await createCompactedTopic(kafka, topic)
  const latest = await writeRounds(kafka, topic, 200, 10, 100)
  const directory = partitionDirectory(broker.dataDir, topic)
  // Compacted: far fewer records and segments than written (the active segment keeps its records).
  const records = await waitFor(async () => {
    const read = await consumeAll(kafka, topic)
    return read.length < 200 * 3 ? read : null
  }, 60_000, 'compaction')
  assertLatestValues(records!, latest)
  // 10 rounds of one batch of 200 records each (about 23 KB, a segment each): the rounds older than the last two
  // (the active segment and the one before it, whose keys are all in the active one) are emptied.
  const written = 10 * segmentBytes(directory, 1800)
  assert.ok(logBytes(directory) < written / 3, `${logBytes(directory)} bytes of segments left of ${written}`)
  assert.doesNotMatch(broker.output(), /log cleaner: cleaning .* failed/)
})

test('a kill -9 during a clean, then a restart, loses nothing', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-compaction-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const topic = 'compacted-kill'
  const args = ['--segment-bytes', String(64 * 1024), '--log-cleaner-backoff-ms', '100']
  let broker = await startBroker({ workers: 1, dataDir, cleanup: false, args: [...args, '--log-cleaner-io-max-bytes-per-second', '400000'] })
  let kafka = client(broker)
  let latest: Map<string, [string, number]>
  try {
    await createCompactedTopic(kafka, topic)
    latest = await writeRounds(kafka, topic, 500, 30, 100)
    // A clean in progress: its cleaned segment is being written (after the map phase read the dirty section).
    const directory = partitionDirectory(dataDir, topic)
    await waitFor(() => readdirSync(directory).some(name => name.endsWith('.cleaned')), 60_000, 'a clean in progress')
  } finally {
    await broker.kill()
  }
  broker = await startBroker({ workers: 1, dataDir, cleanup: false, args })
  t.after(() => broker.stop())
  kafka = client(broker)
  assert.equal(readdirSync(partitionDirectory(dataDir, topic)).filter(name => name.endsWith('.cleaned') || name.endsWith('.swap')).length, 0)
  assertLatestValues(await consumeAll(kafka, topic), latest)
  // And the clean completes after the restart.
  const records = await waitFor(async () => {
    const read = await consumeAll(kafka, topic)
    return read.length < 500 * 5 ? read : null
  }, 60_000, 'compaction after the restart')
  assertLatestValues(records!, latest)
})
