// The S3 copy's promise, per durability mode, on a real broker process and s3rver: produce with acks=-1 (an
// idempotent producer among them) and commit group offsets, kill -9 the broker, delete its data directory, and
// start it again on the same bucket. --durability s3: every acknowledged record is back, at its offset, byte for
// byte, even when the kill lands mid-stream. --durability local: everything up to the last upload is back (the
// test waits for the upload to catch up before the kill, so that is everything). In both: the group's offsets
// are back, and a retry of the idempotent producer's last batch is still answered as a duplicate.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { startS3, type TestS3 } from '../helpers/s3.ts'
import { createTopic, fetchRecords, initProducerId, KafkaClient, kFetchVersion, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { S3ObjectStore } from '../../src/storage/s3-object-store.ts'
import { loadRemoteState } from '../../src/storage/remote-state-loader.ts'

const kPartitions = 3

function s3Args (s3: TestS3, durability: 'local' | 's3', extra: string[] = []): string[] {
  return ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-prefix', 'cluster-a', '--durability', durability,
    '--s3-flush-interval-ms', '100', '--s3-lease-ms', '1000', '--flushers', '1', ...extra]
}

async function startOn (s3: TestS3, dataDir: string, durability: 'local' | 's3'): Promise<TestBroker> {
  return startBroker({ dataDir, cleanup: false, args: s3Args(s3, durability), env: s3.env })
}

/** The raw record batches of a partition from offset 0 to its high watermark (what a consumer reads, byte for byte). */
async function rawLog (client: KafkaClient, topic: string, partition: number): Promise<{ bytes: Buffer, highWatermark: number }> {
  const chunks: Buffer[] = []
  let offset = 0
  let highWatermark = -1
  for (;;) {
    const response = await client.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 8 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    const data = response.responses[0].partitions[0]
    assert.equal(data.errorCode, 0, `fetch ${topic}-${partition}@${offset}`)
    highWatermark = Number(data.highWatermark)
    const records: Buffer | null = data.records
    if (records === null || records.length === 0 || offset >= highWatermark) break
    chunks.push(Buffer.from(records))
    // The last batch's end: baseOffset (int64 at 0) + lastOffsetDelta (int32 at 23) + 1.
    let at = 0
    let end = offset
    while (at + 12 <= records.length) {
      const size = 12 + records.readInt32BE(at + 8)
      if (at + size > records.length) break
      end = Number(records.readBigInt64BE(at)) + records.readInt32BE(at + 23) + 1
      at += size
    }
    if (end >= highWatermark) break
    offset = end
  }
  return { bytes: Buffer.concat(chunks), highWatermark }
}

async function commitOffsets (client: KafkaClient, group: string, topic: string, offsets: number[]): Promise<void> {
  const response = await client.request(8, 8, {
    groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: topic, partitions: offsets.map((committedOffset, partitionIndex) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: null })) }]
  })
  for (const partition of response.topics[0].partitions) assert.equal(partition.errorCode, 0)
}

async function fetchOffsets (client: KafkaClient, group: string, topic: string): Promise<number[]> {
  const response = await client.request(9, 7, { groupId: group, topics: [{ name: topic, partitionIndexes: Array.from({ length: kPartitions }, (_, p) => p) }], requireStable: false })
  return response.topics[0].partitions.map((partition: { committedOffset: bigint | number }) => Number(partition.committedOffset))
}

for (const durability of ['s3', 'local'] as const) {
  test(`--durability ${durability}: kill -9, empty data directory, restart on the same bucket: records, group offsets and producer state are back`, { timeout: 120_000 }, async (t) => {
    const s3 = await startS3()
    t.after(() => s3.close())
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-restore-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    let broker = await startOn(s3, dataDir, durability)
    t.after(() => broker.kill())
    const client = await KafkaClient.to(broker.bootstrap)
    await createTopic(client, 'orders', kPartitions)
    // acks=-1 from several lanes at once, so that uploads carry many partitions and requests share them.
    const acked: Array<{ partition: number, offset: number, value: string }> = []
    await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; i < 25; i++) {
        const partition = (lane + i) % kPartitions
        const value = `lane${lane}-${i}-${'v'.repeat(i * 7)}`
        const result = await produce(client, 'orders', partition, [value, `${value}-b`])
        assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '')
        acked.push({ partition, offset: result.baseOffset, value })
      }
    }))
    const { producerId, producerEpoch } = await initProducerId(client)
    const idempotent = { producerId, producerEpoch, baseSequence: 0 }
    const first = await produce(client, 'orders', 0, ['once-1'], { batch: idempotent })
    const last = await produce(client, 'orders', 0, ['once-2'], { batch: { ...idempotent, baseSequence: 1 } })
    assert.equal(last.errorCode, ErrorCode.NONE)
    await commitOffsets(client, 'billing', 'orders', [3, 5, 7])
    const before: Array<{ bytes: Buffer, highWatermark: number }> = []
    for (let p = 0; p < kPartitions; p++) before.push(await rawLog(client, 'orders', p))
    client.close()
    if (durability === 'local') {
      // Local mode promises what was uploaded: wait until S3 holds every partition up to its high watermark,
      // then until the uploads go quiet (the group's offsets travel in __consumer_offsets' own ranges).
      const topicId = (JSON.parse(readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8')) as { topics: Array<{ name: string, id: string }> }).topics.find((topic) => topic.name === 'orders')?.id
      Object.assign(process.env, s3.env)
      const store = new S3ObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, requestTimeoutMs: 10_000 })
      await waitFor(async () => {
        const state = await loadRemoteState(store, 'cluster-a/')
        return before.every((log, p) => state.partitions.get(`${topicId}:${p}`)?.endOffset === log.highWatermark)
      }, 20_000, 'the uploads to catch up')
      let keys = -1
      await waitFor(async () => {
        const now = (await s3.listKeys('cluster-a/data/')).length
        const quiet = now === keys
        keys = now
        if (!quiet) await new Promise((resolve) => setTimeout(resolve, 500))
        return quiet
      }, 20_000, 'the uploads to go quiet')
      store.client.destroy()
    }
    await broker.kill()
    rmSync(dataDir, { recursive: true, force: true })

    broker = await startOn(s3, dataDir, durability)
    const again = await KafkaClient.to(broker.bootstrap)
    t.after(() => again.close())
    for (let p = 0; p < kPartitions; p++) {
      const after = await rawLog(again, 'orders', p)
      assert.equal(after.highWatermark, before[p].highWatermark, `partition ${p} high watermark`)
      assert.ok(after.bytes.equals(before[p].bytes), `partition ${p} is byte-identical after the restore`)
    }
    assert.deepEqual(await fetchOffsets(again, 'billing', 'orders'), [3, 5, 7])
    // The idempotent producer's retry of its last batch is a duplicate, answered with the original offset.
    const retry = await produce(again, 'orders', 0, ['once-2'], { batch: { ...idempotent, baseSequence: 1 } })
    assert.equal(retry.errorCode, ErrorCode.NONE)
    assert.equal(retry.baseOffset, last.baseOffset)
    assert.ok(first.baseOffset < last.baseOffset)
    const next = await produce(again, 'orders', 0, ['once-3'], { batch: { ...idempotent, baseSequence: 2 } })
    assert.equal(next.errorCode, ErrorCode.NONE)
    assert.equal(next.baseOffset, before[0].highWatermark)
  })
}

test('--durability s3: a kill -9 in the middle of an acks=-1 stream loses no acknowledged record', { timeout: 120_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-midstream-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let broker = await startOn(s3, dataDir, 's3')
  t.after(() => broker.kill())
  const setup = await KafkaClient.to(broker.bootstrap)
  await createTopic(setup, 'stream', kPartitions)
  setup.close()
  const acked: Array<{ partition: number, offset: number, value: string }> = []
  const client = await KafkaClient.to(broker.bootstrap)
  const lanes = Array.from({ length: 6 }, async (_, lane) => {
    for (let i = 0; !client.isClosed; i++) {
      const partition = (lane + i) % kPartitions
      const value = `s${lane}-${i}`
      let result
      try {
        result = await produce(client, 'stream', partition, [value])
      } catch {
        return
      }
      if (result.errorCode === ErrorCode.NONE) acked.push({ partition, offset: result.baseOffset, value })
    }
  })
  await waitFor(() => acked.length >= 150, 30_000, '150 acknowledged batches')
  await broker.kill()
  await Promise.all(lanes)
  client.close()
  rmSync(dataDir, { recursive: true, force: true })
  broker = await startOn(s3, dataDir, 's3')
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  for (let p = 0; p < kPartitions; p++) {
    const records = new Map((await fetchRecords(again, 'stream', p)).map((record) => [record.offset, record.value]))
    for (const ack of acked.filter((a) => a.partition === p)) assert.equal(records.get(ack.offset), ack.value, `acknowledged ${ack.value} at ${p}@${ack.offset}`)
  }
})

test('--durability s3: transactions across a restore onto an empty disk: committed data stays, aborted and open-at-the-kill stay hidden, the transactional id carries on', { timeout: 120_000 }, async (t) => {
  const { default: kafkajs } = await import('../helpers/kafkajs.ts')
  const { Kafka, logLevel, Partitioners } = kafkajs
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-txn-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let broker = await startOn(s3, dataDir, 's3')
  t.after(() => broker.kill())
  const connect = (bootstrap: string) => new Kafka({ clientId: 's3-txn', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } })
  let kafka = connect(broker.bootstrap)
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'ledger', numPartitions: 2 }] })
  await admin.disconnect()
  let producer = kafka.producer({ transactionalId: 'ledger-writer', idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  let transaction = await producer.transaction()
  await transaction.send({ topic: 'ledger', messages: [{ key: 'a', value: 'committed-1' }, { key: 'b', value: 'committed-2' }] })
  await transaction.commit()
  await producer.disconnect()
  // A restart on the same disk: the transaction coordinator comes back with a higher epoch, which its next
  // markers carry; the coordinator after the restore must not fall below it.
  await broker.stop()
  broker = await startOn(s3, dataDir, 's3')
  kafka = connect(broker.bootstrap)
  producer = kafka.producer({ transactionalId: 'ledger-writer', idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  transaction = await producer.transaction()
  await transaction.send({ topic: 'ledger', messages: [{ key: 'a', value: 'aborted-1' }, { key: 'b', value: 'aborted-2' }] })
  await transaction.abort()
  // And one left open by the kill: the restored coordinator aborts it when the producer comes back.
  transaction = await producer.transaction()
  await transaction.send({ topic: 'ledger', messages: [{ key: 'a', value: 'open-at-kill-1' }, { key: 'b', value: 'open-at-kill-2' }] })
  await broker.kill()
  await producer.disconnect().catch(() => {})
  rmSync(dataDir, { recursive: true, force: true })

  broker = await startOn(s3, dataDir, 's3')
  kafka = connect(broker.bootstrap)
  producer = kafka.producer({ transactionalId: 'ledger-writer', idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  transaction = await producer.transaction()
  await transaction.send({ topic: 'ledger', messages: [{ key: 'b', value: 'committed-3' }] })
  await transaction.commit()
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: 'auditor', readUncommitted: false, maxWaitTimeInMs: 200 })
  const seen: string[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic: 'ledger', fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value?.toString() ?? '') } })
    await waitFor(() => seen.length >= 3, 30_000, `3 committed records (have ${seen.join(', ')})`)
  } finally {
    await consumer.disconnect()
  }
  assert.deepEqual(seen.sort(), ['committed-1', 'committed-2', 'committed-3'])
})

test('--durability s3: a worker thread that dies is restarted, reads what S3 holds of its partitions itself, and uploads on', { timeout: 120_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-worker-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const start = (): Promise<TestBroker> => startBroker({ dataDir, cleanup: false, args: s3Args(s3, 's3'), env: { ...s3.env, SHOAL_TEST_HOOKS: '1' } })
  let broker = await start()
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'resilient', 4)
  const acked: Array<{ partition: number, offset: number, value: string }> = []
  const send = async (round: string): Promise<void> => {
    for (let p = 0; p < 4; p++) {
      const value = `${round}-${p}`
      const result = await produce(client, 'resilient', p, [value])
      assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '')
      acked.push({ partition: p, offset: result.baseOffset, value })
    }
  }
  await send('before')
  // The test hook: SIGUSR2 terminates worker 1, which the main thread restarts (without the start-up S3 view).
  assert.ok(broker.process.kill('SIGUSR2'))
  await waitFor(() => /worker 1 restarted/.test(broker.output()), 30_000, 'worker 1 to restart')
  client.close()
  const after = await KafkaClient.to(broker.bootstrap)
  const sendAfter = async (round: string): Promise<void> => {
    for (let p = 0; p < 4; p++) {
      const value = `${round}-${p}`
      const result = await waitFor(async () => { const r = await produce(after, 'resilient', p, [value]); return r.errorCode === ErrorCode.NONE ? r : null }, 20_000, `produce to ${p}`)
      acked.push({ partition: p, offset: (result as { baseOffset: number }).baseOffset, value })
    }
  }
  await sendAfter('after')
  after.close()
  await broker.kill()
  rmSync(dataDir, { recursive: true, force: true })
  broker = await start()
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  for (let p = 0; p < 4; p++) {
    const records = new Map((await fetchRecords(again, 'resilient', p)).map((record) => [record.offset, record.value]))
    for (const ack of acked.filter((a) => a.partition === p)) assert.equal(records.get(ack.offset), ack.value, `${ack.value} at ${p}@${ack.offset}`)
  }
})
