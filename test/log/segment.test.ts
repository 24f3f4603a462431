import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  kOffsetIndexEntrySize, kTimeIndexEntrySize, LogSegment, OffsetIndex, offsetFileName, parseOffsetFileName, TimeIndex
} from '../../src/log/segment.ts'
import { buildBatch, temporaryDirectory, valuesOf } from './helpers.ts'

test('file names are the base offset zero-padded to 20 digits', () => {
  assert.equal(offsetFileName(0, '.log'), '00000000000000000000.log')
  assert.equal(offsetFileName(12345, '.index'), '00000000000000012345.index')
  assert.equal(parseOffsetFileName('00000000000000012345.index', '.index'), 12345)
  assert.equal(parseOffsetFileName('00000000000000012345.index', '.log'), -1)
  assert.equal(parseOffsetFileName('0000000000000001234x.log', '.log'), -1)
  assert.equal(parseOffsetFileName('12345.log', '.log'), -1)
})

test('the offset index finds the last entry at or before an offset', () => {
  const index = new OffsetIndex()
  for (let entry = 1; entry <= 100; entry++) index.append(entry * 10, entry * 1000)
  assert.equal(index.count, 100)
  assert.equal(index.floorPosition(0), 0)
  assert.equal(index.floorPosition(9), 0)
  assert.equal(index.floorPosition(10), 1000)
  assert.equal(index.floorPosition(15), 1000)
  assert.equal(index.floorPosition(999), 99_000)
  assert.equal(index.floorPosition(5000), 100_000)
  const decoded = OffsetIndex.decode(index.encode(0, index.count), 1 << 20, 1 << 20)!
  assert.equal(decoded.count, 100)
  assert.equal(decoded.persistedCount, 100)
  assert.equal(decoded.floorPosition(555), 55_000)
  assert.equal(OffsetIndex.decode(index.encode(0, index.count), 100_000, 1 << 20), null) // past the end
  assert.equal(OffsetIndex.decode(Buffer.alloc(kOffsetIndexEntrySize + 1), 1 << 20, 1 << 20), null)
})

test('the time index finds the last entry strictly before a timestamp', () => {
  const index = new TimeIndex()
  index.append(100, 0)
  index.append(200, 5)
  index.append(300, 9)
  assert.equal(index.relativeOffsetBefore(100), -1)
  assert.equal(index.relativeOffsetBefore(101), 0)
  assert.equal(index.relativeOffsetBefore(300), 5)
  assert.equal(index.relativeOffsetBefore(1000), 9)
  assert.equal(index.lastTimestamp, 300)
  const decoded = TimeIndex.decode(index.encode(0, 3), 10)!
  assert.equal(decoded.relativeOffsetBefore(250), 5)
  assert.equal(TimeIndex.decode(index.encode(0, 3), 9), null)
  assert.equal(TimeIndex.decode(Buffer.alloc(kTimeIndexEntrySize - 1), 10), null)
})

function appendBatches (segment: LogSegment, count: number): void {
  for (let index = 0; index < count; index++) {
    const baseOffset = segment.nextOffset
    const batch = buildBatch({ values: [`v${baseOffset}`, `w${baseOffset}`], baseTimestamp: 5000 + index })
    batch.writeBigInt64BE(BigInt(baseOffset), 0)
    segment.append(batch, baseOffset, baseOffset + 1, 5001 + index)
  }
}

test('a segment appends, indexes every indexIntervalBytes, locates batches and seals', t => {
  const directory = temporaryDirectory(t)
  const segment = LogSegment.create(directory, 100, 256)
  appendBatches(segment, 50)
  assert.equal(segment.nextOffset, 200)
  assert.ok(segment.offsetIndex!.count > 5)
  assert.equal(segment.maxTimestamp, 5050)
  assert.equal(segment.offsetOfMaxTimestamp, 198)
  const batchSize = segment.size / 50
  for (const offset of [100, 101, 150, 199]) {
    const position = segment.locate(offset)
    assert.equal(position, Math.floor((offset - 100) / 2) * batchSize)
    assert.equal(segment.lastLocatedSize, batchSize)
    const batch = Buffer.alloc(batchSize)
    segment.readInto(position, batch, 0, batchSize)
    const base = offset - (offset % 2)
    assert.deepEqual(valuesOf(batch), [`v${base}`, `w${base}`])
  }
  assert.equal(segment.locate(200), -1)
  assert.equal(segment.findByTimestamp(5030, 0, -1), 29 * batchSize)
  assert.equal(segment.findByTimestamp(5030, 170, -1), 35 * batchSize)
  assert.equal(segment.findByTimestamp(6000, 0, -1), -1)
  // Indexes reach their files only when sealed.
  assert.equal(readFileSync(segment.indexPath).length, 0)
  segment.seal()
  assert.equal(readFileSync(segment.indexPath).length, segment.offsetIndex!.count * kOffsetIndexEntrySize)
  assert.equal(readFileSync(segment.timeIndexPath).length, segment.timeIndex!.count * kTimeIndexEntrySize)
  segment.closeFd()

  const reopened = LogSegment.openExisting(directory, 100, 256)
  assert.equal(reopened.checkSealed(200), true)
  assert.equal(reopened.maxTimestamp, 5050)
  assert.equal(reopened.offsetOfMaxTimestamp, 198)
  assert.equal(reopened.indexesLoaded, false)
  reopened.loadIndexes()
  assert.equal(reopened.locate(151), 25 * batchSize)
  // The end claimed by a next segment must be consistent with the index.
  assert.equal(LogSegment.openExisting(directory, 100, 256).checkSealed(110), false)
  reopened.closeFd()
})

test('rebuild recomputes the same indexes from the log', t => {
  const directory = temporaryDirectory(t)
  const segment = LogSegment.create(directory, 0, 200)
  appendBatches(segment, 40)
  segment.seal()
  const indexFile = readFileSync(segment.indexPath)
  const timeIndexFile = readFileSync(segment.timeIndexPath)
  segment.closeFd()
  const rebuilt = LogSegment.openExisting(directory, 0, 200)
  assert.equal(rebuilt.rebuild(), 0)
  assert.equal(rebuilt.nextOffset, 80)
  assert.deepEqual(readFileSync(rebuilt.indexPath), indexFile)
  assert.deepEqual(readFileSync(rebuilt.timeIndexPath), timeIndexFile)
  rebuilt.closeFd()
})
