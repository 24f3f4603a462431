// Log retention (src/log/retention.ts and PartitionLog's deleteOldestSegment / rollIfOlderThan /
// removeDeletedFiles): by time and by size, whole segments, never the active one, the log start moving, and the
// `.deleted` files with their delay, across reopen and a crash.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { counterValue } from '../../src/counters.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { kLogStartOffsetFile, PartitionLog } from '../../src/log/partition-log.ts'
import {
  applyRetention, deleteOneExpiredSegment, kRetentionBySize, kRetentionByTime, kRetentionKept, retentionBreach,
  type RetentionConfig
} from '../../src/log/retention.ts'
import { buildBatch, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'

const kSmallSegments = { segmentBytes: 1024, indexIntervalBytes: 128 }
const kBaseTimestamp = 1_000_000

/** Batch `index` has timestamps from kBaseTimestamp + index * 1000 on. */
function appendTimed (log: PartitionLog, from: number, to: number): void {
  for (let index = from; index < to; index++) {
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: kBaseTimestamp + index * 1000 }), -1)
  }
}

/** A log in a fresh directory, in small segments, holding batches 0 .. batches - 1 of appendTimed. */
function openTimedLog (t: TestContext, batches: number): { directory: string, log: PartitionLog } {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  appendTimed(log, 0, batches)
  return { directory, log }
}

/**
 * openTimedLog, then retention by size with a file.delete.delay.ms of an hour deletes all it may (`all`) or one
 * segment, whose `.deleted` files wait; with the log's start and end offsets after it.
 */
function openWithPendingDeletion (t: TestContext, batches: number, all: boolean): { directory: string, log: PartitionLog, start: number, next: number } {
  const { directory, log } = openTimedLog(t, batches)
  const config = retention({ retentionBytes: 0, fileDeleteDelayMs: 3_600_000 })
  if (all) applyRetention(log, config, 0)
  else deleteOneExpiredSegment(log, config, 0)
  return { directory, log, start: log.logStartOffset, next: log.nextOffset }
}

function retention (overrides: Partial<RetentionConfig>): RetentionConfig {
  return { retentionMs: -1, retentionBytes: -1, fileDeleteDelayMs: 0, ...overrides }
}

function deletedFiles (directory: string): string[] {
  return readdirSync(directory).filter(name => name.endsWith('.deleted')).sort()
}

test('retention.ms deletes the sealed segments whose largest timestamp is older than now - retention.ms, oldest first', t => {
  const { directory, log } = openTimedLog(t, 40)
  const sealed = log.sealedSegments()
  assert.ok(sealed.length >= 3, `expected several sealed segments, got ${sealed.length}`)
  // Expire exactly the first two segments: their max timestamps are <= the cut, the third's is above it.
  const retentionMs = 10_000
  const nowMs = sealed[1].maxTimestamp + retentionMs + 1
  const segmentsBefore = counterValue('retention-segments-deleted')
  const bytesBefore = counterValue('retention-bytes-deleted')
  const sizeBefore = log.sizeBytes
  const result = applyRetention(log, retention({ retentionMs }), nowMs)
  assert.equal(result.segments, 2)
  assert.equal(result.bytes, sealed[0].size + sealed[1].size)
  assert.equal(log.sizeBytes, sizeBefore - result.bytes)
  assert.equal(log.logStartOffset, sealed[2].baseOffset)
  assert.equal(counterValue('retention-segments-deleted') - segmentsBefore, 2)
  assert.equal(counterValue('retention-bytes-deleted') - bytesBefore, result.bytes)
  assert.equal(readFileSync(join(directory, kLogStartOffsetFile), 'latin1'), `${sealed[2].baseOffset}\n`)
  assert.equal(retentionBreach(log, retention({ retentionMs }), nowMs), kRetentionKept)
  // At the boundary (now - largest == retention.ms) the segment stays, as in Kafka (strictly older only).
  assert.equal(retentionBreach(log, retention({ retentionMs }), log.sealedSegments()[0].maxTimestamp + retentionMs), kRetentionKept)

  // Below the log start: OFFSET_OUT_OF_RANGE; from it on the records are all there.
  assert.equal(log.read(0, 1 << 20, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(log.read(sealed[2].baseOffset - 1, 1 << 20, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  const rest = log.read(sealed[2].baseOffset, 1 << 20, true)
  assert.equal(rest.errorCode, ErrorCode.NONE)
  assert.equal(rest.logStartOffset, sealed[2].baseOffset)
  assert.equal(valuesOf(rest.records).length, log.nextOffset - sealed[2].baseOffset)
  log.close()
})

test('retention.ms never deletes the active segment, however old, until segment.ms rolls it', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { ...kSmallSegments, segmentMs: 60_000 })
  appendTimed(log, 0, 3)
  assert.equal(log.segmentCount, 1)
  const farFuture = Date.now() + 365 * 24 * 3600_000
  assert.deepEqual(applyRetention(log, retention({ retentionMs: 1 }), farFuture), { segments: 0, bytes: 0 })
  assert.equal(log.logStartOffset, 0)
  // Not old enough to roll yet; then (an hour later) it is: sealed, it expires, and the log is empty at its end.
  assert.equal(log.rollIfOlderThan(60_000, Date.now()), false)
  assert.equal(log.rollIfOlderThan(60_000, Date.now() + 3600_000), true)
  assert.equal(log.segmentCount, 2)
  assert.deepEqual(applyRetention(log, retention({ retentionMs: 1 }), farFuture).segments, 1)
  assert.equal(log.logStartOffset, 9)
  assert.equal(log.nextOffset, 9)
  assert.equal(log.sizeBytes, 0)
  // An empty active segment is never rolled; appends go on at the log end.
  assert.equal(log.rollIfOlderThan(0, farFuture), false)
  assert.equal(log.append(buildBatch({ values: ['after'] }), -1), 9)
  assert.deepEqual(valuesOf(log.read(9, 1 << 20, true).records), ['after'])
  log.close()
})

test('retention.bytes deletes the oldest segments while the partition stays at least retention.bytes without them', t => {
  const { log } = openTimedLog(t, 60)
  const sizeBefore = log.sizeBytes
  const retentionBytes = Math.floor(sizeBefore / 2)
  assert.equal(retentionBreach(log, retention({ retentionBytes }), 0), kRetentionBySize)
  const result = applyRetention(log, retention({ retentionBytes }), 0)
  assert.ok(result.segments >= 1)
  assert.ok(log.sizeBytes >= retentionBytes, `${log.sizeBytes} >= ${retentionBytes}`)
  // One more deletion would take it below: Kafka's rule (size - segment >= retention.bytes) stops here.
  assert.ok(log.sizeBytes - log.sealedSegments()[0].size < retentionBytes)
  assert.equal(log.logStartOffset, log.sealedSegments()[0].baseOffset)
  // -1 on both: nothing goes, however big or old.
  assert.equal(deleteOneExpiredSegment(log, retention({}), Number.MAX_SAFE_INTEGER), -1)
  // retention.bytes 0: every sealed segment goes, the active one stays.
  applyRetention(log, retention({ retentionBytes: 0 }), 0)
  assert.equal(log.segmentCount, 1)
  assert.ok(log.sizeBytes > 0)
  log.close()
})

test('either rule deletes: time reports first, then size', t => {
  const { log } = openTimedLog(t, 30)
  const oldest = log.sealedSegments()[0]
  assert.equal(retentionBreach(log, retention({ retentionMs: 0, retentionBytes: 0 }), oldest.maxTimestamp + 1), kRetentionByTime)
  assert.equal(retentionBreach(log, retention({ retentionMs: 1_000_000_000, retentionBytes: 0 }), oldest.maxTimestamp + 1), kRetentionBySize)
  log.close()
})

test('deleted segments are renamed .deleted and removed once file.delete.delay.ms has passed', t => {
  const { directory, log } = openTimedLog(t, 30)
  const oldest = log.sealedSegments()[0]
  const nowMs = 10_000_000
  assert.equal(deleteOneExpiredSegment(log, retention({ retentionBytes: 0, fileDeleteDelayMs: 60_000 }), nowMs), oldest.size)
  const name = '00000000000000000000'
  assert.deepEqual(deletedFiles(directory), [`${name}.index.deleted`, `${name}.log.deleted`, `${name}.timeindex.deleted`])
  assert.equal(existsSync(oldest.logPath), false)
  assert.equal(log.pendingDeletedFiles, 3)
  assert.equal(log.removeDeletedFiles(nowMs + 59_999), 0)
  assert.equal(deletedFiles(directory).length, 3)
  assert.equal(log.removeDeletedFiles(nowMs + 60_000), 3)
  assert.deepEqual(deletedFiles(directory), [])
  assert.equal(log.pendingDeletedFiles, 0)
  // A delay of 0 removes them at once.
  deleteOneExpiredSegment(log, retention({ retentionBytes: 0, fileDeleteDelayMs: 0 }), nowMs)
  assert.deepEqual(deletedFiles(directory), [])
  assert.equal(log.pendingDeletedFiles, 0)
  log.close()
})

test('.deleted files left by a close are removed when the log opens again, and the log start stays', t => {
  const { directory, log, start, next } = openWithPendingDeletion(t, 30, true)
  const values = valuesOf(log.read(start, 1 << 20, true).records)
  assert.ok(deletedFiles(directory).length > 0)
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.deepEqual(deletedFiles(directory), [])
  assert.equal(reopened.logStartOffset, start)
  assert.equal(reopened.nextOffset, next)
  assert.equal(reopened.read(start - 1, 1 << 20, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.deepEqual(valuesOf(reopened.read(start, 1 << 20, true).records), values)
  reopened.close()
})

test('a crash between the rename and the removal, or between the checkpoint and the rename, recovers the same log', t => {
  const { directory, log, start, next } = openWithPendingDeletion(t, 40, false)
  const second = log.sealedSegments()[0]
  assert.ok(deletedFiles(directory).length === 3)
  // Crash 1: no close (no clean-shutdown marker), the .deleted files still there.
  const afterCrash = PartitionLog.open(directory, kSmallSegments)
  assert.equal(afterCrash.recovery.clean, false)
  assert.deepEqual(deletedFiles(directory), [])
  assert.equal(afterCrash.logStartOffset, start)
  assert.equal(afterCrash.nextOffset, next)
  assert.equal(afterCrash.read(start, 1 << 20, true).errorCode, ErrorCode.NONE)
  // Crash 2: the checkpoint moved past the next segment, but its files were not renamed yet.
  writeFileSync(join(directory, kLogStartOffsetFile), `${second.nextOffset}\n`)
  const afterSecondCrash = PartitionLog.open(directory, kSmallSegments)
  assert.equal(afterSecondCrash.logStartOffset, second.nextOffset)
  assert.equal(existsSync(second.logPath), false)
  assert.equal(afterSecondCrash.read(second.nextOffset, 1 << 20, true).errorCode, ErrorCode.NONE)
  afterSecondCrash.close()
  log.close()
  afterCrash.close()
})

test('deleteOldestSegment evicts producer state below the new log start and refuses the active segment', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  log.append(buildBatch({ values: ['p'], producerId: 7, producerEpoch: 0, baseSequence: 0 }), -1)
  appendTimed(log, 1, 30)
  assert.ok(log.producers.get(7) !== undefined)
  deleteOneExpiredSegment(log, retention({ retentionBytes: 0 }), 0)
  assert.equal(log.producers.get(7), undefined)
  applyRetention(log, retention({ retentionBytes: 0 }), 0)
  assert.equal(log.segmentCount, 1)
  assert.throws(() => log.deleteOldestSegment(0))
  log.close()
})

test('updateSegmentConfig makes later rolls follow the new segment.bytes and segment.ms', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
  appendTimed(log, 0, 20)
  assert.equal(log.segmentCount, 1)
  // No segment.ms at first: never rolled by time.
  assert.equal(log.rollIfOlderThan(Number.MAX_SAFE_INTEGER, Date.now() + 1), false)
  log.updateSegmentConfig(1024, 1000)
  appendTimed(log, 20, 40)
  assert.ok(log.segmentCount > 1, `expected rolls at 1 KiB, got ${log.segmentCount} segment(s)`)
  assert.equal(log.rollIfOlderThan(1000, Date.now() + 1000), true)
  assert.throws(() => log.updateSegmentConfig(0, undefined), RangeError)
  log.close()
})

test('DeleteRecords renames the segments below the new log start .deleted and removes them after file.delete.delay.ms, as retention does', t => {
  const { directory, log } = openTimedLog(t, 60)
  const sealed = log.sealedSegments()
  assert.ok(sealed.length >= 4, `${sealed.length} sealed segments`)
  const nowMs = 10_000_000
  log.deleteRecordsBefore(sealed[2].baseOffset, 60_000, nowMs)
  assert.equal(log.logStartOffset, sealed[2].baseOffset)
  const name = (base: number): string => String(base).padStart(20, '0')
  assert.deepEqual(deletedFiles(directory), [sealed[0].baseOffset, sealed[1].baseOffset].flatMap(base =>
    [`${name(base)}.index.deleted`, `${name(base)}.log.deleted`, `${name(base)}.timeindex.deleted`]))
  assert.equal(existsSync(sealed[0].logPath), false)
  assert.equal(log.read(sealed[1].baseOffset, 1 << 20, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(log.removeDeletedFiles(nowMs + 59_999), 0)
  assert.equal(log.removeDeletedFiles(nowMs + 60_000), 6)
  assert.deepEqual(deletedFiles(directory), [])
  // The default delay (0) removes them at once.
  log.deleteRecordsBefore(sealed[3].baseOffset)
  assert.deepEqual(deletedFiles(directory), [])
  assert.equal(existsSync(sealed[2].logPath), false)
  assert.equal(log.pendingDeletedFiles, 0)
  log.close()
})

test('segment.jitter.ms rolls a segment up to that much before segment.ms (Kafka\'s random draw below min(jitter, segment.ms))', (t) => {
  const open = (random: number): PartitionLog => {
    const log = PartitionLog.open(join(temporaryDirectory(t), `jitter-${random}`), { segmentBytes: 1 << 20, indexIntervalBytes: 4096, segmentMs: 10_000, segmentJitterMs: 4000, jitterRandom: () => random })
    t.after(() => log.close())
    log.append(buildBatch({ values: ['a'] }), -1)
    return log
  }
  const now = Date.now()
  // The largest draw: 3999 ms of jitter, so the segment rolls once 6001 ms old.
  const early = open(0.99999)
  assert.equal(early.rollIfOlderThan(10_000, now + 5_000), false)
  assert.equal(early.rollIfOlderThan(10_000, now + 6_500), true)
  // No jitter drawn: it waits for segment.ms itself.
  const late = open(0)
  assert.equal(late.rollIfOlderThan(10_000, now + 9_000), false)
  assert.equal(late.rollIfOlderThan(10_000, now + 10_500), true)
})
