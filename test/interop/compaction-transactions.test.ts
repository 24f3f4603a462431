// Log compaction of transactional data against a real broker process and kafkajs (KIP-98 markers under the
// cleaner, as Kafka's): a transactional producer commits, aborts and commits again on a compacted topic whose
// keys plain records then overwrite. The cleaner removes the aborted data, then the markers whose transactions
// have no data left (after delete.retention.ms), keeping the marker of the producer's last transaction (its last
// batch stays as an empty header for the producer state); read_committed and read_uncommitted consumers see each
// key's last value throughout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import kafkajs from '../helpers/kafkajs.ts'
import type { Kafka as KafkaClient } from 'kafkajs'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { readCleanerCheckpoint } from '../../src/log/cleaner.ts'
import { readInt64 } from '../../src/protocol/int64.ts'
import { kAttributesOffset, kBatchLengthOffset, kControlBit, kLogOverhead, kRecordCountOffset } from '../../src/protocol/record-batch-layout.ts'

const { Kafka, logLevel } = kafkajs
const kKeys = 20

/** The base offsets of the markers (control batches holding a record) in the partition's segment files. */
function markerOffsets (directory: string): number[] {
  const offsets: number[] = []
  for (const name of readdirSync(directory).filter(name => name.endsWith('.log')).sort()) {
    let bytes: Buffer
    try {
      bytes = readFileSync(join(directory, name))
    } catch {
      continue // swapped away by a clean meanwhile
    }
    for (let at = 0; at + kLogOverhead <= bytes.length;) {
      const size = kLogOverhead + bytes.readInt32BE(at + kBatchLengthOffset)
      if (size <= kLogOverhead || at + size > bytes.length) break
      if ((bytes.readUInt16BE(at + kAttributesOffset) & kControlBit) !== 0 && bytes.readInt32BE(at + kRecordCountOffset) > 0) offsets.push(readInt64(bytes, at))
      at += size
    }
  }
  return offsets
}

/** key -> last value of the topic's partition 0, as a fresh consumer with that isolation sees it. */
async function latestValues (kafka: KafkaClient, topic: string, readUncommitted: boolean, end: number): Promise<Map<string, string>> {
  const latest = new Map<string, string>()
  let done = false
  const consumer = kafka.consumer({ groupId: `reader-${readUncommitted}-${Math.random()}`, readUncommitted, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        latest.set(message.key!.toString(), message.value!.toString())
        if (Number(message.offset) >= end - 1) done = true
      }
    })
    await waitFor(() => done, 30_000, `the consumer reading ${topic} up to ${end}`)
  } finally {
    await consumer.disconnect()
  }
  return latest
}

test('markers of transactions without data are cleaned away after delete.retention.ms; consumers see each key\'s last value', async (t) => {
  const broker = await startBroker({ workers: 1, args: ['--segment-bytes', '4096', '--log-cleaner-backoff-ms', '100', '--group-initial-rebalance-delay-ms', '0'] })
  t.after(() => broker.stop())
  const kafka = new Kafka({ clientId: 'shoal-compaction-txn', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })
  const topic = 'compacted-txn'
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{
      topic,
      numPartitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        { name: 'delete.retention.ms', value: '300' }
      ]
    }]
  })
  const messages = (value: string): Array<{ key: string, value: string, partition: number }> =>
    Array.from({ length: kKeys }, (_, key) => ({ key: `key-${key}`, value: `${value}-${key}`, partition: 0 }))
  const transactional = kafka.producer({ transactionalId: 'compacted-txn', idempotent: true, maxInFlightRequests: 1 })
  await transactional.connect()
  for (const [round, commit] of [[0, true], [1, false], [2, true]] as const) {
    const transaction = await transactional.transaction()
    await transaction.send({ topic, messages: messages(`txn${round}`) })
    if (commit) await transaction.commit()
    else await transaction.abort()
  }
  await transactional.disconnect()
  // Plain records overwrite every key, in enough rounds to roll the segments holding the markers.
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  const writePlain = async (first: number): Promise<void> => {
    for (let round = first; round < first + 4; round++) {
      await producer.send({ topic, acks: -1, messages: messages(`plain${round}`).map(({ key, value }) => ({ key, value: value.padEnd(200, '.') })) })
    }
  }
  await writePlain(0)
  const directory = join(broker.dataDir, `${topic}-0`)
  const markers = markerOffsets(directory)
  assert.equal(markers.length, 3)
  // As Kafka's, a marker goes only in a clean after the one that removed its transaction's data, and once its
  // delete horizon has passed: a first clean past the markers, then new dirty data for the second.
  await waitFor(() => readCleanerCheckpoint(directory) > markers[2], 30_000, 'a clean past the markers')
  await writePlain(4)
  const [{ high }] = await admin.fetchTopicOffsets(topic)
  // The COMMIT of round 0 and the ABORT of round 1 go; round 2's COMMIT stays with its producer's last batch.
  await waitFor(() => markerOffsets(directory).length === 1, 30_000, 'the markers without data to be cleaned')
  for (const readUncommitted of [false, true]) {
    const latest = await latestValues(kafka, topic, readUncommitted, Number(high))
    assert.equal(latest.size, kKeys)
    for (const [key, value] of latest) assert.equal(value, `plain7-${key.slice(4)}`.padEnd(200, '.'), `${key} (readUncommitted ${readUncommitted})`)
  }
  assert.doesNotMatch(broker.output(), /log cleaner: cleaning .* failed/)
})
