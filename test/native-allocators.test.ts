// src/native-allocators.ts: the mimalloc options the broker runs its native addons with.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyNativeAllocatorDefaults, kMimallocDefaults } from '../src/native-allocators.ts'

test('the allocator defaults are applied where the environment does not set them, and an operator\'s values are kept', () => {
  const env: NodeJS.ProcessEnv = { MIMALLOC_RESET_DELAY: '250' }
  assert.deepEqual(applyNativeAllocatorDefaults(env).sort(), ['MIMALLOC_PAGE_RESET', 'MIMALLOC_RESET_DECOMMITS'])
  assert.deepEqual(env, { ...kMimallocDefaults, MIMALLOC_RESET_DELAY: '250' })
  assert.deepEqual(applyNativeAllocatorDefaults(env), [])
})
