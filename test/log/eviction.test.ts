// Eviction of local segments already in S3 (PartitionLog.evictOldestSegment, src/storage/tiered-retention.ts):
// the log start stays, localStartOffset moves, reads below it answer OFFSET_MOVED_TO_TIERED_STORAGE, DeleteRecords
// and retention act on the evicted part through S3's index, and a reopened log keeps its start below its first
// local segment.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { kLocalStartOffsetFile, offsetForTimestampIn, PartitionLog } from '../../src/log/partition-log.ts'
import {
  deleteOneExpiredEvictedRange, evictOneSegment, kEvictedPartKept, kNoEvictedPart, tieredSizeBytes
} from '../../src/storage/tiered-retention.ts'
import { RemoteReader } from '../../src/storage/remote-reader.ts'
import { buildBatch, kSmallSegments, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'
import { TestTier } from '../storage/test-tier.ts'

const kTopicId = 'AAAAAAAAAAAAAAAAAAAAAA'
const kBaseTimestamp = 1_000_000
const kNoRetention = { retentionMs: -1, retentionBytes: -1, fileDeleteDelayMs: 0 }

/** A log in small segments with `batches` batches (batch i at kBaseTimestamp + i * 1000), all uploaded. */
function uploadedLog (t: TestContext, batches: number): { directory: string, log: PartitionLog, tier: TestTier } {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  const tier = new TestTier()
  for (let index = 0; index < batches; index++) {
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: kBaseTimestamp + index * 1000 }), -1)
    if (index % 4 === 3) tier.upload(log, kTopicId, 0)
  }
  tier.upload(log, kTopicId, 0)
  return { directory, log, tier }
}

test('evicting keeps the log start, moves the local start, and sends reads below it to S3', (t) => {
  const { directory, log } = uploadedLog(t, 30)
  t.after(() => log.close())
  assert.ok(log.segmentCount >= 3)
  const size = log.sizeBytes
  const firstSealed = log.oldestSealedSegment()!
  const evicted = log.evictOldestSegment()
  assert.equal(evicted, firstSealed.size)
  assert.equal(log.sizeBytes, size - evicted)
  assert.equal(log.logStartOffset, 0)
  assert.equal(log.localStartOffset, firstSealed.nextOffset)
  assert.ok(existsSync(join(directory, kLocalStartOffsetFile)))
  assert.ok(!existsSync(firstSealed.logPath))
  assert.equal(log.read(0, 1 << 20, true).errorCode, ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE)
  assert.equal(log.read(firstSealed.nextOffset - 1, 1 << 20, true).errorCode, ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE)
  const local = log.read(firstSealed.nextOffset, 1 << 20, true)
  assert.equal(local.errorCode, ErrorCode.NONE)
  assert.equal(local.logStartOffset, 0)
  assert.ok(local.records !== null)
  // The local part's timestamps only: the evicted part is the caller's (S3).
  assert.ok((log.offsetForTimestamp(0)?.offset ?? -1) >= firstSealed.nextOffset)
})

test('a reopened log keeps its start below the first local segment, after a clean close and after a crash', (t) => {
  const { directory, log } = uploadedLog(t, 30)
  log.evictOldestSegment()
  log.evictOldestSegment()
  const localStart = log.localStartOffset
  const next = log.nextOffset
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.logStartOffset, 0)
  assert.equal(reopened.localStartOffset, localStart)
  assert.equal(reopened.nextOffset, next)
  assert.equal(reopened.read(1, 100, true).errorCode, ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE)
  reopened.append(buildBatch({ values: ['after'] }), -1)
  // No close: the next open recovers as after a crash.
  const crashed = PartitionLog.open(directory, kSmallSegments)
  t.after(() => crashed.close())
  assert.equal(crashed.logStartOffset, 0)
  assert.equal(crashed.localStartOffset, localStart)
  assert.equal(crashed.nextOffset, next + 1)
  assert.ok(crashed.producers.stateMayBeIncomplete)
})

test('DeleteRecords into the evicted part moves the log start and keeps every local segment, across reopen', (t) => {
  const { directory, log, tier } = uploadedLog(t, 30)
  log.evictOldestSegment()
  log.evictOldestSegment()
  const localStart = log.localStartOffset
  const segments = log.segmentCount
  log.deleteRecordsBefore(5)
  tier.advanceStart(kTopicId, 0, log.logStartOffset)
  assert.equal(log.logStartOffset, 5)
  assert.equal(log.localStartOffset, localStart)
  assert.equal(log.segmentCount, segments)
  assert.equal(log.read(4, 100, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(log.read(5, 100, true).errorCode, ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE)
  assert.equal(tier.index(kTopicId, 0)!.logStartOffset, 5)
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  t.after(() => reopened.close())
  assert.equal(reopened.logStartOffset, 5)
  assert.equal(reopened.localStartOffset, localStart)
  // Past the local start: segments go as before, and the evicted part with them.
  reopened.deleteRecordsBefore(localStart + 1)
  assert.equal(reopened.logStartOffset, localStart + 1)
  assert.equal(reopened.localStartOffset, localStart + 1)
})

test('evicts only segments wholly in S3, while over local.retention.bytes or older than local.retention.ms', (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  t.after(() => log.close())
  const tier = new TestTier()
  for (let index = 0; index < 30; index++) log.append(buildBatch({ values: standardValues(index), baseTimestamp: kBaseTimestamp + index * 1000 }), -1)
  const bySize = { localRetentionMs: -1, localRetentionBytes: 0 }
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, bySize, Date.now()), -1, 'nothing in S3 yet')
  const first = log.oldestSealedSegment()!
  tier.upload(log, kTopicId, 0, first.nextOffset)
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, bySize, Date.now()), first.size)
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, bySize, Date.now()), -1, 'the next one is not in S3')
  tier.upload(log, kTopicId, 0)
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, { localRetentionMs: -1, localRetentionBytes: -1 }, Date.now()), -1, 'no limit')
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, { localRetentionMs: -1, localRetentionBytes: log.sizeBytes }, Date.now()), -1, 'within the bytes')
  const oldest = log.oldestSealedSegment()!
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, { localRetentionMs: 10_000, localRetentionBytes: -1 }, oldest.maxTimestamp + 10_000), -1, 'not old enough')
  assert.equal(evictOneSegment(log, tier, kTopicId, 0, { localRetentionMs: 10_000, localRetentionBytes: -1 }, oldest.maxTimestamp + 10_001), oldest.size)
  while (evictOneSegment(log, tier, kTopicId, 0, bySize, Date.now()) >= 0);
  assert.equal(log.segmentCount, 1, 'the active segment stays')
  assert.equal(log.logStartOffset, 0)
})

test('retention deletes the evicted part range by range (time, then size counting S3 bytes), telling S3', (t) => {
  const { log, tier } = uploadedLog(t, 30)
  t.after(() => log.close())
  while (evictOneSegment(log, tier, kTopicId, 0, { localRetentionMs: -1, localRetentionBytes: 0 }, Date.now()) >= 0);
  const index = tier.index(kTopicId, 0)!
  const first = index.ranges[0]
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, kNoRetention, Date.now()), kEvictedPartKept)
  const byTime = { ...kNoRetention, retentionMs: 1000 }
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, byTime, first.maxTimestamp + 1000), kEvictedPartKept)
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, byTime, first.maxTimestamp + 1001), first.length)
  assert.equal(log.logStartOffset, first.endOffset)
  assert.deepEqual(tier.advanced.at(-1), { topicId: kTopicId, partition: 0, offset: first.endOffset })
  assert.equal(index.ranges[0].baseOffset, first.endOffset, 'S3 forgot the range')
  const total = tieredSizeBytes(log, tier, kTopicId, 0)
  assert.ok(total > log.sizeBytes)
  const second = index.ranges[0]
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, { ...kNoRetention, retentionBytes: total - second.length + 1 }, Date.now()), kEvictedPartKept)
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, { ...kNoRetention, retentionBytes: total - second.length }, Date.now()), second.length)
  while (deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, { ...kNoRetention, retentionBytes: 0 }, Date.now()) >= 0);
  assert.equal(log.logStartOffset, log.localStartOffset, 'the evicted part is gone, no local segment with it')
  assert.equal(deleteOneExpiredEvictedRange(log, tier, kTopicId, 0, { ...kNoRetention, retentionBytes: 0 }, Date.now()), kNoEvictedPart)
})

test('local retention past an evicted part moves the start above it', (t) => {
  const { log, tier } = uploadedLog(t, 30)
  t.after(() => log.close())
  log.evictOldestSegment()
  const localStart = log.localStartOffset
  log.deleteOldestSegment(0)
  assert.ok(log.logStartOffset > localStart)
  assert.equal(log.localStartOffset, log.logStartOffset)
  assert.equal(log.read(log.logStartOffset, 100, true).errorCode, ErrorCode.NONE)
  assert.equal(tieredSizeBytes(log, tier, kTopicId, 0), log.sizeBytes)
})

test('ListOffsets by timestamp over evicted batches read back from S3', async (t) => {
  const { log, tier } = uploadedLog(t, 30)
  t.after(() => log.close())
  const expected = log.offsetForTimestamp(kBaseTimestamp + 2001)!
  log.evictOldestSegment()
  const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 0 })
  const range = tier.index(kTopicId, 0)!.ranges[0]
  const bytes = await reader.read(kTopicId, 0, range.baseOffset, 1 << 20, true)
  assert.deepEqual(offsetForTimestampIn(bytes!, kBaseTimestamp + 2001, log.logStartOffset), expected)
  assert.equal(offsetForTimestampIn(bytes!, kBaseTimestamp + 1e9, 0), null)
  assert.deepEqual(valuesOf(bytes!.subarray(0, bytes!.readInt32BE(8) + 12)), standardValues(0))
})
