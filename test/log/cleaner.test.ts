import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { fstatSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import {
  kCleanAborted, kCleanDone, kCleanIdle, kCleanThrottled, kCleanWaitingForCodec, kCleanWaitingForDisk, kCleanWorking, LogCleaner,
  readCleanerCheckpoint, readCleanerDeleteHorizon
} from '../../src/log/cleaner.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { Compression, kAttributesOffset, kCompressionMask, kControlBit, kDeleteHorizonBit, kLastOffsetDeltaOffset, kRecordCountOffset } from '../../src/protocol/record-batch-layout.ts'
import { buildRecordBatch, parseRecords, type BuildBatchOptions, type RecordInput } from '../../src/protocol/record-batch.ts'
import { readInt64 } from '../../src/protocol/int64.ts'
import { temporaryDirectory } from './helpers.ts'

const kTopic = 'compacted'
const kCompact = { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0' }

/** segmentMs set (far away) so that rollIfOlderThan(0) rolls a segment holding data. */
function logConfig (segmentBytes: number, indexIntervalBytes: number): { segmentBytes: number, indexIntervalBytes: number, segmentMs: number } {
  return { segmentBytes, indexIntervalBytes, segmentMs: 2 ** 40 }
}

interface ReadRecord { offset: number, key: string | null, value: string | null }

function record (key: string | null, value: string | null, timestamp = 1_000_000): RecordInput {
  return { key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp }
}

/** Every data record of the log (not markers), in offset order, and its batches. */
function readLog (log: PartitionLog): { records: ReadRecord[], batches: Buffer[] } {
  const records: ReadRecord[] = []
  const batches: Buffer[] = []
  for (const batch of log.batches(log.logStartOffset)) {
    batches.push(Buffer.from(batch))
    if ((batch.readUInt16BE(kAttributesOffset) & kControlBit) !== 0) continue
    for (const decoded of parseRecords(batch)) {
      records.push({ offset: decoded.offset, key: decoded.key?.toString() ?? null, value: decoded.value?.toString() ?? null })
    }
  }
  return { records, batches }
}

/** key -> last value (null for a tombstone) of `records`. */
function latestPerKey (records: ReadRecord[]): Map<string, { offset: number, value: string | null }> {
  const latest = new Map<string, { offset: number, value: string | null }>()
  for (const found of records) if (found.key !== null) latest.set(found.key, { offset: found.offset, value: found.value })
  return latest
}

/** Runs cleanSlice until the clean finishes (or there is none); resolves with the last state. */
async function cleanFully (cleaner: LogCleaner, log: PartitionLog, configs: Record<string, string>, nowMs: number, statesSeen?: Set<number>): Promise<number> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const progress = cleaner.cleanSlice(log, kTopic, configs, nowMs, 20)
    statesSeen?.add(progress.state)
    if (progress.state !== kCleanWorking && progress.state !== kCleanWaitingForDisk && progress.state !== kCleanThrottled &&
      progress.state !== kCleanWaitingForCodec) return progress.state
    assert.ok(Date.now() < deadline, 'the clean finishes')
    await new Promise(resolve => setImmediate(resolve))
  }
}

/** Appends `rounds` batches, each with a record of every key k0 .. k(keys - 1), valued value(round, key). */
function appendKeyRounds (log: PartitionLog, rounds: number, keys: number, value: (round: number, key: number) => string, options: BuildBatchOptions = {}): void {
  for (let round = 0; round < rounds; round++) {
    const records: RecordInput[] = []
    for (let key = 0; key < keys; key++) records.push(record(`k${key}`, value(round, key)))
    log.append(buildRecordBatch(records, options), -1)
  }
}

function assertOffsetsIncrease (records: ReadRecord[]): void {
  for (let index = 1; index < records.length; index++) assert.ok(records[index].offset > records[index - 1].offset, `offsets increase at ${index}`)
}

test('a compacted topic of 100,000 keys written 10 times holds each key\'s last value afterwards', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(4 * 1024 * 1024, 4096))
  const keys = 100_000
  const perBatch = 5000
  for (let round = 0; round < 10; round++) {
    for (let first = 0; first < keys; first += perBatch) {
      const records: RecordInput[] = []
      for (let key = first; key < first + perBatch; key++) records.push(record(`key-${key}`, `value-${round}-${key}`))
      log.append(buildRecordBatch(records), -1)
    }
  }
  assert.equal(log.nextOffset, 1_000_000)
  assert.ok(log.rollIfOlderThan(0)) // every batch sealed: the active segment is never cleaned
  const sizeBefore = log.sizeBytes
  const cleaner = new LogCleaner({ dedupeBufferBytes: 4 * 1024 * 1024 })
  assert.equal(await cleanFully(cleaner, log, kCompact, Date.now()), kCleanDone)
  assert.equal(readCleanerCheckpoint(directory), 1_000_000)
  assert.ok(log.sizeBytes < sizeBefore / 5, `${log.sizeBytes} bytes left of ${sizeBefore}`)
  for (const reopened of [false, true]) {
    const current = reopened ? PartitionLog.open(directory, logConfig(4 * 1024 * 1024, 4096)) : log
    const { records } = readLog(current)
    assert.equal(records.length, keys)
    assertOffsetsIncrease(records)
    for (let index = 0; index < keys; index++) {
      assert.equal(records[index].key, `key-${index}`)
      assert.equal(records[index].value, `value-9-${index}`)
      assert.equal(records[index].offset, 900_000 + index, 'offsets are preserved')
    }
    assert.equal(current.nextOffset, 1_000_000)
    // A fetch from an offset compacted away gets the batches after it: the next record kept is the first.
    let firstRecord = -1
    for (const batch of current.batches(12_345)) {
      const decoded = parseRecords(batch)
      if (decoded.length > 0) {
        firstRecord = decoded[0].offset
        break
      }
    }
    assert.equal(firstRecord, 900_000)
    if (!reopened) log.close()
    else {
      assert.equal(current.recovery.segmentsDeleted, 0)
      current.close()
    }
  }
  assert.equal(await cleanFully(cleaner, log, kCompact, Date.now()), kCleanIdle, 'a closed log is left alone')
})

test('a rebuilt batch keeps its base offset and lastOffsetDelta; a batch losing every record is dropped', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  log.append(buildRecordBatch([record('a', 'a0'), record('b', 'b0'), record('c', 'c0')]), -1) // 0..2
  log.append(buildRecordBatch([record('a', 'a1'), record('b', 'b1')]), -1) // 3..4
  log.append(buildRecordBatch([record('c', 'c1'), record(null, 'keyless')]), -1) // 5..6
  log.append(buildRecordBatch([record('d', 'd0')]), -1) // 7
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanDone)
  const { records, batches } = readLog(log)
  assert.deepEqual(records.map(found => [found.offset, found.key, found.value]), [
    [3, 'a', 'a1'], [4, 'b', 'b1'], [5, 'c', 'c1'], [7, 'd', 'd0']
  ])
  // The first batch lost every record (and is not the last of the segment): gone. The third lost its last record
  // (keyless): rebuilt with its original lastOffsetDelta.
  assert.deepEqual(batches.map(batch => [readInt64(batch, 0), batch.readInt32BE(kLastOffsetDeltaOffset), batch.readInt32BE(kRecordCountOffset)]), [
    [3, 1, 2], [5, 1, 1], [7, 0, 1]
  ])
  log.close()
})

test('tombstones are kept for delete.retention.ms after the clean that first sees them, then removed', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  const configs = { ...kCompact, 'delete.retention.ms': '1000' }
  log.append(buildRecordBatch([record('a', 'a0', 5000), record('b', 'b0', 5001), record('c', 'c0', 5002)]), -1)
  log.append(buildRecordBatch([record('b', null, 6000), record('a', 'a1', 6001)]), -1)
  log.rollIfOlderThan(0)
  const cleaner = new LogCleaner()
  const now = 1_000_000_000
  assert.equal(await cleanFully(cleaner, log, configs, now), kCleanDone)
  let { records, batches } = readLog(log)
  assert.deepEqual(records.map(found => [found.offset, found.key, found.value]), [[2, 'c', 'c0'], [3, 'b', null], [4, 'a', 'a1']])
  const withTombstone = batches.find(batch => readInt64(batch, 0) === 3)!
  assert.notEqual(withTombstone.readUInt16BE(kAttributesOffset) & kDeleteHorizonBit, 0, 'the delete horizon is set')
  // The records keep their own timestamps under the new base timestamp (the horizon).
  assert.deepEqual(parseRecords(withTombstone).map(found => found.timestamp), [6000, 6001])
  assert.equal(await cleanFully(cleaner, log, configs, now + 999), kCleanIdle, 'nothing dirty, horizon not reached')
  assert.equal(readLog(log).records.length, 3)
  assert.equal(await cleanFully(cleaner, log, configs, now + 1000), kCleanDone, 'the horizon passed')
  ;({ records } = readLog(log))
  assert.deepEqual(records.map(found => [found.offset, found.key, found.value]), [[2, 'c', 'c0'], [4, 'a', 'a1']])
  log.close()
})

test('aborted transactions\' records are removed, markers kept, and idempotent producer state survives a replay', async (t) => {
  const directory = temporaryDirectory(t)
  const config = logConfig(1024 * 1024, 0)
  const log = PartitionLog.open(directory, config)
  const txn = { producerEpoch: 0, isTransactional: true }
  log.append(buildRecordBatch([record('x', 'x-aborted'), record('y', 'y-aborted')], { ...txn, producerId: 7, baseSequence: 0 }), -1) // 0..1
  log.append(buildRecordBatch([record('x', 'x-committed')], { ...txn, producerId: 8, baseSequence: 0 }), -1) // 2
  log.appendMarker(7, 0, false, 0) // 3
  log.appendMarker(8, 0, true, 0) // 4
  // An idempotent producer whose batch loses its last record to a later write of the same key.
  log.append(buildRecordBatch([record('p', 'p0'), record('q', 'q0')], { producerId: 9, producerEpoch: 0, baseSequence: 0 }), -1) // 5..6
  log.append(buildRecordBatch([record('q', 'q1')]), -1) // 7
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanDone)
  const { records, batches } = readLog(log)
  assert.deepEqual(records.map(found => [found.offset, found.key, found.value]), [
    [2, 'x', 'x-committed'], [5, 'p', 'p0'], [7, 'q', 'q1']
  ])
  const control = batches.filter(batch => (batch.readUInt16BE(kAttributesOffset) & kControlBit) !== 0)
  assert.deepEqual(control.map(batch => readInt64(batch, 0)), [3, 4], 'both markers are kept')
  // Producer 7's aborted batch is its last: kept as an empty batch, so that its state survives a replay.
  const aborted = batches.find(batch => readInt64(batch, 0) === 0)!
  assert.equal(aborted.readInt32BE(kRecordCountOffset), 0)
  assert.equal(aborted.readInt32BE(kLastOffsetDeltaOffset), 1)
  const idempotent = batches.find(batch => readInt64(batch, 0) === 5)!
  assert.equal(idempotent.readInt32BE(kRecordCountOffset), 1)
  assert.equal(idempotent.readInt32BE(kLastOffsetDeltaOffset), 1)
  log.close()
  // Replay from the log (no snapshot): the last sequence comes from lastOffsetDelta.
  for (const name of readdirSync(directory)) if (name.endsWith('.snapshot')) unlinkSync(join(directory, name))
  const reopened = PartitionLog.open(directory, config)
  assert.equal(reopened.producers.get(9)?.lastSequence, 1)
  assert.equal(reopened.producers.get(7)?.lastSequence, 1)
  assert.equal(reopened.lastStableOffset, reopened.nextOffset, 'no transaction left open')
  const committed = reopened.read(0, 1 << 20, true, 1)
  assert.deepEqual(committed.abortedTransactions, [{ producerId: 7, firstOffset: 0, lastOffset: 3, lastStableOffset: 2 }])
  reopened.close()
})

test('compressed batches are filtered and recompressed with their own codec', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  const codecs = [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]
  for (const codec of codecs) {
    const records: RecordInput[] = []
    for (let key = 0; key < 50; key++) records.push(record(`k${key}`, `codec-${codec}-${key}`))
    log.append(buildRecordBatch(records, { compression: codec }), -1)
  }
  log.append(buildRecordBatch([record('k0', 'last-0'), record('k49', 'last-49')]), -1)
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanDone)
  const { records, batches } = readLog(log)
  assert.deepEqual(batches.map(batch => batch.readUInt16BE(kAttributesOffset) & kCompressionMask), [Compression.zstd, Compression.none])
  const latest = latestPerKey(records)
  assert.equal(latest.size, 50)
  assert.equal(latest.get('k0')?.value, 'last-0')
  assert.equal(latest.get('k49')?.value, 'last-49')
  assert.equal(latest.get('k7')?.value, `codec-${Compression.zstd}-7`)
  assert.equal(records.length, 50)
  log.close()
})

test('min.compaction.lag.ms keeps recent segments dirty; min.cleanable.dirty.ratio decides when to clean', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  const now = 10_000_000
  for (let round = 0; round < 4; round++) log.append(buildRecordBatch([record('a', `a${round}`, now - 1000), record('b', `b${round}`, now - 1000)]), -1)
  log.rollIfOlderThan(0)
  const cleaner = new LogCleaner()
  assert.equal(await cleanFully(cleaner, log, { ...kCompact, 'min.compaction.lag.ms': '5000' }, now), kCleanIdle)
  assert.equal(readLog(log).records.length, 8)
  assert.equal(await cleanFully(cleaner, log, { ...kCompact, 'min.compaction.lag.ms': '5000' }, now + 4000), kCleanDone)
  assert.equal(readLog(log).records.length, 2)
  // A little more dirty data: below a ratio of 0.9, above one of 0.1.
  log.append(buildRecordBatch([record('a', 'a-new', now)]), -1)
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(cleaner, log, { ...kCompact, 'min.cleanable.dirty.ratio': '0.9' }, now), kCleanIdle)
  assert.equal(readLog(log).records.length, 3)
  // max.compaction.lag.ms overrides the ratio once the dirty data is that old.
  assert.equal(await cleanFully(cleaner, log, { ...kCompact, 'min.cleanable.dirty.ratio': '0.9', 'max.compaction.lag.ms': '100' }, now + 200), kCleanDone)
  assert.deepEqual(readLog(log).records.map(found => found.value), ['b3', 'a-new'])
  log.close()
})

test('a full dedupe buffer cleans up to the offset it covers; later cleans do the rest', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  appendKeyRounds(log, 2, 100, (round, key) => `v${round}-${key}`)
  log.rollIfOlderThan(0)
  const cleaner = new LogCleaner({ dedupeBufferBytes: 64 * 16 }) // 64 slots: 57 keys
  assert.equal(await cleanFully(cleaner, log, kCompact, Date.now()), kCleanDone)
  const checkpoint = readCleanerCheckpoint(directory)
  assert.ok(checkpoint > 0 && checkpoint < 200, `checkpoint ${checkpoint}`)
  let cleans = 1
  while (await cleanFully(cleaner, log, kCompact, Date.now()) === kCleanDone) cleans++
  assert.ok(cleans >= 3, `${cleans} cleans`)
  const { records } = readLog(log)
  assert.equal(records.length, 100)
  assert.ok(records.every(found => found.value === `v1-${found.key!.slice(1)}`))
  log.close()
})

test('the I/O rate limit throttles a clean without stopping it', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  for (let round = 0; round < 20; round++) log.append(buildRecordBatch([record('a', `a${round}`)]), -1)
  log.rollIfOlderThan(0)
  let clockMs = 0
  const cleaner = new LogCleaner({ ioMaxBytesPerSecond: 100, clock: () => clockMs })
  const states = new Set<number>()
  const deadline = Date.now() + 30_000
  for (;;) {
    const state = cleaner.cleanSlice(log, kTopic, kCompact, Date.now(), 20).state
    states.add(state)
    if (state === kCleanDone) break
    assert.ok(Date.now() < deadline)
    await new Promise(resolve => setImmediate(resolve))
    if (state === kCleanThrottled) clockMs += 1000 // the limiter's clock, not a wait
  }
  assert.ok(states.has(kCleanThrottled))
  assert.deepEqual(readLog(log).records.map(found => found.value), ['a19'])
  log.close()
})

test('internal topics and topics without compact are not cleaned', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  for (let round = 0; round < 3; round++) log.append(buildRecordBatch([record('a', `a${round}`)]), -1)
  log.rollIfOlderThan(0)
  const cleaner = new LogCleaner()
  assert.equal(cleaner.cleanSlice(log, '__consumer_offsets', kCompact, Date.now(), 20).state, kCleanIdle)
  assert.equal(cleaner.cleanSlice(log, kTopic, { 'cleanup.policy': 'delete' }, Date.now(), 20).state, kCleanIdle)
  assert.equal(await cleanFully(cleaner, log, { ...kCompact, 'cleanup.policy': 'compact,delete' }, Date.now()), kCleanDone)
  assert.equal(readLog(log).records.length, 1)
  log.close()
})

/** Appends round `round` of the keys k0..k39, four a batch, and rolls; notes each key's value in `expected`. */
function writeRound (log: PartitionLog, round: number, expected: Map<string, string>): void {
  for (let first = 0; first < 40; first += 4) {
    const records: RecordInput[] = []
    for (let key = first; key < first + 4; key++) {
      records.push(record(`k${key}`, `v${round}-${key}`))
      expected.set(`k${key}`, `v${round}-${key}`)
    }
    log.append(buildRecordBatch(records), -1)
  }
  log.rollIfOlderThan(0)
}

/** Opens the log in `directory` again and checks that no swap file is left and it reads back `expected`. */
function reopenAndCheck (directory: string, config: ReturnType<typeof logConfig>, nextOffset: number, expected: Map<string, string>, when: string): PartitionLog {
  const reopened = PartitionLog.open(directory, config)
  assert.equal(reopened.nextOffset, nextOffset)
  assert.deepEqual(readdirSync(directory).filter(name => name.endsWith('.swap') || name.endsWith('.cleaned')), [])
  const { records } = readLog(reopened)
  assertOffsetsIncrease(records)
  const latest = latestPerKey(records)
  assert.equal(latest.size, expected.size, when)
  for (const [key, value] of expected) assert.equal(latest.get(key)?.value, value, `${key} ${when}`)
  return reopened
}

/**
 * For step = 1, 2, ... until the clean completes: a fresh log of keys k0..k39 written three times (a complete
 * clean after the second, so that the next one groups several small cleaned segments into one), cleaned by
 * cleanerFor(step) (which stops or fails its swap at that step); `interrupted` checks the log the clean was
 * dropped on; then the directory, opened again, must read back every key's last value, and `reopened` checks more.
 */
async function atEachSwapStep (t: TestContext, cleanerFor: (step: number) => LogCleaner, interrupted: (log: PartitionLog, step: number) => Promise<void>,
  reopened: (log: PartitionLog, step: number) => Promise<void>): Promise<number> {
  const config = logConfig(2048, 256)
  for (let step = 1; ; step++) {
    assert.ok(step < 64, 'the swap completes within its steps')
    const directory = temporaryDirectory(t)
    const log = PartitionLog.open(directory, config)
    const expected = new Map<string, string>()
    writeRound(log, 0, expected)
    writeRound(log, 1, expected)
    assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanDone)
    writeRound(log, 2, expected)
    const sealedBefore = log.sealedSegments().length
    const nextOffset = log.nextOffset
    const state = await cleanFully(cleanerFor(step), log, kCompact, Date.now())
    const completed = state === kCleanDone
    if (!completed) {
      assert.equal(state, kCleanAborted)
      await interrupted(log, step)
    }
    const recovered = reopenAndCheck(directory, config, nextOffset, expected, `after step ${step}`)
    if (completed) assert.ok(recovered.sealedSegments().length < sealedBefore, 'segments were grouped')
    await reopened(recovered, step)
    recovered.close()
    if (completed) return step
  }
}

test('a crash at each step of the swap, then open(), loses nothing and reads back a consistent log', async (t) => {
  // The crash: the log is abandoned as it is (no close()); a new open() recovers the directory.
  await atEachSwapStep(t, (step) => new LogCleaner({ stopSwapAfterSteps: step }), async () => {}, async (reopened) => {
    // A clean after the recovery finishes the job.
    const keys = latestPerKey(readLog(reopened).records).size
    assert.notEqual(await cleanFully(new LogCleaner(), reopened, kCompact, Date.now()), kCleanAborted)
    assert.equal(latestPerKey(readLog(reopened).records).size, keys)
  })
})

test('leftover .cleaned files of a clean interrupted before its swap are removed at open', (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  log.append(buildRecordBatch([record('a', 'a0')]), -1)
  log.close()
  writeFileSync(join(directory, '00000000000000000000.log.cleaned'), 'partial')
  writeFileSync(join(directory, '00000000000000000000.index.swap'), '')
  const reopened = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  assert.deepEqual(readdirSync(directory).filter(name => name.includes('.cleaned') || name.includes('.swap')), [])
  assert.equal(readLog(reopened).records.length, 1)
  reopened.close()
})

test('an open transaction bounds the clean: nothing from its first batch on is cleaned', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  log.append(buildRecordBatch([record('a', 'a0'), record('b', 'b0')]), -1) // 0..1
  log.rollIfOlderThan(0)
  log.append(buildRecordBatch([record('a', 'a-open')], { producerId: 3, producerEpoch: 0, baseSequence: 0, isTransactional: true }), -1) // 2
  log.append(buildRecordBatch([record('b', 'b1')]), -1) // 3
  log.rollIfOlderThan(0)
  log.append(buildRecordBatch([record('c', 'c0')]), -1) // 4, active
  assert.equal(log.lastStableOffset, 2)
  assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanDone)
  assert.equal(readCleanerCheckpoint(directory), 2)
  // The first segment was cleaned against keys below the open transaction only: a0 and b0 stay (their later
  // values are not cleanable yet).
  assert.deepEqual(readLog(log).records.map(found => found.value), ['a0', 'b0', 'a-open', 'b1', 'c0'])
  log.close()
})

test('a segment deleted by retention during a clean drops the clean; the next one succeeds', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  for (let round = 0; round < 3; round++) {
    log.append(buildRecordBatch([record('a', `a${round}`), record(`only-${round}`, 'x')]), -1)
    log.rollIfOlderThan(0)
  }
  const cleaner = new LogCleaner()
  const now = Date.now()
  assert.equal(cleaner.cleanSlice(log, kTopic, kCompact, now, 0).state, kCleanWorking) // the job starts, no work yet
  log.deleteOldestSegment(0, now)
  const state = await cleanFully(cleaner, log, kCompact, now)
  assert.equal(state, kCleanAborted)
  assert.deepEqual(readdirSync(directory).filter(name => name.endsWith('.cleaned') || name.endsWith('.swap')), [])
  assert.deepEqual(readLog(log).records.map(found => found.value), ['a1', 'x', 'a2', 'x'])
  assert.equal(await cleanFully(cleaner, log, kCompact, now + 61_000), kCleanDone)
  assert.deepEqual(readLog(log).records.map(found => [found.key, found.value]), [['only-1', 'x'], ['a', 'a2'], ['only-2', 'x']])
  log.close()
})

test('a rename or unlink failing at any step of the swap fails the log; the restart completes or undoes the swap', async (t) => {
  const steps = await atEachSwapStep(t, (step) => new LogCleaner({ failSwapAtStep: step }), async (log, step) => {
    assert.equal(log.hasFailed, true, `failed at step ${step}`)
    assert.throws(() => log.append(buildRecordBatch([record('k0', 'refused')]), -1), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
    await assert.rejects(log.flush(), (error: { code: number }) => error.code === ErrorCode.KAFKA_STORAGE_ERROR)
    assert.equal(await cleanFully(new LogCleaner(), log, kCompact, Date.now()), kCleanIdle, 'a failed log is not cleaned')
  }, async (reopened) => {
    reopened.append(buildRecordBatch([record('k0', 'accepted')]), -1)
    await reopened.flush()
  })
  assert.ok(steps > 6, `the swap ran ${steps - 1} file operations`)
})

/** The base offsets of the log's markers, and whether each carries a delete horizon. */
function markersOf (log: PartitionLog): Array<[number, boolean]> {
  return readLog(log).batches
    .filter(batch => (batch.readUInt16BE(kAttributesOffset) & kControlBit) !== 0 && batch.readInt32BE(kRecordCountOffset) > 0)
    .map(batch => [readInt64(batch, 0), (batch.readUInt16BE(kAttributesOffset) & kDeleteHorizonBit) !== 0])
}

test('a marker whose transaction has no data left gets a delete horizon, then goes with its aborted-index entry, also after a restart', async (t) => {
  const directory = temporaryDirectory(t)
  const config = logConfig(1024 * 1024, 0)
  const log = PartitionLog.open(directory, config)
  const txn = (producerId: number, baseSequence: number): { producerId: number, producerEpoch: number, baseSequence: number, isTransactional: boolean } =>
    ({ producerId, producerEpoch: 0, baseSequence, isTransactional: true })
  log.append(buildRecordBatch([record('x', 'x-aborted'), record('y', 'y-aborted')], txn(7, 0)), -1) // 0..1
  log.append(buildRecordBatch([record('x', 'x-committed')], txn(8, 0)), -1) // 2
  log.appendMarker(7, 0, false, 0) // 3: ABORT
  log.appendMarker(8, 0, true, 0) // 4: COMMIT
  log.append(buildRecordBatch([record('z', 'z0')], txn(8, 1)), -1) // 5
  log.appendMarker(8, 0, true, 0) // 6
  log.append(buildRecordBatch([record('w', 'w0')], txn(7, 2)), -1) // 7
  log.appendMarker(7, 0, true, 0) // 8
  log.append(buildRecordBatch([record('x', 'x-last')]), -1) // 9
  log.rollIfOlderThan(0)
  const configs = { ...kCompact, 'delete.retention.ms': '1000' }
  const now = 1_000_000_000
  const cleaner = new LogCleaner()
  // First clean: the aborted data and the committed x go; their markers stay while the clean removes their data.
  assert.equal(await cleanFully(cleaner, log, configs, now), kCleanDone)
  assert.deepEqual(readLog(log).records.map(found => found.offset), [5, 7, 9])
  assert.deepEqual(markersOf(log), [[3, false], [4, false], [6, false], [8, false]])
  assert.deepEqual(log.read(0, 1 << 20, true, 1).abortedTransactions?.map(entry => [entry.producerId, entry.lastOffset]), [[7, 3]])
  // Second clean (new dirty data): markers 3 and 4 have no data left: a delete horizon; the ABORT's entry goes.
  log.append(buildRecordBatch([record('q', 'q0')]), -1) // 10
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(cleaner, log, configs, now), kCleanDone)
  assert.deepEqual(markersOf(log), [[3, true], [4, true], [6, false], [8, false]])
  assert.deepEqual(log.abortedTransactions.entries(), [])
  assert.deepEqual(log.read(0, 1 << 20, true, 1).abortedTransactions, [])
  assert.equal(readCleanerDeleteHorizon(directory), now + 1000, 'the pending horizon is in the checkpoint')
  assert.equal(await cleanFully(cleaner, log, configs, now + 999), kCleanIdle, 'nothing dirty, horizon not reached')
  log.close()
  // A restart (a new log and cleaner): the horizon passing alone cleans the markers away.
  for (const name of readdirSync(directory)) if (name.endsWith('.snapshot')) unlinkSync(join(directory, name))
  const reopened = PartitionLog.open(directory, config)
  assert.equal(reopened.lastStableOffset, reopened.nextOffset, 'the replay leaves no transaction open')
  assert.deepEqual(reopened.abortedTransactions.entries(), [])
  const restarted = new LogCleaner()
  assert.equal(await cleanFully(restarted, reopened, configs, now + 999), kCleanIdle)
  assert.equal(await cleanFully(restarted, reopened, configs, now + 1000), kCleanDone)
  assert.deepEqual(markersOf(reopened), [[6, false], [8, false]])
  assert.deepEqual(readLog(reopened).records.map(found => [found.offset, found.value]), [[5, 'z0'], [7, 'w0'], [9, 'x-last'], [10, 'q0']])
  assert.equal(readCleanerDeleteHorizon(directory), Infinity)
  assert.equal(await cleanFully(restarted, reopened, configs, now + 5000), kCleanIdle, 'no horizon left')
  const committed = reopened.read(0, 1 << 20, true, 1)
  assert.deepEqual(committed.abortedTransactions, [])
  reopened.close()
})

test('tombstone horizons survive a restart: the checkpoint keeps the earliest one pending', async (t) => {
  const directory = temporaryDirectory(t)
  const config = logConfig(1024 * 1024, 0)
  const log = PartitionLog.open(directory, config)
  const configs = { ...kCompact, 'delete.retention.ms': '1000' }
  log.append(buildRecordBatch([record('a', 'a0'), record('b', 'b0')]), -1)
  log.append(buildRecordBatch([record('a', null)]), -1)
  log.rollIfOlderThan(0)
  const now = 2_000_000_000
  assert.equal(await cleanFully(new LogCleaner(), log, configs, now), kCleanDone)
  // A second tombstone, cleaned later: its horizon is later, and the earlier one stays the pending one.
  log.append(buildRecordBatch([record('b', null)]), -1)
  log.rollIfOlderThan(0)
  assert.equal(await cleanFully(new LogCleaner(), log, configs, now + 500), kCleanDone)
  assert.equal(readCleanerDeleteHorizon(directory), now + 1000)
  log.close()
  const reopened = PartitionLog.open(directory, config)
  const cleaner = new LogCleaner()
  assert.equal(await cleanFully(cleaner, reopened, configs, now + 1000), kCleanDone)
  assert.deepEqual(readLog(reopened).records.map(found => [found.key, found.value]), [['b', null]])
  assert.equal(readCleanerDeleteHorizon(directory), now + 1500, 'the later horizon is pending now')
  assert.equal(await cleanFully(cleaner, reopened, configs, now + 1500), kCleanDone)
  assert.deepEqual(readLog(reopened).records, [])
  reopened.close()
})

test('a large gzip batch is recompressed off the thread when the cleaner has a resume hook, and the clean goes on after it', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  appendKeyRounds(log, 2, 200, (round, key) => `value-${round}-${key}`.padEnd(200, '.'), { compression: Compression.gzip })
  log.append(buildRecordBatch([record('k0', 'last-0'), record('k1', 'last-1')]), -1) // two keys of the second batch superseded
  log.rollIfOlderThan(0)
  let resumed = 0
  const cleaner = new LogCleaner({ resume: () => { resumed++ }, asyncCodecMinBytes: 1024 })
  const states = new Set<number>()
  assert.equal(await cleanFully(cleaner, log, kCompact, Date.now(), states), kCleanDone)
  assert.ok(states.has(kCleanWaitingForCodec))
  assert.ok(resumed >= 1)
  const { records, batches } = readLog(log)
  assert.deepEqual(batches.map(batch => [batch.readUInt16BE(kAttributesOffset) & kCompressionMask, batch.readInt32BE(kRecordCountOffset)]),
    [[Compression.gzip, 198], [Compression.none, 2]])
  const latest = latestPerKey(records)
  assert.equal(latest.size, 200)
  assert.equal(latest.get('k0')?.value, 'last-0')
  assert.equal(latest.get('k1')?.value, 'last-1')
  assert.equal(latest.get('k7')?.value, 'value-1-7'.padEnd(200, '.'))
  assert.equal(records.length, 200)
  log.close()
  const reopened = PartitionLog.open(directory, logConfig(1024 * 1024, 0))
  assert.equal(readLog(reopened).records.length, 200)
  reopened.close()
})

/** A sync for LogCleaner's `sync` hook that holds every call until release(); notes whether each was a directory's. */
class HeldSyncs {
  readonly held: Array<{ directory: boolean, callback: (error: NodeJS.ErrnoException | null) => void }> = []
  fileSyncs = 0
  directorySyncs = 0
  readonly sync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    const directory = fstatSync(fd).isDirectory()
    if (directory) this.directorySyncs++
    else this.fileSyncs++
    this.held.push({ directory, callback })
  }

  release (): void {
    for (const { callback } of this.held.splice(0)) callback(null)
  }
}

function swapAndCleanedFiles (directory: string): string[] {
  return readdirSync(directory).filter(name => name.endsWith('.cleaned') || name.endsWith('.swap')).sort()
}

test('every sync of a clean runs off the thread, and the swap waits for each in the crash-safe order', async (t) => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, logConfig(2048, 256))
  const expected = new Map<string, string>()
  for (let round = 0; round < 3; round++) writeRound(log, round, expected)
  const sizeBefore = log.sizeBytes
  const syncs = new HeldSyncs()
  let resumed = 0
  const cleaner = new LogCleaner({ sync: syncs.sync, resume: () => { resumed++ } })
  const now = Date.now()
  let groups = 0
  for (let slices = 0; ; slices++) {
    assert.ok(slices < 10_000, 'the clean finishes')
    const state = cleaner.cleanSlice(log, kTopic, kCompact, now, 20).state
    if (state === kCleanDone) break
    if (state !== kCleanWaitingForDisk) {
      assert.equal(state, kCleanWorking)
      continue
    }
    assert.ok(syncs.held.length > 0, 'it waits for a sync it started')
    const files = swapAndCleanedFiles(directory)
    const base = (files[0] ?? '').slice(0, 20)
    if (!syncs.held[0].directory) {
      // 0: the three cleaned files are fsynced before anything is renamed.
      groups++
      assert.equal(syncs.held.length, 3)
      assert.deepEqual(files, [`${base}.index.cleaned`, `${base}.log.cleaned`, `${base}.timeindex.cleaned`])
    } else if (files.length > 0) {
      // 1: the commit point is made durable before any old segment is deleted.
      assert.deepEqual(files, [`${base}.index.swap`, `${base}.log.swap`, `${base}.timeindex.swap`])
      for (const segment of log.sealedSegments()) assert.ok(readdirSync(directory).includes(basename(segment.logPath)), 'the old segments are all there')
    } else {
      // 3: the swap is done; the directory is fsynced before the next group or the checkpoint.
      assert.equal(syncs.held.length, 1)
    }
    // Stepping while the disk is busy changes nothing.
    const listing = readdirSync(directory).sort()
    assert.equal(cleaner.cleanSlice(log, kTopic, kCompact, now, 20).state, kCleanWaitingForDisk)
    assert.deepEqual(readdirSync(directory).sort(), listing)
    const resumedBefore = resumed
    syncs.release()
    assert.equal(resumed, resumedBefore + 1, 'the last sync done calls the resume hook once')
  }
  assert.ok(groups >= 2, `${groups} groups`)
  assert.equal(syncs.fileSyncs, 3 * groups)
  assert.equal(syncs.directorySyncs, 2 * groups)
  assert.ok(log.sizeBytes < sizeBefore, 'the clean removed the older rounds')
  assert.deepEqual(swapAndCleanedFiles(directory), [])
  log.close()
  reopenAndCheck(directory, logConfig(2048, 256), log.nextOffset, expected, 'after the clean').close()
})

test('a segment deleted while the commit point is being fsynced undoes the commit; nothing is lost', async (t) => {
  const directory = temporaryDirectory(t)
  const config = logConfig(2048, 256)
  const log = PartitionLog.open(directory, config)
  const expected = new Map<string, string>()
  for (let round = 0; round < 2; round++) writeRound(log, round, expected)
  const syncs = new HeldSyncs()
  const cleaner = new LogCleaner({ sync: syncs.sync })
  const now = Date.now()
  let state = kCleanWorking
  for (let slices = 0; slices < 10_000; slices++) {
    state = cleaner.cleanSlice(log, kTopic, kCompact, now, 20).state
    if (state !== kCleanWorking && !(state === kCleanWaitingForDisk && !syncs.held[0].directory)) break
    syncs.release()
  }
  assert.equal(state, kCleanWaitingForDisk)
  assert.equal(syncs.held[0].directory, true, 'the commit point\'s directory fsync is pending')
  assert.equal(swapAndCleanedFiles(directory).filter(name => name.endsWith('.log.swap')).length, 1)
  // Retention takes the group's first segment meanwhile (a delete policy would); the commit is undone.
  log.deleteOldestSegment(0, now)
  syncs.release()
  assert.equal(await cleanFully(cleaner, log, kCompact, now), kCleanAborted)
  assert.deepEqual(swapAndCleanedFiles(directory), [])
  const offsetsBefore = readLog(log).records.map(found => found.offset)
  log.close()
  const reopened = PartitionLog.open(directory, config)
  assert.deepEqual(readLog(reopened).records.map(found => found.offset), offsetsBefore)
  reopened.close()
})
