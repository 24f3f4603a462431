// @platformatic/kafka 2.x against a real broker process: Admin calls, a Producer with every codec it supports
// (none, gzip, snappy, lz4 and zstd: all of Kafka's) and every acks value, and an idempotent Producer, each
// checked by reading everything back byte for byte.
//
// Reading back: Consumer.consume() always joins a consumer group first (FindCoordinator, JoinGroup,
// SyncGroup), even for explicit offsets (its `offsets`/`mode: 'manual'` options only pick where a group
// member starts), so it is not an explicit-assignment consumer. Consumer.fetch() is: a public, group-free
// call that sends one Fetch for the partitions and offsets given and returns the decoded batches, through
// the same Fetch code (version negotiation, topic ids, decompression) that consume()'s streams use. We loop
// on it per partition.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps, Producer } from '@platformatic/kafka'
import type { CompressionAlgorithmValue, MessageToProduce } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import {
  assertBrokerQuiet, assertSameRecords, assertStoredCodec, kAcks, kCodecs, makeRecordSet, topicName,
  type CodecName, type ReadRecord, type TestRecord
} from './records.ts'

const kPartitions = 4

interface Clients {
  admin: Admin
  producer: Producer
  consumer: Consumer
}

function clients (broker: TestBroker, options: { idempotent?: boolean } = {}): Clients {
  const base = { bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 100, autocreateTopics: false }
  return {
    admin: new Admin({ ...base, clientId: 'shoal-interop-admin' }),
    producer: new Producer({ ...base, clientId: 'shoal-interop-producer', idempotent: options.idempotent ?? false }),
    // groupId is mandatory in the options; fetch() never uses it.
    consumer: new Consumer({ ...base, clientId: 'shoal-interop-consumer', groupId: 'shoal-interop-unused' })
  }
}

async function closeAll (all: Clients | undefined): Promise<void> {
  if (all === undefined) return
  await Promise.allSettled([all.admin.close(), all.producer.close(), all.consumer.close()])
}

function toMessages (topic: string, set: TestRecord[][]): MessageToProduce[] {
  const messages: MessageToProduce[] = []
  for (let partition = 0; partition < set.length; partition++) {
    for (const record of set[partition]) {
      // A Map keyed by distinct Buffer objects can hold the same header name twice, in order.
      const headers = new Map<Buffer, Buffer>(record.headers.map(([name, value]) => [Buffer.from(name), value]))
      messages.push({ topic, partition, key: record.key ?? undefined, value: record.value, headers })
    }
  }
  return messages
}

async function createTopic (admin: Admin, topic: string, partitions: number): Promise<void> {
  const created = await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
  assert.deepEqual(created.map((t) => [t.name, t.partitions]), [[topic, partitions]])
}

/** Next offset of every partition (ListOffsets, timestamp -1). */
async function endOffsets (admin: Admin, topic: string, partitions: number): Promise<number[]> {
  const listed = await admin.listOffsets({
    topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) }]
  })
  const found = listed.find((t) => t.name === topic)
  assert.ok(found, `listOffsets answered for ${topic}`)
  return [...found.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex).map((p) => Number(p.offset))
}

/** Reads partitions 0..counts.length-1 of `topic` from offset 0 with Consumer.fetch until `counts` are reached. */
async function readBack (consumer: Consumer, topic: string, counts: number[], timeoutMs = 20_000): Promise<ReadRecord[][]> {
  const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true })
  const described = metadata.topics.get(topic)
  assert.ok(described, `no metadata for ${topic}`)
  const result: ReadRecord[][] = []
  for (let partition = 0; partition < counts.length; partition++) {
    const records: ReadRecord[] = []
    await waitFor(async () => {
      const response = await consumer.fetch({
        node: described.partitions[partition].leader,
        maxWaitTime: 50,
        isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
        topics: [{
          topicId: described.id,
          partitions: [{ partition, fetchOffset: BigInt(records.length), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 4 << 20 }]
        }]
      })
      assert.equal(response.errorCode, 0, 'fetch error code')
      const data = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition)
      assert.ok(data, `no ${topic}[${partition}] in the fetch response`)
      assert.equal(data.errorCode, 0, `fetch ${topic}[${partition}] error code`)
      for (const batch of data.records ?? []) {
        for (const record of batch.records) {
          const offset = Number(batch.firstOffset) + record.offsetDelta
          if (offset < records.length) continue // a fetch returns whole batches
          records.push({
            offset,
            key: record.key,
            value: record.value ?? Buffer.alloc(0),
            headers: record.headers.map(([name, value]) => [(name ?? Buffer.alloc(0)).toString(), value ?? Buffer.alloc(0)])
          })
        }
      }
      return records.length >= counts[partition]
    }, timeoutMs, `${counts[partition]} records in ${topic}[${partition}] (have ${records.length})`)
    result.push(records)
  }
  return result
}

async function produceAndCheck (all: Clients, broker: TestBroker, topic: string, partitions: number, codec: CodecName, acks: number): Promise<void> {
  await createTopic(all.admin, topic, partitions)
  const set = makeRecordSet({ partitions, tag: topic })
  const counts = set.map((records) => records.length)
  const result = await all.producer.send({ messages: toMessages(topic, set), acks, compression: codec as CompressionAlgorithmValue })
  if (acks === 0) {
    assert.deepEqual(result.unwritableNodes, [], 'acks=0 sends reached the broker')
    await waitFor(async () => (await endOffsets(all.admin, topic, partitions)).every((offset, p) => offset === counts[p]), 20_000, 'all acks=0 records')
  } else {
    const offsets = [...(result.offsets ?? [])].sort((a, b) => a.partition - b.partition)
    assert.deepEqual(offsets.map((o) => [o.topic, o.partition, o.offset]), counts.map((_, p) => [topic, p, 0n]), 'each partition appended at offset 0')
  }
  assert.deepEqual(await endOffsets(all.admin, topic, partitions), counts, 'end offsets')
  assertSameRecords(set, await readBack(all.consumer, topic, counts), `platformatic ${codec} acks=${acks}`)
  assertStoredCodec(broker.dataDir, topic, partitions, codec)
}

describe('@platformatic/kafka against a 2-worker broker', () => {
  let broker: TestBroker
  let all: Clients

  before(async () => {
    broker = await startBroker({ workers: 2 })
    all = clients(broker)
  })

  after(async () => {
    await closeAll(all)
    await broker?.stop()
  })

  test('Admin creates, describes, grows and deletes topics', async () => {
    const topic = topicName('platformatic', 'admin', 'na')
    await createTopic(all.admin, topic, 3)
    assert.ok((await all.admin.listTopics()).includes(topic), 'listTopics includes the new topic')
    const metadata = await all.admin.metadata({ topics: [topic], forceUpdate: true })
    assert.equal(metadata.brokers.size, 1)
    const [[nodeId, node]] = [...metadata.brokers]
    assert.deepEqual([node.host, node.port], [broker.host, broker.port])
    assert.equal(metadata.controllerId, nodeId)
    const described = metadata.topics.get(topic)
    assert.ok(described)
    assert.match(described.id, /^[0-9a-f-]{36}$|^[A-Za-z0-9_-]{22}$/, 'a topic id')
    assert.equal(described.partitionsCount, 3)
    for (const partition of described.partitions) {
      assert.equal(partition.leader, nodeId)
      assert.deepEqual(partition.replicas, [nodeId])
      assert.deepEqual(partition.isr, [nodeId])
    }
    assert.deepEqual(await endOffsets(all.admin, topic, 3), [0, 0, 0])

    await all.admin.createPartitions({ topics: [{ name: topic, count: 5 }] })
    await waitFor(async () => (await all.admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitionsCount === 5, 10_000, 'five partitions')
    assert.deepEqual(await endOffsets(all.admin, topic, 5), [0, 0, 0, 0, 0])

    await assert.rejects(all.admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 }), (error: Error & { errors?: unknown[] }) => {
      assert.match(JSON.stringify(error, Object.getOwnPropertyNames(error)) + String(error.errors ?? ''), /TOPIC_ALREADY_EXISTS|already exists/i)
      return true
    }, 'creating it again fails with TOPIC_ALREADY_EXISTS')

    await all.admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await all.admin.listTopics()).includes(topic), 10_000, 'the topic to disappear')
  })

  for (const codec of kCodecs) {
    for (const acks of kAcks) {
      test(`records produced with ${codec} and acks=${acks} read back byte-identical at offsets from 0`, async () => {
        await produceAndCheck(all, broker, topicName('platformatic', codec, acks), kPartitions, codec, acks)
      })
    }
  }

  test('an idempotent producer appends every record once', async () => {
    const topic = topicName('platformatic', 'idempotent', -1)
    const idempotent = clients(broker, { idempotent: true })
    try {
      await createTopic(all.admin, topic, kPartitions)
      const first = makeRecordSet({ partitions: kPartitions, tag: `${topic}-1` })
      const second = makeRecordSet({ partitions: kPartitions, tag: `${topic}-2` })
      await idempotent.producer.send({ messages: toMessages(topic, first), compression: 'snappy' })
      const again = await idempotent.producer.send({ messages: toMessages(topic, second), compression: 'gzip' })
      const offsets = [...(again.offsets ?? [])].sort((a, b) => a.partition - b.partition)
      assert.deepEqual(offsets.map((o) => [o.partition, o.offset]), first.map((records, p) => [p, BigInt(records.length)]), 'the second send follows the first')
      const expected = first.map((records, p) => [...records, ...second[p]])
      const counts = expected.map((records) => records.length)
      assert.deepEqual(await endOffsets(all.admin, topic, kPartitions), counts)
      assertSameRecords(expected, await readBack(all.consumer, topic, counts), 'platformatic idempotent')
    } finally {
      await closeAll(idempotent)
    }
  })

  test('the broker closed no @platformatic/kafka connection and logged no error', () => {
    assertBrokerQuiet(broker.output())
  })
})

describe('@platformatic/kafka against a 3-worker broker', () => {
  test('records spread over six partitions on three workers read back byte-identical', async () => {
    const broker = await startBroker({ workers: 3 })
    const all = clients(broker)
    try {
      await produceAndCheck(all, broker, topicName('platformatic', 'zstd', -1, '-w3'), 6, 'zstd', -1)
      assertBrokerQuiet(broker.output())
    } finally {
      await closeAll(all)
      await broker.stop()
    }
  })
})

describe('@platformatic/kafka against a 1-worker broker', () => {
  test('with --workers 1 every partition is local and records still read back byte-identical', async () => {
    const broker = await startBroker({ workers: 1 })
    const all = clients(broker)
    try {
      await produceAndCheck(all, broker, topicName('platformatic', 'lz4', 1, '-w1'), 4, 'lz4', 1)
      assertBrokerQuiet(broker.output())
    } finally {
      await closeAll(all)
      await broker.stop()
    }
  })
})
