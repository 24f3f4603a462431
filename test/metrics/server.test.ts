import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startMetricsServer } from '../../src/metrics/server.ts'
import { Readiness } from '../../src/metrics/readiness.ts'
import { Logger } from '../../src/logger.ts'

test('serves /healthz always, /readyz by the readiness state, /metrics from its renderer, 404 elsewhere', async () => {
  const readiness = new Readiness(1)
  let renders = 0
  const renderer = { contentType: 'text/plain; version=0.0.4; charset=utf-8', render: async () => `shoal_test_total ${++renders}\n` }
  const server = await startMetricsServer('127.0.0.1', 0, readiness, renderer, new Logger('error', 'test'))
  try {
    assert.ok(server.port > 0)
    const base = `http://127.0.0.1:${server.port}`
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    const before = await fetch(`${base}/readyz`)
    assert.equal(before.status, 503)
    assert.match(await before.text(), /waiting for worker/)
    readiness.workerServing(0)
    readiness.listening()
    assert.equal((await fetch(`${base}/readyz`)).status, 200)
    const metrics = await fetch(`${base}/metrics`)
    assert.equal(metrics.status, 200)
    assert.equal(metrics.headers.get('content-type'), renderer.contentType)
    assert.equal(await metrics.text(), 'shoal_test_total 1\n')
    assert.equal((await fetch(`${base}/metrics?x=1`)).status, 200)
    assert.equal((await fetch(`${base}/`)).status, 404)
    assert.equal((await fetch(`${base}/metrics/more`)).status, 404)
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405)
    readiness.closing()
    assert.equal((await fetch(`${base}/readyz`)).status, 503)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
  } finally {
    await server.close()
  }
})

test('a renderer that fails answers 500 and the server keeps serving', async () => {
  const renderer = { contentType: 'text/plain', render: async (): Promise<string> => { throw new Error('boom') } }
  const server = await startMetricsServer('127.0.0.1', 0, new Readiness(1), renderer, new Logger('error', 'test'))
  try {
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status, 500)
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200)
  } finally {
    await server.close()
  }
})
