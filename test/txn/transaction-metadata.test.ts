// The transaction coordinator's state machine: every transition and error code of InitProducerId,
// AddPartitionsToTxn (and its verify-only form), AddOffsetsToTxn and EndTxn, the persist-then-act protocol,
// timeouts and id expiry with an injected clock, and the DescribeTransactions/ListTransactions views.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ErrorCode, KafkaError } from '../../src/protocol/errors.ts'
import { partitionForKey } from '../../src/protocol/java-hash.ts'
import {
  abortTimedOut, addOffsetsToTxn, addPartitionsToTxn, completeTransition, coordinatorErrorForAppend, describeTransaction,
  endTxn, entriesFrom, expirableTransactionalIds, expired, expireTransactionalId, failTransition, initProducerId,
  isEpochExhausted, kMaxProducerEpoch, listTransactions, pendingCompletions, verifyPartitionsInTxn,
  type Completion, type Decision, type InitProducerIdConfig, type MarkerPlan, type TransactionEntries,
  type TransactionMetadata, type Transition
} from '../../src/txn/transaction-metadata.ts'

const kId = 'txn-a'
const kT0 = 1_000_000

function allocator (first = 1000) {
  let next = first
  const config: InitProducerIdConfig & { calls: () => number } = {
    maxTimeoutMs: 900_000,
    allocateProducerId: () => next++,
    calls: () => next - first
  }
  return config
}

function init (entries: TransactionEntries, config: InitProducerIdConfig, now: number, extra: Partial<{ transactionTimeoutMs: number, producerId: number, producerEpoch: number, version: number, transactionalId: string }> = {}): Decision {
  return initProducerId(entries, { transactionalId: kId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1, version: 4, ...extra }, config, now)
}

function add (entries: TransactionEntries, producerId: number, producerEpoch: number, topics: Array<[string, number[]]>, now: number, version = 3): Decision {
  return addPartitionsToTxn(entries, { transactionalId: kId, producerId, producerEpoch, topics: topics.map(([topic, partitions]) => ({ topic, partitions })), version }, now)
}

function end (entries: TransactionEntries, producerId: number, producerEpoch: number, committed: boolean, now: number, version = 3): Decision {
  return endTxn(entries, { transactionalId: kId, producerId, producerEpoch, committed, version }, now)
}

function errorOf (decision: Decision): number {
  assert.equal(decision.kind, 'reply', 'expected an immediate reply')
  return (decision as { kind: 'reply', reply: { errorCode: number } }).reply.errorCode
}

function transitionOf (decision: Decision | null): Transition {
  assert.ok(decision !== null && decision.kind === 'persist', 'expected a transition to persist')
  return decision.transition
}

/** Persists a decision's transition successfully and returns what follows. */
function persisted (entries: TransactionEntries, decision: Decision | null, now: number): Completion {
  return completeTransition(entries, transitionOf(decision), now)
}

function markersOf (completion: Completion): MarkerPlan {
  assert.equal(completion.kind, 'writeMarkers')
  return (completion as { markers: MarkerPlan }).markers
}

/** A producer initialised at epoch 0 with an Ongoing transaction on orders-0 and orders-2. */
function ongoing () {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  const initialised = persisted(entries, init(entries, config, kT0), kT0)
  assert.deepEqual(initialised, { kind: 'reply', reply: { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 } })
  persisted(entries, add(entries, 1000, 0, [['orders', [2, 0]]], kT0 + 10), kT0 + 10)
  return { entries, config, metadata: () => entries.get(kId)!.metadata }
}

function loaded (metadata: Partial<TransactionMetadata>): TransactionEntries {
  return entriesFrom([{
    transactionalId: kId,
    producerId: 1000,
    lastProducerId: 1000,
    producerEpoch: 5,
    lastProducerEpoch: -1,
    timeoutMs: 60_000,
    state: 'Empty',
    partitions: new Map(),
    startTimestamp: -1,
    lastUpdateTimestamp: kT0,
    ...metadata
  }])
}

// --- InitProducerId ------------------------------------------------------------------------------------------

test('InitProducerId refuses a timeout above transaction.max.timeout.ms, or not positive, with INVALID_TRANSACTION_TIMEOUT', () => {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  for (const timeout of [900_001, 0, -5]) {
    assert.equal(errorOf(init(entries, config, kT0, { transactionTimeoutMs: timeout })), ErrorCode.INVALID_TRANSACTION_TIMEOUT)
  }
  assert.equal(config.calls(), 0)
  assert.equal(entries.size, 0)
  assert.equal(transitionOf(init(entries, config, kT0, { transactionTimeoutMs: 900_000 })).target!.timeoutMs, 900_000)
})

test('InitProducerId answers INVALID_REQUEST for an empty transactional id, or a producer id without an epoch', () => {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  assert.equal(errorOf(init(entries, config, kT0, { transactionalId: '' })), ErrorCode.INVALID_REQUEST)
  assert.equal(errorOf(init(entries, config, kT0, { producerId: 7 })), ErrorCode.INVALID_REQUEST)
  assert.equal(errorOf(init(entries, config, kT0, { producerEpoch: 7 })), ErrorCode.INVALID_REQUEST)
})

test('a new transactional id gets an allocated producer id at epoch 0, answered once the Empty state is durable', () => {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  const transition = transitionOf(init(entries, config, kT0, { transactionTimeoutMs: 30_000 }))
  assert.deepEqual(transition.target, {
    transactionalId: kId,
    producerId: 1000,
    lastProducerId: 1000,
    producerEpoch: 0,
    lastProducerEpoch: -1,
    timeoutMs: 30_000,
    state: 'Empty',
    partitions: new Map(),
    startTimestamp: -1,
    lastUpdateTimestamp: kT0
  })
  // Until it is durable the id is busy.
  assert.equal(errorOf(init(entries, config, kT0 + 1)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.deepEqual(completeTransition(entries, transition, kT0 + 2), { kind: 'reply', reply: { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 } })
  assert.equal(entries.get(kId)!.metadata, transition.target)
  assert.equal(entries.get(kId)!.pending, null)
})

test('InitProducerId on a known id bumps the epoch of the same producer id and takes the new timeout', () => {
  const { entries, config } = ongoing()
  persisted(entries, end(entries, 1000, 0, true, kT0 + 20), kT0 + 20)
  // Markers still pending: the id is busy.
  assert.equal(errorOf(init(entries, config, kT0 + 21)), ErrorCode.CONCURRENT_TRANSACTIONS)
  const entry = entries.get(kId)!
  completeTransition(entries, entry.pending!, kT0 + 22)
  const target = transitionOf(init(entries, config, kT0 + 30, { transactionTimeoutMs: 5000 })).target!
  assert.equal(target.producerId, 1000)
  assert.equal(target.producerEpoch, 1)
  assert.equal(target.lastProducerEpoch, -1)
  assert.equal(target.timeoutMs, 5000)
  assert.equal(target.state, 'Empty')
  assert.equal(target.startTimestamp, -1)
  assert.equal(config.calls(), 1)
})

test('the allocator\'s KafkaError is answered; any other error is a bug and propagates', () => {
  const entries: TransactionEntries = new Map()
  const failing: InitProducerIdConfig = { maxTimeoutMs: 900_000, allocateProducerId: () => { throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) } }
  assert.equal(errorOf(init(entries, failing, kT0)), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  assert.equal(entries.size, 0)
  const broken: InitProducerIdConfig = { maxTimeoutMs: 900_000, allocateProducerId: () => { throw new TypeError('bug') } }
  assert.throws(() => init(entries, broken, kT0), TypeError)
})

test('a failed append unblocks the id, answers the mapped coordinator error, and the retry keeps the producer id', () => {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  const transition = transitionOf(init(entries, config, kT0))
  assert.deepEqual(failTransition(entries, transition, ErrorCode.NOT_LEADER_OR_FOLLOWER), { errorCode: ErrorCode.NOT_COORDINATOR, producerId: -1, producerEpoch: -1 })
  assert.equal(entries.get(kId)!.pending, null)
  const retry = transitionOf(init(entries, config, kT0 + 1))
  assert.equal(retry.target!.producerId, 1000)
  assert.equal(retry.target!.producerEpoch, 0)
  assert.equal(config.calls(), 1)
})

test('log append errors map to coordinator errors as Kafka maps them', () => {
  assert.equal(coordinatorErrorForAppend(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(coordinatorErrorForAppend(ErrorCode.NOT_ENOUGH_REPLICAS), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(coordinatorErrorForAppend(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(coordinatorErrorForAppend(ErrorCode.REQUEST_TIMED_OUT), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(coordinatorErrorForAppend(ErrorCode.NOT_LEADER_OR_FOLLOWER), ErrorCode.NOT_COORDINATOR)
  assert.equal(coordinatorErrorForAppend(ErrorCode.KAFKA_STORAGE_ERROR), ErrorCode.NOT_COORDINATOR)
  assert.equal(coordinatorErrorForAppend(ErrorCode.MESSAGE_TOO_LARGE), ErrorCode.UNKNOWN_SERVER_ERROR)
  assert.equal(coordinatorErrorForAppend(ErrorCode.RECORD_LIST_TOO_LARGE), ErrorCode.UNKNOWN_SERVER_ERROR)
  assert.equal(coordinatorErrorForAppend(ErrorCode.INVALID_RECORD), ErrorCode.INVALID_RECORD)
})

test('epochs run out one short of Short.MaxValue: the next InitProducerId rotates to a new producer id at epoch 0', () => {
  assert.equal(isEpochExhausted(32765), false)
  assert.equal(isEpochExhausted(32766), true)
  const config = allocator(2000)
  const entries = loaded({ producerEpoch: 32765 })
  const bumped = transitionOf(init(entries, config, kT0))
  assert.equal(bumped.target!.producerEpoch, 32766)
  completeTransition(entries, bumped, kT0)
  const rotated = transitionOf(init(entries, config, kT0 + 1))
  assert.deepEqual([rotated.target!.producerId, rotated.target!.producerEpoch, rotated.target!.lastProducerId, rotated.target!.lastProducerEpoch], [2000, 0, 1000, -1])
  assert.deepEqual(completeTransition(entries, rotated, kT0 + 1), { kind: 'reply', reply: { errorCode: ErrorCode.NONE, producerId: 2000, producerEpoch: 0 } })
})

test('a KIP-360 retry of a rotation (old producer id, exhausted epoch) gets the new producer id again, not another', () => {
  const config = allocator(2000)
  const entries = loaded({ producerEpoch: 32766 })
  const rotated = transitionOf(init(entries, config, kT0, { producerId: 1000, producerEpoch: 32766 }))
  assert.deepEqual([rotated.target!.producerId, rotated.target!.producerEpoch, rotated.target!.lastProducerId, rotated.target!.lastProducerEpoch], [2000, 0, 1000, 32766])
  completeTransition(entries, rotated, kT0)
  // The producer never saw the answer and asks again with what it held.
  const retry = transitionOf(init(entries, config, kT0 + 1, { producerId: 1000, producerEpoch: 32766 }))
  assert.deepEqual([retry.target!.producerId, retry.target!.producerEpoch], [2000, 0])
  assert.equal(config.calls(), 1)
  // The old id with an epoch that is not exhausted is a stale producer.
  completeTransition(entries, retry, kT0 + 1)
  assert.equal(errorOf(init(entries, config, kT0 + 2, { producerId: 1000, producerEpoch: 12 })), ErrorCode.PRODUCER_FENCED)
})

test('KIP-360: the current producer id and epoch bump it, a retry with the replaced epoch gets the same epoch back', () => {
  const config = allocator()
  const entries = loaded({ producerEpoch: 5 })
  const bumped = transitionOf(init(entries, config, kT0, { producerId: 1000, producerEpoch: 5 }))
  assert.deepEqual([bumped.target!.producerEpoch, bumped.target!.lastProducerEpoch], [6, 5])
  completeTransition(entries, bumped, kT0)
  const retried = transitionOf(init(entries, config, kT0 + 1, { producerId: 1000, producerEpoch: 5 }))
  assert.deepEqual([retried.target!.producerEpoch, retried.target!.lastProducerEpoch], [6, 5])
  completeTransition(entries, retried, kT0 + 1)
  // The producer now holding epoch 6 resumes again.
  const again = transitionOf(init(entries, config, kT0 + 2, { producerId: 1000, producerEpoch: 6 }))
  assert.deepEqual([again.target!.producerEpoch, again.target!.lastProducerEpoch], [7, 6])
  completeTransition(entries, again, kT0 + 2)
  assert.equal(config.calls(), 0)
})

test('KIP-360: a stale epoch or another producer id is PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before', () => {
  const config = allocator()
  const entries = loaded({ producerEpoch: 5, lastProducerEpoch: 4 })
  assert.equal(errorOf(init(entries, config, kT0, { producerId: 1000, producerEpoch: 3 })), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(init(entries, config, kT0, { producerId: 1000, producerEpoch: 3, version: 3 })), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(errorOf(init(entries, config, kT0, { producerId: 999, producerEpoch: 5 })), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(init(entries, config, kT0, { producerId: 999, producerEpoch: 5, version: 3 })), ErrorCode.INVALID_PRODUCER_EPOCH)
  // A plain InitProducerId by another instance forgets the replaceable epoch, so the old instance's retry is fenced.
  completeTransition(entries, transitionOf(init(entries, config, kT0 + 1)), kT0 + 1)
  assert.equal(entries.get(kId)!.metadata.lastProducerEpoch, -1)
  assert.equal(errorOf(init(entries, config, kT0 + 2, { producerId: 1000, producerEpoch: 5 })), ErrorCode.PRODUCER_FENCED)
})

test('KIP-360: an id whose first InitProducerId never became durable accepts any producer id (it is recovering)', () => {
  const entries: TransactionEntries = new Map()
  const config = allocator()
  failTransition(entries, transitionOf(init(entries, config, kT0)), ErrorCode.REQUEST_TIMED_OUT)
  const transition = transitionOf(init(entries, config, kT0 + 1, { producerId: 42, producerEpoch: 9 }))
  assert.deepEqual([transition.target!.producerId, transition.target!.producerEpoch, transition.target!.lastProducerEpoch], [1000, 0, -1])
})

test('InitProducerId during an Ongoing transaction aborts it with a raised epoch and answers CONCURRENT_TRANSACTIONS', () => {
  const { entries, config, metadata } = ongoing()
  const fence = transitionOf(init(entries, config, kT0 + 100))
  assert.equal(fence.target!.state, 'PrepareAbort')
  assert.equal(fence.target!.producerEpoch, 1)
  assert.equal(fence.target!.lastProducerEpoch, -1)
  assert.deepEqual(fence.target!.partitions, new Map([['orders', [0, 2]]]))
  // The raise applies at once: the old producer is fenced while the abort is written.
  assert.equal(metadata().producerEpoch, 1)
  assert.equal(errorOf(add(entries, 1000, 0, [['orders', [1]]], kT0 + 101)), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(end(entries, 1000, 0, true, kT0 + 101)), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(init(entries, config, kT0 + 101)), ErrorCode.CONCURRENT_TRANSACTIONS)

  const afterPrepare = completeTransition(entries, fence, kT0 + 102)
  assert.deepEqual((afterPrepare as { reply: unknown }).reply, { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS, producerId: -1, producerEpoch: -1 })
  const markers = markersOf(afterPrepare)
  assert.deepEqual([markers.result, markers.producerId, markers.producerEpoch], ['abort', 1000, 1])
  assert.deepEqual(markers.partitions, new Map([['orders', [0, 2]]]))
  // While the markers are written, the retrying producer still waits.
  assert.equal(errorOf(init(entries, config, kT0 + 103)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.deepEqual(completeTransition(entries, markers.completion, kT0 + 104), { kind: 'none' })
  assert.equal(metadata().state, 'CompleteAbort')
  const retry = transitionOf(init(entries, config, kT0 + 105))
  assert.deepEqual([retry.target!.producerId, retry.target!.producerEpoch], [1000, 2])
})

test('a fence whose append failed does not raise the epoch again on the next fence', () => {
  const { entries, config, metadata } = ongoing()
  const fence = transitionOf(init(entries, config, kT0 + 100))
  assert.equal(failTransition(entries, fence, ErrorCode.REQUEST_TIMED_OUT).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  assert.equal(metadata().state, 'Ongoing')
  assert.equal(metadata().producerEpoch, 1)
  const again = transitionOf(init(entries, config, kT0 + 101))
  assert.equal(again.target!.producerEpoch, 1)
  // Once the fence is durable, later fences raise again.
  const markers = markersOf(completeTransition(entries, again, kT0 + 102))
  assert.equal(entries.get(kId)!.hasFailedEpochFence, false)
  completeTransition(entries, markers.completion, kT0 + 103)
})

test('InitProducerId while a transaction is in PrepareCommit or PrepareAbort answers CONCURRENT_TRANSACTIONS', () => {
  for (const state of ['PrepareCommit', 'PrepareAbort'] as const) {
    const entries = loaded({ state, partitions: new Map([['orders', [0]]]), startTimestamp: kT0 })
    assert.equal(errorOf(init(entries, allocator(), kT0)), ErrorCode.CONCURRENT_TRANSACTIONS)
  }
})

// --- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------------------------------------------

test('AddPartitionsToTxn refuses an unknown id or another producer id with INVALID_PRODUCER_ID_MAPPING', () => {
  assert.equal(errorOf(add(new Map(), 1000, 0, [['orders', [0]]], kT0)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  const { entries } = ongoing()
  assert.equal(errorOf(add(entries, 1001, 0, [['orders', [0]]], kT0)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(errorOf(addPartitionsToTxn(entries, { transactionalId: '', producerId: 1000, producerEpoch: 0, topics: [], version: 3 }, kT0)), ErrorCode.INVALID_REQUEST)
})

test('AddPartitionsToTxn with another epoch is PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before', () => {
  const entries = loaded({ producerEpoch: 5 })
  assert.equal(errorOf(add(entries, 1000, 4, [['orders', [0]]], kT0, 2)), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(add(entries, 1000, 4, [['orders', [0]]], kT0, 1)), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(errorOf(add(entries, 1000, 6, [['orders', [0]]], kT0, 3)), ErrorCode.PRODUCER_FENCED)
})

test('the first AddPartitionsToTxn starts the transaction; later ones add to it and keep its start', () => {
  const entries = loaded({ producerEpoch: 5 })
  const first = transitionOf(add(entries, 1000, 5, [['orders', [3, 1]], ['audit', [0]]], kT0 + 1))
  assert.equal(first.target!.state, 'Ongoing')
  assert.equal(first.target!.startTimestamp, kT0 + 1)
  assert.deepEqual(first.target!.partitions, new Map([['orders', [1, 3]], ['audit', [0]]]))
  assert.equal(errorOf(add(entries, 1000, 5, [['orders', [2]]], kT0 + 2)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.deepEqual(completeTransition(entries, first, kT0 + 2), { kind: 'reply', reply: { errorCode: ErrorCode.NONE, producerId: -1, producerEpoch: -1 } })
  const second = transitionOf(add(entries, 1000, 5, [['orders', [2, 3]], ['payments', [7]]], kT0 + 3))
  assert.equal(second.target!.startTimestamp, kT0 + 1)
  assert.equal(second.target!.lastUpdateTimestamp, kT0 + 3)
  assert.deepEqual(second.target!.partitions, new Map([['orders', [1, 2, 3]], ['audit', [0]], ['payments', [7]]]))
})

test('adding partitions an Ongoing transaction already holds answers NONE without writing anything', () => {
  const { entries } = ongoing()
  assert.equal(errorOf(add(entries, 1000, 0, [['orders', [2]]], kT0 + 50)), ErrorCode.NONE)
  assert.equal(entries.get(kId)!.pending, null)
})

test('AddPartitionsToTxn in PrepareCommit or PrepareAbort answers CONCURRENT_TRANSACTIONS', () => {
  for (const state of ['PrepareCommit', 'PrepareAbort'] as const) {
    const entries = loaded({ state, partitions: new Map([['orders', [0]]]), startTimestamp: kT0 })
    assert.equal(errorOf(add(entries, 1000, 5, [['orders', [1]]], kT0)), ErrorCode.CONCURRENT_TRANSACTIONS)
  }
})

test('AddPartitionsToTxn after a completed transaction starts the next one with a new start timestamp', () => {
  for (const state of ['CompleteCommit', 'CompleteAbort'] as const) {
    const entries = loaded({ state, startTimestamp: kT0 - 500 })
    const target = transitionOf(add(entries, 1000, 5, [['orders', [1]]], kT0)).target!
    assert.deepEqual([target.state, target.startTimestamp], ['Ongoing', kT0])
    assert.deepEqual(target.partitions, new Map([['orders', [1]]]))
  }
})

test('AddOffsetsToTxn adds the __consumer_offsets partition of the group', () => {
  const { entries } = ongoing()
  const target = transitionOf(addOffsetsToTxn(entries, { transactionalId: kId, producerId: 1000, producerEpoch: 0, groupId: 'my-group', version: 3 }, kT0 + 20)).target!
  // Java: "my-group".hashCode() == -1906497762, so partition 12 of 50.
  assert.deepEqual(target.partitions, new Map([['orders', [0, 2]], ['__consumer_offsets', [12]]]))
  const few = ongoing()
  const narrow = transitionOf(addOffsetsToTxn(few.entries, { transactionalId: kId, producerId: 1000, producerEpoch: 0, groupId: 'my-group', version: 3 }, kT0 + 20, 4)).target!
  assert.deepEqual(narrow.partitions.get('__consumer_offsets'), [partitionForKey('my-group', 4)])
  assert.equal(errorOf(addOffsetsToTxn(few.entries, { transactionalId: kId, producerId: 1000, producerEpoch: 3, groupId: 'g', version: 1 }, kT0)), ErrorCode.INVALID_PRODUCER_EPOCH)
})

test('verify-only AddPartitionsToTxn reports each partition in or out of the transaction and changes nothing', () => {
  const { entries, metadata } = ongoing()
  const before = metadata()
  const results = verifyPartitionsInTxn(entries, { transactionalId: kId, producerId: 1000, producerEpoch: 0, topics: [{ topic: 'orders', partitions: [0, 1] }, { topic: 'other', partitions: [0] }] })
  assert.deepEqual(results, [
    { name: 'orders', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }, { partitionIndex: 1, partitionErrorCode: ErrorCode.INVALID_TXN_STATE }] },
    { name: 'other', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.INVALID_TXN_STATE }] }
  ])
  assert.equal(metadata(), before)
  assert.equal(entries.get(kId)!.pending, null)
})

test('verify-only AddPartitionsToTxn answers every partition with the producer or state error', () => {
  const { entries } = ongoing()
  const codes = (request: { transactionalId?: string, producerId?: number, producerEpoch?: number }) =>
    verifyPartitionsInTxn(entries, { transactionalId: kId, producerId: 1000, producerEpoch: 0, topics: [{ topic: 'orders', partitions: [0, 1] }], ...request })[0].resultsByPartition.map((r) => r.partitionErrorCode)
  assert.deepEqual(codes({ transactionalId: 'unknown' }), [ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.INVALID_PRODUCER_ID_MAPPING])
  assert.deepEqual(codes({ transactionalId: '' }), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
  assert.deepEqual(codes({ producerId: 7 }), [ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.INVALID_PRODUCER_ID_MAPPING])
  assert.deepEqual(codes({ producerEpoch: 1 }), [ErrorCode.PRODUCER_FENCED, ErrorCode.PRODUCER_FENCED])
  // A pending addition does not block verification of what is already durable.
  transitionOf(add(entries, 1000, 0, [['orders', [1]]], kT0 + 20))
  assert.deepEqual(codes({}), [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE])
  const preparing = loaded({ state: 'PrepareCommit', partitions: new Map([['orders', [0]]]), startTimestamp: kT0 })
  assert.deepEqual(verifyPartitionsInTxn(preparing, { transactionalId: kId, producerId: 1000, producerEpoch: 5, topics: [{ topic: 'orders', partitions: [0] }] })[0].resultsByPartition,
    [{ partitionIndex: 0, partitionErrorCode: ErrorCode.CONCURRENT_TRANSACTIONS }])
})

// --- EndTxn --------------------------------------------------------------------------------------------------

test('EndTxn commit: PrepareCommit is durable, the client is answered, markers are written, then CompleteCommit', () => {
  const { entries, config, metadata } = ongoing()
  const prepare = transitionOf(end(entries, 1000, 0, true, kT0 + 20))
  assert.equal(prepare.target!.state, 'PrepareCommit')
  assert.deepEqual(prepare.target!.partitions, new Map([['orders', [0, 2]]]))
  assert.equal(errorOf(end(entries, 1000, 0, true, kT0 + 21)), ErrorCode.CONCURRENT_TRANSACTIONS)

  const afterPrepare = completeTransition(entries, prepare, kT0 + 22)
  assert.deepEqual((afterPrepare as { reply: unknown }).reply, { errorCode: ErrorCode.NONE, producerId: -1, producerEpoch: -1 })
  const markers = markersOf(afterPrepare)
  assert.deepEqual([markers.transactionalId, markers.result, markers.producerId, markers.producerEpoch], [kId, 'commit', 1000, 0])
  assert.deepEqual(markers.partitions, new Map([['orders', [0, 2]]]))
  // The id is busy until the completion is durable.
  assert.equal(entries.get(kId)!.pending, markers.completion)
  assert.equal(errorOf(add(entries, 1000, 0, [['orders', [1]]], kT0 + 23)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(errorOf(end(entries, 1000, 0, true, kT0 + 23)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(errorOf(init(entries, config, kT0 + 23)), ErrorCode.CONCURRENT_TRANSACTIONS)

  const completion = markers.completion.target!
  assert.deepEqual([completion.state, completion.startTimestamp, completion.lastUpdateTimestamp], ['CompleteCommit', kT0 + 10, kT0 + 22])
  assert.deepEqual(completion.partitions, new Map())
  assert.deepEqual(completeTransition(entries, markers.completion, kT0 + 30), { kind: 'none' })
  assert.equal(metadata().state, 'CompleteCommit')
  assert.equal(entries.get(kId)!.pending, null)
})

test('EndTxn retried after the same outcome completed answers NONE; the other outcome answers INVALID_TXN_STATE', () => {
  const committed = loaded({ state: 'CompleteCommit', startTimestamp: kT0 })
  assert.equal(errorOf(end(committed, 1000, 5, true, kT0)), ErrorCode.NONE)
  assert.equal(errorOf(end(committed, 1000, 5, false, kT0)), ErrorCode.INVALID_TXN_STATE)
  const aborted = loaded({ state: 'CompleteAbort', startTimestamp: kT0 })
  assert.equal(errorOf(end(aborted, 1000, 5, false, kT0)), ErrorCode.NONE)
  assert.equal(errorOf(end(aborted, 1000, 5, true, kT0)), ErrorCode.INVALID_TXN_STATE)
})

test('EndTxn while the same outcome is being prepared answers CONCURRENT_TRANSACTIONS, the other INVALID_TXN_STATE', () => {
  const commit = loaded({ state: 'PrepareCommit', partitions: new Map([['orders', [0]]]), startTimestamp: kT0 })
  assert.equal(errorOf(end(commit, 1000, 5, true, kT0)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(errorOf(end(commit, 1000, 5, false, kT0)), ErrorCode.INVALID_TXN_STATE)
  const abort = loaded({ state: 'PrepareAbort', partitions: new Map([['orders', [0]]]), startTimestamp: kT0 })
  assert.equal(errorOf(end(abort, 1000, 5, false, kT0)), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(errorOf(end(abort, 1000, 5, true, kT0)), ErrorCode.INVALID_TXN_STATE)
})

test('EndTxn with no transaction started answers INVALID_TXN_STATE', () => {
  const entries = loaded({ state: 'Empty' })
  assert.equal(errorOf(end(entries, 1000, 5, true, kT0)), ErrorCode.INVALID_TXN_STATE)
  assert.equal(errorOf(end(entries, 1000, 5, false, kT0)), ErrorCode.INVALID_TXN_STATE)
})

test('EndTxn checks the transactional id, producer id and epoch first', () => {
  const { entries } = ongoing()
  assert.equal(errorOf(end(new Map(), 1000, 0, true, kT0)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(errorOf(end(entries, 1001, 0, true, kT0)), ErrorCode.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(errorOf(end(entries, 1000, 1, true, kT0, 2)), ErrorCode.PRODUCER_FENCED)
  assert.equal(errorOf(end(entries, 1000, 1, true, kT0, 1)), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(errorOf(endTxn(entries, { transactionalId: '', producerId: 1000, producerEpoch: 0, committed: true, version: 3 }, kT0)), ErrorCode.INVALID_REQUEST)
})

test('EndTxn abort writes ABORT markers and ends in CompleteAbort; a failed PrepareAbort leaves it Ongoing to retry', () => {
  const { entries, metadata } = ongoing()
  const failed = transitionOf(end(entries, 1000, 0, false, kT0 + 20))
  failTransition(entries, failed, ErrorCode.KAFKA_STORAGE_ERROR)
  assert.equal(metadata().state, 'Ongoing')
  const prepare = transitionOf(end(entries, 1000, 0, false, kT0 + 21))
  assert.equal(prepare.target!.state, 'PrepareAbort')
  const markers = markersOf(completeTransition(entries, prepare, kT0 + 22))
  assert.equal(markers.result, 'abort')
  completeTransition(entries, markers.completion, kT0 + 23)
  assert.equal(metadata().state, 'CompleteAbort')
})

test('a transition completed after its partition was reloaded answers NOT_COORDINATOR and changes nothing', () => {
  const { entries, metadata } = ongoing()
  const prepare = transitionOf(end(entries, 1000, 0, true, kT0 + 20))
  const reloaded = entriesFrom([metadata()])
  assert.deepEqual(completeTransition(reloaded, prepare, kT0 + 21), { kind: 'reply', reply: { errorCode: ErrorCode.NOT_COORDINATOR, producerId: -1, producerEpoch: -1 } })
  assert.equal(reloaded.get(kId)!.metadata.state, 'Ongoing')
  assert.deepEqual(completeTransition(new Map(), prepare, kT0 + 21), { kind: 'reply', reply: { errorCode: ErrorCode.NOT_COORDINATOR, producerId: -1, producerEpoch: -1 } })
})

test('after a load, transactions left in Prepare* get their markers planned again, once', () => {
  const entries = entriesFrom([
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'c', state: 'PrepareCommit', partitions: new Map([['orders', [1]]]), startTimestamp: kT0 },
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'a', state: 'PrepareAbort', partitions: new Map([['orders', [2]]]), startTimestamp: kT0 },
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'o', state: 'Ongoing', partitions: new Map([['orders', [3]]]), startTimestamp: kT0 }
  ])
  const plans = pendingCompletions(entries, kT0 + 5)
  assert.deepEqual(plans.map((plan) => [plan.transactionalId, plan.result, plan.completion.target!.state]), [['c', 'commit', 'CompleteCommit'], ['a', 'abort', 'CompleteAbort']])
  assert.deepEqual(pendingCompletions(entries, kT0 + 6), [])
  for (const plan of plans) completeTransition(entries, plan.completion, kT0 + 7)
  assert.equal(entries.get('c')!.metadata.state, 'CompleteCommit')
  assert.equal(entries.get('a')!.metadata.state, 'CompleteAbort')
})

// --- Timeouts and expiry -------------------------------------------------------------------------------------

test('expired lists Ongoing transactions open longer than their timeout, by the injected clock', () => {
  const { entries, metadata } = ongoing()
  const start = metadata().startTimestamp
  assert.deepEqual(expired(entries, start + 60_000), [])
  assert.deepEqual(expired(entries, start + 60_001), [{ transactionalId: kId, producerId: 1000, producerEpoch: 0 }])
  // Not while another transition is in flight, and never outside Ongoing.
  transitionOf(end(entries, 1000, 0, true, start + 60_001))
  assert.deepEqual(expired(entries, start + 120_000), [])
  assert.deepEqual(expired(loaded({ state: 'Empty', startTimestamp: 0 }), kT0 * 10), [])
})

test('a timed-out transaction is aborted with a raised epoch, so its producer is fenced', () => {
  const { entries, metadata } = ongoing()
  const now = metadata().startTimestamp + 60_001
  const [timedOut] = expired(entries, now)
  const abort = transitionOf(abortTimedOut(entries, timedOut, now))
  assert.deepEqual([abort.target!.state, abort.target!.producerEpoch, abort.target!.lastUpdateTimestamp], ['PrepareAbort', 1, now])
  assert.equal(errorOf(end(entries, 1000, 0, true, now + 1)), ErrorCode.PRODUCER_FENCED)
  const afterPrepare = completeTransition(entries, abort, now + 2)
  assert.equal((afterPrepare as { reply: unknown }).reply, null)
  const markers = markersOf(afterPrepare)
  assert.deepEqual([markers.result, markers.producerEpoch], ['abort', 1])
  completeTransition(entries, markers.completion, now + 3)
  assert.equal(metadata().state, 'CompleteAbort')
  assert.equal(errorOf(add(entries, 1000, 0, [['orders', [0]]], now + 4)), ErrorCode.PRODUCER_FENCED)
})

test('a timeout abort no longer applies once the transaction ended, the producer id changed, or a transition is pending', () => {
  const { entries, metadata } = ongoing()
  const now = metadata().startTimestamp + 60_001
  const [timedOut] = expired(entries, now)
  assert.equal(abortTimedOut(entries, { ...timedOut, producerId: 5 }, now), null)
  assert.equal(abortTimedOut(entries, { ...timedOut, transactionalId: 'gone' }, now), null)
  const prepare = transitionOf(end(entries, 1000, 0, true, now))
  assert.equal(abortTimedOut(entries, timedOut, now), null)
  completeTransition(entries, markersOf(completeTransition(entries, prepare, now)).completion, now)
  assert.equal(abortTimedOut(entries, timedOut, now), null)
})

test('idle transactional ids expire after transactional.id.expiration.ms with a tombstone, then leave the entries', () => {
  const entries = entriesFrom([
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'idle', state: 'Empty', lastUpdateTimestamp: kT0 },
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'done', state: 'CompleteCommit', startTimestamp: kT0, lastUpdateTimestamp: kT0 },
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'busy', state: 'Ongoing', partitions: new Map([['orders', [0]]]), startTimestamp: kT0, lastUpdateTimestamp: kT0 },
    { ...loaded({}).get(kId)!.metadata, transactionalId: 'fresh', state: 'Empty', lastUpdateTimestamp: kT0 + 1 }
  ])
  assert.deepEqual(expirableTransactionalIds(entries, kT0 + 1000, 1001), [])
  assert.deepEqual(expirableTransactionalIds(entries, kT0 + 1000, 1000), ['idle', 'done'])
  const tombstone = transitionOf(expireTransactionalId(entries, 'idle'))
  assert.equal(tombstone.target, null)
  // While the tombstone is written, the id is busy and hidden from Describe/List.
  assert.equal(errorOf(init(entries, allocator(), kT0 + 1000, { transactionalId: 'idle' })), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal(describeTransaction(entries, 'idle').errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
  assert.deepEqual(listTransactions(entries, { stateFilters: [], producerIdFilters: [], durationFilterMs: -1 }, kT0).transactionStates.map((t) => t.transactionalId), ['busy', 'done', 'fresh'])
  assert.equal(expireTransactionalId(entries, 'idle'), null)
  assert.deepEqual(completeTransition(entries, tombstone, kT0 + 1001), { kind: 'none' })
  assert.equal(entries.has('idle'), false)
  // A failed tombstone keeps the id.
  const failed = transitionOf(expireTransactionalId(entries, 'done'))
  failTransition(entries, failed, ErrorCode.REQUEST_TIMED_OUT)
  assert.equal(entries.get('done')!.metadata.state, 'CompleteCommit')
  assert.equal(entries.get('done')!.pending, null)
})

// --- DescribeTransactions / ListTransactions -----------------------------------------------------------------

test('DescribeTransactions reports state, producer, timeout, start and sorted partitions, or why it cannot', () => {
  const { entries } = ongoing()
  persisted(entries, add(entries, 1000, 0, [['audit', [4]]], kT0 + 20), kT0 + 20)
  assert.deepEqual(describeTransaction(entries, kId), {
    errorCode: ErrorCode.NONE,
    transactionalId: kId,
    transactionState: 'Ongoing',
    transactionTimeoutMs: 60_000,
    transactionStartTimeMs: kT0 + 10,
    producerId: 1000,
    producerEpoch: 0,
    topics: [{ topic: 'audit', partitions: [4] }, { topic: 'orders', partitions: [0, 2] }]
  })
  assert.deepEqual(describeTransaction(entries, 'nobody'), {
    errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, transactionalId: 'nobody', transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: 0, producerId: 0, producerEpoch: 0, topics: []
  })
  assert.equal(describeTransaction(entries, '').errorCode, ErrorCode.INVALID_REQUEST)
})

test('ListTransactions filters by state, producer id and (v1) duration, and reports unknown state names', () => {
  const base = loaded({}).get(kId)!.metadata
  const entries = entriesFrom([
    { ...base, transactionalId: 'long', producerId: 1, state: 'Ongoing', partitions: new Map([['t', [0]]]), startTimestamp: kT0 - 10_000 },
    { ...base, transactionalId: 'short', producerId: 2, state: 'Ongoing', partitions: new Map([['t', [0]]]), startTimestamp: kT0 - 100 },
    { ...base, transactionalId: 'done', producerId: 3, state: 'CompleteCommit', startTimestamp: kT0 - 10_000 },
    { ...base, transactionalId: 'idle', producerId: 4, state: 'Empty', startTimestamp: -1 }
  ])
  const ids = (stateFilters: string[], producerIdFilters: number[], durationFilterMs: number) =>
    listTransactions(entries, { stateFilters, producerIdFilters, durationFilterMs }, kT0).transactionStates.map((t) => t.transactionalId)
  assert.deepEqual(ids([], [], -1), ['done', 'idle', 'long', 'short'])
  assert.deepEqual(ids(['Ongoing'], [], -1), ['long', 'short'])
  assert.deepEqual(ids(['Ongoing', 'CompleteCommit'], [2, 3], -1), ['done', 'short'])
  // Longer than 1000 ms; an id that never started a transaction passes, as in Kafka.
  assert.deepEqual(ids([], [], 1000), ['done', 'idle', 'long'])
  assert.deepEqual(ids(['Ongoing'], [], 1000), ['long'])
  const listed = listTransactions(entries, { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [1], durationFilterMs: -1 }, kT0)
  assert.deepEqual(listed, { errorCode: ErrorCode.NONE, unknownStateFilters: ['Bogus'], transactionStates: [{ transactionalId: 'long', producerId: 1, transactionState: 'Ongoing' }] })
  // Only unknown names: nothing matches.
  assert.deepEqual(ids(['Bogus'], [], -1), [])
})

test('the epoch a fence may use is the maximum, and no producer is ever handed it', () => {
  const config = allocator(3000)
  const entries = loaded({ producerEpoch: 32766, state: 'Ongoing', partitions: new Map([['t', [0]]]), startTimestamp: kT0 })
  const fence = transitionOf(init(entries, config, kT0))
  assert.equal(fence.target!.producerEpoch, kMaxProducerEpoch)
  completeTransition(entries, markersOf(completeTransition(entries, fence, kT0)).completion, kT0)
  const retry = transitionOf(init(entries, config, kT0 + 1))
  assert.deepEqual([retry.target!.producerId, retry.target!.producerEpoch, retry.target!.lastProducerId], [3000, 0, 1000])
})
