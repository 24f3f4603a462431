// DescribeLogDirs against a real 2-worker broker: partitions 0 and 1 of a topic are owned by different workers,
// so each owner reports its own partitions' sizes; the one log dir is the broker's data dir.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { realpathSync, statfsSync } from 'node:fs'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'

function sizes (result: any): Map<string, any> {
  const byPartition = new Map<string, any>()
  for (const topic of result.topics) for (const p of topic.partitions) byPartition.set(`${topic.name}/${p.partitionIndex}`, p)
  return byPartition
}

test('DescribeLogDirs v0-4 reports every partition\'s size from its owner, and v4 the data dir\'s space', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'sized', 2)
  await createTopic(client, 'other', 1)
  const batch = buildRecordBatch([{ key: null, value: Buffer.from('x'.repeat(100)) }, { key: null, value: Buffer.from('y') }])
  assert.equal((await produce(client, 'sized', 1, Buffer.from(batch))).errorCode, ErrorCode.NONE)
  assert.equal((await produce(client, 'sized', 1, Buffer.from(batch))).errorCode, ErrorCode.NONE)

  for (let version = 0; version <= 4; version++) {
    const response = await client.request(35, version, { topics: null })
    if (version >= 3) assert.equal(response.errorCode, ErrorCode.NONE)
    assert.equal(response.results.length, 1)
    const [dir] = response.results
    assert.equal(dir.errorCode, ErrorCode.NONE)
    assert.equal(realpathSync(dir.logDir), realpathSync(broker.dataDir))
    const found = sizes(dir)
    assert.deepEqual([...found.keys()].sort(), ['other/0', 'sized/0', 'sized/1'], `v${version}: all topics for null`)
    assert.deepEqual(found.get('sized/1'), { partitionIndex: 1, partitionSize: 2 * batch.length, offsetLag: 0, isFutureKey: false })
    assert.deepEqual(found.get('sized/0'), { partitionIndex: 0, partitionSize: 0, offsetLag: 0, isFutureKey: false })
    if (version >= 4) {
      const stats = statfsSync(broker.dataDir)
      assert.equal(dir.totalBytes, stats.blocks * stats.bsize)
      assert.ok(dir.usableBytes > 0 && dir.usableBytes <= dir.totalBytes, `usable ${dir.usableBytes} of ${dir.totalBytes}`)
    }
  }

  // Named partitions only; those that do not exist are left out, as Kafka leaves out what a dir does not hold.
  const named = await client.request(35, 4, { topics: [{ topic: 'sized', partitions: [1, 7] }, { topic: 'missing', partitions: [0] }] })
  const found = sizes(named.results[0])
  assert.deepEqual([...found.keys()], ['sized/1'])
  assert.equal(found.get('sized/1').partitionSize, 2 * batch.length)
  const none = await client.request(35, 2, { topics: [] })
  assert.deepEqual(none.results[0].topics, [])
})
