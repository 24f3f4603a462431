// Fetch against a real 2-worker broker: partitions 0 and 1 of a topic are owned by different workers, so a
// request for both is split. A long poll waits, is released by an append on either owner, and the size limits
// follow KIP-74.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce, kFetchVersion } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

function fetchRequest (topic: string, partitions: Array<{ partition: number, fetchOffset: number, partitionMaxBytes?: number }>, options: { maxWaitMs?: number, minBytes?: number, maxBytes?: number } = {}) {
  return {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes: options.maxBytes ?? 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes ?? 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 })) }],
    forgottenTopicsData: [],
    rackId: ''
  }
}

function bytesOf (response: any): Map<number, number> {
  return new Map(response.responses.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, p.records.length])))
}

test('a long poll over partitions of two workers is released by an append to either of them', { timeout: 30_000 }, async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const reader = await KafkaClient.connect(broker.host, broker.port)
  const writer = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => { reader.close(); writer.close() })
  await createTopic(writer, 'polled', 2)
  const end = [0, 0]
  for (const partition of [0, 1, 1, 0]) {
    // Both partitions fetched from their end (nothing to return), with maxWaitMs far beyond the test's timeout:
    // only the append can end this wait in time.
    const pending = reader.request(1, kFetchVersion, fetchRequest('polled', [{ partition: 0, fetchOffset: end[0] }, { partition: 1, fetchOffset: end[1] }], { maxWaitMs: 600_000, minBytes: 1 }))
    await produce(writer, 'polled', partition, [`wake-${partition}`])
    end[partition]++
    const response = await pending
    assert.equal(response.errorCode, ErrorCode.NONE)
    assert.ok((bytesOf(response).get(partition) ?? 0) > 0, `partition ${partition} data returned`)
  }
})

test('returns at once when minBytes is already there, and answers unknown partitions without waiting', { timeout: 30_000 }, async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'ready', 2)
  await produce(client, 'ready', 1, ['present'])
  const ready = await client.request(1, kFetchVersion, fetchRequest('ready', [{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 0 }], { maxWaitMs: 600_000, minBytes: 1 }))
  assert.ok((bytesOf(ready).get(1) ?? 0) > 0)
  const unknown = await client.request(1, kFetchVersion, fetchRequest('ready', [{ partition: 0, fetchOffset: 0 }, { partition: 9, fetchOffset: 0 }], { maxWaitMs: 600_000, minBytes: 1 }))
  const codes = new Map(unknown.responses.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, p.errorCode])))
  assert.equal(codes.get(9), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(codes.get(0), ErrorCode.NONE)
})

test('a partition error in one worker\'s part releases the long poll of the other at once', { timeout: 30_000 }, async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'errored', 2)
  // Either partition out of range (so the error comes from the local part, then from the remote one), the other
  // empty at its end, with maxWaitMs far beyond the test's timeout: only the error can end the wait in time.
  for (const errored of [0, 1]) {
    const partitions = [0, 1].map((partition) => ({ partition, fetchOffset: partition === errored ? 1000 : 0 }))
    const response = await client.request(1, kFetchVersion, fetchRequest('errored', partitions, { maxWaitMs: 600_000, minBytes: 1 }))
    const codes = new Map(response.responses.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, p.errorCode])))
    assert.equal(codes.get(errored), ErrorCode.OFFSET_OUT_OF_RANGE)
    assert.equal(codes.get(1 - errored), ErrorCode.NONE)
  }
})

test('KIP-74: the first batch comes back whole even when larger than the limits; later ones respect them', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'limits', 1)
  for (let i = 0; i < 3; i++) assert.equal((await produce(client, 'limits', 0, ['x'.repeat(5000)])).errorCode, ErrorCode.NONE)
  const tiny = await client.request(1, kFetchVersion, fetchRequest('limits', [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 100 }]))
  const oneBatch = tiny.responses[0].partitions[0].records.length
  assert.ok(oneBatch > 5000 && oneBatch < 10_000, `one whole batch (${oneBatch} bytes)`)
  const two = await client.request(1, kFetchVersion, fetchRequest('limits', [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 2 * oneBatch }]))
  assert.equal(two.responses[0].partitions[0].records.length, 2 * oneBatch)
  const capped = await client.request(1, kFetchVersion, fetchRequest('limits', [{ partition: 0, fetchOffset: 0 }], { maxBytes: oneBatch + 10 }))
  assert.equal(capped.responses[0].partitions[0].records.length, oneBatch)
  const outOfRange = await client.request(1, kFetchVersion, fetchRequest('limits', [{ partition: 0, fetchOffset: 4 }]))
  assert.equal(outOfRange.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(outOfRange.responses[0].partitions[0].highWatermark, 3)
})

test('a fetch split over two workers stays within maxBytes: each part gets a share', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  // Four partitions: two on each worker (ownership alternates with the partition number).
  await createTopic(client, 'shared', 4)
  for (let partition = 0; partition < 4; partition++) {
    for (let i = 0; i < 6; i++) assert.equal((await produce(client, 'shared', partition, ['y'.repeat(2000)])).errorCode, ErrorCode.NONE)
  }
  const all = [0, 1, 2, 3].map((partition) => ({ partition, fetchOffset: 0 }))
  const maxBytes = 20_000
  const response = await client.request(1, kFetchVersion, fetchRequest('shared', all, { maxBytes }))
  const sizes = bytesOf(response)
  const total = [...sizes.values()].reduce((sum, size) => sum + size, 0)
  assert.ok(total > 0 && total <= maxBytes, `${total} record bytes for maxBytes ${maxBytes}`)
  // Both workers' partitions contributed.
  assert.ok((sizes.get(0) ?? 0) > 0 || (sizes.get(2) ?? 0) > 0)
  assert.ok((sizes.get(1) ?? 0) > 0 || (sizes.get(3) ?? 0) > 0)
  // Without a limit that binds, everything comes back.
  const everything = await client.request(1, kFetchVersion, fetchRequest('shared', all, { maxBytes: 1 << 20 }))
  const one = (await client.request(1, kFetchVersion, fetchRequest('shared', [{ partition: 0, fetchOffset: 0 }]))).responses[0].partitions[0].records.length
  assert.deepEqual([...bytesOf(everything).values()], [one, one, one, one])
})
