import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readiness } from '../../src/metrics/readiness.ts'

test('not ready until every worker has recovered and the Kafka listener is up', () => {
  const readiness = new Readiness(2)
  assert.equal(readiness.ready, false)
  assert.match(readiness.describe(), /worker\(s\) 0, 1/)
  readiness.workerServing(0)
  readiness.listening()
  assert.equal(readiness.ready, false)
  assert.match(readiness.describe(), /worker\(s\) 1\b/)
  readiness.workerServing(1)
  assert.equal(readiness.ready, true)
  assert.equal(readiness.describe(), 'ready')
})

test('the listener coming up before the workers recovered is not ready', () => {
  const readiness = new Readiness(1)
  readiness.listening()
  assert.equal(readiness.ready, false)
  readiness.workerServing(0)
  assert.equal(readiness.ready, true)
})

test('a worker that dies makes the broker not ready until its successor serves', () => {
  const readiness = new Readiness(2)
  readiness.workerServing(0)
  readiness.workerServing(1)
  readiness.listening()
  readiness.workerDown(1)
  assert.equal(readiness.ready, false)
  readiness.workerServing(1)
  assert.equal(readiness.ready, true)
})

test('shutting down is never ready again', () => {
  const readiness = new Readiness(1)
  readiness.workerServing(0)
  readiness.listening()
  readiness.closing()
  assert.equal(readiness.ready, false)
  assert.equal(readiness.describe(), 'shutting down')
  readiness.workerServing(0)
  assert.equal(readiness.ready, false)
})
