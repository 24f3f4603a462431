// The transaction APIs (FindCoordinator key type 1, InitProducerId with a transactional id, AddPartitionsToTxn v3
// and v4, AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions) against a real 2-worker broker. The
// `__transaction_state` partitions load in the background once the topic is created, and EndTxn's markers follow
// its answer, so requests are retried (with deadlines) while they answer the retriable coordinator codes. No
// transactional records are produced here: the markers land in partitions the producer never wrote to.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { TopicEntry } from '../../src/shard/shard-table.ts'
import { transactionPartitionFor } from '../../src/txn/transaction-log.ts'
import { addPartitionsToTxnHandler } from '../../src/handlers/add-partitions-to-txn.ts'

let broker: TestBroker
let client: KafkaClient

before(async () => {
  broker = await startBroker({ workers: 2 })
  client = await KafkaClient.connect(broker.host, broker.port)
  await createTopic(client, 'txn-topic', 3)
})

after(async () => {
  client?.close()
  await broker?.stop()
})

/** Codes a client retries on its own while the coordinator loads or finishes a transaction. */
const kLoading = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE])
const kBusy = new Set<number>([...kLoading, ErrorCode.CONCURRENT_TRANSACTIONS])

/** Sends the request until its code (`codeOf`) is not one of `retry`; answers the last response. */
async function retrying (key: number, version: number, body: object, codeOf: (response: any) => number = (r) => r.errorCode, retry = kLoading): Promise<any> {
  let last: any
  await waitFor(async () => {
    last = await client.request(key, version, body)
    return !retry.has(codeOf(last))
  }, 20_000, `API ${key} v${version} to stop answering ${last === undefined ? '?' : codeOf(last)}`)
  return last
}

/** The codes of an AddPartitionsToTxn v0-3 answer, as "topic/partition" → code. */
function codesV3 (response: any): Record<string, number> {
  const codes: Record<string, number> = {}
  for (const topic of response.resultsByTopicV3AndBelow) for (const p of topic.resultsByPartition) codes[`${topic.name}/${p.partitionIndex}`] = p.partitionErrorCode
  return codes
}

function codesOf (topicResults: any[]): Record<string, number> {
  const codes: Record<string, number> = {}
  for (const topic of topicResults) for (const p of topic.resultsByPartition) codes[`${topic.name}/${p.partitionIndex}`] = p.partitionErrorCode
  return codes
}

function firstCode (response: any): number {
  return response.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode
}

async function init (transactionalId: string, version = 4): Promise<{ producerId: number, producerEpoch: number }> {
  const response = await retrying(22, version, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }, undefined, kBusy)
  assert.equal(response.errorCode, ErrorCode.NONE, `InitProducerId ${transactionalId}`)
  return { producerId: response.producerId, producerEpoch: response.producerEpoch }
}

function addV3 (transactionalId: string, producerId: number, producerEpoch: number, topics: Array<{ name: string, partitions: number[] }>, version = 3): Promise<any> {
  return client.request(24, version, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: topics })
}

async function describe (ids: string[]): Promise<any[]> {
  return (await client.request(65, 0, { transactionalIds: ids })).transactionStates
}

async function waitForState (transactionalId: string, state: string): Promise<void> {
  await waitFor(async () => (await describe([transactionalId]))[0].transactionState === state, 20_000, `${transactionalId} to reach ${state}`)
}

test('FindCoordinator key type 1 answers this broker for transactional ids, single and batched', async () => {
  const group = await client.request(10, 3, { key: 'some-group', keyType: 0 })
  assert.equal(group.errorCode, ErrorCode.NONE)
  const single = await client.request(10, 3, { key: 'txn-find', keyType: 1 })
  assert.equal(single.errorCode, ErrorCode.NONE)
  assert.equal(single.port, broker.port)
  assert.equal(single.nodeId, group.nodeId)
  const batched = await client.request(10, 4, { keyType: 1, coordinatorKeys: ['txn-a', 'txn-b', ''] })
  assert.deepEqual(batched.coordinators.map((c: any) => [c.key, c.errorCode, c.nodeId, c.port]),
    [['txn-a', 0, group.nodeId, broker.port], ['txn-b', 0, group.nodeId, broker.port], ['', 0, group.nodeId, broker.port]])
  const unknownType = await client.request(10, 3, { key: 'x', keyType: 7 })
  assert.equal(unknownType.errorCode, ErrorCode.INVALID_REQUEST)
  // The transaction state topic now exists (internal).
  const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  const state = metadata.topics.find((t: any) => t.name === '__transaction_state')
  assert.equal(state?.errorCode, ErrorCode.NONE)
  assert.equal(state.isInternal, true)
})

test('InitProducerId with a transactional id: a producer id at epoch 0, then epoch bumps; bad requests refused', async () => {
  const first = await init('txn-init')
  assert.ok(first.producerId >= 0)
  assert.equal(first.producerEpoch, 0)
  const second = await init('txn-init')
  assert.equal(second.producerId, first.producerId)
  assert.equal(second.producerEpoch, 1)
  // v0 (no KIP-360 fields) works too.
  const third = await init('txn-init', 0)
  assert.deepEqual(third, { producerId: first.producerId, producerEpoch: 2 })
  // KIP-360: naming an epoch that is not the current one (nor the one a retried bump replaced) is fenced.
  const stale = { transactionalId: 'txn-init', transactionTimeoutMs: 60_000, producerId: first.producerId, producerEpoch: 0 }
  assert.equal((await client.request(22, 4, stale)).errorCode, ErrorCode.PRODUCER_FENCED)
  assert.equal((await client.request(22, 3, stale)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
  // KIP-360 resume with the current epoch bumps it.
  const resumed = await client.request(22, 4, { ...stale, producerEpoch: 2 })
  assert.deepEqual([resumed.errorCode, resumed.producerId, resumed.producerEpoch], [ErrorCode.NONE, first.producerId, 3])
  assert.equal((await client.request(22, 4, { transactionalId: '', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await client.request(22, 4, { transactionalId: 'txn-init', transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 })).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT)
  // The idempotent path is unchanged.
  const idempotent = await client.request(22, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
  assert.equal(idempotent.errorCode, ErrorCode.NONE)
  assert.notEqual(idempotent.producerId, first.producerId)
})

test('a transaction: partitions and offsets added, described and listed, committed, then another aborted', async () => {
  const id = 'txn-flow'
  const { producerId, producerEpoch } = await init(id)
  const added = await addV3(id, producerId, producerEpoch, [{ name: 'txn-topic', partitions: [0, 1] }])
  assert.deepEqual(codesV3(added), { 'txn-topic/0': 0, 'txn-topic/1': 0 })
  // Adding what the transaction holds again is fine.
  assert.deepEqual(codesV3(await addV3(id, producerId, producerEpoch, [{ name: 'txn-topic', partitions: [1] }])), { 'txn-topic/1': 0 })

  // v4: a verify-only entry checks without adding; a plain entry adds.
  const verify = await client.request(24, 4, {
    transactions: [
      { transactionalId: id, producerId, producerEpoch, verifyOnly: true, topics: [{ name: 'txn-topic', partitions: [0, 2] }] }
    ]
  })
  assert.equal(verify.errorCode, ErrorCode.NONE)
  assert.deepEqual(verify.resultsByTransaction.map((r: any) => [r.transactionalId, codesOf(r.topicResults)]),
    [[id, { 'txn-topic/0': ErrorCode.NONE, 'txn-topic/2': ErrorCode.INVALID_TXN_STATE }]])
  const addV4 = await client.request(24, 4, {
    transactions: [{ transactionalId: id, producerId, producerEpoch, verifyOnly: false, topics: [{ name: 'txn-topic', partitions: [2] }] }]
  })
  assert.deepEqual(codesOf(addV4.resultsByTransaction[0].topicResults), { 'txn-topic/2': ErrorCode.NONE })
  const verifyAgain = await client.request(24, 4, {
    transactions: [{ transactionalId: id, producerId, producerEpoch, verifyOnly: true, topics: [{ name: 'txn-topic', partitions: [2] }] }]
  })
  assert.deepEqual(codesOf(verifyAgain.resultsByTransaction[0].topicResults), { 'txn-topic/2': ErrorCode.NONE })

  const offsets = await client.request(25, 3, { transactionalId: id, producerId, producerEpoch, groupId: 'txn-group' })
  assert.equal(offsets.errorCode, ErrorCode.NONE)

  const [described] = await describe([id])
  assert.equal(described.errorCode, ErrorCode.NONE)
  assert.equal(described.transactionState, 'Ongoing')
  assert.equal(described.producerId, producerId)
  assert.equal(described.producerEpoch, producerEpoch)
  assert.equal(described.transactionTimeoutMs, 60_000)
  assert.ok(described.transactionStartTimeMs > 0)
  const topics = Object.fromEntries(described.topics.map((t: any) => [t.topic, t.partitions]))
  assert.deepEqual(topics['txn-topic'], [0, 1, 2])
  assert.equal(topics.__consumer_offsets.length, 1, 'the group\'s offsets partition joined the transaction')

  const ongoing = await retrying(66, 0, { stateFilters: ['Ongoing', 'NoSuchState'], producerIdFilters: [] })
  assert.equal(ongoing.errorCode, ErrorCode.NONE)
  assert.deepEqual(ongoing.unknownStateFilters, ['NoSuchState'], 'reported once, not once per worker')
  assert.ok(ongoing.transactionStates.some((t: any) => t.transactionalId === id && t.producerId === producerId && t.transactionState === 'Ongoing'))
  const byProducer = await retrying(66, 0, { stateFilters: [], producerIdFilters: [producerId] })
  assert.deepEqual(byProducer.transactionStates.map((t: any) => t.transactionalId), [id])
  const empty = await retrying(66, 0, { stateFilters: ['PrepareCommit'], producerIdFilters: [producerId] })
  assert.deepEqual(empty.transactionStates, [])
  // v1's duration filter: open for more than an hour excludes it; no filter (-1) includes it.
  const long = await retrying(66, 1, { stateFilters: ['Ongoing'], producerIdFilters: [producerId], durationFilter: 3_600_000 })
  assert.deepEqual(long.transactionStates, [])
  const any = await retrying(66, 1, { stateFilters: ['Ongoing'], producerIdFilters: [producerId], durationFilter: -1 })
  assert.deepEqual(any.transactionStates.map((t: any) => t.transactionalId), [id])

  const commit = await client.request(26, 3, { transactionalId: id, producerId, producerEpoch, committed: true })
  assert.equal(commit.errorCode, ErrorCode.NONE)
  // Until the markers are written the id is busy; then CompleteCommit.
  await waitForState(id, 'CompleteCommit')
  assert.equal((await client.request(26, 3, { transactionalId: id, producerId, producerEpoch, committed: true })).errorCode, ErrorCode.NONE, 'a retried commit')
  assert.equal((await client.request(26, 3, { transactionalId: id, producerId, producerEpoch, committed: false })).errorCode, ErrorCode.INVALID_TXN_STATE)

  // A second transaction of the same producer, aborted.
  assert.deepEqual(codesV3(await retrying(24, 3, {
    v3AndBelowTransactionalId: id, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'txn-topic', partitions: [1] }]
  }, firstCode, kBusy)), { 'txn-topic/1': 0 })
  assert.equal((await client.request(26, 4, { transactionalId: id, producerId, producerEpoch, committed: false })).errorCode, ErrorCode.NONE)
  await waitForState(id, 'CompleteAbort')
  const [aborted] = await describe([id])
  assert.deepEqual(aborted.topics, [])
  // Ending with no transaction open.
  assert.equal((await client.request(26, 4, { transactionalId: id, producerId, producerEpoch, committed: true })).errorCode, ErrorCode.INVALID_TXN_STATE)
})

test('fenced and unknown producers, and unknown topics, get Kafka\'s codes', async () => {
  const id = 'txn-fence'
  const old = await init(id)
  const current = await init(id)
  assert.equal(current.producerEpoch, old.producerEpoch + 1)
  const topics = [{ name: 'txn-topic', partitions: [0] }]
  // PRODUCER_FENCED from AddPartitionsToTxn/AddOffsetsToTxn/EndTxn v2, INVALID_PRODUCER_EPOCH before.
  assert.equal(firstCode(await addV3(id, old.producerId, old.producerEpoch, topics, 3)), ErrorCode.PRODUCER_FENCED)
  assert.equal(firstCode(await addV3(id, old.producerId, old.producerEpoch, topics, 1)), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(firstCode(await addV3(id, current.producerId + 1000, current.producerEpoch, topics)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(firstCode(await addV3('txn-never-initialised', current.producerId, 0, topics)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal((await client.request(25, 2, { transactionalId: id, ...old, groupId: 'g' })).errorCode, ErrorCode.PRODUCER_FENCED)
  assert.equal((await client.request(25, 1, { transactionalId: id, ...old, groupId: 'g' })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)

  // Unknown topics or partitions: those UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED, nothing added.
  const unknown = await addV3(id, current.producerId, current.producerEpoch, [
    { name: 'txn-topic', partitions: [0, 7] }, { name: 'no-such-topic', partitions: [0] }
  ])
  assert.deepEqual(codesV3(unknown), {
    'txn-topic/0': ErrorCode.OPERATION_NOT_ATTEMPTED, 'txn-topic/7': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no-such-topic/0': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  })
  const [untouched] = await describe([id])
  assert.equal(untouched.transactionState, 'Empty')
  // v4: the check is per transaction; the other transaction of the batch is served.
  const batch = await client.request(24, 4, {
    transactions: [
      { transactionalId: id, ...current, verifyOnly: false, topics: [{ name: 'txn-topic', partitions: [1] }, { name: 'no-such-topic', partitions: [3] }] },
      { transactionalId: id, ...current, verifyOnly: false, topics: [{ name: 'txn-topic', partitions: [2] }] }
    ]
  })
  assert.deepEqual(batch.resultsByTransaction.map((r: any) => codesOf(r.topicResults)), [
    { 'txn-topic/1': ErrorCode.OPERATION_NOT_ATTEMPTED, 'no-such-topic/3': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    { 'txn-topic/2': ErrorCode.NONE }
  ])
  // A verify-only entry of an old epoch is fenced.
  const verifyOld = await client.request(24, 4, {
    transactions: [{ transactionalId: id, ...old, verifyOnly: true, topics: [{ name: 'txn-topic', partitions: [2] }] }]
  })
  assert.deepEqual(codesOf(verifyOld.resultsByTransaction[0].topicResults), { 'txn-topic/2': ErrorCode.PRODUCER_FENCED })
  assert.equal((await client.request(26, 3, { transactionalId: id, ...old, committed: true })).errorCode, ErrorCode.PRODUCER_FENCED)
  assert.equal((await client.request(26, 1, { transactionalId: id, ...old, committed: true })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)

  // A new InitProducerId while the transaction is Ongoing aborts it with a raised epoch (CONCURRENT_TRANSACTIONS
  // first); the retry gets the epoch after that, and the producer it fenced is refused.
  const request = { transactionalId: id, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }
  assert.equal((await client.request(22, 4, request)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  const reinit = await retrying(22, 4, request, undefined, kBusy)
  assert.deepEqual([reinit.errorCode, reinit.producerEpoch], [ErrorCode.NONE, current.producerEpoch + 2])
  assert.equal((await client.request(26, 3, { transactionalId: id, ...current, committed: true })).errorCode, ErrorCode.PRODUCER_FENCED)
  const [afterFence] = await describe([id])
  assert.equal(afterFence.transactionState, 'Empty')

  // Empty transactional ids.
  assert.equal(firstCode(await addV3('', current.producerId, current.producerEpoch, topics)), ErrorCode.INVALID_REQUEST)
  assert.equal((await client.request(26, 3, { transactionalId: '', ...current, committed: true })).errorCode, ErrorCode.INVALID_REQUEST)
})

test('many transactional ids over both workers: described in request order, listed, verified in one batch', async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `txn-many-${String(i).padStart(2, '0')}`)
  // The workers coordinating them, as the broker's shard table places `__transaction_state`'s partitions.
  const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  const stateTopic = metadata.topics.find((t: any) => t.name === '__transaction_state')
  const table = new TopicEntry({ name: stateTopic.name, id: stateTopic.topicId, partitions: stateTopic.partitions.length, configs: {} }, 2)
  const owners = new Set(ids.map((id) => table.owners[transactionPartitionFor(id, table.partitions)]))
  assert.deepEqual([...owners].sort(), [0, 1], 'the ids are coordinated on both workers')
  const producers = new Map<string, { producerId: number, producerEpoch: number }>()
  for (const id of ids) producers.set(id, await init(id))
  for (const [i, id] of ids.entries()) {
    const { producerId, producerEpoch } = producers.get(id)!
    assert.deepEqual(codesV3(await addV3(id, producerId, producerEpoch, [{ name: 'txn-topic', partitions: [i % 3] }])), { [`txn-topic/${i % 3}`]: 0 })
  }
  const order = [...ids].reverse()
  order.splice(5, 0, 'txn-unknown', '')
  order.push(ids[3])
  const states = await describe(order)
  assert.deepEqual(states.map((s: any) => s.transactionalId), order)
  for (const state of states) {
    if (state.transactionalId === 'txn-unknown') assert.equal(state.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
    else if (state.transactionalId === '') assert.equal(state.errorCode, ErrorCode.INVALID_REQUEST)
    else {
      assert.equal(state.errorCode, ErrorCode.NONE)
      assert.equal(state.transactionState, 'Ongoing')
      assert.equal(state.producerId, producers.get(state.transactionalId)!.producerId)
    }
  }
  const listed = await retrying(66, 1, { stateFilters: ['Ongoing'], producerIdFilters: [], durationFilter: -1 })
  const listedIds = listed.transactionStates.map((t: any) => t.transactionalId).filter((id: string) => id.startsWith('txn-many-'))
  assert.deepEqual(listedIds, ids, 'every worker\'s ids, merged in order')

  // One v4 batch naming every id (their coordinators are on both workers), answered in request order.
  const batch = await client.request(24, 4, {
    transactions: ids.map((id, i) => ({ transactionalId: id, ...producers.get(id)!, verifyOnly: true, topics: [{ name: 'txn-topic', partitions: [i % 3, (i + 1) % 3] }] }))
  })
  assert.deepEqual(batch.resultsByTransaction.map((r: any) => r.transactionalId), ids)
  for (const [i, result] of batch.resultsByTransaction.entries()) {
    assert.deepEqual(codesOf(result.topicResults), { [`txn-topic/${i % 3}`]: ErrorCode.NONE, [`txn-topic/${(i + 1) % 3}`]: ErrorCode.INVALID_TXN_STATE })
  }

  for (const id of ids) {
    const answer = await client.request(26, 3, { transactionalId: id, ...producers.get(id)!, committed: id.endsWith('0') })
    assert.equal(answer.errorCode, ErrorCode.NONE)
  }
  for (const id of ids) await waitForState(id, id.endsWith('0') ? 'CompleteCommit' : 'CompleteAbort')
  const none = await retrying(66, 0, { stateFilters: ['Ongoing', 'PrepareCommit', 'PrepareAbort'], producerIdFilters: [] })
  assert.equal(none.transactionStates.filter((t: any) => t.transactionalId.startsWith('txn-many-')).length, 0)
})

test('ApiVersions advertises the transaction APIs', async () => {
  const versions = await client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
  const ranges = Object.fromEntries(versions.apiKeys.map((k: any) => [k.apiKey, [k.minVersion, k.maxVersion]]))
  assert.deepEqual([22, 24, 25, 26, 65, 66].map((key) => ranges[key]), [[0, 5], [0, 4], [0, 3], [0, 4], [0, 0], [0, 1]])
})

test('AddPartitionsToTxn\'s error response carries the code in every partition, in both forms', () => {
  const errorResponse = addPartitionsToTxnHandler.errorResponse!
  const v3 = errorResponse({ v3AndBelowTransactionalId: 'a', v3AndBelowProducerId: 1, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 't', partitions: [0, 1] }] }, 3, ErrorCode.NOT_COORDINATOR, null) as any
  assert.deepEqual(codesV3(v3), { 't/0': ErrorCode.NOT_COORDINATOR, 't/1': ErrorCode.NOT_COORDINATOR })
  const v4 = errorResponse({ transactions: [{ transactionalId: 'a', producerId: 1, producerEpoch: 0, verifyOnly: true, topics: [{ name: 't', partitions: [2] }] }] }, 4, ErrorCode.NOT_COORDINATOR, null) as any
  assert.equal(v4.errorCode, ErrorCode.NOT_COORDINATOR)
  assert.deepEqual(v4.resultsByTransaction.map((r: any) => [r.transactionalId, codesOf(r.topicResults)]), [['a', { 't/2': ErrorCode.NOT_COORDINATOR }]])
  assert.deepEqual((errorResponse(null, 4, ErrorCode.UNKNOWN_SERVER_ERROR, null) as any).resultsByTransaction, [])
})
