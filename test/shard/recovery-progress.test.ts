import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatBytes } from '../../src/shard/recovery-progress.ts'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'

const kPartitions = 300

test('formatBytes writes binary units with one decimal', () => {
  assert.equal(formatBytes(0), '0 B')
  assert.equal(formatBytes(1023), '1023 B')
  assert.equal(formatBytes(1536), '1.5 KiB')
  assert.equal(formatBytes(3.1 * 1024 ** 3), '3.1 GiB')
})

const kSummary = /INFO {2}\[worker-(\d)\] worker \1: recovered (\d+) partitions \((\d+(?:\.\d)? (?:B|KiB|MiB)); all shut down cleanly\) in \d+(?:\.\d)? m?s\n/g

test('a restart logs recovery progress and a summary per worker, and says how many partitions were unclean', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-test-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const first = await startBroker({ workers: 2, dataDir, cleanup: false })
  try {
    const client = await KafkaClient.to(first.bootstrap)
    try {
      await createTopic(client, 'many', kPartitions)
      assert.equal((await produce(client, 'many', 7, ['a', 'b', 'c'])).errorCode, 0)
    } finally {
      client.close()
    }
  } finally {
    await first.stop()
  }
  assert.equal(first.process.exitCode, 0, first.output())

  // Clean restart, a progress line after every partition (the interval is internal; 0 only for this test).
  const second = await startBroker({ workers: 2, dataDir, cleanup: false, args: ['--log-level', 'info'], env: { SHOAL_RECOVERY_PROGRESS_INTERVAL_MS: '0' } })
  // Worker threads' lines reach stderr through the main thread, not necessarily before `listening on`.
  await waitFor(() => [...second.output().matchAll(kSummary)].length === 2, 20_000, `two summaries:\n${second.output()}`)
  await second.kill()
  const text = second.output()
  const summaries = [...text.matchAll(kSummary)]
  assert.equal(summaries.reduce((sum, m) => sum + Number(m[2]), 0), kPartitions, text)
  const progress = [...text.matchAll(/\[worker-(\d)\] worker \1: recovered (\d+)\/(\d+) partitions \([^)]+\) in \S+ m?s\n/g)]
  // Every partition but each worker's last gets a line (the summary stands for the last).
  assert.equal(progress.length, kPartitions - 2, text)
  for (const m of progress) assert.ok(Number(m[2]) < Number(m[3]), m[0])

  // After SIGKILL no log has its clean-shutdown marker: the summary (json here) counts them all unclean.
  const third = await startBroker({ workers: 2, dataDir, cleanup: false, args: ['--log-level', 'info', '--log-format', 'json'] })
  const summariesOf = (output: string): any[] => output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
    .filter((e) => typeof e.msg === 'string' && /^worker \d: recovered \d+ partitions /.test(e.msg))
  await waitFor(() => summariesOf(third.output()).length === 2, 20_000, `two summaries:\n${third.output()}`)
  await third.stop()
  const recovered = summariesOf(third.output())
  let total = 0
  for (const e of recovered) {
    assert.equal(e.level, 30)
    assert.equal(e.thread, `worker-${e.worker}`)
    assert.equal(e.recovered, e.partitions)
    assert.equal(e.unclean, e.recovered)
    assert.match(e.msg, new RegExp(`${e.unclean} after an unclean shutdown`))
    assert.ok(typeof e.elapsedMs === 'number' && e.bytes >= 0)
    total += e.recovered
  }
  assert.equal(total, kPartitions)
  assert.ok(recovered.some((e) => e.bytes > 0), 'the partition written to has bytes')
})
