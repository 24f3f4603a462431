// The `__transaction_state` checkpoint on a real broker (src/shard/transaction-host.ts): past 10,000 records a
// state partition is rewritten as one record per transactional id and its log start moves past the rest; the
// ids come back exactly after a restart that replays only the checkpoint and what followed it.
//
// 100 ids that all live on one state partition each get 105 InitProducerIds (each a durable state record with the
// epoch bumped): 10,500 records. Every round's 100 requests are concurrent and share the partition's fsyncs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { transactionPartitionFor } from '../../src/txn/transaction-log.ts'

const kIds = 100
const kRounds = 105
const kStatePartition = 7
/** Codes a client retries on its own while the coordinator loads. */
const kLoading = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.CONCURRENT_TRANSACTIONS])

async function initProducerId (client: KafkaClient, transactionalId: string): Promise<{ producerId: number, producerEpoch: number }> {
  let response: any
  await waitFor(async () => {
    response = await client.request(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
    return !kLoading.has(response.errorCode)
  }, 20_000, `InitProducerId ${transactionalId}`)
  assert.equal(response.errorCode, ErrorCode.NONE, `InitProducerId ${transactionalId}`)
  return { producerId: response.producerId, producerEpoch: response.producerEpoch }
}

/** The state partition's log start offset (ListOffsets v4, earliest). */
async function logStartOffset (client: KafkaClient): Promise<number> {
  const response = await client.request(2, 4, {
    replicaId: -1, isolationLevel: 0, topics: [{ name: '__transaction_state', partitions: [{ partitionIndex: kStatePartition, currentLeaderEpoch: -1, timestamp: -2 }] }]
  })
  const partition = response.topics[0].partitions[0]
  assert.equal(partition.errorCode, ErrorCode.NONE)
  return Number(partition.offset)
}

test('a state partition past 10,000 records is checkpointed, and its ids are rebuilt exactly from the checkpoint after a restart', { timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-txn-checkpoint-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const ids: string[] = []
  for (let i = 0; ids.length < kIds; i++) {
    const id = `checkpoint-${i}`
    if (transactionPartitionFor(id) === kStatePartition) ids.push(id)
  }

  let broker: TestBroker = await startBroker({ workers: 2, dataDir, cleanup: false })
  let client = await KafkaClient.connect(broker.host, broker.port)
  try {
    const producerIds = new Map<string, number>()
    for (let round = 0; round < kRounds; round++) {
      const answers = await Promise.all(ids.map((id) => initProducerId(client, id)))
      answers.forEach((answer, at) => {
        assert.equal(answer.producerEpoch, round, `${ids[at]} in round ${round}`)
        if (round === 0) producerIds.set(ids[at], answer.producerId)
        else assert.equal(answer.producerId, producerIds.get(ids[at]))
      })
    }
    // The checkpoint (appended after the 10,000th record) moved the log start past everything before it.
    await waitFor(async () => await logStartOffset(client) > 10_000, 20_000, 'the state partition to be checkpointed')

    client.close()
    await broker.stop()
    broker = await startBroker({ workers: 2, dataDir, cleanup: false })
    client = await KafkaClient.connect(broker.host, broker.port)

    let states: any[] = []
    await waitFor(async () => {
      states = (await client.request(65, 0, { transactionalIds: ids })).transactionStates
      return states.every((state) => !kLoading.has(state.errorCode))
    }, 20_000, 'the state partition to load')
    assert.deepEqual(states.map((state) => [state.transactionalId, state.errorCode, state.transactionState, state.producerId, state.producerEpoch]),
      ids.map((id) => [id, ErrorCode.NONE, 'Empty', producerIds.get(id), kRounds - 1]))
    // And the next InitProducerId carries on from the rebuilt epoch.
    assert.deepEqual(await initProducerId(client, ids[0]), { producerId: producerIds.get(ids[0]), producerEpoch: kRounds })
  } finally {
    client.close()
    await broker.stop()
  }
})
