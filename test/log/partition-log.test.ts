import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { counterValue } from '../../src/counters.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { kTimestampTypeBit } from '../../src/protocol/record-batch-layout.ts'
import { kCleanShutdownFile, kLogStartOffsetFile, PartitionLog } from '../../src/log/partition-log.ts'
import type { FsyncFunction, SegmentInfo } from '../../src/log/partition-log.ts'
import { buildBatch, decodeBatches, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'

const kSmallSegments = { segmentBytes: 1024, indexIntervalBytes: 128 }

function appendStandard (log: PartitionLog, batches: number, recordsPerBatch = 3): void {
  for (let index = 0; index < batches; index++) {
    log.append(buildBatch({ values: standardValues(index, recordsPerBatch), baseTimestamp: 1_000_000 + index * 10 }), -1)
  }
}

test('append assigns contiguous offsets and a read returns every batch across segment rolls', t => {
  const directory = temporaryDirectory(t)
  const sealed: SegmentInfo[] = []
  const log = PartitionLog.open(directory, { ...kSmallSegments, onSegmentSealed: info => sealed.push(info) })
  for (let index = 0; index < 60; index++) {
    const baseOffset = log.append(buildBatch({ values: standardValues(index) }), -1)
    assert.equal(baseOffset, index * 3)
  }
  assert.equal(log.nextOffset, 180)
  assert.equal(log.logStartOffset, 0)
  assert.equal(log.lastStableOffset, 180)
  assert.ok(log.segmentCount > 5, `expected several segments, got ${log.segmentCount}`)
  assert.deepEqual(sealed.map(info => info.baseOffset), log.sealedSegments().map(info => info.baseOffset))
  for (let index = 1; index < sealed.length; index++) assert.equal(sealed[index].baseOffset, sealed[index - 1].nextOffset)

  const result = log.read(0, 1 << 20, true)
  assert.equal(result.errorCode, ErrorCode.NONE)
  assert.equal(result.highWatermark, 180)
  const batches = decodeBatches(result.records)
  assert.equal(batches.length, 60)
  assert.deepEqual(batches.map(batch => batch.baseOffset), Array.from({ length: 60 }, (_, index) => index * 3))
  assert.ok(batches.every(batch => batch.crcValid))
  assert.deepEqual(valuesOf(result.records), Array.from({ length: 60 }, (_, index) => standardValues(index)).flat())

  // Sequential fetches (each from where the previous ended) see everything exactly once.
  const fetched: string[] = []
  let offset = 0
  while (offset < log.nextOffset) {
    const page = log.read(offset, 300, true)
    const pageBatches = decodeBatches(page.records)
    assert.ok(pageBatches.length > 0)
    fetched.push(...valuesOf(page.records))
    offset = pageBatches[pageBatches.length - 1].lastOffset + 1
  }
  assert.deepEqual(fetched, valuesOf(result.records))
  log.close()

  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.clean, true)
  assert.equal(reopened.recovery.segmentsRebuilt, 0)
  assert.equal(reopened.nextOffset, 180)
  assert.deepEqual(valuesOf(reopened.read(0, 1 << 20, true).records), valuesOf(result.records))
  assert.equal(reopened.append(buildBatch({ values: ['after'] }), -1), 180)
  reopened.close()
})

test('a read from the middle of a batch returns that whole batch', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  appendStandard(log, 40)
  for (const fetchOffset of [1, 2, 61, 100, 119]) {
    const batches = decodeBatches(log.read(fetchOffset, 1, true).records)
    assert.equal(batches.length, 1)
    assert.equal(batches[0].baseOffset, fetchOffset - (fetchOffset % 3))
  }
  log.close()
})

test('batches() yields every batch once, in order, across chunks and segments, from the batch holding fromOffset', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  appendStandard(log, 40)
  const baseOffsets = (from?: number, chunkBytes?: number): number[] =>
    [...log.batches(from, chunkBytes)].map((batch) => Number(batch.readBigInt64BE(0)))
  const all = Array.from({ length: 40 }, (_, index) => index * 3)
  assert.deepEqual(baseOffsets(), all)
  // Chunks smaller than a batch still make progress, one whole batch each.
  assert.deepEqual(baseOffsets(0, 1), all)
  assert.deepEqual(baseOffsets(61, 200), all.filter((offset) => offset >= 60))
  assert.deepEqual(baseOffsets(log.nextOffset), [])
  log.close()
})

test('maxBytes bounds a read to whole batches, the first batch always comes with minOneBatch', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  appendStandard(log, 10)
  const batchSize = log.read(0, 1 << 20, true).records!.length / 10
  assert.equal(decodeBatches(log.read(0, batchSize * 3, true).records).length, 3)
  assert.equal(decodeBatches(log.read(0, batchSize * 3 + batchSize - 1, true).records).length, 3)
  assert.equal(log.read(0, batchSize * 3 - 1, true).records!.length, batchSize * 2)
  // First batch larger than maxBytes: whole with minOneBatch (KIP-74), nothing without.
  for (const maxBytes of [0, 5, 12, 40, batchSize - 1]) {
    const batches = decodeBatches(log.read(3, maxBytes, true).records)
    assert.equal(batches.length, 1, `maxBytes ${maxBytes}`)
    assert.equal(batches[0].baseOffset, 3)
    assert.equal(log.read(3, maxBytes, false).records, null)
  }
  log.close()
})

test('a fetch outside [logStartOffset, nextOffset] is OFFSET_OUT_OF_RANGE, at nextOffset it is empty', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  assert.equal(log.read(0, 100, true).records, null)
  assert.equal(log.read(1, 100, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  appendStandard(log, 4)
  const atEnd = log.read(12, 100, true)
  assert.equal(atEnd.errorCode, ErrorCode.NONE)
  assert.equal(atEnd.records, null)
  assert.equal(atEnd.highWatermark, 12)
  const beyond = log.read(13, 100, true)
  assert.equal(beyond.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(beyond.highWatermark, 12)
  assert.equal(log.read(-1, 100, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  log.deleteRecordsBefore(4)
  assert.equal(log.read(3, 100, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(decodeBatches(log.read(4, 100, true).records)[0].baseOffset, 3)
  log.close()
})

test('offsetForTimestamp finds the earliest record at or after a timestamp', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  // Batch i: records at 1_000_000 + 100 i + {0, 10, 20}; offsets 3i, 3i+1, 3i+2.
  for (let index = 0; index < 50; index++) {
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: 1_000_000 + index * 100, timestampDeltas: [0, 10, 20] }), -1)
  }
  assert.ok(log.segmentCount > 3)
  assert.deepEqual(log.offsetForTimestamp(0), { offset: 0, timestamp: 1_000_000 })
  assert.deepEqual(log.offsetForTimestamp(1_000_000), { offset: 0, timestamp: 1_000_000 })
  assert.deepEqual(log.offsetForTimestamp(1_000_001), { offset: 1, timestamp: 1_000_010 })
  assert.deepEqual(log.offsetForTimestamp(1_000_015), { offset: 2, timestamp: 1_000_020 })
  assert.deepEqual(log.offsetForTimestamp(1_000_021), { offset: 3, timestamp: 1_000_100 })
  for (let index = 0; index < 50; index++) {
    assert.deepEqual(log.offsetForTimestamp(1_000_000 + index * 100 + 5), { offset: index * 3 + 1, timestamp: 1_000_000 + index * 100 + 10 })
  }
  assert.equal(log.offsetForTimestamp(1_000_000 + 49 * 100 + 21), null)
  // Not before the log start offset.
  log.deleteRecordsBefore(31)
  assert.deepEqual(log.offsetForTimestamp(0), { offset: 31, timestamp: 1_001_010 })
  log.close()
})

test('offsetForTimestamp handles out-of-order timestamps and compressed batches at batch granularity', t => {
  const log = PartitionLog.open(temporaryDirectory(t), kSmallSegments)
  log.append(buildBatch({ values: ['a', 'b'], baseTimestamp: 5000, timestampDeltas: [0, 10] }), -1) // 0..1, max 5010
  log.append(buildBatch({ values: ['c', 'd'], baseTimestamp: 1000, timestampDeltas: [0, 0] }), -1) // 2..3, max 1000
  log.append(buildBatch({ values: ['e', 'f'], baseTimestamp: 9000, timestampDeltas: [0, 1], attributes: 1 }), -1) // 4..5
  assert.deepEqual(log.offsetForTimestamp(500), { offset: 0, timestamp: 5000 })
  assert.deepEqual(log.offsetForTimestamp(5005), { offset: 1, timestamp: 5010 })
  // Compressed (attributes says gzip): the batch's base offset and max timestamp.
  assert.deepEqual(log.offsetForTimestamp(9001), { offset: 4, timestamp: 9001 })
  assert.equal(log.offsetForTimestamp(9002), null)
  log.close()
})

test('maxTimestampOffset is the record with the largest timestamp, {-1, -1} when empty', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.deepEqual(log.maxTimestampOffset(), { offset: -1, timestamp: -1 })
  for (let index = 0; index < 40; index++) {
    const peak = index === 17
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: 1_000_000 + index, timestampDeltas: peak ? [0, 99_999, 5] : [0, 1, 2] }), -1)
  }
  assert.deepEqual(log.maxTimestampOffset(), { offset: 17 * 3 + 1, timestamp: 1_000_017 + 99_999 })
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.deepEqual(reopened.maxTimestampOffset(), { offset: 17 * 3 + 1, timestamp: 1_000_017 + 99_999 })
  reopened.close()
})

test('LogAppendTime sets the timestamp type and max timestamp and keeps the CRC valid', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  log.append(buildBatch({ values: ['x', 'y'], baseTimestamp: 10 }), -1)
  log.append(buildBatch({ values: ['z'], baseTimestamp: 10 }), 777_777)
  const [createTime, appendTime] = decodeBatches(log.read(0, 1000, true).records)
  assert.equal(createTime.attributes & kTimestampTypeBit, 0)
  assert.equal(createTime.maxTimestamp, 11)
  assert.ok(createTime.crcValid)
  assert.equal(appendTime.attributes & kTimestampTypeBit, kTimestampTypeBit)
  assert.equal(appendTime.maxTimestamp, 777_777)
  assert.ok(appendTime.crcValid)
  assert.deepEqual(log.offsetForTimestamp(100), { offset: 2, timestamp: 777_777 })
  assert.deepEqual(log.maxTimestampOffset(), { offset: 2, timestamp: 777_777 })
  log.close()
  // A full recovery (no clean-shutdown marker) validates CRCs: the rewritten batch survives it.
  unlinkSync(join(directory, kCleanShutdownFile))
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.clean, false)
  assert.equal(reopened.recovery.segmentsRebuilt, 1)
  assert.equal(reopened.recovery.bytesTruncated, 0)
  assert.equal(reopened.nextOffset, 3)
  reopened.close()
})

test('concurrent flushes share fsyncs (group commit) and advance durableOffset', async t => {
  let fsyncCalls = 0
  const fsyncImpl: FsyncFunction = (_fd, callback) => {
    fsyncCalls++
    setTimeout(() => callback(null), 2)
  }
  const log = PartitionLog.open(temporaryDirectory(t), { ...kSmallSegments, fsyncImpl })
  await log.flush() // the directory entry of the new segment
  fsyncCalls = 0
  const flushes: Promise<void>[] = []
  const callers = 100
  for (let index = 0; index < callers; index++) {
    log.append(buildBatch({ values: ['v' + index] }), -1)
    flushes.push(log.flush())
  }
  const offsetAtLastFlush = log.nextOffset
  await Promise.all(flushes)
  assert.ok(log.durableOffset >= offsetAtLastFlush)
  // One round for the first caller, one shared by the rest (plus the rolled segments' files and directory).
  t.diagnostic(`${fsyncCalls} fsync calls for ${callers} flushes`)
  assert.ok(fsyncCalls < callers / 2, `${fsyncCalls} fsync calls for ${callers} flushes`)
  // Nothing appended since: no fsync at all.
  fsyncCalls = 0
  await Promise.all([log.flush(), log.flush()])
  assert.equal(fsyncCalls, 0)
  log.close()
})

test('flush makes a rolled segment durable before resolving', async t => {
  const synced: number[] = []
  const fsyncImpl: FsyncFunction = (fd, callback) => {
    synced.push(fd)
    setImmediate(() => callback(null))
  }
  const log = PartitionLog.open(temporaryDirectory(t), { ...kSmallSegments, fsyncImpl })
  await log.flush()
  synced.length = 0
  appendStandard(log, 30)
  assert.ok(log.segmentCount >= 3)
  await log.flush()
  // Every sealed segment's log, index and time index, the active log, and the directory.
  assert.equal(synced.length, (log.segmentCount - 1) * 3 + 2)
  assert.equal(new Set(synced).size, synced.length)
  assert.equal(log.durableOffset, log.nextOffset)
  log.close()
})

test('a failed fsync fails its flush only: the next round rewrites the unsynced tail, fsyncs it and the log goes on', async t => {
  let failing = true
  const synced: number[] = []
  const fsyncImpl: FsyncFunction = (fd, callback) => {
    synced.push(fd)
    setImmediate(() => callback(failing ? Object.assign(new Error('EIO'), { code: 'EIO' }) : null))
  }
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { ...kSmallSegments, fsyncImpl })
  appendStandard(log, 12) // several segments: sealed ones are part of the failed round
  const errorsBefore = counterValue('storage-errors')
  await assert.rejects(log.flush(), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
  assert.equal(log.durableOffset, 0)
  assert.ok(counterValue('storage-errors') > errorsBefore)
  // Still writable; the retry's round rewrites everything from the durable offset on before its fsync.
  failing = false
  synced.length = 0
  log.append(buildBatch({ values: ['after'] }), -1)
  await log.flush()
  assert.equal(log.durableOffset, log.nextOffset)
  assert.ok(synced.length >= (log.segmentCount - 1) * 3 + 2, 'the failed round\'s sealed segments are fsynced again')
  const batches = decodeBatches(log.read(0, 1 << 20, true).records)
  assert.ok(batches.every(batch => batch.crcValid))
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records),
    [...Array.from({ length: 12 }, (_, index) => standardValues(index)).flat(), 'after'])
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.nextOffset, 37)
  reopened.close()
})

test('a failed fsync whose data no longer checks out fails the log until a restart recovers it', async t => {
  let failing = true
  const fsyncImpl: FsyncFunction = (_fd, callback) => setImmediate(() => callback(failing ? Object.assign(new Error('EIO'), { code: 'EIO' }) : null))
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { segmentBytes: 1 << 20, indexIntervalBytes: 128, fsyncImpl })
  log.append(buildBatch({ values: ['a'] }), -1)
  await log.flush().catch(() => {})
  failing = false
  await log.flush()
  log.append(buildBatch({ values: ['b'] }), -1)
  failing = true
  await assert.rejects(log.flush(), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
  failing = false
  // The written-back pages are gone and the disk holds something else: a corrupted second batch.
  const logFile = join(directory, readdirSync(directory).find(name => name.endsWith('.log'))!)
  const contents = readFileSync(logFile)
  contents[contents.length - 2] ^= 0xff // inside the second (last) batch's records
  writeFileSync(logFile, contents)
  await assert.rejects(log.flush(), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
  assert.throws(() => log.append(buildBatch({ values: ['c'] }), -1), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
  assert.equal(log.read(0, 1 << 20, true).errorCode, ErrorCode.NONE, 'reads still work')
  log.close()
  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.recovery.clean, false)
  assert.deepEqual(valuesOf(reopened.read(0, 1 << 20, true).records), ['a'])
  reopened.close()
})

test('deleteRecordsBefore moves the log start, deletes whole segments and persists across reopen', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  appendStandard(log, 60)
  const segmentsBefore = log.segmentCount
  log.deleteRecordsBefore(100)
  assert.equal(log.logStartOffset, 100)
  assert.ok(log.segmentCount < segmentsBefore)
  assert.equal(readFileSync(join(directory, kLogStartOffsetFile), 'latin1'), '100\n')
  assert.ok(log.sealedSegments().every(info => info.nextOffset > 100))
  assert.throws(() => log.deleteRecordsBefore(181), (error: { code: number }) => error.code === ErrorCode.OFFSET_OUT_OF_RANGE)
  log.deleteRecordsBefore(50) // below the start: nothing
  assert.equal(log.logStartOffset, 100)
  const first = decodeBatches(log.read(100, 1, true).records)[0]
  assert.equal(first.baseOffset, 99)
  log.close()

  const reopened = PartitionLog.open(directory, kSmallSegments)
  assert.equal(reopened.logStartOffset, 100)
  assert.equal(reopened.read(99, 100, true).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(valuesOf(reopened.read(100, 1 << 20, true).records).length, 81)
  // Everything: the active segment is rolled away too; offsets continue.
  reopened.deleteRecordsBefore(180)
  assert.equal(reopened.logStartOffset, 180)
  assert.equal(reopened.segmentCount, 1)
  assert.equal(reopened.read(180, 100, true).records, null)
  assert.equal(reopened.append(buildBatch({ values: ['next'] }), -1), 180)
  reopened.close()
  const again = PartitionLog.open(directory, kSmallSegments)
  assert.equal(again.logStartOffset, 180)
  assert.deepEqual(valuesOf(again.read(180, 100, true).records), ['next'])
  again.close()
})

test('time-based rolling with segmentMs', async t => {
  const log = PartitionLog.open(temporaryDirectory(t), { ...kSmallSegments, segmentBytes: 1 << 20, segmentMs: 1 })
  log.append(buildBatch({ values: ['a'] }), -1)
  const deadline = Date.now() + 1000
  while (Date.now() < deadline && log.segmentCount === 1) {
    await new Promise(resolve => setImmediate(resolve))
    log.append(buildBatch({ values: ['b'] }), -1)
  }
  assert.ok(log.segmentCount > 1)
  log.close()
})

test('delete removes the directory', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  appendStandard(log, 3)
  log.delete()
  assert.equal(existsSync(directory), false)
})

test('segment files are named by zero-padded base offset', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  appendStandard(log, 20)
  log.close()
  const names = readdirSync(directory).filter(name => name.endsWith('.log'))
  assert.ok(names.includes('00000000000000000000.log'))
  assert.ok(names.every(name => /^\d{20}\.log$/.test(name)))
})
