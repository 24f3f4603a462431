// src/native-allocators.ts: the mimalloc options the broker runs its native addons with.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { applyNativeAllocatorDefaults, kMimallocDefaults } from '../src/native-allocators.ts'

test('the allocator defaults are applied where the environment does not set them, and an operator\'s values are kept', () => {
  const env: NodeJS.ProcessEnv = { MIMALLOC_RESET_DELAY: '250' }
  assert.deepEqual(applyNativeAllocatorDefaults(env).sort(), ['MIMALLOC_PAGE_RESET', 'MIMALLOC_RESET_DECOMMITS'])
  assert.deepEqual(env, { ...kMimallocDefaults, MIMALLOC_RESET_DELAY: '250' })
  assert.deepEqual(applyNativeAllocatorDefaults(env), [])
})

test('with them, the memory a snappy burst took goes back to the kernel once freed', { skip: process.platform !== 'linux' }, () => {
  const fixture = fileURLToPath(new URL('./fixtures/snappy-burst.ts', import.meta.url))
  // MIMALLOC_* unset in both, so that only the fixture's import of the settings differs.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MIMALLOC_')))
  const rss = (raw: boolean): number => Number(execFileSync(process.execPath, [fixture], { env: { ...env, SNAPPY_BURST_RAW: raw ? '1' : '0' }, encoding: 'utf8' }).trim())
  const kept = rss(true)
  const given = rss(false)
  assert.ok(given < kept - 100, `resident after the burst: ${given} MiB with the settings, ${kept} MiB without`)
})
