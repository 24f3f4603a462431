// bench/request-timeline.ts runs end to end: it starts a broker, drives each (acks, in-flight) row and prints the
// broker's fsync rounds beside the client's round trips. Only the shape of the output is checked, never a time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const kScript = fileURLToPath(new URL('../../bench/request-timeline.ts', import.meta.url))

test('request-timeline prints a row per acks and in-flight count, with fsync rounds only at acks=-1', () => {
  const run = spawnSync(process.execPath, [kScript, '--workers', '1', '--seconds', '0.3'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(run.status, 0, run.stderr)
  const rows = run.stdout.split('\n').filter((line) => /^-?1\s+[15]\s/.test(line)).map((line) => line.trim().split(/\s+/))
  assert.deepEqual(rows.map((cells) => [cells[0], cells[1]]), [['1', '1'], ['1', '5'], ['-1', '1'], ['-1', '5']])
  for (const cells of rows) {
    assert.ok(Number(cells[2]) > 0, `no throughput in ${cells.join(' ')}`)
    const requestsPerRound = cells[8]
    if (cells[0] === '1') assert.equal(requestsPerRound, '-')
    // One request per round at 1 in flight: each waits for its own fsync.
    else if (cells[1] === '1') assert.equal(Number(requestsPerRound), 1)
    else assert.ok(Number(requestsPerRound) >= 1)
  }
})
