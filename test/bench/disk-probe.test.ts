// The disk probe of the bench's header: its summary and a short real run (shape only, no timing assertions).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatDiskProbe, formatDiskWatch, probeDisk, summarizeDiskProbe, watchDisk } from '../../bench/lib/disk-probe.ts'

test('summarizes fdatasync durations: nearest-rank percentiles, the maximum, the count over 10 ms, the rate', () => {
  const durations = Array.from({ length: 1000 }, (_, index) => (index + 1) / 100)
  durations.push(50, 1500)
  const summary = summarizeDiskProbe(durations, { directory: '/data', writeBytes: 65536, targetBytesPerSec: 60e6, elapsedMs: 2000 })
  assert.equal(summary.rounds, 1002)
  assert.equal(summary.p50Ms, 5.01)
  assert.equal(summary.maxMs, 1500)
  assert.equal(summary.over10Ms, 2)
  assert.equal(summary.bytesPerSec, 1002 * 65536 / 2)
  assert.match(formatDiskProbe(summary), /^disk \/data: fdatasync after 64 KiB writes at 33 MB\/s \(target 60\), 1,002 rounds in 2\.0 s: p50 5\.01 ms, .* max 1500 ms, 2 over 10 ms$/)
  const empty = summarizeDiskProbe([], { directory: '/data', writeBytes: 65536, targetBytesPerSec: 60e6, elapsedMs: 0 })
  assert.deepEqual([empty.rounds, empty.p99Ms, empty.maxMs, empty.over10Ms, empty.bytesPerSec], [0, null, null, 0, 0])
})

test('probes a directory for about the given time and leaves nothing behind', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'shoal-disk-probe-test-'))
  try {
    const summary = await probeDisk(parent, { durationMs: 300 })
    assert.equal(summary.directory, parent)
    assert.equal(summary.writeBytes, 65536)
    assert.equal(summary.targetBytesPerSec, 60e6)
    assert.ok(summary.rounds >= 1)
    assert.ok(summary.elapsedMs >= 300)
    for (const value of [summary.p50Ms, summary.p99Ms, summary.p999Ms, summary.maxMs]) assert.equal(typeof value, 'number')
    assert.ok(summary.p50Ms! <= summary.p99Ms! && summary.p99Ms! <= summary.p999Ms! && summary.p999Ms! <= summary.maxMs!)
    assert.ok(summary.over10Ms >= 0 && summary.over10Ms <= summary.rounds)
    assert.deepEqual(readdirSync(parent), [])
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})

test('a disk watch runs small rounds until it is stopped, then leaves nothing behind', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'shoal-disk-watch-test-'))
  try {
    const stop = new AbortController()
    const watching = watchDisk(parent, stop.signal)
    await new Promise((resolve) => setTimeout(resolve, 200))
    stop.abort()
    const summary = await watching
    assert.equal(summary.writeBytes, 4096)
    assert.ok(summary.rounds >= 1)
    assert.ok(summary.elapsedMs < 60_000, 'stopped when asked, not after its 10-minute limit')
    assert.match(formatDiskWatch(summary), /^fdatasync watch on the same disk during the run: [\d,]+ rounds, p50 .* ms, \d+ over 10 ms$/)
    assert.deepEqual(readdirSync(parent), [])
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})
