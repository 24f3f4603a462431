// ListOffsets against a real 2-worker broker: earliest, latest, max timestamp and by timestamp, on partitions
// owned by different workers in one request.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

test('answers earliest, latest, max timestamp and by-timestamp offsets per partition', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'timed', 2)
  const base = 1_700_000_000_000
  for (const partition of [0, 1]) {
    // Timestamps base+10, base+30 (the largest), base+20: one batch each, uncompressed.
    for (const delta of [10, 30, 20]) {
      const batch = buildRecordBatch([{ key: null, value: Buffer.from(`t${delta}`), timestamp: base + delta + partition }])
      assert.equal((await produce(client, 'timed', partition, batch)).errorCode, ErrorCode.NONE)
    }
  }
  const ask = async (timestamp: number) => {
    const response = await client.request(2, 8, {
      replicaId: -1, isolationLevel: 0,
      topics: [{ name: 'timed', partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }, { name: 'nope', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }]
    })
    return new Map(response.topics.flatMap((topic: any) => topic.partitions.map((p: any) => [`${topic.name}-${p.partitionIndex}`, [p.errorCode, p.offset, p.timestamp]])))
  }
  const latest = await ask(-1)
  assert.deepEqual(latest.get('timed-0'), [ErrorCode.NONE, 3, -1])
  assert.deepEqual(latest.get('timed-1'), [ErrorCode.NONE, 3, -1])
  assert.equal((latest.get('nope-0') as number[])[0], ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.deepEqual((await ask(-2)).get('timed-1'), [ErrorCode.NONE, 0, -1])
  assert.deepEqual((await ask(-3)).get('timed-0'), [ErrorCode.NONE, 1, base + 30])
  assert.deepEqual((await ask(-3)).get('timed-1'), [ErrorCode.NONE, 1, base + 31])
  assert.deepEqual((await ask(base + 15)).get('timed-0'), [ErrorCode.NONE, 1, base + 30])
  assert.deepEqual((await ask(base + 5)).get('timed-0'), [ErrorCode.NONE, 0, base + 10])
  assert.deepEqual((await ask(base + 99)).get('timed-0'), [ErrorCode.NONE, -1, -1])
})
