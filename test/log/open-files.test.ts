// Lazily opened segments and the thread's LRU of open segment files (segment.ts): a log with many sealed
// segments holds only its active segment open; reads open sealed ones and the LRU closes the least recently
// used beyond its cap, without breaking reads, and never closes an fd a flush is fsyncing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readlinkSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { counterValue } from '../../src/counters.ts'
import { kCleanShutdownFile, PartitionLog, type FsyncFunction } from '../../src/log/partition-log.ts'
import { kDefaultMaxOpenSegmentFiles, openSegmentFileCount, setMaxOpenSegmentFiles } from '../../src/log/segment.ts'
import { buildBatch, standardValues, temporaryDirectory, valuesOf } from './helpers.ts'

const kSmallSegments = { segmentBytes: 1024, indexIntervalBytes: 128 }

/** The .log files under `directory` this process has open now (from /proc/self/fd). */
function openLogFiles (directory: string): string[] {
  const open: string[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue // the fd of the readdir itself, gone by now
    }
    if (target.startsWith(directory + '/') && target.endsWith('.log')) open.push(target)
  }
  return open
}

function fill (log: PartitionLog, batches: number): string[] {
  const values: string[] = []
  for (let index = 0; index < batches; index++) {
    log.append(buildBatch({ values: standardValues(index) }), -1)
    values.push(...standardValues(index))
  }
  return values
}

test('a reopened log with many sealed segments holds only its active segment file open', t => {
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, kSmallSegments)
  const values = fill(log, 60)
  assert.ok(log.segmentCount > 5)
  log.close()
  assert.deepEqual(openLogFiles(directory), [])

  for (const clean of [true, false]) {
    // The unclean round: no marker, as after kill -9, so the last segment is rebuilt and the others checked.
    if (!clean) unlinkSync(join(directory, kCleanShutdownFile))
    const reopened = PartitionLog.open(directory, kSmallSegments)
    assert.equal(reopened.recovery.clean, clean)
    assert.equal(openLogFiles(directory).length, 1, 'only the active segment is open after open()')
    assert.deepEqual(valuesOf(reopened.read(0, 1 << 20, true).records), values)
    reopened.close()
  }
})

test('the LRU of open segment files closes the least recently read beyond its cap, and reads stay right', t => {
  t.after(() => setMaxOpenSegmentFiles(kDefaultMaxOpenSegmentFiles))
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { ...kSmallSegments, maxOpenSegmentFiles: 3 })
  const values = fill(log, 150)
  const segments = log.segmentCount
  assert.ok(segments > 8)
  const evictedBefore = counterValue('segment-files-evicted')
  // Page through everything twice, a batch or so at a time: every sealed segment is opened, most are evicted.
  for (let round = 0; round < 2; round++) {
    const fetched: string[] = []
    let offset = 0
    while (offset < log.nextOffset) {
      const page = log.read(offset, 200, true)
      const pageValues = valuesOf(page.records)
      fetched.push(...pageValues)
      offset += pageValues.length
      assert.ok(openSegmentFileCount() <= 3)
      assert.ok(openLogFiles(directory).length <= 4, 'at most the cap plus the active segment')
    }
    assert.deepEqual(fetched, values)
  }
  assert.ok(counterValue('segment-files-evicted') - evictedBefore >= 2 * (segments - 1 - 3))
  // Lookups by timestamp go through the same LRU.
  assert.ok(log.offsetForTimestamp(0) !== null)
  log.close()
  assert.equal(openSegmentFileCount(), 0)
  assert.deepEqual(openLogFiles(directory), [])
})

test('the LRU never closes the fd a running flush is fsyncing', async t => {
  t.after(() => setMaxOpenSegmentFiles(kDefaultMaxOpenSegmentFiles))
  const pending: Array<{ fd: number, target: string, callback: (error: NodeJS.ErrnoException | null) => void }> = []
  const fsyncImpl: FsyncFunction = (fd, callback) => pending.push({ fd, target: readlinkSync(`/proc/self/fd/${fd}`), callback })
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(directory, { ...kSmallSegments, maxOpenSegmentFiles: 1, fsyncImpl })
  log.append(buildBatch({ values: ['first'] }), -1)
  const flushed = log.flush()
  // The flush pins the active segment; now it is sealed by rolls and the LRU (cap 1) churns through reads.
  const values = ['first', ...fill(log, 40)]
  assert.ok(log.segmentCount > 4)
  assert.deepEqual(valuesOf(log.read(0, 1 << 20, true).records), values)
  for (let offset = 0; offset < log.nextOffset; offset += 10) log.read(offset, 100, true)
  for (const { fd, target } of pending) assert.equal(readlinkSync(`/proc/self/fd/${fd}`), target, 'a synced fd was closed or reused')
  for (const { callback } of pending.splice(0)) callback(null)
  await flushed
  // The next round fsyncs the sealed segments (opened for the round) and the active one.
  const next = log.flush()
  for (;;) {
    await new Promise(resolve => setImmediate(resolve))
    if (pending.length > 0) break
  }
  for (const { callback } of pending.splice(0)) callback(null)
  await next
  assert.equal(log.durableOffset, log.nextOffset)
  assert.ok(openSegmentFileCount() <= 1)
  log.close()
})
