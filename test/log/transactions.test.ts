// Transactions in the partition log (KIP-98): transactional batches hold the last stable offset at the first
// offset of their open transaction, COMMIT/ABORT markers release it, aborted transactions are indexed for
// read_committed fetches, and all of it survives a clean restart, a crash, and the loss of the index file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { ErrorCode, KafkaError } from '../../src/protocol/errors.ts'
import { kCleanShutdownFile, kReadCommitted, kReadUncommitted, PartitionLog } from '../../src/log/partition-log.ts'
import { kAbortedTransactionsFile } from '../../src/log/transaction-index.ts'
import { ProducerStateTable } from '../../src/log/producer-state.ts'
import { kTransactionalBit } from '../../src/protocol/record-batch-layout.ts'
import { buildControlBatch, controlRecord, kControlTypeAbort, kControlTypeCommit, readControlRecord } from '../../src/protocol/record-batch.ts'
import { buildBatch, decodeBatches, temporaryDirectory, valuesOf } from './helpers.ts'

const kA = 4000
const kB = 5000

/** A transactional batch of producer `producerId` (epoch 0) with `values`, at sequence `sequence`. */
function txnBatch (producerId: number, sequence: number, values: string[], epoch = 0): Buffer {
  return buildBatch({ values, producerId, producerEpoch: epoch, baseSequence: sequence, attributes: kTransactionalBit })
}

function plainBatch (values: string[]): Buffer {
  return buildBatch({ values })
}

test('a marker is a transactional control batch whose record says COMMIT or ABORT and the coordinator epoch', () => {
  for (const commit of [true, false]) {
    const marker = buildControlBatch(7, 3, commit, 11, 1234)
    assert.equal(readControlRecord(marker, 0), true)
    assert.equal(controlRecord.type, commit ? kControlTypeCommit : kControlTypeAbort)
    assert.equal(controlRecord.coordinatorEpoch, 11)
    assert.equal(marker.readUInt16BE(21) & 0x30, 0x30, 'transactional and control bits')
  }
  // A data batch's first record is not a control key.
  assert.equal(readControlRecord(plainBatch(['x']), 0), false)
})

test('an open transaction holds the LSO at its first offset; read_committed stops there; COMMIT releases it', (t) => {
  const directory = temporaryDirectory(t)
  {
    const log = PartitionLog.open(directory)
    log.append(plainBatch(['before']), -1) // offset 0
    log.append(txnBatch(kA, 0, ['a0', 'a1']), -1) // offsets 1-2
    log.append(plainBatch(['after']), -1) // offset 3
    assert.equal(log.highWatermark, 4)
    assert.equal(log.lastStableOffset, 1)
    const committed = log.read(0, 1 << 20, true, kReadCommitted)
    assert.deepEqual(valuesOf(committed.records), ['before'])
    assert.deepEqual(committed.abortedTransactions, [])
    assert.equal(committed.lastStableOffset, 1)
    assert.deepEqual(valuesOf(log.read(0, 1 << 20, true, kReadUncommitted).records), ['before', 'a0', 'a1', 'after'])
    assert.equal(log.read(0, 1 << 20, true).abortedTransactions, null, 'read_uncommitted carries no aborted list')
    // At or above the LSO a read_committed fetch is answered with nothing (not out of range).
    const waiting = log.read(2, 1 << 20, true, kReadCommitted)
    assert.equal(waiting.errorCode, ErrorCode.NONE)
    assert.equal(waiting.records, null)

    const markerOffset = log.appendMarker(kA, 0, true, 0)
    assert.equal(markerOffset, 4)
    assert.equal(log.lastStableOffset, 5)
    const all = log.read(0, 1 << 20, true, kReadCommitted)
    assert.deepEqual(decodeBatches(all.records).map((b) => b.baseOffset), [0, 1, 3, 4], 'the marker is returned, as Kafka returns it')
    assert.deepEqual(all.abortedTransactions, [])
    log.close()
  }
})

test('ABORT indexes the transaction; read_committed returns the aborted transactions that overlap what it returns', (t) => {
  const directory = temporaryDirectory(t)
  {
    const log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0']), -1) // 0
    log.append(txnBatch(kB, 0, ['b0']), -1) // 1
    log.append(txnBatch(kA, 1, ['a1']), -1) // 2
    assert.equal(log.lastStableOffset, 0)
    log.appendMarker(kA, 0, false, 0) // 3: abort A, first offset 0
    assert.equal(log.lastStableOffset, 1, 'B is still open at 1')
    log.appendMarker(kB, 0, true, 0) // 4: commit B
    assert.equal(log.lastStableOffset, 5)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), [[kA, 0, 3]])
    const read = log.read(0, 1 << 20, true, kReadCommitted)
    assert.deepEqual(read.abortedTransactions?.map((e) => [e.producerId, e.firstOffset]), [[kA, 0]])
    // A fetch from after the abort marker sees no aborted transaction; one from inside it does.
    assert.deepEqual(log.read(4, 1 << 20, true, kReadCommitted).abortedTransactions, [])
    assert.deepEqual(log.read(2, 1 << 20, true, kReadCommitted).abortedTransactions?.map((e) => e.producerId), [kA])
    // A transaction that wrote nothing here adds nothing when aborted.
    log.appendMarker(9999, 0, false, 0)
    assert.equal(log.abortedTransactions.size, 1)
    log.close()
  }
})

test('the LSO is the earliest open transaction of several, and moves as each one ends', (t) => {
  const directory = temporaryDirectory(t)
  {
    const log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0']), -1) // 0
    log.append(txnBatch(kB, 0, ['b0']), -1) // 1
    log.append(txnBatch(kA, 1, ['a1']), -1) // 2 (same transaction as 0)
    assert.equal(log.lastStableOffset, 0)
    log.appendMarker(kB, 0, true, 0)
    assert.equal(log.lastStableOffset, 0, 'A, opened first, is still open')
    log.appendMarker(kA, 0, true, 0)
    assert.equal(log.lastStableOffset, log.highWatermark)
    // The next transaction of A opens at its new first batch.
    const next = log.append(txnBatch(kA, 2, ['a2']), -1)
    assert.equal(log.lastStableOffset, next)
    log.close()
  }
})

test('a marker from an older producer epoch or an older coordinator epoch is refused', (t) => {
  const directory = temporaryDirectory(t)
  {
    const log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0'], 2), -1)
    log.appendMarker(kA, 2, true, 5)
    const refused = (run: () => void, code: number): void => {
      assert.throws(run, (error: unknown) => error instanceof KafkaError && error.code === code)
    }
    refused(() => log.appendMarker(kA, 1, false, 5), ErrorCode.INVALID_PRODUCER_EPOCH)
    refused(() => log.appendMarker(kA, 2, false, 4), ErrorCode.TRANSACTION_COORDINATOR_FENCED)
    // A bumped epoch (the coordinator aborting a fenced producer's transaction) is accepted.
    log.append(txnBatch(kA, 1, ['a1'], 2), -1)
    log.appendMarker(kA, 3, false, 5)
    assert.equal(log.producers.get(kA)?.epoch, 3)
    assert.equal(log.lastStableOffset, log.highWatermark)
    log.close()
  }
})

test('a clean restart keeps open transactions (the producer snapshot carries them) and the aborted index', (t) => {
  const directory = temporaryDirectory(t)
  {
    let log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0']), -1) // 0
    log.appendMarker(kA, 0, false, 0) // 1
    log.append(plainBatch(['p']), -1) // 2
    log.append(txnBatch(kB, 0, ['b0']), -1) // 3, left open
    log.close()
    log = PartitionLog.open(directory)
    assert.equal(log.recovery.clean, true)
    assert.equal(log.recovery.batchesReplayed, 0, 'nothing replayed: the snapshot holds it all')
    assert.equal(log.lastStableOffset, 3)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), [[kA, 0, 1]])
    log.appendMarker(kB, 0, true, 0)
    assert.equal(log.lastStableOffset, log.highWatermark)
    log.close()
  }
})

test('after a crash the replay rebuilds open transactions and the aborted index, even with the index file gone', (t) => {
  const directory = temporaryDirectory(t)
  {
    let log = PartitionLog.open(directory, { segmentBytes: 400 })
    // Enough batches to roll several segments (snapshots at each roll), transactions across the rolls.
    let sequenceA = 0
    let sequenceB = 0
    for (let round = 0; round < 6; round++) {
      log.append(txnBatch(kA, sequenceA++, [`a${round}`]), -1)
      log.append(txnBatch(kB, sequenceB++, [`b${round}`]), -1)
      log.appendMarker(kA, 0, round % 2 === 0, 0) // A: commit, abort, commit, ...
    }
    log.append(txnBatch(kB, sequenceB++, ['b-last']), -1) // B stays open from its first batch
    const expectedEntries = log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset])
    assert.equal(expectedEntries.length, 3)
    const lso = log.lastStableOffset
    assert.equal(lso, 1, 'B opened at offset 1 and never ended')
    assert.ok(log.segmentCount > 2)
    // A crash: no close, no clean-shutdown marker.
    log.abortedTransactions.close()
    log = PartitionLog.open(directory, { segmentBytes: 400 })
    assert.equal(log.recovery.clean, false)
    assert.equal(log.lastStableOffset, lso)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), expectedEntries)
    log.close()

    // The index file lost, and the snapshots with it: a full replay finds every ABORT marker again.
    unlinkSync(join(directory, kAbortedTransactionsFile))
    for (const name of readdirSync(directory)) if (name.endsWith('.snapshot') || name === kCleanShutdownFile) unlinkSync(join(directory, name))
    log = PartitionLog.open(directory, { segmentBytes: 400 })
    assert.equal(log.lastStableOffset, lso)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), expectedEntries)
    log.close()
  }
})

test('index entries for markers the crash lost are dropped; a torn or damaged tail of the index is ignored', (t) => {
  const directory = temporaryDirectory(t)
  {
    let log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0']), -1) // 0
    log.appendMarker(kA, 0, false, 0) // 1
    log.close()
    // An entry for a marker at offset 50 the log never got (as if written before a crash lost the log tail),
    // then half an entry.
    const ghost = Buffer.alloc(34)
    ghost.writeBigInt64BE(BigInt(kB), 2)
    ghost.writeBigInt64BE(40n, 10)
    ghost.writeBigInt64BE(50n, 18)
    appendFileSync(join(directory, kAbortedTransactionsFile), Buffer.concat([ghost, Buffer.alloc(10)]))
    unlinkSync(join(directory, kCleanShutdownFile))
    log = PartitionLog.open(directory)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), [[kA, 0, 1]])
    log.close()
    // Garbage instead of the file: rebuilt from the log.
    writeFileSync(join(directory, kAbortedTransactionsFile), Buffer.alloc(100, 0xff))
    for (const name of readdirSync(directory)) if (name.endsWith('.snapshot')) unlinkSync(join(directory, name))
    log = PartitionLog.open(directory)
    assert.deepEqual(log.abortedTransactions.entries().map((e) => [e.producerId, e.firstOffset, e.lastOffset]), [[kA, 0, 1]])
    log.close()
  }
})

test('DeleteRecords drops index entries below the new log start; producers with open transactions are not evicted', (t) => {
  const directory = temporaryDirectory(t)
  {
    const log = PartitionLog.open(directory)
    log.append(txnBatch(kA, 0, ['a0']), -1) // 0
    log.appendMarker(kA, 0, false, 0) // 1
    log.append(txnBatch(kB, 0, ['b0']), -1) // 2, open
    log.append(plainBatch(['p']), -1) // 3
    log.deleteRecordsBefore(3)
    assert.equal(log.abortedTransactions.size, 0)
    assert.ok(log.producers.get(kB) !== undefined, 'B keeps its open transaction')
    assert.equal(log.producers.get(kA), undefined, 'A had nothing open: evicted')
    assert.equal(log.lastStableOffset, 3, 'B is open since 2, below the log start: the LSO is the log start')
    assert.equal(log.read(3, 1 << 20, true, kReadCommitted).records, null, 'nothing is stable until B ends')
    log.appendMarker(kB, 0, true, 0)
    assert.deepEqual(decodeBatches(log.read(3, 1 << 20, true, kReadCommitted).records).map((b) => b.baseOffset), [3, 4], 'p, then the marker')
    log.close()
  }
})

test('producer snapshots of version 1 (before transactions) still load, with no transaction open', () => {
  const table = new ProducerStateTable()
  table.update(kA, 0, 0, 0, 10, 10, 100, true)
  const v2 = table.serialize()
  // Version 1: the same producer without the 12 bytes of transaction fields, CRC recomputed.
  const v1 = Buffer.concat([v2.subarray(0, 10 + 19), v2.subarray(10 + 19 + 12)])
  v1.writeInt16BE(1, 0)
  v1.writeUInt32BE(crc32c(v1.subarray(6)), 2)
  const loaded = new ProducerStateTable()
  loaded.load(v1)
  assert.equal(loaded.get(kA)?.lastOffset, 10)
  assert.equal(loaded.firstUnstableOffset(), -1)
  const again = new ProducerStateTable()
  again.load(v2)
  assert.equal(again.firstUnstableOffset(), 10)
  assert.deepEqual([...again.ongoingTransactions()], [[kA, 10]])
})
