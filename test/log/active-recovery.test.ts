// After an unclean shutdown the last segment is recovered in full (every batch validated, indexes rebuilt in
// memory) but its index files are not replaced: they keep the prefix that agrees with the rebuilt indexes, and the
// rest is appended when the segment is sealed or closed (segment.ts, rebuildActive).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kCrcOffset } from '../../src/protocol/record-batch-layout.ts'
import { kCleanShutdownFile, PartitionLog } from '../../src/log/partition-log.ts'
import { buildBatch, decodeBatches, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'

// One segment for everything: the active one is the one recovered.
const kConfig = { segmentBytes: 1 << 20, indexIntervalBytes: 128 }

function append (log: PartitionLog, from: number, batches: number): void {
  for (let index = from; index < from + batches; index++) {
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: 1_000_000 + index * 10 }), -1)
  }
}

function onlyFile (directory: string, suffix: string): string {
  const [name] = readdirSync(directory).filter((entry) => entry.endsWith(suffix))
  return join(directory, name)
}

/** What a log written in one go and closed cleanly holds in its index files. */
function indexesOfCleanLog (t: import('node:test').TestContext, batches: number): { index: Buffer, timeIndex: Buffer } {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kConfig)
  append(log, 0, batches)
  log.close()
  return { index: readFileSync(onlyFile(directory, '.index')), timeIndex: readFileSync(onlyFile(directory, '.timeindex')) }
}

function assertEveryBatchServed (log: PartitionLog): void {
  const bases = decodeBatches(log.read(0, 1 << 20, true).records).map((batch) => batch.baseOffset)
  for (const base of bases.reverse()) assert.equal(decodeBatches(log.read(base, 1, true).records)[0]?.baseOffset, base)
}

test('kill -9 after a clean start: the index files persisted at the clean close are kept, not rewritten, and completed at close', t => {
  const directory = temporaryDirectory(t)
  const first = PartitionLog.open(directory, kConfig)
  append(first, 0, 30)
  first.close()
  const indexPath = onlyFile(directory, '.index')
  const timeIndexPath = onlyFile(directory, '.timeindex')
  const persisted = readFileSync(indexPath)
  assert.ok(persisted.length >= 16)
  const inodes = [statSync(indexPath).ino, statSync(timeIndexPath).ino]
  // A clean start, more batches, then the process dies (no close).
  const second = PartitionLog.open(directory, kConfig)
  append(second, 30, 30)
  const values = valuesOf(second.read(0, 1 << 20, true).records)
  const nextOffset = second.nextOffset
  const recovered = PartitionLog.open(directory, kConfig)
  assert.equal(recovered.recovery.clean, false)
  assert.equal(recovered.recovery.segmentsRebuilt, 1)
  assert.equal(recovered.nextOffset, nextOffset)
  assert.deepEqual([statSync(indexPath).ino, statSync(timeIndexPath).ino], inodes, 'not replaced by a rename')
  assert.deepEqual(readFileSync(indexPath), persisted, 'the agreeing prefix kept as it was')
  assertEveryBatchServed(recovered)
  assert.deepEqual(valuesOf(recovered.read(0, 1 << 20, true).records), values)
  recovered.close()
  // Closed: the files hold every entry, as a log written in one go and closed would.
  const expected = indexesOfCleanLog(t, 60)
  assert.deepEqual(readFileSync(indexPath), expected.index)
  assert.deepEqual(readFileSync(timeIndexPath), expected.timeIndex)
  const reopened = PartitionLog.open(directory, kConfig)
  assert.equal(reopened.recovery.clean, true)
  assert.equal(reopened.recovery.segmentsRebuilt, 0)
  assertEveryBatchServed(reopened)
  reopened.close()
})

test('a recovery that truncates the last segment below its persisted index entries cuts them from the files', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kConfig)
  append(log, 0, 60)
  log.close()
  const logPath = onlyFile(directory, '.log')
  const indexPath = onlyFile(directory, '.index')
  const before = readFileSync(indexPath)
  // The CRC of the batch at the middle index entry flipped, and the marker gone: recovery truncates there.
  const entry = Math.floor(before.length / 8 / 2)
  const position = before.readInt32BE(entry * 8 + 4)
  const data = readFileSync(logPath)
  data[position + kCrcOffset] ^= 0xff
  writeFileSync(logPath, data)
  unlinkSync(join(directory, kCleanShutdownFile))
  const recovered = PartitionLog.open(directory, kConfig)
  assert.equal(recovered.recovery.bytesTruncated, data.length - position)
  assert.equal(readFileSync(indexPath).length, entry * 8, 'the entries at and past the cut are gone from the file')
  assertEveryBatchServed(recovered)
  const nextOffset = recovered.nextOffset
  recovered.close()
  const reopened = PartitionLog.open(directory, kConfig)
  assert.equal(reopened.recovery.clean, true)
  assert.equal(reopened.recovery.segmentsRebuilt, 0)
  assert.equal(reopened.nextOffset, nextOffset)
  assertEveryBatchServed(reopened)
  reopened.close()
})

test('a crash before the first clean close (index files empty) recovers every batch and persists the indexes at close', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kConfig)
  append(log, 0, 60)
  const nextOffset = log.nextOffset
  assert.equal(readFileSync(onlyFile(directory, '.index')).length, 0)
  const recovered = PartitionLog.open(directory, kConfig)
  assert.equal(recovered.recovery.segmentsRebuilt, 1)
  assert.equal(recovered.nextOffset, nextOffset)
  assertEveryBatchServed(recovered)
  recovered.close()
  assert.deepEqual(readFileSync(onlyFile(directory, '.index')), indexesOfCleanLog(t, 60).index)
})
