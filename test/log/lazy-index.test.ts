// Sealed segments' indexes are trusted at open (checked by their sizes and last entries only) and loaded on
// first use: an entry corrupted in the middle of such an index must be caught by the lookup that uses it, the
// indexes rebuilt from the log, and the right batch served.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { counterValue } from '../../src/counters.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { buildBatch, decodeBatches, fill, kSmallSegments, segmentFiles, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'

/** `batches` batches of three records; with `timed`, each batch 10 ms after the one before (else all alike). */

/**
 * Every batch read one at a time from its base offset, last first (so that no read continues where the one before
 * ended, which skips the index): the base offsets served must be exactly those asked for.
 */
function assertEveryBatchServed (log: PartitionLog): void {
  const bases = decodeBatches(log.read(0, 1 << 20, true).records).map((batch) => batch.baseOffset)
  assert.ok(bases.length > 1)
  for (const base of bases.reverse()) {
    const [batch] = decodeBatches(log.read(base, 1, true).records)
    assert.equal(batch?.baseOffset, base)
  }
}

test('a sealed segment index entry moved off its batch (still increasing, in range) is caught on first read and rebuilt', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 60)
  const [index] = segmentFiles(directory, '.index')
  const contents = readFileSync(index)
  assert.ok(contents.length >= 16, 'the first segment has at least two index entries')
  // Entry 0 now points 7 bytes into its batch: past checkSealed (which looks at the last entry only), and
  // still strictly below entry 1.
  contents.writeInt32BE(contents.readInt32BE(4) + 7, 4)
  writeFileSync(index, contents)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.clean, true)
  assert.equal(log.recovery.segmentsRebuilt, 0, 'not noticed at open: the lazy path')
  const rebuiltBefore = counterValue('segment-indexes-rebuilt')
  assertEveryBatchServed(log)
  assert.equal(counterValue('segment-indexes-rebuilt') - rebuiltBefore, 1)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  log.close()
  // The rebuilt index went back to its file: the next open serves it right without rebuilding.
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assertEveryBatchServed(reopened)
  reopened.close()
})

test('sealed segment indexes out of order in the middle are refused when loaded: rebuilt from the log, nothing truncated', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 60, true)
  const expected = PartitionLog.open(directory, kSmallSegments)
  const timestamps = [1_000_000, 1_000_001, 1_000_005, 1_000_050, 1_000_100, 1_000_301, 1_000_592]
  const answers = timestamps.map((timestamp) => expected.offsetForTimestamp(timestamp))
  expected.close()
  const [index] = segmentFiles(directory, '.index')
  const [timeIndex] = segmentFiles(directory, '.timeindex')
  const sizes = segmentFiles(directory, '.log').map((path) => readFileSync(path).length)
  const originals = [readFileSync(index), readFileSync(timeIndex)]
  // The first entry of each index given the second one's key (offset, timestamp): no longer strictly increasing,
  // while both files keep their size and last entry, which is all that open() looks at.
  for (const [path, entrySize, keySize] of [[index, 8, 4], [timeIndex, 12, 8]] as const) {
    const contents = readFileSync(path)
    assert.ok(contents.length >= 2 * entrySize, `${path} has at least two entries`)
    contents.copy(contents, 0, entrySize, entrySize + keySize)
    writeFileSync(path, contents)
  }
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.segmentsRebuilt, 0)
  assert.deepEqual(timestamps.map((timestamp) => log.offsetForTimestamp(timestamp)), answers)
  assertEveryBatchServed(log)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  assert.equal(log.nextOffset, nextOffset)
  assert.deepEqual(segmentFiles(directory, '.log').map((path) => readFileSync(path).length), sizes)
  // The rebuilt indexes were written back, entry for entry what the segment had before the damage.
  assert.deepEqual([readFileSync(index), readFileSync(timeIndex)], originals)
  log.close()
})

test('an active segment index entry moved off its batch after a clean shutdown is caught on first read and rebuilt', t => {
  const directory = temporaryDirectory(t)
  const config = { segmentBytes: 1 << 20, indexIntervalBytes: 128 } // one segment: the active one
  const log = PartitionLog.open(directory, config)
  for (let index = 0; index < 60; index++) log.append(buildBatch({ values: standardValues(index) }), -1)
  log.close()
  const [index] = segmentFiles(directory, '.index')
  const contents = readFileSync(index)
  assert.ok(contents.length >= 16, 'at least two entries')
  contents.writeInt32BE(contents.readInt32BE(4) + 5, 4)
  writeFileSync(index, contents)
  const reopened = PartitionLog.open(directory, config)
  assert.equal(reopened.recovery.segmentsRebuilt, 0)
  const rebuiltBefore = counterValue('segment-indexes-rebuilt')
  assertEveryBatchServed(reopened)
  assert.equal(counterValue('segment-indexes-rebuilt') - rebuiltBefore, 1)
  // Appends go on after the rebuild, and the close leaves the index a clean log of the same batches would have.
  reopened.append(buildBatch({ values: standardValues(60) }), -1)
  assertEveryBatchServed(reopened)
  reopened.close()
  const fresh = temporaryDirectory(t)
  const reference = PartitionLog.open(fresh, config)
  for (let index = 0; index < 61; index++) reference.append(buildBatch({ values: standardValues(index) }), -1)
  reference.close()
  assert.deepEqual(readFileSync(index), readFileSync(segmentFiles(fresh, '.index')[0]))
})
