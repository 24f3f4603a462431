import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { ObjectStoreError } from '../../src/storage/object-store.ts'
import { kDeleteBatchKeys, kSinglePutMaxBytes, objectStoreErrorOf, S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/s3-object-store.ts'
import { startS3, type TestS3 } from '../helpers/s3.ts'
import { startFaultProxy, type FaultProxy } from '../helpers/s3-fault-proxy.ts'

let s3: TestS3
let store: S3ObjectStore
const stores: S3ObjectStore[] = []

function makeStore (overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  const made = new S3ObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, requestTimeoutMs: 5000, ...overrides })
  stores.push(made)
  return made
}

async function rejectsWithKind (promise: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ObjectStoreError, `not an ObjectStoreError: ${String(error)}`)
    assert.equal(error.kind, kind, error.message)
    return true
  })
}

before(async () => {
  s3 = await startS3()
  // The store takes its credentials from the SDK's default chain, as in the broker.
  Object.assign(process.env, s3.env)
  store = makeStore()
})

after(async () => {
  for (const made of stores) made.close()
  await s3.close()
})

describe('S3ObjectStore against s3rver', () => {
  test('puts an object and gets it back whole and by byte range (end exclusive)', async () => {
    const body = randomBytes(10_000)
    await store.put('t/range.obj', body)
    assert.deepEqual(await store.get('t/range.obj'), body)
    assert.deepEqual(await store.get('t/range.obj', { start: 100, end: 4196 }), body.subarray(100, 4196))
    assert.deepEqual(await store.get('t/range.obj', { start: 9_999, end: 10_000 }), body.subarray(9_999))
    assert.equal((await store.get('t/range.obj', { start: 5, end: 5 })).length, 0)
  })

  test('a got Buffer owns its whole ArrayBuffer (so it can be transferred between threads)', async () => {
    await store.put('t/small.obj', Buffer.from('tiny'))
    const got = await store.get('t/small.obj')
    assert.equal(got.toString(), 'tiny')
    assert.equal(got.byteOffset, 0)
    assert.equal(got.buffer.byteLength, got.length)
  })

  test('put replaces an existing object and stores an empty body', async () => {
    await store.put('t/replaced.obj', Buffer.from('first'))
    await store.put('t/replaced.obj', Buffer.from('second'))
    assert.equal((await store.get('t/replaced.obj')).toString(), 'second')
    await store.put('t/empty.obj', Buffer.alloc(0))
    assert.equal((await store.get('t/empty.obj')).length, 0)
  })

  test('lists every object under a prefix across pages, in key order, with sizes', async () => {
    const paged = makeStore({ listPageSize: 7 })
    const keys: string[] = []
    for (let i = 0; i < 30; i++) keys.push(`t/list/k-${String(i).padStart(3, '0')}`)
    await Promise.all(keys.map((key, i) => paged.put(key, Buffer.alloc(i + 1, 1))))
    await paged.put('t/listed-elsewhere', Buffer.from('x'))
    const listed = await paged.list('t/list/')
    assert.deepEqual(listed.map((object) => object.key), keys)
    assert.deepEqual(listed.map((object) => object.size), keys.map((_, i) => i + 1))
    for (const object of listed) assert.ok(object.lastModifiedMs > Date.now() - 600_000 && object.lastModifiedMs <= Date.now() + 60_000)
    assert.deepEqual(await paged.list('t/none/'), [])
  })

  test('puts a 20 MiB body as a multipart upload and reads it back byte-identical', async () => {
    const body = randomBytes(20 * 1024 * 1024)
    assert.ok(body.length > kSinglePutMaxBytes)
    assert.equal(S3ObjectStore.putRequestCount(body.length), 3 + 2)
    await store.put('t/multipart.obj', body)
    const got = await store.get('t/multipart.obj')
    assert.equal(got.length, body.length)
    assert.ok(got.equals(body), 'multipart object differs')
    // A range across a part boundary (8 MiB).
    const start = 8 * 1024 * 1024 - 10
    assert.ok((await store.get('t/multipart.obj', { start, end: start + 20 })).equals(body.subarray(start, start + 20)))
  })

  test('a multipart upload whose part fails is aborted and fails with the part\'s kind', async () => {
    const failing = makeStore()
    const commands: string[] = []
    failing.client.middlewareStack.add((next, context) => async (args) => {
      commands.push(context.commandName ?? '')
      const input = args.input as { PartNumber?: number }
      if (context.commandName === 'UploadPartCommand' && input.PartNumber === 2) {
        throw Object.assign(new Error('We encountered an internal error.'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } })
      }
      return await next(args)
    }, { step: 'initialize', name: 'failSecondPart' })
    await rejectsWithKind(failing.put('t/multipart-failed.obj', Buffer.alloc(kSinglePutMaxBytes + 1)), 'unavailable')
    assert.equal(commands[0], 'CreateMultipartUploadCommand')
    assert.equal(commands.at(-1), 'AbortMultipartUploadCommand')
    assert.ok(!commands.includes('CompleteMultipartUploadCommand'))
    assert.deepEqual(await store.list('t/multipart-failed'), [])
  })

  test('deletes keys in batches of 1000, missing keys included', async () => {
    const keys: string[] = []
    for (let i = 0; i < kDeleteBatchKeys + 5; i++) keys.push(`t/delete/${String(i).padStart(5, '0')}`)
    const planted = keys.filter((_, i) => i % 100 === 0 || i >= kDeleteBatchKeys)
    await Promise.all(planted.map((key) => store.put(key, Buffer.from(key))))
    assert.equal((await store.list('t/delete/')).length, planted.length)
    await store.delete(keys)
    assert.deepEqual(await store.list('t/delete/'), [])
    await store.delete([])
  })

  test('a missing key fails as not-found, a missing bucket as no-bucket', async () => {
    await rejectsWithKind(store.get('t/never-written'), 'not-found')
    const elsewhere = makeStore({ bucket: 'no-such-bucket' })
    await rejectsWithKind(elsewhere.get('x'), 'no-bucket')
    await rejectsWithKind(elsewhere.put('x', Buffer.from('x')), 'no-bucket')
    await rejectsWithKind(elsewhere.list(''), 'no-bucket')
  })

  test('unknown credentials fail as denied (not retriable)', async () => {
    const saved = process.env.AWS_ACCESS_KEY_ID
    process.env.AWS_ACCESS_KEY_ID = 'NOT-A-KEY'
    try {
      const stranger = makeStore()
      await assert.rejects(stranger.get('t/range.obj'), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'denied' && !error.retriable)
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved
    }
  })

  test('abortStaleMultipartUploads reports 0 where the server has no ListMultipartUploads', async () => {
    assert.equal(await store.abortStaleMultipartUploads('t/', 0), 0)
  })

  test('the helper client sees what the store wrote', async () => {
    await store.put('t/seen.obj', Buffer.from('seen'))
    assert.ok((await s3.listKeys('t/')).includes('t/seen.obj'))
    const answer = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 't/seen.obj' }))
    assert.equal(await answer.Body?.transformToString(), 'seen')
  })
})

describe('S3ObjectStore through a fault-injecting proxy', () => {
  let proxy: FaultProxy
  let faulty: S3ObjectStore

  before(async () => {
    proxy = await startFaultProxy(s3.endpoint)
    faulty = makeStore({ endpoint: proxy.endpoint, requestTimeoutMs: 300 })
  })
  after(async () => { await proxy.close() })

  test('passes requests through and counts them per method', async () => {
    await proxy.setMode('pass')
    const puts = proxy.counts.PUT
    await faulty.put('t/proxied.obj', Buffer.from('via proxy'))
    assert.equal((await faulty.get('t/proxied.obj')).toString(), 'via proxy')
    assert.equal(proxy.counts.PUT, puts + 1)
  })

  test('a 500 fails as unavailable (retriable)', async () => {
    await proxy.setMode('error-500')
    await assert.rejects(faulty.put('t/500.obj', Buffer.from('x')), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'unavailable' && error.retriable)
  })

  test('a 503 SlowDown fails as throttled (retriable)', async () => {
    await proxy.setMode('slow-down-503')
    await assert.rejects(faulty.get('t/proxied.obj'), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'throttled' && error.retriable)
  })

  test('an endpoint that never answers fails as timeout after requestTimeoutMs', async () => {
    await proxy.setMode('hang')
    await rejectsWithKind(faulty.put('t/hang.obj', Buffer.from('x')), 'timeout')
    await rejectsWithKind(faulty.list('t/'), 'timeout')
  })

  test('an endpoint that refuses connections fails as unavailable, and works again once back', async () => {
    await proxy.setMode('down')
    await rejectsWithKind(faulty.get('t/proxied.obj'), 'unavailable')
    await rejectsWithKind(faulty.put('t/down.obj', Buffer.from('x')), 'unavailable')
    await proxy.setMode('pass')
    assert.equal((await faulty.get('t/proxied.obj')).toString(), 'via proxy')
  })

  test('a slow endpoint still answers within the timeout', async () => {
    await proxy.setMode('slow', 50)
    assert.equal((await faulty.get('t/proxied.obj')).toString(), 'via proxy')
    await proxy.setMode('pass')
  })
})

describe('objectStoreErrorOf', () => {
  test('maps SDK and network errors to kinds', () => {
    const sdk = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } })
    assert.equal(objectStoreErrorOf(sdk('NoSuchKey', 404)).kind, 'not-found')
    assert.equal(objectStoreErrorOf(sdk('NotFound', 404)).kind, 'not-found')
    assert.equal(objectStoreErrorOf(sdk('NoSuchBucket', 404)).kind, 'no-bucket')
    assert.equal(objectStoreErrorOf(sdk('AccessDenied', 403)).kind, 'denied')
    assert.equal(objectStoreErrorOf(sdk('SignatureDoesNotMatch', 403)).kind, 'denied')
    assert.equal(objectStoreErrorOf(sdk('Unknown', 403)).kind, 'denied')
    assert.equal(objectStoreErrorOf(sdk('SlowDown', 503)).kind, 'throttled')
    assert.equal(objectStoreErrorOf(sdk('Unknown', 429)).kind, 'throttled')
    assert.equal(objectStoreErrorOf(sdk('InternalError', 500)).kind, 'unavailable')
    assert.equal(objectStoreErrorOf(sdk('Unknown', 502)).kind, 'unavailable')
    assert.equal(objectStoreErrorOf(sdk('AbortError', 0)).kind, 'timeout')
    assert.equal(objectStoreErrorOf(sdk('InvalidArgument', 400)).kind, 'other')
    assert.equal(objectStoreErrorOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).kind, 'unavailable')
    assert.equal(objectStoreErrorOf(new Error('socket hang up')).kind, 'unavailable')
    assert.equal(objectStoreErrorOf(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })).kind, 'unavailable')
    assert.equal(objectStoreErrorOf('strange').kind, 'other')
  })
})
