// The `__transaction_state` record format: where an id lives, encode/decode round trips, validation of what is
// read back (reported, never thrown), and replay (last record per key wins, a tombstone deletes).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { javaStringHash, partitionForKey } from '../../src/protocol/java-hash.ts'
import { javaStringHash as groupHash, kOffsetsTopic, kOffsetsTopicPartitions, offsetsPartitionFor } from '../../src/group/offset-store.ts'
import {
  decodeTransactionLogRecord, encodeTransactionLogKey, encodeTransactionLogRecord, encodeTransactionLogValue,
  kTransactionStateTopic, kTransactionStateTopicPartitions, replayTransactionLog, transactionPartitionFor,
  type RawRecord
} from '../../src/txn/transaction-log.ts'
import {
  addPartitionsToTxn, completeTransition, endTxn, initProducerId, kOffsetsTopicDefaultPartitions, kOffsetsTopicName,
  type Completion, type Decision, type TransactionEntries, type TransactionMetadata, type Transition
} from '../../src/txn/transaction-metadata.ts'

const metadata: TransactionMetadata = {
  transactionalId: 'txn-a',
  producerId: 4000,
  lastProducerId: 3999,
  producerEpoch: 7,
  lastProducerEpoch: 6,
  timeoutMs: 60_000,
  state: 'Ongoing',
  partitions: new Map([['orders', [0, 2]], ['audit', [5]]]),
  startTimestamp: 1_700_000_000_000,
  lastUpdateTimestamp: 1_700_000_000_500
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value))

function valueWith (changes: Record<string, unknown>): Buffer {
  return json({ ...JSON.parse(encodeTransactionLogValue(metadata)!.toString()), ...changes })
}

function decodeError (key: Buffer | null, value: Buffer | null): string {
  const decoded = decodeTransactionLogRecord(key, value)
  assert.equal(decoded.ok, false, 'expected the record to be refused')
  return (decoded as { error: string }).error
}

test('a transactional id lives on partition abs(String.hashCode) % 50 of __transaction_state', () => {
  assert.equal(kTransactionStateTopic, '__transaction_state')
  assert.equal(kTransactionStateTopicPartitions, 50)
  // By hand: "a" is 97; "ab" is 97 * 31 + 98 = 3105.
  assert.equal(javaStringHash('a'), 97)
  assert.equal(javaStringHash('ab'), 3105)
  assert.equal(transactionPartitionFor('a'), 47)
  assert.equal(transactionPartitionFor('ab'), 5)
  // Java: "my-txn".hashCode() == -1061187895, "transactional-producer-1".hashCode() == -447076998.
  assert.equal(javaStringHash('my-txn'), -1061187895)
  assert.equal(transactionPartitionFor('my-txn'), 45)
  assert.equal(transactionPartitionFor('transactional-producer-1'), 48)
  // Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE; Kafka's Utils.abs maps it to 0.
  assert.equal(javaStringHash('polygenelubricants'), -2147483648)
  assert.equal(transactionPartitionFor('polygenelubricants'), 0)
  // UTF-16 code units, as Java counts them: "é" is 233, and a surrogate pair hashes as its two halves.
  assert.equal(transactionPartitionFor('é'), 33)
  assert.equal(javaStringHash('😀'), 0xd83d * 31 + 0xde00)
  assert.equal(transactionPartitionFor('my-txn', 7), partitionForKey('my-txn', 7))
})

test('the group code keeps its names for the moved hash, and txn names the offsets topic as the group code does', () => {
  assert.equal(groupHash, javaStringHash)
  assert.equal(offsetsPartitionFor, partitionForKey)
  assert.equal(offsetsPartitionFor('my-group', 50), 12)
  assert.equal(kOffsetsTopicName, kOffsetsTopic)
  assert.equal(kOffsetsTopicDefaultPartitions, kOffsetsTopicPartitions)
})

test('records encode to the documented JSON, topics and partitions in ascending order', () => {
  const unordered: TransactionMetadata = { ...metadata, partitions: new Map([['orders', [2, 0]], ['audit', [5]]]) }
  const { key, value } = encodeTransactionLogRecord({ transactionalId: 'txn-a', value: unordered })
  assert.equal(key.toString(), '{"t":"x","id":"txn-a"}')
  assert.equal(value!.toString(), '{"producerId":4000,"lastProducerId":3999,"producerEpoch":7,"lastProducerEpoch":6,"timeoutMs":60000,' +
    '"state":"Ongoing","partitions":{"audit":[5],"orders":[0,2]},"startTimestamp":1700000000000,"lastUpdateTimestamp":1700000000500}')
  assert.deepEqual(encodeTransactionLogValue(metadata), value)
  assert.equal(encodeTransactionLogRecord({ transactionalId: 'txn-a', value: null }).value, null)
})

test('every persisted state round-trips through encode and decode', () => {
  for (const state of ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'] as const) {
    const holdsPartitions = state === 'Ongoing' || state === 'PrepareCommit' || state === 'PrepareAbort'
    const original: TransactionMetadata = { ...metadata, state, partitions: holdsPartitions ? metadata.partitions : new Map() }
    const { key, value } = encodeTransactionLogRecord({ transactionalId: original.transactionalId, value: original })
    const decoded = decodeTransactionLogRecord(key, value)
    assert.ok(decoded.ok, state)
    assert.deepEqual(decoded.record, { transactionalId: 'txn-a', value: original })
  }
})

test('a tombstone, odd ids and a topic named __proto__ round-trip', () => {
  const tombstone = decodeTransactionLogRecord(encodeTransactionLogKey('gone'), null)
  assert.deepEqual(tombstone, { ok: true, record: { transactionalId: 'gone', value: null } })
  const odd = 'id "with" quotes, ünïcödé and \u0000'
  const withProto: TransactionMetadata = { ...metadata, transactionalId: odd, partitions: new Map([['__proto__', [1]], ['constructor', [0]]]) }
  const { key, value } = encodeTransactionLogRecord({ transactionalId: odd, value: withProto })
  const decoded = decodeTransactionLogRecord(key, value)
  assert.ok(decoded.ok)
  assert.equal(decoded.record.transactionalId, odd)
  assert.deepEqual(decoded.record.value!.partitions, new Map([['__proto__', [1]], ['constructor', [0]]]))
})

test('decoding ignores fields it does not know and normalises partition order', () => {
  const decoded = decodeTransactionLogRecord(encodeTransactionLogKey('txn-a'), valueWith({ futureField: { x: 1 }, partitions: { orders: [2, 0, 2] } }))
  assert.ok(decoded.ok)
  assert.deepEqual(decoded.record.value!.partitions, new Map([['orders', [0, 2]]]))
})

test('a bad key is reported, not thrown', () => {
  const value = encodeTransactionLogValue(metadata)
  assert.match(decodeError(null, value), /no key/)
  assert.match(decodeError(Buffer.from('{"t":"x",'), value), /JSON/)
  assert.match(decodeError(json({ t: 'g', g: 'group' }), value), /not a transaction key/)
  assert.match(decodeError(json([1, 2]), value), /not a transaction key/)
  assert.match(decodeError(json({ t: 'x', id: '' }), value), /no transactional id/)
  assert.match(decodeError(json({ t: 'x', id: 5 }), value), /no transactional id/)
})

test('a value that breaks an invariant is reported with the field at fault', () => {
  const key = encodeTransactionLogKey('txn-a')
  assert.match(decodeError(key, Buffer.from('not json')), /JSON/)
  assert.match(decodeError(key, Buffer.from([0xff, 0xfe, 0x00])), /JSON/)
  assert.match(decodeError(key, json([1])), /not an object/)
  assert.match(decodeError(key, json(null)), /not an object/)
  assert.match(decodeError(key, valueWith({ producerId: -1 })), /producerId/)
  assert.match(decodeError(key, valueWith({ producerId: '4000' })), /producerId/)
  assert.match(decodeError(key, valueWith({ producerId: 2 ** 60 })), /producerId/)
  assert.match(decodeError(key, valueWith({ lastProducerId: -2 })), /lastProducerId/)
  assert.match(decodeError(key, valueWith({ producerEpoch: -1 })), /producerEpoch/)
  assert.match(decodeError(key, valueWith({ producerEpoch: 32768 })), /producerEpoch/)
  assert.match(decodeError(key, valueWith({ producerEpoch: 1.5 })), /producerEpoch/)
  assert.match(decodeError(key, valueWith({ lastProducerEpoch: -2 })), /lastProducerEpoch/)
  assert.match(decodeError(key, valueWith({ timeoutMs: 0 })), /timeoutMs/)
  assert.match(decodeError(key, valueWith({ startTimestamp: -2 })), /startTimestamp/)
  assert.match(decodeError(key, valueWith({ lastUpdateTimestamp: undefined })), /lastUpdateTimestamp/)
  assert.match(decodeError(key, valueWith({ state: 'Dead' })), /state "Dead"/)
  assert.match(decodeError(key, valueWith({ state: 'PrepareEpochFence' })), /state "PrepareEpochFence"/)
  assert.match(decodeError(key, valueWith({ state: 'Bogus' })), /state "Bogus"/)
  assert.match(decodeError(key, valueWith({ state: 'Empty' })), /Empty holds partitions/)
  assert.match(decodeError(key, valueWith({ state: 'CompleteCommit' })), /CompleteCommit holds partitions/)
  assert.match(decodeError(key, valueWith({ partitions: [] })), /partitions is not an object/)
  assert.match(decodeError(key, valueWith({ partitions: { orders: 3 } })), /not a list/)
  assert.match(decodeError(key, valueWith({ partitions: { orders: [] } })), /not a list/)
  assert.match(decodeError(key, valueWith({ partitions: { '': [0] } })), /not a list/)
  assert.match(decodeError(key, valueWith({ partitions: { orders: [-1] } })), /partition -1/)
  assert.match(decodeError(key, valueWith({ partitions: { orders: ['0'] } })), /partition "0"/)
})

test('decoding arbitrary bytes never throws', () => {
  let seed = 12345
  const random = () => { seed = (Math.imul(seed, 1103515245) + 12345) | 0; return (seed >>> 16) & 0xff }
  const samples = [encodeTransactionLogKey('txn-a'), encodeTransactionLogValue(metadata)!]
  for (let round = 0; round < 2000; round++) {
    const base = samples[round % 2]
    const bytes = Buffer.from(base)
    for (let flips = 1 + (random() % 4); flips > 0; flips--) bytes[random() % bytes.length] = random()
    const truncated = bytes.subarray(0, random() % (bytes.length + 1))
    const key = round % 2 === 0 ? truncated : encodeTransactionLogKey('txn-a')
    const value = round % 2 === 1 ? truncated : encodeTransactionLogValue(metadata)
    const decoded = decodeTransactionLogRecord(key, value)
    assert.equal(typeof decoded.ok, 'boolean')
  }
})

function raw (offset: number, transactionalId: string, value: TransactionMetadata | null): RawRecord {
  return { offset, ...encodeTransactionLogRecord({ transactionalId, value }) }
}

test('replay keeps the last record per id, deletes on a tombstone, and re-creates after one', () => {
  const a1 = { ...metadata, transactionalId: 'a', producerEpoch: 1 }
  const a2 = { ...metadata, transactionalId: 'a', producerEpoch: 2 }
  const b = { ...metadata, transactionalId: 'b' }
  const c1 = { ...metadata, transactionalId: 'c', producerId: 1 }
  const c2 = { ...metadata, transactionalId: 'c', producerId: 2 }
  const { transactions, skipped } = replayTransactionLog([
    raw(0, 'a', a1), raw(1, 'b', b), raw(2, 'a', a2), raw(3, 'b', null), raw(4, 'c', c1), raw(5, 'c', null), raw(6, 'c', c2)
  ])
  assert.deepEqual(skipped, [])
  assert.deepEqual([...transactions.keys()].sort(), ['a', 'c'])
  assert.deepEqual(transactions.get('a'), a2)
  assert.deepEqual(transactions.get('c'), c2)
})

test('replay skips a corrupt record and reports it; the id keeps what earlier records said', () => {
  const a1 = { ...metadata, transactionalId: 'a', producerEpoch: 1 }
  const records: RawRecord[] = [
    raw(10, 'a', a1),
    { offset: 11, key: encodeTransactionLogKey('a'), value: Buffer.from('{"producerId":') },
    { offset: 12, key: json({ t: 'o', g: 'group', tp: 'orders', p: 0 }), value: json({ o: 1 }) },
    { key: null, value: null }
  ]
  const { transactions, skipped } = replayTransactionLog(records)
  assert.deepEqual(transactions.get('a'), a1)
  assert.equal(transactions.size, 1)
  assert.deepEqual(skipped.map((s) => s.offset), [11, 12, null])
  assert.match(skipped[0].error, /JSON/)
  assert.match(skipped[1].error, /not a transaction key/)
  assert.match(skipped[2].error, /no key/)
})

test('replaying what the coordinator persisted over a transaction\'s life rebuilds its state', () => {
  const entries: TransactionEntries = new Map()
  const log: RawRecord[] = []
  let offset = 0
  const persist = (decision: Decision, now: number): Completion => {
    assert.equal(decision.kind, 'persist')
    const transition: Transition = (decision as { transition: Transition }).transition
    log.push({ offset: offset++, ...encodeTransactionLogRecord({ transactionalId: transition.transactionalId, value: transition.target }) })
    return completeTransition(entries, transition, now)
  }
  const config = { maxTimeoutMs: 900_000, allocateProducerId: () => 77 }
  persist(initProducerId(entries, { transactionalId: 'life', transactionTimeoutMs: 10_000, producerId: -1, producerEpoch: -1, version: 4 }, config, 100), 100)
  persist(addPartitionsToTxn(entries, { transactionalId: 'life', producerId: 77, producerEpoch: 0, topics: [{ topic: 'orders', partitions: [1] }], version: 3 }, 200), 200)
  const afterPrepare = persist(endTxn(entries, { transactionalId: 'life', producerId: 77, producerEpoch: 0, committed: true, version: 3 }, 300), 300)

  // Mid-way, the log holds PrepareCommit: a coordinator loading it would write the markers again.
  const midway = replayTransactionLog(log)
  assert.equal(midway.transactions.get('life')!.state, 'PrepareCommit')
  assert.deepEqual(midway.transactions.get('life'), entries.get('life')!.metadata)

  assert.equal(afterPrepare.kind, 'writeMarkers')
  const completion = (afterPrepare as { markers: { completion: Transition } }).markers.completion
  persist({ kind: 'persist', transition: completion }, 400)
  const replayed = replayTransactionLog(log)
  assert.deepEqual(replayed.skipped, [])
  assert.deepEqual(replayed.transactions.get('life'), entries.get('life')!.metadata)
  assert.equal(replayed.transactions.get('life')!.state, 'CompleteCommit')
})
