import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryBudget } from '../../src/net/memory-budget.ts'

test('takes bytes while they fit, and charges what is already in memory beyond the limit', () => {
  const budget = new MemoryBudget(100)
  assert.equal(budget.tryTake(60), true)
  assert.equal(budget.tryTake(41), false)
  assert.equal(budget.exhausted, false)
  budget.charge(50)
  assert.equal(budget.used, 110)
  assert.equal(budget.exhausted, true)
  budget.give(110)
  assert.equal(budget.used, 0)
  assert.throws(() => budget.give(1), /more than was taken/)
})

test('waiters are woken in order when bytes come back, and a big one is not overtaken', () => {
  const budget = new MemoryBudget(100)
  budget.charge(100)
  const order: string[] = []
  const big = (): boolean => { if (!budget.tryTake(80)) return false; order.push('big'); return true }
  const small = (): boolean => { if (!budget.tryTake(10)) return false; order.push('small'); return true }
  budget.wait(big)
  budget.wait(small)
  assert.equal(budget.tryTake(1), false, 'a newcomer queues behind the waiters')
  assert.equal(budget.exhausted, true)
  budget.give(30) // 70 used: big (80) does not fit, so small waits behind it
  assert.deepEqual(order, [])
  budget.give(70) // 0 used
  assert.deepEqual(order, ['big', 'small'])
  assert.equal(budget.used, 90)
  assert.equal(budget.waiting, 0)
})

test('a waiter that goes away wakes those behind it', () => {
  const budget = new MemoryBudget(100)
  budget.charge(50)
  let woken = false
  const stuck = (): boolean => budget.tryTake(80)
  budget.wait(stuck)
  budget.wait(() => { woken = budget.tryTake(10); return woken })
  budget.give(0)
  assert.equal(woken, false)
  budget.cancel(stuck)
  assert.equal(woken, true)
})

test('a waiter giving bytes back while being woken does not wake the queue twice', () => {
  const budget = new MemoryBudget(10)
  budget.charge(10)
  const calls: number[] = []
  budget.wait(() => { calls.push(1); budget.give(0); return true })
  budget.wait(() => { calls.push(2); return true })
  budget.give(5)
  assert.deepEqual(calls, [1, 2])
})
