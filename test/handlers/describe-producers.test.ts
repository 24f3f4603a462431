// DescribeProducers (KIP-664) against a real 2-worker broker: partitions 0 and 1 of a topic are owned by
// different workers, so the request is split; each partition answers its idempotent producers' state.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

test('DescribeProducers answers each partition\'s active producers, and errors for unknown topics and partitions', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'described', 2)
  const init = await client.request(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
  assert.equal(init.errorCode, ErrorCode.NONE)
  const { producerId, producerEpoch } = init
  // Partition 0: two batches of 3 (sequences 0-5); partition 1: one batch of 2; plus a non-idempotent batch.
  for (const [partition, baseSequence, count] of [[0, 0, 3], [0, 3, 3], [1, 0, 2]]) {
    const values = Array.from({ length: count }, (_, i) => `v${baseSequence + i}`)
    const result = await produce(client, 'described', partition, values, { batch: { producerId, producerEpoch, baseSequence } })
    assert.equal(result.errorCode, ErrorCode.NONE)
  }
  assert.equal((await produce(client, 'described', 1, ['plain'])).errorCode, ErrorCode.NONE)

  const response = await client.request(61, 0, {
    topics: [{ name: 'described', partitionIndexes: [0, 1, 7] }, { name: 'no-such-topic', partitionIndexes: [0] }]
  })
  const byPartition = new Map<string, any>()
  for (const topic of response.topics) for (const p of topic.partitions) byPartition.set(`${topic.name}/${p.partitionIndex}`, p)
  assert.equal(byPartition.size, 4)
  for (const [partition, lastSequence] of [[0, 5], [1, 1]]) {
    const p = byPartition.get(`described/${partition}`)
    assert.equal(p.errorCode, ErrorCode.NONE)
    assert.equal(p.activeProducers.length, 1, 'the non-idempotent batch has no producer state')
    const [state] = p.activeProducers
    assert.equal(state.producerId, producerId)
    assert.equal(state.producerEpoch, producerEpoch)
    assert.equal(state.lastSequence, lastSequence)
    assert.ok(state.lastTimestamp > 0)
    assert.equal(state.coordinatorEpoch, -1)
    assert.equal(state.currentTxnStartOffset, -1, 'no transaction open')
  }
  assert.equal(byPartition.get('described/7').errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(byPartition.get('no-such-topic/0').errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const versions = await client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
  assert.deepEqual(versions.apiKeys.filter((k: any) => k.apiKey === 61).map((k: any) => [k.minVersion, k.maxVersion]), [[0, 0]])
})
