// KIP-74 limits when several partitions start with a batch larger than the limits, on one worker and on two (where
// partitions alternate between the workers, so a request is split and each part could return its own oversized
// first batch): the response holds at most one batch beyond the limits, that of the first partition with data in
// request order, and stays within maxBytes otherwise.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce, kFetchVersion } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

interface Asked { topic: string, partition: number, fetchOffset?: number }

function fetchRequest (asked: Asked[], options: { partitionMaxBytes?: number, maxBytes?: number }) {
  // One topic entry per run of the same topic, in the order asked.
  const topics: Array<{ topic: string, partitions: object[] }> = []
  for (const a of asked) {
    if (topics.at(-1)?.topic !== a.topic) topics.push({ topic: a.topic, partitions: [] })
    topics.at(-1)!.partitions.push({ partition: a.partition, fetchOffset: a.fetchOffset ?? 0, partitionMaxBytes: options.partitionMaxBytes ?? 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 })
  }
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: options.maxBytes ?? 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics, forgottenTopicsData: [], rackId: ''
  }
}

/** `topic:partition` -> record bytes returned, for every partition in the response. */
function sizes (response: any): Map<string, number> {
  assert.equal(response.errorCode, ErrorCode.NONE)
  const out = new Map<string, number>()
  for (const t of response.responses) {
    for (const p of t.partitions) {
      assert.equal(p.errorCode, ErrorCode.NONE)
      out.set(`${t.topic}:${p.partitionIndex}`, p.records?.length ?? 0)
    }
  }
  return out
}

function withData (response: any): string[] {
  return [...sizes(response)].filter(([, size]) => size > 0).map(([key]) => key)
}

function total (response: any): number {
  return [...sizes(response).values()].reduce((sum, size) => sum + size, 0)
}

for (const workers of [1, 2]) {
  describe(`KIP-74 with oversized first batches, ${workers} worker(s)`, () => {
    let broker: TestBroker
    let client: KafkaClient
    /** Size of one batch of one 5000-byte record (all partitions hold such batches). */
    let batch = 0
    const all = [0, 1, 2, 3].map((partition) => ({ topic: 'big', partition }))

    before(async () => {
      broker = await startBroker({ workers })
      client = await KafkaClient.connect(broker.host, broker.port)
      await createTopic(client, 'big', 4)
      await createTopic(client, 'sparse', 4)
      for (let partition = 0; partition < 4; partition++) {
        for (let i = 0; i < 3; i++) assert.equal((await produce(client, 'big', partition, ['b'.repeat(5000)])).errorCode, ErrorCode.NONE)
      }
      // sparse: only partition 3 has data (on worker 1 of 2).
      assert.equal((await produce(client, 'sparse', 3, ['s'.repeat(5000)])).errorCode, ErrorCode.NONE)
      batch = sizes(await client.request(1, kFetchVersion, fetchRequest([{ topic: 'big', partition: 0 }], { partitionMaxBytes: 100 }))).get('big:0')!
      assert.ok(batch > 5000 && batch < 5200, `one batch is ${batch} bytes`)
    })

    after(async () => {
      client?.close()
      await broker?.stop()
    })

    test('partitionMaxBytes below every first batch: only the first partition in request order returns one, whole', async () => {
      for (const order of [[0, 1, 2, 3], [1, 0, 3, 2], [3, 2, 1, 0]]) {
        const response = await client.request(1, kFetchVersion, fetchRequest(order.map((partition) => ({ topic: 'big', partition })), { partitionMaxBytes: 100 }))
        assert.deepEqual(withData(response), [`big:${order[0]}`], `order ${order}`)
        assert.equal(total(response), batch)
      }
    })

    test('maxBytes below one batch: one whole batch, from the first partition in request order', async () => {
      for (const first of [0, 1]) {
        const order = [first, 1 - first, 2, 3].map((partition) => ({ topic: 'big', partition }))
        const response = await client.request(1, kFetchVersion, fetchRequest(order, { maxBytes: 1000 }))
        assert.deepEqual(withData(response), [`big:${first}`])
        assert.equal(total(response), batch)
      }
    })

    test('maxBytes of a few batches: the response stays within it, in whole batches, the first partitions first', async () => {
      const maxBytes = 5 * batch + 100
      const response = await client.request(1, kFetchVersion, fetchRequest(all, { maxBytes }))
      const got = sizes(response)
      assert.ok(total(response) <= maxBytes, `${total(response)} bytes for maxBytes ${maxBytes}`)
      assert.ok(total(response) >= batch)
      for (const size of got.values()) assert.equal(size % batch, 0, 'whole batches')
      // One worker fills the limit in request order; split parts each fill their share of it.
      if (workers === 1) assert.deepEqual([...got.values()], [3 * batch, 2 * batch, 0, 0])
      else assert.ok(got.get('big:0')! > 0 && got.get('big:1')! > 0)
    })

    test('the first partition in request order with no data lets the next one with data return its oversized batch', async () => {
      // big partitions fetched from their end (nothing there), then sparse:3.
      const asked = [
        ...[0, 1, 2].map((partition) => ({ topic: 'big', partition, fetchOffset: 3 })),
        { topic: 'sparse', partition: 0 }, { topic: 'sparse', partition: 3 }, { topic: 'big', partition: 3 }
      ]
      const response = await client.request(1, kFetchVersion, fetchRequest(asked, { partitionMaxBytes: 100 }))
      assert.deepEqual(withData(response), ['sparse:3'])
      assert.equal(total(response), batch)
    })

    test('limits that bind nothing return everything', async () => {
      const response = await client.request(1, kFetchVersion, fetchRequest(all, {}))
      assert.deepEqual([...sizes(response).values()], [3 * batch, 3 * batch, 3 * batch, 3 * batch])
    })
  })
}
