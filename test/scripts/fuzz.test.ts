// CI's bounded fuzz pass: `npm run fuzz -- --frames 100000 --seed 1` against its own 2-worker broker must end
// with no crash and no hang. Runs the fuzzer as its own process (it starts the broker as another), so that the
// test runner's event loop does not slow either. SHOAL_FUZZ_FRAMES overrides the frame count (e.g. for a quick
// local check). Slow liveness checks are reported in the message but, on a shared CI machine, not asserted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const kScript = fileURLToPath(new URL('../../scripts/fuzz.ts', import.meta.url))
const kFrames = Number(process.env.SHOAL_FUZZ_FRAMES ?? 100_000)

test(`${kFrames} fuzzed frames over 4 connections: no crash, no hang`, { timeout: 9 * 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'shoal-fuzz-out-'))
  try {
    const child = spawn(process.execPath, [kScript, '--frames', String(kFrames), '--seed', '1', '--out', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-20_000) })
    await new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const json = stdout.split('\n').find((line) => line.startsWith('{'))
    assert.ok(json !== undefined, `no result from the fuzzer:\n${stdout}\n${stderr}`)
    const result = JSON.parse(json)
    const summary = stdout.split('\n').filter((line) => !line.startsWith('{')).join('\n')
    assert.ok(result.frames >= kFrames, summary)
    assert.equal(result.crashes, 0, `${summary}\n${stderr.slice(-8000)}`)
    assert.equal(result.hangs, 0, `${summary}\n${stderr.slice(-8000)}`)
    assert.ok(result.answered > kFrames / 2, summary)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
