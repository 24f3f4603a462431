import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kCrcOffset } from '../../src/protocol/record-batch-layout.ts'
import { kCleanShutdownFile, PartitionLog } from '../../src/log/partition-log.ts'
import { buildBatch, decodeBatches, fill, kSmallSegments, segmentFiles, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'
import { expectedValues, kCrashLogConfig, kCrashProducerId } from './fixtures/append-until-killed.ts'

/** File positions of the batches in a .log file. */
function batchPositions (path: string): number[] {
  const data = readFileSync(path)
  const positions: number[] = []
  for (let at = 0; at < data.length; at += 12 + data.readInt32BE(at + 8)) positions.push(at)
  return positions
}

function makeUnclean (directory: string): void {
  unlinkSync(join(directory, kCleanShutdownFile))
}

test('garbage appended to the tail is truncated', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 40)
  const last = segmentFiles(directory, '.log').at(-1)!
  const sizeBefore = readFileSync(last).length
  appendFileSync(last, Buffer.from('this is not a record batch, just garbage from a torn write'))
  makeUnclean(directory)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.bytesTruncated, 58)
  assert.equal(readFileSync(last).length, sizeBefore)
  assert.equal(log.nextOffset, nextOffset)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  assert.equal(log.append(buildBatch({ values: ['after'] }), -1), nextOffset)
  assert.deepEqual(valuesOf(log.read(nextOffset, 100, true).records), ['after'])
  log.close()
})

test('garbage after a clean shutdown is truncated too (the tail after the last index entry is validated)', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 40)
  appendFileSync(segmentFiles(directory, '.log').at(-1)!, Buffer.alloc(100, 7))
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.clean, true)
  assert.equal(log.nextOffset, nextOffset)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  log.close()
})

test('a torn last batch is truncated', t => {
  const directory = temporaryDirectory(t)
  const { nextOffset } = fill(directory, 40)
  const last = segmentFiles(directory, '.log').at(-1)!
  truncateSync(last, readFileSync(last).length - 5)
  makeUnclean(directory)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.nextOffset, nextOffset - 3)
  assert.equal(log.read(0, 1 << 20, true).records !== null, true)
  log.close()
})

test('a batch with a flipped CRC byte in the tail truncates the log from that batch', t => {
  const directory = temporaryDirectory(t)
  fill(directory, 40)
  const last = segmentFiles(directory, '.log').at(-1)!
  const positions = batchPositions(last)
  assert.ok(positions.length >= 4)
  const victim = positions[positions.length - 3]
  const data = readFileSync(last)
  const victimBaseOffset = Number(data.readBigInt64BE(victim))
  data[victim + kCrcOffset + 2] ^= 0x40
  writeFileSync(last, data)
  makeUnclean(directory)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.nextOffset, victimBaseOffset)
  assert.equal(readFileSync(last).length, victim)
  const batches = decodeBatches(log.read(0, 1 << 20, true).records)
  assert.equal(batches.at(-1)!.lastOffset, victimBaseOffset - 1)
  assert.ok(batches.every(batch => batch.crcValid))
  log.close()
})

test('deleted indexes are rebuilt and reads and timestamp lookups still work', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 60)
  for (const path of [...segmentFiles(directory, '.index'), ...segmentFiles(directory, '.timeindex')]) unlinkSync(path)
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.segmentsRebuilt, log.segmentCount)
  assert.equal(log.nextOffset, nextOffset)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  for (const offset of [0, 50, 100, 150, 179]) {
    assert.equal(decodeBatches(log.read(offset, 1, true).records)[0].baseOffset, offset - (offset % 3))
  }
  assert.deepEqual(log.offsetForTimestamp(1_000_002), { offset: 2, timestamp: 1_000_002 })
  log.close()
  assert.equal(segmentFiles(directory, '.index').length, log.segmentCount)
})

test('corrupted indexes are rebuilt: torn entry, entry past the end of the log', t => {
  const directory = temporaryDirectory(t)
  const { values, nextOffset } = fill(directory, 60)
  const indexes = segmentFiles(directory, '.index')
  const timeIndexes = segmentFiles(directory, '.timeindex')
  appendFileSync(indexes[0], Buffer.from([1, 2, 3])) // not a multiple of 8
  const pastTheEnd = Buffer.alloc(8)
  pastTheEnd.writeInt32BE(2, 0)
  pastTheEnd.writeInt32BE(1 << 20, 4)
  appendFileSync(indexes[1], pastTheEnd)
  appendFileSync(timeIndexes[2], Buffer.alloc(5))
  appendFileSync(indexes.at(-1)!, pastTheEnd) // the active segment's
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.recovery.clean, true)
  assert.equal(log.recovery.segmentsRebuilt, 4)
  assert.equal(log.nextOffset, nextOffset)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  let offset = 0
  while (offset < nextOffset) {
    const batch = decodeBatches(log.read(offset, 1, true).records)[0]
    assert.equal(batch.baseOffset, offset)
    offset = batch.lastOffset + 1
  }
  log.close()
})

test('a sealed segment corrupted in the middle loses its tail and the segments after it', t => {
  const directory = temporaryDirectory(t)
  fill(directory, 60)
  const logs = segmentFiles(directory, '.log')
  const victim = logs[1]
  const positions = batchPositions(victim)
  const data = readFileSync(victim)
  const victimBaseOffset = Number(data.readBigInt64BE(positions[2]))
  data[positions[2] + 70] ^= 0xff
  writeFileSync(victim, data)
  unlinkSync(victim.replace(/\.log$/, '.index')) // a missing index makes open() validate the segment
  const log = PartitionLog.open(directory, kSmallSegments)
  assert.equal(log.nextOffset, victimBaseOffset)
  assert.equal(log.segmentCount, 2)
  assert.equal(log.recovery.segmentsDeleted, logs.length - 2)
  assert.equal(log.append(buildBatch({ values: ['x'] }), -1), victimBaseOffset)
  log.close()
})

test('an unclean shutdown without any close keeps every appended batch', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  for (let index = 0; index < 50; index++) log.append(buildBatch({ values: standardValues(index) }), -1)
  const values = valuesOf(log.read(0, 1 << 20, true).records)
  // No close(): the active segment's indexes were never written; another instance recovers the directory.
  const recovered = PartitionLog.open(directory, kSmallSegments)
  assert.equal(recovered.recovery.clean, false)
  assert.equal(recovered.nextOffset, 150)
  assert.deepEqual(valuesOf(recovered.read(0, 1 << 20, true).records), values)
  recovered.close()
})

const kNode = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url))
const kFixture = fileURLToPath(new URL('./fixtures/append-until-killed.ts', import.meta.url))

/** Runs the fixture until it acknowledged `acknowledgements` flushes, then kills it with SIGKILL. */
async function runAndKill (directory: string, acknowledgements: number): Promise<number[]> {
  const child = spawn(kNode, [kFixture, directory], { stdio: ['ignore', 'pipe', 'pipe'] })
  const acknowledged: number[] = []
  let pending = ''
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const exited = new Promise<void>(resolve => child.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${acknowledgements} acknowledgements within 10 s: ${stderr}`)), 10_000)
    child.stdout.on('data', chunk => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) acknowledged.push(Number(line))
      if (acknowledged.length >= acknowledgements) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', code => {
      clearTimeout(timer)
      reject(new Error(`fixture exited with ${code} before the kill: ${stderr}`))
    })
  })
  child.kill('SIGKILL')
  await exited
  return acknowledged
}

test('kill -9: every acknowledged offset survives, with its contents and producer state', async t => {
  const directory = temporaryDirectory(t)
  let lastAcknowledged = 0
  for (let round = 0; round < 3; round++) {
    const acknowledged = await runAndKill(directory, 20 + round * 15)
    assert.ok(acknowledged.every((offset, index) => index === 0 || offset > acknowledged[index - 1]))
    lastAcknowledged = acknowledged.at(-1)!
    const log = PartitionLog.open(directory, kCrashLogConfig)
    assert.equal(log.recovery.clean, false)
    assert.ok(log.nextOffset >= lastAcknowledged, `nextOffset ${log.nextOffset} < acknowledged ${lastAcknowledged}`)
    let offset = 0
    while (offset < log.nextOffset) {
      const result = log.read(offset, 64 * 1024, true)
      for (const batch of decodeBatches(result.records)) {
        assert.equal(batch.baseOffset, offset)
        assert.ok(batch.crcValid)
        assert.deepEqual(batch.records.map(record => record.value), expectedValues(batch.baseOffset))
        offset = batch.lastOffset + 1
      }
    }
    assert.equal(log.producers.get(kCrashProducerId)!.lastSequence, log.nextOffset - 1)
    t.diagnostic(`round ${round}: acknowledged ${lastAcknowledged}, recovered ${log.nextOffset} in ${log.segmentCount} segments`)
    if (round === 1) log.close() // one clean restart in between; the others leave the log as the kill did
  }
})

test('batches larger than the read windows and the recovery chunk survive recovery and reads', t => {
  const directory = temporaryDirectory(t)
  const config = { segmentBytes: 1024 * 1024, indexIntervalBytes: 4096 }
  const log = PartitionLog.open(directory, config)
  const sizes = [10, 1_500_000, 10, 20_000, 30_000, 10, 2_000_000, 10]
  for (const [index, size] of sizes.entries()) log.append(buildBatch({ values: [`${index}:` + 'x'.repeat(size)] }), -1)
  assert.equal(log.segmentCount, 5)
  const values = valuesOf(log.read(0, 64 << 20, true).records)
  assert.deepEqual(values.map(value => value.length), sizes.map((size, index) => size + `${index}:`.length))
  // No close: full recovery of the last segment, whose batches exceed the 1 MiB recovery chunk.
  const recovered = PartitionLog.open(directory, config)
  assert.equal(recovered.nextOffset, sizes.length)
  for (let offset = 0; offset < sizes.length; offset++) {
    const one = valuesOf(recovered.read(offset, 1, true).records)
    assert.deepEqual(one, [values[offset]])
  }
  recovered.close()
})
