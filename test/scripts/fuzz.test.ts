// CI's bounded fuzz pass: `npm run fuzz -- --frames 100000 --seed 1` against its own 2-worker broker must end
// with no crash and no hang. Runs the fuzzer as its own process (it starts the broker as another), so that the
// test runner's event loop does not slow either. SHOAL_FUZZ_FRAMES overrides the frame count (e.g. for a quick
// local check). Slow liveness checks are reported in the message but, on a shared CI machine, not asserted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runFuzzer } from '../helpers/fuzz.ts'

const kFrames = Number(process.env.SHOAL_FUZZ_FRAMES ?? 100_000)

test(`${kFrames} fuzzed frames over 4 connections: no crash, no hang`, { timeout: 9 * 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'shoal-fuzz-out-'))
  try {
    const { result, summary, stderr } = await runFuzzer(['--frames', String(kFrames), '--seed', '1', '--out', out])
    assert.ok(result !== null, `no result from the fuzzer:\n${summary}\n${stderr}`)
    assert.ok(result.frames >= kFrames, summary)
    assert.equal(result.crashes, 0, `${summary}\n${stderr.slice(-8000)}`)
    assert.equal(result.hangs, 0, `${summary}\n${stderr.slice(-8000)}`)
    assert.ok(result.answered > kFrames / 2, summary)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
