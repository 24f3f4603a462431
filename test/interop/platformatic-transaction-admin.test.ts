// DescribeTransactions v0, ListTransactions v0/v1 and DescribeProducers v0 as an admin client sees them, through
// @platformatic/kafka's own encoders and parsers of those APIs (its Admin class does not offer them; Kafka's
// `kafka-transactions.sh` and Admin.describeTransactions/listTransactions/describeProducers send exactly these).
// A transaction is left open over both workers' partitions, described and listed, then committed and described
// again. The coordinator lives on one worker and the partitions on both, so every answer crosses the rings.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, Connection, describeProducersV0, describeTransactionsV0, listTransactionsV0, listTransactionsV1, Producer } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'

const kPartitions = 4
const kTransactionalId = 'plt-admin-txn'
const kTimeoutMs = 45_000

describe('@platformatic/kafka transaction admin APIs', () => {
  let broker: TestBroker
  let admin: Admin
  let connection: Connection

  before(async () => {
    broker = await startBroker({ workers: 2 })
    admin = new Admin({ bootstrapBrokers: [broker.bootstrap], clientId: 'plt-txn-admin', retries: 5, retryDelay: 100 })
    connection = new Connection('plt-txn-admin-raw')
    await connection.connect(broker.host, broker.port)
  })

  after(async () => {
    await connection?.close()
    await admin?.close()
    await broker?.stop()
  })

  test('an open transaction is described, listed by state, producer and duration, and its producer described per partition; then committed', async () => {
    const topic = 'plt-admin-txn-topic'
    await admin.createTopics({ topics: [topic], partitions: kPartitions, replicas: 1 })
    const producer = new Producer({
      bootstrapBrokers: [broker.bootstrap], clientId: 'plt-admin-txn-producer', transactionalId: kTransactionalId, idempotent: true,
      // The client's `timeout` is its request timeout and the transaction timeout its InitProducerId asks for.
      timeout: kTimeoutMs, retries: 5, retryDelay: 100, autocreateTopics: false
    })
    try {
      const transaction = await producer.beginTransaction()
      await transaction.send({ messages: Array.from({ length: 8 }, (_, i) => ({ topic, partition: i % kPartitions, value: Buffer.from(`open-${i}`) })) })

      const [open] = (await describeTransactionsV0.api.async(connection, [kTransactionalId])).transactionStates
      assert.equal(open.errorCode, 0)
      assert.equal(open.transactionalId, kTransactionalId)
      assert.equal(open.transactionState, 'Ongoing')
      assert.equal(open.transactionTimeoutMs, kTimeoutMs)
      assert.ok(open.producerId >= 0n)
      assert.ok(open.transactionStartTimeMs > 0n && open.transactionStartTimeMs <= BigInt(Date.now()))
      assert.deepEqual(open.topics.map((t) => [t.topic, [...t.partitions].sort()]), [[topic, [0, 1, 2, 3]]])
      // An unknown id is answered in place, with its code (the client's parser turns any code into a rejection).
      await assert.rejects(describeTransactionsV0.api.async(connection, [kTransactionalId, 'plt-admin-unknown-id']),
        (error: { response?: { transactionStates: Array<{ transactionalId: string, errorCode: number }> } }) => {
          assert.deepEqual(error.response?.transactionStates.map((s) => [s.transactionalId, s.errorCode]),
            [[kTransactionalId, 0], ['plt-admin-unknown-id', 105]]) // TRANSACTIONAL_ID_NOT_FOUND
          return true
        })

      const ongoing = await listTransactionsV0.api.async(connection, ['Ongoing'], [], -1n, null)
      assert.equal(ongoing.errorCode, 0)
      assert.deepEqual(ongoing.transactionStates.filter((s) => s.transactionalId === kTransactionalId),
        [{ transactionalId: kTransactionalId, producerId: open.producerId, transactionState: 'Ongoing' }])
      const byProducer = await listTransactionsV0.api.async(connection, [], [open.producerId], -1n, null)
      assert.deepEqual(byProducer.transactionStates.map((s) => s.transactionalId), [kTransactionalId])
      const unknownState = await listTransactionsV0.api.async(connection, ['NoSuchState' as 'Ongoing'], [], -1n, null)
      assert.deepEqual(unknownState.unknownStateFilters, ['NoSuchState'])
      // v1's duration filter: open longer than an hour matches nothing, open for 0 ms or more matches it.
      const young = await listTransactionsV1.api.async(connection, [], [open.producerId], 3_600_000n, null)
      assert.deepEqual(young.transactionStates, [])
      const any = await listTransactionsV1.api.async(connection, [], [open.producerId], 0n, null)
      assert.deepEqual(any.transactionStates.map((s) => s.transactionalId), [kTransactionalId])

      const producers = await describeProducersV0.api.async(connection, [{ name: topic, partitionIndexes: [0, 1, 2, 3] }])
      const [partitions] = producers.topics
      assert.equal(partitions.name, topic)
      for (const partition of partitions.partitions) {
        assert.equal(partition.errorCode, 0, `partition ${partition.partitionIndex}`)
        assert.equal(partition.activeProducers.length, 1)
        const [active] = partition.activeProducers
        assert.equal(active.producerId, open.producerId)
        assert.equal(active.producerEpoch, open.producerEpoch)
        assert.equal(active.lastSequence, 1, 'two records per partition, sequences 0 and 1')
        // The open transaction starts at the partition's first offset.
        assert.equal(active.currentTxnStartOffset, 0n)
      }
      await assert.rejects(describeProducersV0.api.async(connection, [{ name: topic, partitionIndexes: [0] }, { name: 'plt-admin-no-such-topic', partitionIndexes: [0] }]),
        (error: { response?: { topics: Array<{ name: string, partitions: Array<{ errorCode: number }> }> } }) => {
          assert.deepEqual(error.response?.topics.map((t) => [t.name, t.partitions[0].errorCode]),
            [[topic, 0], ['plt-admin-no-such-topic', 3]]) // UNKNOWN_TOPIC_OR_PARTITION
          return true
        })

      await transaction.commit()
      await waitFor(async () => {
        const [state] = (await describeTransactionsV0.api.async(connection, [kTransactionalId])).transactionStates
        return state.transactionState === 'CompleteCommit' && state.topics.length === 0
      }, 20_000, 'the transaction completed')
      // Committed: no open transaction in any partition, and the id is listed in its new state.
      const after = await describeProducersV0.api.async(connection, [{ name: topic, partitionIndexes: [0, 1, 2, 3] }])
      for (const partition of after.topics[0].partitions) assert.equal(partition.activeProducers[0].currentTxnStartOffset, -1n)
      const complete = await listTransactionsV0.api.async(connection, ['CompleteCommit'], [], -1n, null)
      assert.ok(complete.transactionStates.some((s) => s.transactionalId === kTransactionalId))
    } finally {
      await producer.close()
    }
  })
})
