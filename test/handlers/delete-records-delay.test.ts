// DeleteRecords honours the topic's file.delete.delay.ms as retention does: the segments below the new log
// start are renamed `.deleted` and removed after the delay (at once with 0).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

test('DeleteRecords keeps the deleted segments as .deleted files for file.delete.delay.ms', async (t) => {
  const broker = await startBroker({ workers: 1 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  for (const [name, delay] of [['delayed', '3600000'], ['immediate', '0']]) {
    const created = await client.request(19, 7, {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'file.delete.delay.ms', value: delay }] }],
      timeoutMs: 10_000,
      validateOnly: false
    })
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE)
    for (let i = 0; i < 3; i++) assert.equal((await produce(client, name, 0, [`r${i}`])).errorCode, ErrorCode.NONE)
    const response = await client.request(21, 2, { topics: [{ name, partitions: [{ partitionIndex: 0, offset: -1 }] }], timeoutMs: 1000 })
    assert.deepEqual(response.topics[0].partitions.map((p: any) => [p.lowWatermark, p.errorCode]), [[3, ErrorCode.NONE]])
  }
  const deleted = (topic: string): string[] => readdirSync(join(broker.dataDir, `${topic}-0`)).filter(name => name.endsWith('.deleted')).sort()
  assert.deepEqual(deleted('delayed'), ['00000000000000000000.index.deleted', '00000000000000000000.log.deleted', '00000000000000000000.timeindex.deleted'])
  assert.deepEqual(deleted('immediate'), [])
})
