import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { counterValue } from '../../src/counters.ts'
import { ObjectStoreError } from '../../src/storage/object-store.ts'
import { FlusherPool } from '../../src/storage/flusher-pool.ts'
import { startS3, type TestS3 } from '../helpers/s3.ts'

/** The bytes test/fixtures/s3-relay-worker.ts makes for `size` and `seed`. */
function patternBytes (size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafeSlow(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff
  return bytes
}

let s3: TestS3
let pool: FlusherPool

before(async () => {
  s3 = await startS3()
  // Before the pool starts: its threads take their environment (and so the SDK its credentials) from here.
  Object.assign(process.env, s3.env)
  pool = new FlusherPool({ threads: 2, store: { bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, requestTimeoutMs: 5000 } })
})

after(async () => {
  await pool.close()
  await s3.close()
})

describe('FlusherPool', () => {
  test('runs concurrent puts on its threads and reads them back', async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(1000 + i * 5000))
    await Promise.all(bodies.map((body, i) => pool.put(`p/concurrent/${i}`, body)))
    for (let i = 0; i < bodies.length; i++) assert.ok((await pool.get(`p/concurrent/${i}`)).equals(bodies[i]), `object ${i} differs`)
    assert.deepEqual((await pool.list('p/concurrent/')).map((object) => object.size).sort((a, b) => a - b), bodies.map((body) => body.length))
  })

  test('put leaves the caller\'s Buffer intact; putMoved transfers it without a copy and it arrives whole', async () => {
    const kept = randomBytes(50_000)
    await pool.put('p/kept', kept)
    assert.equal(kept.length, 50_000)
    const moved = Buffer.allocUnsafeSlow(3 * 1024 * 1024)
    randomBytes(moved.length).copy(moved)
    const digest = createHash('sha256').update(moved).digest('hex')
    const putting = pool.putMoved('p/moved', moved)
    assert.equal(moved.buffer.detached, true)
    assert.equal(moved.length, 0)
    await putting
    const got = await pool.get('p/moved')
    assert.equal(createHash('sha256').update(got).digest('hex'), digest)
    await assert.rejects(pool.putMoved('p/moved-again', moved), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'other')
    // A small Buffer is a view into Node's shared pool: copied, not detached (that would detach the pool).
    const small = Buffer.from('small body')
    await pool.putMoved('p/small', small)
    assert.equal(small.toString(), 'small body')
    assert.equal((await pool.get('p/small', { start: 6, end: 10 })).toString(), 'body')
  })

  test('moves its counters and stats', async () => {
    const before = { puts: counterValue('s3-put-requests'), putBytes: counterValue('s3-put-bytes'), gets: counterValue('s3-get-requests'), getBytes: counterValue('s3-get-bytes'), lists: counterValue('s3-list-requests'), deletes: counterValue('s3-delete-requests'), errors: counterValue('s3-request-errors') }
    const statsBefore = pool.stats()
    await pool.put('p/counted', Buffer.alloc(4096, 1))
    await pool.get('p/counted', { start: 0, end: 100 })
    await pool.list('p/')
    await pool.delete(['p/counted'])
    await assert.rejects(pool.get('p/counted'), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'not-found')
    assert.equal(counterValue('s3-put-requests'), before.puts + 1)
    assert.equal(counterValue('s3-put-bytes'), before.putBytes + 4096)
    assert.equal(counterValue('s3-get-requests'), before.gets + 1)
    assert.equal(counterValue('s3-get-bytes'), before.getBytes + 100)
    assert.equal(counterValue('s3-list-requests'), before.lists + 1)
    assert.equal(counterValue('s3-delete-requests'), before.deletes + 1)
    assert.equal(counterValue('s3-request-errors'), before.errors + 1)
    const stats = pool.stats()
    assert.equal(stats.putCount, statsBefore.putCount + 1)
    assert.equal(stats.putBytes, statsBefore.putBytes + 4096)
    assert.equal(stats.getCount, statsBefore.getCount + 1)
    assert.equal(stats.getBytes, statsBefore.getBytes + 100)
    assert.equal(stats.errors, statsBefore.errors + 1)
    assert.equal(stats.inFlight, 0)
    assert.ok(stats.putLatencyMsP50 > 0 && stats.putLatencyMsP99 >= stats.putLatencyMsP50)
  })

  test('a closed pool fails requests as unavailable', async () => {
    const closing = new FlusherPool({ threads: 1, store: { bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, requestTimeoutMs: 5000 } })
    await closing.close()
    await assert.rejects(closing.list(''), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'unavailable')
  })
})

describe('the worker relay (serveWorker + RelayedObjectStore)', () => {
  let worker: Worker
  let nextId = 1
  const waiting = new Map<number, (answer: { ok: boolean, value?: any, error?: any }) => void>()
  let listenersBefore = 0

  const perform = (command: Record<string, unknown>): Promise<{ ok: boolean, value?: any, error?: any }> => {
    const id = nextId++
    return new Promise((resolve) => {
      waiting.set(id, resolve)
      worker.postMessage({ type: 'do', id, ...command })
    })
  }

  before(async () => {
    worker = new Worker(new URL('../fixtures/s3-relay-worker.ts', import.meta.url))
    listenersBefore = worker.listenerCount('message')
    pool.serveWorker(worker)
    pool.serveWorker(worker) // a second call for the same Worker changes nothing
    worker.on('message', (message: { type: string, id: number, ok: boolean }) => {
      if (message.type === 'done') {
        waiting.get(message.id)?.(message)
        waiting.delete(message.id)
      }
    })
    const [ready] = await once(worker, 'message') as [{ type: string }]
    assert.equal(ready.type, 'ready')
  })

  after(async () => {
    if (worker.threadId !== -1) {
      const exited = once(worker, 'exit')
      await worker.terminate()
      await exited
    }
  })

  test('round-trips put, get (whole and ranged), list and delete', async () => {
    const put = await perform({ op: 'put', key: 'relay/a', text: 'hello relay' })
    assert.equal(put.ok, true)
    assert.deepEqual(put.value, { callerBodyIntact: true })
    const whole = await perform({ op: 'get', key: 'relay/a' })
    assert.equal(whole.value.text, 'hello relay')
    assert.equal(whole.value.ownsBuffer, true)
    const ranged = await perform({ op: 'get', key: 'relay/a', range: { start: 6, end: 11 } })
    assert.equal(ranged.value.text, 'relay')
    assert.deepEqual((await perform({ op: 'list', prefix: 'relay/' })).value, [{ key: 'relay/a', size: 11 }])
    assert.equal((await perform({ op: 'delete', keys: ['relay/a', 'relay/never'] })).ok, true)
    assert.deepEqual((await perform({ op: 'list', prefix: 'relay/' })).value, [])
  })

  test('a moved body leaves the worker detached and arrives intact; a pooled one is copied', async () => {
    const size = 2 * 1024 * 1024 + 17
    const moved = await perform({ op: 'put-moved', key: 'relay/big', size, seed: 5 })
    assert.deepEqual(moved.value, { pooled: false, detachedRightAway: true })
    const expected = patternBytes(size, 5)
    assert.ok((await pool.get('relay/big')).equals(expected))
    const got = await perform({ op: 'get', key: 'relay/big' })
    assert.equal(got.value.length, size)
    assert.equal(got.value.sha256, createHash('sha256').update(expected).digest('hex'))
    const pooled = await perform({ op: 'put-moved', key: 'relay/tiny', text: 'tiny' })
    assert.deepEqual(pooled.value, { pooled: true, detachedRightAway: false })
    assert.equal((await pool.get('relay/tiny')).toString(), 'tiny')
  })

  test('failures come back as ObjectStoreErrors of the right kind', async () => {
    const missing = await perform({ op: 'get', key: 'relay/not-there' })
    assert.equal(missing.ok, false)
    assert.deepEqual({ kind: missing.error.kind, retriable: missing.error.retriable, isObjectStoreError: missing.error.isObjectStoreError }, { kind: 'not-found', retriable: false, isObjectStoreError: true })
  })

  test('other messages still reach the worker\'s own handler', async () => {
    const answered = new Promise<{ type: string }>((resolve) => {
      const onMessage = (message: { type: string }): void => {
        if (message.type === 'pong') {
          worker.off('message', onMessage)
          resolve(message)
        }
      }
      worker.on('message', onMessage)
    })
    worker.postMessage({ type: 'ping' })
    assert.equal((await answered).type, 'pong')
  })

  test('close() fails the pending request and later ones as unavailable', async () => {
    const closed = await perform({ op: 'get-then-close', key: 'relay/big' })
    assert.deepEqual(closed.value, { pending: 'unavailable', afterClose: 'unavailable' })
  })

  test('the relay\'s listener goes when the worker exits', async () => {
    assert.equal(worker.listenerCount('message'), listenersBefore + 2) // the relay's and this test's
    const exited = once(worker, 'exit')
    await worker.terminate()
    await exited
    // (Node itself drops a Worker's message listeners at exit; the relay removes its own either way.)
    assert.ok(worker.listenerCount('message') <= listenersBefore + 1)
  })
})

describe('the worker relay against a missing bucket', () => {
  test('answers no-bucket', async () => {
    const stray = new FlusherPool({ threads: 1, store: { bucket: 'no-such-bucket', region: 'us-east-1', endpoint: s3.endpoint, requestTimeoutMs: 5000 } })
    const worker = new Worker(new URL('../fixtures/s3-relay-worker.ts', import.meta.url))
    try {
      stray.serveWorker(worker)
      const answer = new Promise<{ ok: boolean, error: { kind: string } }>((resolve) => {
        worker.on('message', (message: { type: string, ok: boolean, error: { kind: string } }) => {
          if (message.type === 'ready') worker.postMessage({ type: 'do', id: 1, op: 'put', key: 'x', text: 'x' })
          if (message.type === 'done') resolve(message)
        })
      })
      const done = await answer
      assert.equal(done.ok, false)
      assert.equal(done.error.kind, 'no-bucket')
    } finally {
      await worker.terminate()
      await stray.close()
    }
  })
})
