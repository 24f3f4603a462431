import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { kCleanShutdownFile, PartitionLog } from '../../src/log/partition-log.ts'
import {
  kSequenceDuplicate, kSequenceOk, lastSequenceOf, ProducerStateTable
} from '../../src/log/producer-state.ts'
import { buildBatch, temporaryDirectory } from './helpers.ts'

const kProducer = 1000

test('lastSequenceOf wraps at 2^31', () => {
  assert.equal(lastSequenceOf(0, 1), 0)
  assert.equal(lastSequenceOf(10, 5), 14)
  assert.equal(lastSequenceOf(0x7ffffffe, 2), 0x7fffffff)
  assert.equal(lastSequenceOf(0x7ffffffe, 3), 0)
  assert.equal(lastSequenceOf(0x7fffffff, 4), 2)
})

test('in-order batches pass, gaps and unknown producers with a non-zero sequence are out of order', () => {
  const table = new ProducerStateTable()
  assert.equal(table.check(kProducer, 0, 0, 4), kSequenceOk)
  assert.equal(table.check(kProducer, 0, 3, 4), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  table.update(kProducer, 0, 0, 4, 0, 4, 100)
  assert.equal(table.check(kProducer, 0, 5, 9), kSequenceOk)
  assert.equal(table.check(kProducer, 0, 6, 9), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(table.check(kProducer, 0, 10, 12), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  // An unknown producer must start at 0; once records were deleted its state may have been lost instead.
  assert.equal(table.check(2000, 0, 7, 7), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  table.stateMayBeIncomplete = true
  assert.equal(table.check(2000, 0, 7, 7), ErrorCode.UNKNOWN_PRODUCER_ID)
  // Non-idempotent batches (producer id -1) never reach the table: the log skips them.
})

test('a retry of any of the last 5 batches is a duplicate with the original offsets; the 6th-oldest is out of order', () => {
  const table = new ProducerStateTable()
  for (let batch = 0; batch < 8; batch++) {
    assert.equal(table.check(kProducer, 3, batch * 2, batch * 2 + 1), kSequenceOk)
    table.update(kProducer, 3, batch * 2, batch * 2 + 1, 100 + batch * 2, 101 + batch * 2, 0)
  }
  for (let batch = 3; batch < 8; batch++) {
    assert.equal(table.check(kProducer, 3, batch * 2, batch * 2 + 1), kSequenceDuplicate)
    assert.equal(table.duplicateBaseOffset, 100 + batch * 2)
    assert.equal(table.duplicateLastOffset, 101 + batch * 2)
  }
  assert.equal(table.check(kProducer, 3, 4, 5), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(table.check(kProducer, 3, 16, 16), kSequenceOk)
})

test('epochs: older is INVALID_PRODUCER_EPOCH, newer must restart sequences at 0', () => {
  const table = new ProducerStateTable()
  table.update(kProducer, 5, 0, 9, 0, 9, 0)
  assert.equal(table.check(kProducer, 4, 10, 10), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(table.check(kProducer, 6, 10, 10), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(table.check(kProducer, 6, 0, 0), kSequenceOk)
  table.update(kProducer, 6, 0, 0, 10, 10, 0)
  // The old epoch's batches are gone: its retry is fenced rather than a duplicate.
  assert.equal(table.check(kProducer, 5, 0, 9), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(table.check(kProducer, 6, 0, 0), kSequenceDuplicate)
  assert.equal(table.check(kProducer, 6, 1, 3), kSequenceOk)
})

test('sequences continue across the wrap from 2^31 - 1 to 0', () => {
  const table = new ProducerStateTable()
  table.update(kProducer, 0, 0x7ffffffd, 0x7fffffff, 0, 2, 0)
  assert.equal(table.check(kProducer, 0, 0, 1), kSequenceOk)
  assert.equal(table.check(kProducer, 0, 0x7ffffffd, 0x7fffffff), kSequenceDuplicate)
})

test('a snapshot round-trips the table, a corrupted one is rejected', () => {
  const table = new ProducerStateTable()
  for (let producer = 0; producer < 20; producer++) {
    for (let batch = 0; batch < producer % 8; batch++) table.update(producer, producer % 3, batch, batch, producer * 100 + batch, producer * 100 + batch, 1234 + batch)
  }
  const snapshot = table.serialize()
  const copy = new ProducerStateTable()
  copy.load(snapshot)
  assert.deepEqual(copy.serialize(), snapshot)
  assert.equal(copy.size, table.size)
  snapshot[snapshot.length - 1] ^= 1
  assert.throws(() => copy.load(snapshot))
  assert.equal(copy.size, 0)
})

function idempotentBatch (sequence: number, count: number, epoch = 0, producerId = kProducer): Buffer {
  return buildBatch({
    values: Array.from({ length: count }, (_, index) => `p${producerId}-s${sequence + index}`),
    producerId,
    producerEpoch: epoch,
    baseSequence: sequence
  })
}

/** Appends through the check -> append -> update flow; returns the base offset or the check's code. */
function produce (log: PartitionLog, batch: Buffer): { code: number, baseOffset: number } {
  const code = log.checkProducerState(batch)
  if (code === kSequenceDuplicate) return { code, baseOffset: log.producers.duplicateBaseOffset }
  if (code !== kSequenceOk) return { code, baseOffset: -1 }
  return { code, baseOffset: log.append(batch, -1) }
}

const kSmallSegments = { segmentBytes: 1024, indexIntervalBytes: 128 }

function fillLog (log: PartitionLog): Map<number, number> {
  const baseOffsets = new Map<number, number>()
  // Three producers interleaved, a non-idempotent one in between, an epoch bump halfway for producer 3.
  const sequences = [0, 0, 0]
  for (let round = 0; round < 30; round++) {
    for (let producer = 1; producer <= 3; producer++) {
      const epoch = producer === 3 && round >= 15 ? 1 : 0
      if (producer === 3 && round === 15) sequences[2] = 0
      const result = produce(log, idempotentBatch(sequences[producer - 1], 2, epoch, producer))
      assert.equal(result.code, kSequenceOk)
      if (producer === 1) baseOffsets.set(sequences[0], result.baseOffset)
      sequences[producer - 1] += 2
    }
    log.append(buildBatch({ values: ['plain'] }), -1)
  }
  return baseOffsets
}

function assertStateAfterFill (log: PartitionLog, baseOffsets: Map<number, number>): void {
  // Producer 1 sent sequences 0..59 in batches of 2: the last 5 are duplicates with their original offsets.
  for (let sequence = 50; sequence < 60; sequence += 2) {
    const result = produce(log, idempotentBatch(sequence, 2, 0, 1))
    assert.equal(result.code, kSequenceDuplicate)
    assert.equal(result.baseOffset, baseOffsets.get(sequence))
  }
  assert.equal(produce(log, idempotentBatch(48, 2, 0, 1)).code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(produce(log, idempotentBatch(62, 2, 0, 1)).code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal(produce(log, idempotentBatch(28, 2, 0, 3)).code, ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal(produce(log, idempotentBatch(28, 2, 1, 3)).code, kSequenceDuplicate)
  assert.equal(log.producers.get(3)!.epoch, 1)
  assert.equal(log.producers.get(2)!.lastSequence, 59)
}

test('the log applies the check -> append -> update flow and answers duplicates with original offsets', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  const baseOffsets = fillLog(log)
  assertStateAfterFill(log, baseOffsets)
  log.close()
})

test('producer state survives a clean reopen (from the close snapshot, no replay)', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  const baseOffsets = fillLog(log)
  const before = log.producers.serialize()
  const nextOffset = log.nextOffset
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.producerSnapshotOffset, nextOffset)
  assert.equal(reopened.recovery.batchesReplayed, 0)
  assert.deepEqual(reopened.producers.serialize(), before)
  assertStateAfterFill(reopened, baseOffsets)
  reopened.close()
})

test('producer state survives an unclean reopen: roll snapshot plus header replay matches the live table', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  const baseOffsets = fillLog(log)
  const before = log.producers.serialize()
  log.close()
  // Make it unclean: no marker, and the close snapshot gone, so the newest roll snapshot plus replay remain.
  unlinkSync(join(directory, kCleanShutdownFile))
  const snapshots = readdirSync(directory).filter(name => name.endsWith('.snapshot')).sort()
  assert.equal(snapshots.length, 2)
  unlinkSync(join(directory, snapshots[1]))
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.clean, false)
  assert.equal(reopened.recovery.producerSnapshotOffset, Number(snapshots[0].slice(0, 20)))
  assert.ok(reopened.recovery.batchesReplayed > 0)
  assert.deepEqual(reopened.producers.serialize(), before)
  assertStateAfterFill(reopened, baseOffsets)
  reopened.close()
})

test('producer state is rebuilt by replaying the whole log when there is no snapshot', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  const baseOffsets = fillLog(log)
  const before = log.producers.serialize()
  log.close()
  for (const name of readdirSync(directory)) if (name.endsWith('.snapshot')) unlinkSync(join(directory, name))
  unlinkSync(join(directory, kCleanShutdownFile))
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.producerSnapshotOffset, -1)
  assert.equal(reopened.recovery.batchesReplayed, 120)
  assert.deepEqual(reopened.producers.serialize(), before)
  assertStateAfterFill(reopened, baseOffsets)
  reopened.close()
})

test('snapshots beyond the recovered log end are deleted', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  fillLog(log)
  const nextOffset = log.nextOffset
  log.close()
  // Pretend the log lost its tail: a snapshot claims an offset the log does not reach.
  const future = join(directory, String(nextOffset + 50).padStart(20, '0') + '.snapshot')
  copyFileSync(join(directory, String(nextOffset).padStart(20, '0') + '.snapshot'), future)
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.producerSnapshotOffset, nextOffset)
  assert.ok(!readdirSync(directory).includes(future.slice(directory.length + 1)))
  reopened.close()
})

test('deleting records evicts producers whose batches are all gone; their non-zero sequences are UNKNOWN_PRODUCER_ID', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  assert.equal(produce(log, idempotentBatch(0, 3, 0, 7)).code, kSequenceOk)
  for (let index = 0; index < 10; index++) log.append(buildBatch({ values: ['x'] }), -1)
  log.deleteRecordsBefore(5)
  assert.equal(log.producers.get(7), undefined)
  assert.equal(produce(log, idempotentBatch(3, 1, 0, 7)).code, ErrorCode.UNKNOWN_PRODUCER_ID)
  assert.equal(produce(log, idempotentBatch(0, 1, 1, 7)).code, kSequenceOk)
  log.close()
})
