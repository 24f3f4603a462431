// kafkajs 2.x against a real broker process: admin calls, produce with every codec and acks value, and an
// idempotent producer, each checked by reading everything back byte for byte.
//
// Reading back: kafkajs's consumer only works inside a consumer group (JoinGroup/SyncGroup/OffsetFetch), which
// this broker does not implement yet. kafkajs's own Fetch path is still worth testing (its Fetch v11 decoding,
// and its decompression of what the broker returns), so we use the cluster object the client builds for its
// producer and consumer: `Cluster.findBroker(...).fetch(...)` is what the consumer's fetch loop calls. The
// cluster factory sits behind a private symbol on the Kafka object; we look it up by its description, which
// kafkajs 2.x has kept unchanged, and fail loudly if it is gone.
//
// kafkajs implements gzip only; snappy, lz4 and zstd are registered in CompressionCodecs with the broker's
// own codecs (src/protocol/compression.ts), as an application would register kafkajs-snappy and the like.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import kafkajs from '../helpers/kafkajs.ts'
import type { Admin, Kafka as KafkaClient, Message, Producer } from 'kafkajs'
import { compress, decompress } from '../../src/protocol/compression.ts'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import {
  assertBrokerQuiet, assertSameRecords, assertStoredCodec, kAcks, kCodecIds, kCodecs, makeRecordSet, recordCount, topicName,
  type CodecName, type ReadRecord, type TestRecord
} from './records.ts'

const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = kafkajs

for (const [codec, type] of [['snappy', CompressionTypes.Snappy], ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD]] as const) {
  const id = kCodecIds[codec]
  CompressionCodecs[type] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(id, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(id, buffer)
  })
}

const kCompressionTypes: Record<CodecName, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

const kPartitions = 4

function client (broker: TestBroker): KafkaClient {
  return new Kafka({
    clientId: 'shoal-interop',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 }
  })
}

function toMessages (set: TestRecord[][]): Message[] {
  const messages: Message[] = []
  for (let partition = 0; partition < set.length; partition++) {
    for (const record of set[partition]) {
      const headers: Record<string, Buffer | Buffer[]> = {}
      for (const [name, value] of record.headers) {
        const previous = headers[name]
        if (previous === undefined) headers[name] = value
        else headers[name] = Array.isArray(previous) ? [...previous, value] : [previous, value]
      }
      messages.push({ partition, key: record.key, value: record.value, headers })
    }
  }
  return messages
}

// The subset of kafkajs's internal Cluster/Broker API used to read back (kafkajs/src/cluster, src/broker).
interface FetchedMessage { offset: string, key: Buffer | null, value: Buffer | null, headers: Record<string, Buffer | Buffer[] | undefined> }
interface FetchPartition { partition: number, errorCode: number, highWatermark: string, messages: FetchedMessage[] }
interface InternalBroker {
  fetch (request: object): Promise<{ responses: Array<{ topicName: string, partitions: FetchPartition[] }> }>
}
interface InternalCluster {
  connect (): Promise<void>
  disconnect (): Promise<void>
  addTargetTopic (topic: string): Promise<void>
  refreshMetadata (): Promise<void>
  findTopicPartitionMetadata (topic: string): Array<{ partitionId: number, leader: number }>
  findBroker (node: { nodeId: string }): Promise<InternalBroker>
}

function internalCluster (kafka: KafkaClient): InternalCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')
  assert.ok(symbol, 'kafkajs internals changed: no private:Kafka:createCluster symbol on the Kafka object')
  const create = (kafka as unknown as Record<symbol, (options: object) => InternalCluster>)[symbol]
  return create({ metadataMaxAge: 300_000, allowAutoTopicCreation: false })
}

function headerPairs (headers: FetchedMessage['headers']): Array<[string, Buffer]> {
  const pairs: Array<[string, Buffer]> = []
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, one])
  }
  return pairs
}

/** Reads partitions 0..partitions-1 of `topic` from offset 0 with kafkajs Fetch requests until `counts` are reached. */
async function readBack (kafka: KafkaClient, topic: string, counts: number[], timeoutMs = 20_000): Promise<ReadRecord[][]> {
  const cluster = internalCluster(kafka)
  await cluster.connect()
  try {
    await cluster.addTargetTopic(topic)
    await cluster.refreshMetadata()
    const leaders = new Map(cluster.findTopicPartitionMetadata(topic).map((p) => [p.partitionId, p.leader]))
    const result: ReadRecord[][] = []
    for (let partition = 0; partition < counts.length; partition++) {
      const leader = leaders.get(partition)
      assert.notEqual(leader, undefined, `no leader for ${topic}[${partition}] in kafkajs metadata`)
      const broker = await cluster.findBroker({ nodeId: String(leader) })
      const records: ReadRecord[] = []
      await waitFor(async () => {
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: 0,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 8 << 20,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(records.length), maxBytes: 4 << 20 }] }]
        })
        const data = response.responses.find((t) => t.topicName === topic)?.partitions.find((p) => p.partition === partition)
        assert.ok(data, `no ${topic}[${partition}] in the fetch response`)
        assert.equal(data.errorCode, 0, `fetch ${topic}[${partition}] error code`)
        for (const message of data.messages) {
          // A fetch returns whole batches, so it may start before the offset asked for.
          if (Number(message.offset) < records.length) continue
          records.push({
            offset: Number(message.offset),
            key: message.key,
            value: message.value ?? Buffer.alloc(0),
            headers: headerPairs(message.headers)
          })
        }
        return records.length >= counts[partition]
      }, timeoutMs, `${counts[partition]} records in ${topic}[${partition}] (have ${records.length})`)
      result.push(records)
    }
    return result
  } finally {
    await cluster.disconnect()
  }
}

async function highWatermarks (admin: Admin, topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high))
}

async function createTopic (admin: Admin, topic: string, numPartitions: number): Promise<void> {
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }), true, `createTopics ${topic}`)
}

describe('kafkajs against a 2-worker broker', () => {
  let broker: TestBroker
  let kafka: KafkaClient
  let admin: Admin
  let producer: Producer

  before(async () => {
    broker = await startBroker({ workers: 2 })
    kafka = client(broker)
    admin = kafka.admin()
    await admin.connect()
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
    await producer.connect()
  })

  after(async () => {
    await producer?.disconnect()
    await admin?.disconnect()
    await broker?.stop()
  })

  test('admin creates, describes, grows and deletes topics', async () => {
    const topic = topicName('kafkajs', 'admin', 'na')
    await createTopic(admin, topic, 3)
    assert.ok((await admin.listTopics()).includes(topic), 'listTopics includes the new topic')
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    assert.equal(topics.length, 1)
    assert.equal(topics[0].name, topic)
    assert.deepEqual(topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2])
    for (const partition of topics[0].partitions) {
      assert.equal(partition.partitionErrorCode, 0)
      assert.ok(partition.leader >= 0, `partition ${partition.partitionId} has a leader`)
    }
    assert.deepEqual(await highWatermarks(admin, topic), [0, 0, 0])

    await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] })
    await waitFor(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length === 5, 10_000, 'five partitions')
    assert.deepEqual(await highWatermarks(admin, topic), [0, 0, 0, 0, 0])

    // kafkajs resolves createTopics to false on TOPIC_ALREADY_EXISTS (any other error code rejects).
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), false, 'creating it again reports TOPIC_ALREADY_EXISTS')

    await admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 10_000, 'the topic to disappear')
  })

  test('describeCluster names this broker as the controller', async () => {
    const cluster = await admin.describeCluster()
    assert.equal(cluster.brokers.length, 1)
    assert.equal(cluster.brokers[0].port, broker.port)
    assert.equal(cluster.controller, cluster.brokers[0].nodeId)
    assert.ok(cluster.clusterId.length > 0)
  })

  for (const codec of kCodecs) {
    for (const acks of kAcks) {
      test(`records produced with ${codec} and acks=${acks} read back byte-identical at offsets from 0`, async () => {
        const topic = topicName('kafkajs', codec, acks)
        await createTopic(admin, topic, kPartitions)
        const set = makeRecordSet({ partitions: kPartitions, tag: topic })
        const metadata = await producer.send({ topic, acks, compression: kCompressionTypes[codec], messages: toMessages(set) })
        const counts = set.map((records) => records.length)
        if (acks === 0) {
          // No responses: poll ListOffsets until every record is there.
          assert.deepEqual(metadata, [])
          await waitFor(async () => (await highWatermarks(admin, topic)).every((high, p) => high === counts[p]), 20_000, 'all acks=0 records')
        } else {
          const bases = metadata.sort((a, b) => a.partition - b.partition)
          assert.deepEqual(bases.map((m) => [m.partition, m.errorCode, m.baseOffset]), counts.map((_, p) => [p, 0, '0']), 'each partition appended at offset 0')
        }
        assert.deepEqual(await highWatermarks(admin, topic), counts, 'high watermarks')
        assertSameRecords(set, await readBack(kafka, topic, counts), `kafkajs ${codec} acks=${acks}`)
        assertStoredCodec(broker.dataDir, topic, kPartitions, codec)
      })
    }
  }

  test('an idempotent producer appends every record once', async () => {
    const topic = topicName('kafkajs', 'idempotent', -1)
    await createTopic(admin, topic, kPartitions)
    const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
    await idempotent.connect()
    try {
      const first = makeRecordSet({ partitions: kPartitions, tag: `${topic}-1` })
      const second = makeRecordSet({ partitions: kPartitions, tag: `${topic}-2` })
      for (const [codec, set] of [['zstd', first], ['none', second]] as const) {
        const metadata = await idempotent.send({ topic, acks: -1, compression: kCompressionTypes[codec], messages: toMessages(set) })
        for (const partition of metadata) assert.equal(partition.errorCode, 0)
      }
      const expected = first.map((records, p) => [...records, ...second[p]])
      const counts = expected.map((records) => records.length)
      assert.deepEqual(await highWatermarks(admin, topic), counts)
      assertSameRecords(expected, await readBack(kafka, topic, counts), 'kafkajs idempotent')
    } finally {
      await idempotent.disconnect()
    }
  })

  test('the broker closed no kafkajs connection and logged no error', () => {
    assertBrokerQuiet(broker.output())
  })
})

describe('kafkajs against a 3-worker broker', () => {
  test('records spread over six partitions on three workers read back byte-identical', async () => {
    const broker = await startBroker({ workers: 3 })
    const kafka = client(broker)
    const admin = kafka.admin()
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
    try {
      await admin.connect()
      await producer.connect()
      const topic = topicName('kafkajs', 'lz4', -1, '-w3')
      await createTopic(admin, topic, 6)
      const set = makeRecordSet({ partitions: 6, tag: topic })
      await producer.send({ topic, acks: -1, compression: CompressionTypes.LZ4, messages: toMessages(set) })
      const counts = set.map((records) => records.length)
      assert.equal(recordCount(set), counts.reduce((a, b) => a + b, 0))
      assert.deepEqual(await highWatermarks(admin, topic), counts)
      assertSameRecords(set, await readBack(kafka, topic, counts), 'kafkajs 3 workers')
      assertStoredCodec(broker.dataDir, topic, 6, 'lz4')
      assertBrokerQuiet(broker.output())
    } finally {
      await producer.disconnect()
      await admin.disconnect()
      await broker.stop()
    }
  })
})
