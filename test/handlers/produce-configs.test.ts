// Produce against topic configs that change what is stored, on a real broker: compression.type recompresses,
// cleanup.policy=compact refuses keyless records, message.timestamp.before/after.max.ms refuse out-of-range
// CreateTimes; the default path keeps the batch's bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, kFetchVersion, kProduceVersion } from '../helpers/kafka-client.ts'
import { buildRecordBatch, computeBatchCrc, createBatchInfo, nextBatchEnd, parseRecords, readBatchInfo, type BatchInfo, type RecordInput } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { validateTopicConfig } from '../../src/config/topic-config.ts'

async function createTopicWith (client: KafkaClient, name: string, configs: Record<string, string>): Promise<void> {
  const response = await client.request(19, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
    timeoutMs: 10_000,
    validateOnly: false
  })
  const topic = response.topics[0]
  if (topic.errorCode !== 0) throw new Error(`CreateTopics ${name}: error ${topic.errorCode} ${topic.errorMessage ?? ''}`)
}

async function produceBatch (client: KafkaClient, topic: string, batch: Buffer): Promise<any> {
  const response = await client.request(0, kProduceVersion, {
    transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }]
  })
  return response.responses[0].partitionResponses[0]
}

/** Every stored batch of partition 0, as fetched (raw bytes, one Buffer per batch). */
async function fetchBatches (client: KafkaClient, topic: string): Promise<Buffer[]> {
  const response = await client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  })
  const data = response.responses[0].partitions[0]
  assert.equal(data.errorCode, 0)
  const records: Buffer = data.records ?? Buffer.alloc(0)
  const batches: Buffer[] = []
  for (let position = 0, end; position < records.length && (end = nextBatchEnd(records, position, records.length)) > 0; position = end) {
    batches.push(records.subarray(position, end))
  }
  return batches
}

function infoOf (batch: Buffer): BatchInfo {
  const info = createBatchInfo()
  readBatchInfo(batch, 0, info)
  return info
}

const records = (count: number, prefix: string): RecordInput[] =>
  Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`${prefix}-${i}-${'x'.repeat(200)}`), timestamp: Date.now() }))

async function started (t: { after: (fn: () => unknown) => void }, args: string[] = []): Promise<{ broker: TestBroker, client: KafkaClient }> {
  const broker = await startBroker({ workers: 1, args })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  return { broker, client }
}

test('compression.type rewrites each batch with the topic codec, keeping producer fields, counts and timestamps', async (t) => {
  const { client } = await started(t)
  const targets = { uncompressed: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
  for (const [type, codec] of Object.entries(targets)) {
    const topic = `to-${type}`
    await createTopicWith(client, topic, { 'compression.type': type, 'compression.gzip.level': '9', 'compression.zstd.level': '-5' })
    // Sent as every other codec (and as none), idempotent: sequences continue across the rewrites.
    let sequence = 0
    const sent: string[] = []
    for (const source of [0, 1, 2, 3, 4].filter((c) => c !== codec)) {
      const batchRecords = records(3, `${type}-from-${source}`)
      const batch = buildRecordBatch(batchRecords, { compression: source, producerId: 42, producerEpoch: 1, baseSequence: sequence })
      const answer = await produceBatch(client, topic, batch)
      assert.equal(answer.errorCode, ErrorCode.NONE, `${type} from ${source}: ${answer.errorMessage}`)
      assert.equal(answer.baseOffset, sequence)
      sequence += 3
      sent.push(...batchRecords.map((r) => (r.value as Buffer).toString()))
    }
    const stored = await fetchBatches(client, topic)
    assert.equal(stored.length, 4)
    const values: string[] = []
    stored.forEach((batch, at) => {
      const info = infoOf(batch)
      assert.equal(info.compression, codec, `${type}: stored codec`)
      assert.deepEqual([info.producerId, info.producerEpoch, info.baseSequence, info.recordCount, info.lastOffsetDelta, info.baseOffset],
        [42, 1, at * 3, 3, 2, at * 3])
      assert.equal(info.crc, computeBatchCrc(batch), `${type}: CRC`)
      assert.equal(info.timestampType, 0)
      values.push(...parseRecords(batch).map((r) => (r.value as Buffer).toString()))
    })
    assert.deepEqual(values, sent)
  }
  // A duplicate of a recompressed batch answers the original's offset and is not stored again.
  const again = buildRecordBatch(records(3, 'dup'), { compression: 1, producerId: 42, producerEpoch: 1, baseSequence: 9 })
  const duplicate = await produceBatch(client, 'to-zstd', again)
  assert.deepEqual([duplicate.errorCode, duplicate.baseOffset], [ErrorCode.NONE, 9])
  assert.equal((await fetchBatches(client, 'to-zstd')).length, 4)
})

test('a batch already in the topic codec, or on a producer topic, is stored byte for byte', async (t) => {
  const { client } = await started(t)
  await createTopicWith(client, 'same-codec', { 'compression.type': 'lz4' })
  await createTopicWith(client, 'producer-codec', {})
  const lz4 = buildRecordBatch(records(4, 'same'), { compression: 3 })
  const gzip = buildRecordBatch(records(4, 'any'), { compression: 1 })
  assert.equal((await produceBatch(client, 'same-codec', lz4)).errorCode, ErrorCode.NONE)
  assert.equal((await produceBatch(client, 'producer-codec', gzip)).errorCode, ErrorCode.NONE)
  // Everything after baseOffset and partitionLeaderEpoch (the broker's): bytes 16 on, CRC included, as sent.
  assert.deepEqual((await fetchBatches(client, 'same-codec'))[0].subarray(16), lz4.subarray(16))
  assert.deepEqual((await fetchBatches(client, 'producer-codec'))[0].subarray(16), gzip.subarray(16))
})

test('batches pipelined to one recompressing partition are appended in order, matching codecs queued behind', async (t) => {
  const { client } = await started(t)
  await createTopicWith(client, 'pipelined', { 'compression.type': 'gzip' })
  // A large batch first: its recompression takes longest; the small gzip batches after it must wait for it.
  const big = buildRecordBatch(Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`big-${i}-`.repeat(500)) })),
    { compression: 4, producerId: 7, producerEpoch: 0, baseSequence: 0 })
  const batches = [big]
  for (let i = 0; i < 4; i++) {
    batches.push(buildRecordBatch(records(2, `small-${i}`), { compression: i % 2 === 0 ? 1 : 0, producerId: 7, producerEpoch: 0, baseSequence: 200 + i * 2 }))
  }
  const answers = await Promise.all(batches.map((batch) => produceBatch(client, 'pipelined', batch)))
  assert.deepEqual(answers.map((a) => [a.errorCode, a.baseOffset]), [[0, 0], [0, 200], [0, 202], [0, 204], [0, 206]])
  const stored = await fetchBatches(client, 'pipelined')
  assert.deepEqual(stored.map((batch) => [infoOf(batch).baseSequence, infoOf(batch).compression]), [[0, 1], [200, 1], [202, 1], [204, 1], [206, 1]])
})

test('keyless records on a compact topic refuse the batch with one record error each; nothing is appended', async (t) => {
  const { client } = await started(t)
  await createTopicWith(client, 'compacted', { 'cleanup.policy': 'compact,delete' })
  for (const compression of [0, 1, 3]) {
    const batch = buildRecordBatch([
      { key: null, value: Buffer.from('a') }, { key: Buffer.from('k'), value: Buffer.from('b') }, { key: null, value: null }
    ], { compression })
    const answer = await produceBatch(client, 'compacted', batch)
    assert.equal(answer.errorCode, ErrorCode.INVALID_RECORD, `codec ${compression}`)
    assert.deepEqual(answer.recordErrors.map((e: any) => e.batchIndex), [0, 2])
    assert.match(answer.recordErrors[0].batchIndexErrorMessage, /Compacted topic cannot accept message without key in topic partition compacted-0/)
    assert.match(answer.errorMessage, /rejected due to 2 record errors in total/)
  }
  assert.equal((await fetchBatches(client, 'compacted')).length, 0)
  const keyed = await produceBatch(client, 'compacted', buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { compression: 2 }))
  assert.deepEqual([keyed.errorCode, keyed.baseOffset], [ErrorCode.NONE, 0])
})

test('CreateTime topics refuse records beyond message.timestamp.before/after.max.ms with INVALID_TIMESTAMP', async (t) => {
  const { client } = await started(t)
  await createTopicWith(client, 'bounded', { 'message.timestamp.before.max.ms': '3600000', 'message.timestamp.after.max.ms': '60000' })
  await createTopicWith(client, 'bounded-append-time', { 'message.timestamp.type': 'LogAppendTime', 'message.timestamp.before.max.ms': '1000' })
  const now = Date.now()
  const batch = (timestamps: number[], compression = 0): Buffer =>
    buildRecordBatch(timestamps.map((timestamp) => ({ key: null, value: Buffer.from('v'), timestamp })), { compression })
  for (const compression of [0, 4]) {
    const past = await produceBatch(client, 'bounded', batch([now, now - 2 * 3600_000, now], compression))
    assert.equal(past.errorCode, ErrorCode.INVALID_TIMESTAMP)
    assert.deepEqual(past.recordErrors.map((e: any) => e.batchIndex), [1])
    assert.match(past.recordErrors[0].batchIndexErrorMessage, /^Timestamp \d+ of message with offset 1 is out of range/)
    const future = await produceBatch(client, 'bounded', batch([now + 10 * 60_000, now + 20 * 60_000], compression))
    assert.equal(future.errorCode, ErrorCode.INVALID_TIMESTAMP)
    assert.deepEqual(future.recordErrors.map((e: any) => e.batchIndex), [0, 1])
  }
  assert.equal((await fetchBatches(client, 'bounded')).length, 0)
  const fine = await produceBatch(client, 'bounded', batch([now - 30 * 60_000, now + 30_000]))
  assert.deepEqual([fine.errorCode, fine.baseOffset], [ErrorCode.NONE, 0])
  // LogAppendTime: the broker's clock replaces the producer's, so the bounds do not apply.
  const appended = await produceBatch(client, 'bounded-append-time', batch([now - 2 * 3600_000]))
  assert.equal(appended.errorCode, ErrorCode.NONE)
  assert.ok(appended.logAppendTimeMs >= now)
  const [stored] = await fetchBatches(client, 'bounded-append-time')
  assert.equal(infoOf(stored).timestampType, 1)
  assert.equal(parseRecords(stored)[0].timestamp, appended.logAppendTimeMs)
})

test('recompression and refusals are counted', async (t) => {
  const { broker, client } = await started(t, ['--metrics-listen', '127.0.0.1:0'])
  const metrics = await waitFor(() => /metrics on ([^\s]+)\n/.exec(broker.output())?.[1], 20_000, 'metrics address')
  await createTopicWith(client, 'counted', { 'compression.type': 'zstd', 'cleanup.policy': 'compact' })
  assert.equal((await produceBatch(client, 'counted', buildRecordBatch(records(2, 'c'), { compression: 1 }))).errorCode, ErrorCode.NONE)
  assert.equal((await produceBatch(client, 'counted', buildRecordBatch([{ key: null, value: null }, { key: null, value: null }]))).errorCode, ErrorCode.INVALID_RECORD)
  const value = (text: string, name: string): number => Number(new RegExp(`^shoal_${name}_total (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  await waitFor(async () => {
    const text = await (await fetch(`http://${metrics}/metrics`)).text()
    return value(text, 'produce_batches_recompressed') === 1 && value(text, 'produce_records_refused') === 2 &&
      value(text, 'produce_recompressed_bytes_out') > 0 && value(text, 'produce_recompressed_bytes_in') > 0
  }, 20_000, 'counters')
})

test('validates compression.<codec>.level as Kafka does', () => {
  for (const [name, value] of [['compression.gzip.level', '-1'], ['compression.gzip.level', '1'], ['compression.gzip.level', '9'],
    ['compression.lz4.level', '1'], ['compression.lz4.level', '17'], ['compression.zstd.level', '-131072'], ['compression.zstd.level', '22']]) {
    assert.equal(validateTopicConfig(name, value), null, `${name}=${value}`)
  }
  for (const [name, value] of [['compression.gzip.level', '0'], ['compression.gzip.level', '10'], ['compression.gzip.level', 'x'],
    ['compression.lz4.level', '0'], ['compression.lz4.level', '18'], ['compression.zstd.level', '-131073'], ['compression.zstd.level', '23']]) {
    assert.notEqual(validateTopicConfig(name, value), null, `${name}=${value}`)
  }
})
