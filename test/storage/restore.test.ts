// Restore of a partition from S3 data objects (src/storage/restore.ts, PartitionLog.appendRestored): a log filled
// with plain, idempotent, transactional (committed and aborted) and compressed batches is uploaded as flush
// objects into a MemoryObjectStore, then restored into an empty directory and compared batch for batch.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { counterValue } from '../../src/counters.ts'
import { kReadCommitted, PartitionLog } from '../../src/log/partition-log.ts'
import { kSequenceDuplicate } from '../../src/log/producer-state.ts'
import { readInt64, writeInt64 } from '../../src/protocol/int64.ts'
import { Compression, kAttributesOffset, kCrcOffset, kLastOffsetDeltaOffset, kMaxTimestampOffset, kTransactionalBit } from '../../src/protocol/record-batch-layout.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { dataObjectKey, encodeObject, type ObjectHeader } from '../../src/storage/object-format.ts'
import { buildRemoteState, partitionKey, type RemotePartitionIndex } from '../../src/storage/remote-index.ts'
import { restorePartition } from '../../src/storage/restore.ts'
import { buildBatch, kSmallSegments, standardValues, temporaryDirectory } from '../log/helpers.ts'

const kTopicId = 'a'.repeat(32)
const kIdempotent = 1000
const kTransactional = 4000
const kPrefix = 'cluster/'
const immediately = async (): Promise<void> => {}

/** Every batch of the log from its start, copied (batches() yields views of a chunk it reuses). */
function batchesOf (log: PartitionLog): Buffer[] {
  const batches: Buffer[] = []
  for (const batch of log.batches()) batches.push(Buffer.from(batch))
  return batches
}

function lastOffsetOf (batch: Buffer): number {
  return readInt64(batch, 0) + batch.readInt32BE(kLastOffsetDeltaOffset)
}

/**
 * The test's uploader: the log's batches, `perObject` at a time, each run one flush object with one range of
 * partition 0. Returns the partition's index as a start would build it.
 */
function upload (store: MemoryObjectStore, log: PartitionLog, perObject: number): RemotePartitionIndex {
  const batches = batchesOf(log)
  const headers = new Map<string, ObjectHeader>()
  for (let first = 0, seq = 0; first < batches.length; first += perObject, seq++) {
    const chunk = batches.slice(first, first + perObject)
    const last = chunk[chunk.length - 1]
    const range = {
      topicId: kTopicId,
      topic: 't',
      partition: 0,
      baseOffset: seq === 0 ? log.logStartOffset : readInt64(chunk[0], 0),
      endOffset: first + perObject >= batches.length ? log.nextOffset : lastOffsetOf(last) + 1,
      length: chunk.reduce((sum, batch) => sum + batch.length, 0),
      maxTimestamp: Math.max(...chunk.map(batch => readInt64(batch, kMaxTimestampOffset))),
      logStartOffset: log.logStartOffset
    }
    const key = dataObjectKey(kPrefix, 'flush', 1_700_000_000_000 + seq, '0123456789abcdef', 0, seq)
    const { chunks, header } = encodeObject({ kind: 'flush', instance: '0123456789abcdef', worker: 0, createdMs: 1_700_000_000_000 + seq }, [range], chunk)
    store.objects.set(key, { body: Buffer.concat(chunks), lastModifiedMs: Date.now() })
    headers.set(key, header)
  }
  const index = buildRemoteState(headers).partitions.get(partitionKey(kTopicId, 0))
  assert.ok(index !== undefined)
  return index
}

function idempotentBatch (sequence: number, values: string[]): Buffer {
  return buildBatch({ values, producerId: kIdempotent, producerEpoch: 0, baseSequence: sequence })
}

function transactionalBatch (sequence: number, values: string[]): Buffer {
  return buildBatch({ values, producerId: kTransactional, producerEpoch: 0, baseSequence: sequence, attributes: kTransactionalBit })
}

/** A log with every kind of batch, across several small segments; left open. */
function sourceLog (directory: string): { log: PartitionLog, lastIdempotent: Buffer } {
  const log = PartitionLog.open(directory, kSmallSegments)
  let sequence = 0
  let lastIdempotent: Buffer = Buffer.alloc(0)
  for (let index = 0; index < 12; index++) {
    log.append(buildBatch({ values: standardValues(index) }), -1)
    lastIdempotent = idempotentBatch(sequence, [`i${index}-a`, `i${index}-b`])
    sequence += 2
    log.append(Buffer.from(lastIdempotent), -1)
  }
  log.append(transactionalBatch(0, ['aborted-0', 'aborted-1']), -1)
  log.appendMarker(kTransactional, 0, false, 3)
  log.append(transactionalBatch(2, ['committed']), -1)
  log.appendMarker(kTransactional, 0, true, 3)
  const records = Array.from({ length: 20 }, (_, index) => ({ key: null, value: Buffer.from(`zipped-${index}`), timestamp: 2_000_000 + index }))
  log.append(buildRecordBatch(records, { compression: Compression.gzip }), -1)
  log.append(transactionalBatch(3, ['aborted-2']), -1)
  log.appendMarker(kTransactional, 0, false, 3)
  lastIdempotent = idempotentBatch(sequence, ['last'])
  log.append(Buffer.from(lastIdempotent), -1)
  log.append(buildBatch({ values: ['tail'] }), 5_000_000) // LogAppendTime
  return { log, lastIdempotent }
}

function assertSameLog (restored: PartitionLog, source: PartitionLog): void {
  assert.equal(restored.nextOffset, source.nextOffset)
  assert.equal(restored.logStartOffset, source.logStartOffset)
  assert.equal(restored.lastStableOffset, source.lastStableOffset)
  const expected = batchesOf(source)
  const actual = batchesOf(restored)
  assert.equal(actual.length, expected.length)
  for (let index = 0; index < expected.length; index++) assert.ok(actual[index].equals(expected[index]), `batch ${index} differs`)
  const committed = (log: PartitionLog): unknown => log.read(log.logStartOffset, 1 << 20, true, kReadCommitted).abortedTransactions
  assert.deepEqual(committed(restored), committed(source))
}

test('restores every batch byte for byte, with producer state, aborted transactions and epochs; a reopen is clean', async (t) => {
  const store = new MemoryObjectStore()
  const { log: source, lastIdempotent } = sourceLog(temporaryDirectory(t))
  const index = upload(store, source, 5)
  assert.ok(store.objects.size >= 3)
  const directory = temporaryDirectory(t)
  const restored = PartitionLog.open(directory, kSmallSegments)
  const result = await restorePartition(restored, index, store, { sleep: immediately })
  assert.equal(result.corrupt, false)
  assert.equal(result.batches, batchesOf(source).length)
  assertSameLog(restored, source)
  assert.ok(restored.segmentCount > 1, 'small segments rolled')
  assert.equal(restored.checkProducerState(lastIdempotent), kSequenceDuplicate, 'a retried last batch is still a duplicate')
  const aborted = restored.read(0, 1 << 20, true, kReadCommitted).abortedTransactions
  assert.equal(aborted?.length, 2)
  assert.deepEqual(restored.leaderEpochs.entries, source.leaderEpochs.entries)
  restored.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  t.after(() => reopened.close())
  assert.equal(reopened.recovery.clean, true)
  assert.equal(reopened.recovery.bytesTruncated, 0)
  assertSameLog(reopened, source)
  assert.equal(reopened.checkProducerState(lastIdempotent), kSequenceDuplicate)
  source.close()
})

/** A batch of `values` whose offsets start at `baseOffset` (as a compacted log holds it). */
function batchAt (baseOffset: number, values: string[], lastOffsetDelta = values.length - 1): Buffer {
  const batch = buildBatch({ values })
  writeInt64(batch, 0, baseOffset)
  batch.writeInt32BE(0, 12)
  batch.writeInt32BE(lastOffsetDelta, kLastOffsetDeltaOffset)
  batch.writeUInt32BE(crc32c(batch.subarray(kAttributesOffset)), kCrcOffset)
  return batch
}

test('restores a log with offset gaps and a non-zero log start into an empty log', async (t) => {
  const store = new MemoryObjectStore()
  const source = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => source.close())
  // Offsets as compaction leaves them: the first batch at 100, holes between batches, one batch spanning more
  // offsets than it has records.
  let offset = 100
  for (let index = 0; index < 30; index++) {
    source.appendRestored(batchAt(offset, standardValues(index, 2), index % 3 === 0 ? 4 : 1))
    offset += 7
  }
  source.deleteRecordsBefore(130)
  assert.equal(source.logStartOffset, 130)
  const index = upload(store, source, 4)
  assert.equal(index.logStartOffset, 130)
  const directory = temporaryDirectory(t)
  const restored = PartitionLog.open(directory, kSmallSegments)
  const result = await restorePartition(restored, index, store, { sleep: immediately })
  assert.equal(result.corrupt, false)
  assertSameLog(restored, source)
  assert.equal(restored.read(120, 1000, true).errorCode, 1, 'below the restored log start: OFFSET_OUT_OF_RANGE')
  restored.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  t.after(() => reopened.close())
  assert.equal(reopened.recovery.clean, true)
  assertSameLog(reopened, source)
})

test('a log start above everything S3 holds leaves an empty log starting there', async (t) => {
  const store = new MemoryObjectStore()
  const source = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => source.close())
  for (let index = 0; index < 5; index++) source.append(buildBatch({ values: standardValues(index) }), -1)
  const index = upload(store, source, 2)
  index.advanceStart(40)
  const restored = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => restored.close())
  await restorePartition(restored, index, store, { sleep: immediately })
  assert.equal(restored.logStartOffset, 40)
  assert.equal(restored.nextOffset, 40)
  assert.equal(restored.append(buildBatch({ values: ['next'] }), -1), 40)
  // The same onto a log that holds a prefix: its segments go, and it continues at the start.
  const withPrefix = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => withPrefix.close())
  for (const batch of batchesOf(source).slice(0, 2)) withPrefix.appendRestored(Buffer.from(batch))
  const prefixIndex = upload(new MemoryObjectStore(), source, 2)
  prefixIndex.advanceStart(40)
  await restorePartition(withPrefix, prefixIndex, store, { sleep: immediately })
  assert.equal(withPrefix.logStartOffset, 40)
  assert.equal(withPrefix.nextOffset, 40)
  assert.equal(withPrefix.segmentCount, 1)
  assert.equal(withPrefix.append(buildBatch({ values: ['next'] }), -1), 40)
})

test('a restore onto a log that holds a prefix downloads only the ranges past its end', async (t) => {
  const store = new MemoryObjectStore()
  const source = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => source.close())
  for (let index = 0; index < 20; index++) source.append(buildBatch({ values: standardValues(index) }), -1)
  const index = upload(store, source, 4) // 5 objects of 4 batches (12 offsets) each
  const restored = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => restored.close())
  const batches = batchesOf(source)
  for (let at = 0; at < 10; at++) restored.appendRestored(Buffer.from(batches[at])) // up to offset 30: inside the third object
  store.requests.get = 0
  const result = await restorePartition(restored, index, store, { sleep: immediately })
  assert.equal(store.requests.get, 3, 'the third, fourth and fifth objects')
  assert.equal(result.batches, 10)
  assertSameLog(restored, source)
})

test('retriable store failures are retried', async (t) => {
  const store = new MemoryObjectStore()
  const source = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => source.close())
  for (let index = 0; index < 6; index++) source.append(buildBatch({ values: standardValues(index) }), -1)
  const index = upload(store, source, 2)
  const restored = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => restored.close())
  store.failNext = 4
  await restorePartition(restored, index, store, { sleep: immediately })
  assertSameLog(restored, source)
  store.down = true
  const other = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => other.close())
  await assert.rejects(restorePartition(other, index, store, { sleep: immediately, attempts: 3 }), { name: 'ObjectStoreError' })
})

test('a corrupt batch stops the restore before it: nothing from it on is appended', async (t) => {
  const store = new MemoryObjectStore()
  const source = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => source.close())
  for (let index = 0; index < 12; index++) source.append(buildBatch({ values: standardValues(index) }), -1)
  const index = upload(store, source, 4)
  // Flip a byte in the records of the second batch of the second object (offsets 15-17).
  const range = index.ranges[1]
  const body = store.objects.get(range.key)!.body
  const secondBatch = range.position + batchesOf(source)[4].length
  body[secondBatch + 70] ^= 0xff
  const before = counterValue('s3-restore-corrupt')
  const restored = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  t.after(() => restored.close())
  const result = await restorePartition(restored, index, store, { sleep: immediately })
  assert.equal(result.corrupt, true)
  assert.equal(restored.nextOffset, 15)
  assert.equal(result.batches, 5)
  assert.equal(counterValue('s3-restore-corrupt'), before + 1)
})
