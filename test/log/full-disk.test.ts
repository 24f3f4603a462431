// A partition log on a small tmpfs that fills up: appends fail with KAFKA_STORAGE_ERROR and leave no partial
// batch, index entry or temporary file behind, reads keep working, nothing appended before is lost, and once
// space is freed appends succeed again without reopening; a recovery afterwards finds exactly what was acked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { counterValue } from '../../src/counters.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { kSequenceOk } from '../../src/log/producer-state.ts'
import { buildBatch, decodeBatches, mountTmpfs, valuesOf } from './helpers.ts'

const kTmpfsBytes = 1024 * 1024

/** Appends batches of `recordBytes`-byte values until one fails; returns the acked values and the failure. */
function appendUntilFull (log: PartitionLog, prefix: string, recordBytes: number, acked: string[]): { code: number } {
  for (let index = 0; ; index++) {
    const values = [`${prefix}${index}-`.padEnd(recordBytes, 'x')]
    try {
      log.append(buildBatch({ values }), -1)
    } catch (error) {
      return error as { code: number }
    }
    acked.push(...values)
  }
}

test('a full disk fails appends with KAFKA_STORAGE_ERROR, keeps what was acked, and appends work again once space is freed', async t => {
  const mount = mountTmpfs(t, kTmpfsBytes)
  if ('skipped' in mount) {
    t.skip(mount.skipped)
    return
  }
  const directory = join(mount.path, 'p-0')
  // Small segments: rolls (index files, producer snapshots, new segments) happen while the disk fills.
  const log = PartitionLog.open(directory, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 })
  const filler = join(mount.path, 'filler')
  writeFileSync(filler, Buffer.alloc(256 * 1024))
  const acked: string[] = []
  const errorsBefore = counterValue('storage-errors')
  // Large batches first, then ever smaller ones, so that the disk ends up full to the last page.
  for (const size of [8000, 1000, 100, 10]) {
    const failure = appendUntilFull(log, `s${size}-`, size, acked)
    assert.equal(failure.code, ErrorCode.KAFKA_STORAGE_ERROR)
  }
  assert.ok(counterValue('storage-errors') - errorsBefore >= 4)
  assert.ok(acked.length > 50)
  assert.equal(log.nextOffset, acked.length, 'the log end is the last complete batch')
  assert.ok(!readdirSync(directory).some(name => name.endsWith('.tmp')), 'no temporary file left behind')
  // Reads work on the full disk, and give back every acked record intact.
  const batches = decodeBatches(log.read(0, 64 << 20, true).records)
  assert.ok(batches.every(batch => batch.crcValid))
  assert.deepEqual(valuesOf(log.read(0, 64 << 20, true).records), acked)
  for (let offset = 0; offset < log.nextOffset; offset += 37) {
    assert.equal(valuesOf(log.read(offset, 1, true).records)[0], acked[offset])
  }
  await log.flush()

  // Space back: the same log takes appends again, rolls included.
  unlinkSync(filler)
  for (let index = 0; index < 20; index++) {
    const values = [`after-${index}`.padEnd(4000, 'y')]
    log.append(buildBatch({ values }), -1)
    acked.push(...values)
  }
  await log.flush()
  assert.deepEqual(valuesOf(log.read(0, 64 << 20, true).records), acked)

  // A crash (no close(), so no clean-shutdown marker) and a recovery: exactly what was acked.
  const recovered = PartitionLog.open(directory, { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 })
  assert.equal(recovered.recovery.clean, false)
  assert.equal(recovered.recovery.bytesTruncated, 0, 'no partial batch was left in any segment')
  assert.equal(recovered.nextOffset, acked.length)
  assert.deepEqual(valuesOf(recovered.read(0, 64 << 20, true).records), acked)
  recovered.close()
  log.close()
})

test('an idempotent producer\'s sequence is not taken by a batch the full disk refused', t => {
  const mount = mountTmpfs(t, 256 * 1024)
  if ('skipped' in mount) {
    t.skip(mount.skipped)
    return
  }
  const log = PartitionLog.open(join(mount.path, 'p-0'), { segmentBytes: 1 << 20, indexIntervalBytes: 1024 })
  let sequence = 0
  let refused = false
  while (!refused) {
    const batch = buildBatch({ values: ['v'.repeat(3000)], producerId: 7, producerEpoch: 0, baseSequence: sequence })
    assert.equal(log.checkProducerState(batch), kSequenceOk)
    try {
      log.append(batch, -1)
      sequence++
    } catch (error) {
      assert.equal((error as { code: number }).code, ErrorCode.KAFKA_STORAGE_ERROR)
      refused = true
    }
  }
  // The refused batch's retry is neither a duplicate nor out of order.
  assert.equal(log.checkProducerState(buildBatch({ values: ['v'], producerId: 7, producerEpoch: 0, baseSequence: sequence })), kSequenceOk)
  log.close()
})
