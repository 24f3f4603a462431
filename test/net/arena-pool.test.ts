import { test } from 'node:test'
import assert from 'node:assert/strict'
import { idleArenaBytes, kSmallestArenaBytes, releaseArena, retainArena, takeArena } from '../../src/net/arena-pool.ts'

test('arenas come in power-of-two sizes and are reused once their last reference is released', () => {
  const first = takeArena(1000)
  assert.equal(first.buffer.length, kSmallestArenaBytes)
  assert.equal(takeArena(300 * 1024).buffer.length, 512 * 1024)
  retainArena(first) // a request framed in it
  releaseArena(first) // the connection moved on
  assert.notEqual(takeArena(1000), first, 'still referenced by its request: not reused')
  const before = idleArenaBytes()
  releaseArena(first) // the request was answered
  assert.equal(idleArenaBytes(), before + kSmallestArenaBytes)
  const again = takeArena(kSmallestArenaBytes)
  assert.equal(again, first)
  assert.equal(again.references, 1)
  assert.equal(idleArenaBytes(), before)
})

test('arenas above 16 MiB get their exact size and are not pooled; a double release is a bug', () => {
  const big = takeArena(20 * 1024 * 1024 + 3)
  assert.equal(big.buffer.length, 20 * 1024 * 1024 + 3)
  const before = idleArenaBytes()
  releaseArena(big)
  assert.equal(idleArenaBytes(), before)
  assert.throws(() => releaseArena(big), /released more often than retained/)
})
