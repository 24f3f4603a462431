// @platformatic/kafka's transactional producer against a real 2-worker broker: one transaction committed and one
// aborted over both workers' partitions, read back with the client's own read_committed Fetch. The client hands
// back every batch (as Kafka's Fetch does) with the aborted transactions of the range; the test skips the batches
// of the listed producers up to their ABORT marker, as a consumer does, and control batches.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, Consumer, FetchIsolationLevels, Producer } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'

const kPartitions = 2
const kControlBit = 0x20
const kTransactionalBit = 0x10

describe('@platformatic/kafka transactions', () => {
  let broker: TestBroker
  let admin: Admin
  let consumer: Consumer

  before(async () => {
    broker = await startBroker({ workers: 2 })
    const base = { bootstrapBrokers: [broker.bootstrap], retries: 5, retryDelay: 100 }
    admin = new Admin({ ...base, clientId: 'shoal-txn-admin' })
    consumer = new Consumer({ ...base, clientId: 'shoal-txn-reader', groupId: 'shoal-txn-unused' })
  })

  after(async () => {
    await consumer?.close()
    await admin?.close()
    await broker?.stop()
  })

  test('a committed transaction is read back read_committed, an aborted one is skipped', async () => {
    const topic = 'plt-txn'
    await admin.createTopics({ topics: [topic], partitions: kPartitions, replicas: 1 })
    const producer = new Producer({ bootstrapBrokers: [broker.bootstrap], clientId: 'shoal-txn-producer', transactionalId: 'plt-txn-app', idempotent: true, retries: 5, retryDelay: 100, autocreateTopics: false })
    try {
      const committed = await producer.beginTransaction()
      await committed.send({ messages: Array.from({ length: 6 }, (_, i) => ({ topic, partition: i % kPartitions, value: Buffer.from(`committed-${i}`) })) })
      await committed.commit()
      const aborted = await producer.beginTransaction()
      await aborted.send({ messages: Array.from({ length: 4 }, (_, i) => ({ topic, partition: i % kPartitions, value: Buffer.from(`aborted-${i}`) })) })
      await aborted.abort()
    } finally {
      await producer.close()
    }

    const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true })
    const described = metadata.topics.get(topic)
    assert.ok(described)
    const seen: string[] = []
    for (let partition = 0; partition < kPartitions; partition++) {
      await waitFor(async () => {
        const response = await consumer.fetch({
          node: described.partitions[partition].leader,
          maxWaitTime: 50,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          topics: [{ topicId: described.id, partitions: [{ partition, fetchOffset: 0n, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }]
        })
        const data = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition)
        assert.ok(data)
        assert.equal(data.errorCode, 0)
        // Three committed records, their marker, two aborted records and their marker: everything stable.
        if (data.lastStableOffset !== 7n || data.highWatermark !== 7n) return false
        const abortedFrom = new Map((data.abortedTransactions ?? []).map((a) => [a.producerId, a.firstOffset]))
        assert.equal(abortedFrom.size, 1, 'one aborted transaction listed')
        for (const batch of data.records ?? []) {
          const control = (batch.attributes & kControlBit) !== 0
          const from = abortedFrom.get(batch.producerId)
          if (control) {
            if (from !== undefined && from <= batch.firstOffset) abortedFrom.delete(batch.producerId)
            continue
          }
          if ((batch.attributes & kTransactionalBit) !== 0 && from !== undefined && from <= batch.firstOffset) continue
          for (const record of batch.records) seen.push(record.value?.toString() ?? '')
        }
        return true
      }, 20_000, `partition ${partition} stable`)
    }
    assert.deepEqual(seen.sort(), Array.from({ length: 6 }, (_, i) => `committed-${i}`).sort())
  })
})
