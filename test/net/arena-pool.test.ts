import { test } from 'node:test'
import assert from 'node:assert/strict'
import { idleArenaBytes, kSmallestArenaBytes, releaseArena, releaseReaderArena, retainArena, takeArena } from '../../src/net/arena-pool.ts'
import { workerBudget } from '../../src/net/memory-budget.ts'

test('arenas come in power-of-two sizes and are reused once their last reference is released', () => {
  const first = takeArena(1000)
  assert.equal(first.buffer.length, kSmallestArenaBytes)
  assert.equal(takeArena(300 * 1024).buffer.length, 512 * 1024)
  retainArena(first) // a request framed in it
  releaseReaderArena(first) // the connection moved on
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
  releaseReaderArena(big)
  assert.equal(idleArenaBytes(), before)
  assert.throws(() => releaseReaderArena(big), /released more often than retained/)
  assert.throws(() => releaseArena(takeArena(1000)), /released more often than retained/, 'no request was framed in it')
})

test('an arena is charged to the worker budget, whole, while a request framed in it is unanswered', () => {
  const base = workerBudget.used
  const arena = takeArena(1000)
  assert.equal(workerBudget.used, base, 'the reader alone is not charged')
  retainArena(arena)
  retainArena(arena)
  assert.equal(workerBudget.used, base + kSmallestArenaBytes, 'charged once, however many requests')
  releaseReaderArena(arena)
  releaseArena(arena)
  assert.equal(workerBudget.used, base + kSmallestArenaBytes)
  releaseArena(arena)
  assert.equal(workerBudget.used, base, 'the last answer gives it back')
  assert.equal(takeArena(1000), arena, 'and it is reused')
})

test('dropping the idle arenas empties the pool and says how many bytes it held', async () => {
  const { dropIdleArenas } = await import('../../src/net/arena-pool.ts')
  dropIdleArenas()
  const arena = takeArena(1000)
  releaseReaderArena(arena)
  assert.equal(idleArenaBytes(), kSmallestArenaBytes)
  assert.equal(dropIdleArenas(), kSmallestArenaBytes)
  assert.equal(idleArenaBytes(), 0)
  assert.notEqual(takeArena(1000), arena, 'a dropped arena is not handed out again')
})
