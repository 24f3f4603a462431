// Produce's per-partition refusals, against a real broker: each is an error code for that partition only, and
// the connection keeps serving.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce, kProduceVersion } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ErrorCode, KafkaError } from '../../src/protocol/errors.ts'
import { PendingFlushes, type PartitionResponse } from '../../src/handlers/produce.ts'
import type { Shard } from '../../src/shard/shard.ts'

test('refuses bad acks, transactional batches, oversized batches and unknown partitions per partition', async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--message-max-bytes', '2000'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'refusals', 2)

  const ok = await produce(client, 'refusals', 0, ['a', 'b'])
  assert.equal(ok.errorCode, ErrorCode.NONE)
  assert.equal(ok.baseOffset, 0)

  const badAcks = await produce(client, 'refusals', 0, ['a'], { acks: 2 })
  assert.equal(badAcks.errorCode, ErrorCode.INVALID_REQUIRED_ACKS)

  // Transactional records in a request without a transactional id: refused as Kafka refuses them.
  const transactional = await produce(client, 'refusals', 1, ['t'], { batch: { producerId: 7, producerEpoch: 0, baseSequence: 0, isTransactional: true } })
  assert.equal(transactional.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)

  const big = await produce(client, 'refusals', 1, ['x'.repeat(5000)])
  assert.equal(big.errorCode, ErrorCode.MESSAGE_TOO_LARGE)

  const internal = await produce(client, '__consumer_offsets', 0, ['x'])
  assert.ok(internal.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION || internal.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)

  const mixed = await client.request(0, kProduceVersion, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topicData: [
      { name: 'refusals', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('ok') }]) }, { index: 7, records: buildRecordBatch([{ key: null, value: Buffer.from('no') }]) }] },
      { name: 'missing-topic', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('no') }]) }] }
    ]
  })
  const codes = mixed.responses.flatMap((topic: any) => topic.partitionResponses.map((p: any) => [topic.name, p.index, p.errorCode]))
  assert.deepEqual(codes.sort(), [['missing-topic', 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['refusals', 0, ErrorCode.NONE], ['refusals', 7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]].sort())

  const after = await produce(client, 'refusals', 0, ['c'])
  assert.equal(after.errorCode, ErrorCode.NONE)
  assert.equal(after.baseOffset, 3)
})

test('a compressed batch inflating beyond --max-decompressed-batch-bytes answers MESSAGE_TOO_LARGE; smaller ones are stored', async (t) => {
  const broker = await startBroker({ workers: 1, args: ['--max-decompressed-batch-bytes', '65536'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'inflated', 1)
  // 256 KiB of zeros compresses to a few hundred bytes: far below message.max.bytes, far above the bound.
  for (const compression of [1, 2, 3, 4]) {
    const bomb = buildRecordBatch([{ key: null, value: Buffer.alloc(256 * 1024) }], { compression })
    assert.equal((await produce(client, 'inflated', 0, bomb)).errorCode, ErrorCode.MESSAGE_TOO_LARGE, `codec ${compression}`)
    const small = buildRecordBatch([{ key: null, value: Buffer.alloc(1024) }], { compression })
    assert.equal((await produce(client, 'inflated', 0, small)).errorCode, ErrorCode.NONE, `codec ${compression}`)
  }
})

test('acks=-1: a failed fsync fails only the partitions it covers; a deletion answers UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const logged: string[] = []
  const shard = { logger: { limited: (_key: string, _level: string, line: string) => { logged.push(line) } } } as unknown as Shard
  const answer = (index: number): PartitionResponse => ({ index, errorCode: ErrorCode.NONE, baseOffset: index * 10, logAppendTimeMs: -1, logStartOffset: 0, errorMessage: null })
  const flushes = new PendingFlushes()
  assert.equal(flushes.pending, false)
  const durable = flushes.add(Promise.resolve(), answer(0))
  const deleted = flushes.add(Promise.reject(new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'gone')), answer(1))
  const failed = flushes.add(Promise.reject(new Error('EIO')), answer(2))
  assert.equal(flushes.pending, true)
  await flushes.settle(shard)
  assert.deepEqual([durable.errorCode, durable.baseOffset], [ErrorCode.NONE, 0])
  assert.equal(deleted.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR)
  assert.deepEqual(logged, ['fsync failed: EIO'])
})
