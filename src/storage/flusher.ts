// The flusher pool's task, run in its piscina threads (flusher-pool.ts starts them): one S3 request (or one
// multipart upload) per task, on an S3ObjectStore made once per thread for each set of options it is given.
//
// Contract with flusher-pool.ts:
// - A put body arrives transferred (its ArrayBuffer moved into this thread, not copied), as a Uint8Array view.
// - A get result goes back moved (Piscina.move): S3ObjectStore.get returns a Buffer owning its whole ArrayBuffer,
//   so moving it detaches nothing else.
// - A failure is thrown as a plain `{ kind, message }` object, not an Error: the structured clone between threads
//   keeps only an Error's name, message and stack, and the kind is what the callers' retries decide on. The main
//   side rebuilds the ObjectStoreError (objectStoreErrorFrom).
import { Piscina } from 'piscina'
import { objectStoreErrorFrom, type StoredObject } from './object-store.ts'
import { objectStoreErrorOf, S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts'

export type FlusherOp = 'put' | 'get' | 'list' | 'delete' | 'abort-stale'

export interface FlusherTask {
  readonly op: FlusherOp
  readonly options: S3ObjectStoreOptions
  readonly key?: string
  /** put: the body (transferred). */
  readonly body?: Uint8Array
  /** get: [start, end), end exclusive; the whole object without one. */
  readonly range?: { readonly start: number, readonly end: number }
  /** list and abort-stale. */
  readonly prefix?: string
  /** delete. */
  readonly keys?: readonly string[]
  /** abort-stale: multipart uploads started longer ago than this are aborted. */
  readonly olderThanMs?: number
}

export interface FlusherPutResult {
  /** Time the upload took, in this thread. */
  readonly ms: number
  readonly bytes: number
  /** S3 requests it made (1, or parts + 2 for a multipart upload). */
  readonly requests: number
}

/** What a failed task throws across the thread boundary. */
export interface FlusherFailure {
  readonly kind: string
  readonly message: string
}

const stores = new Map<string, S3ObjectStore>()

function storeFor (options: S3ObjectStoreOptions): S3ObjectStore {
  const id = `${options.bucket}\n${options.region}\n${options.endpoint ?? ''}\n${options.requestTimeoutMs}\n${options.listPageSize ?? ''}`
  let store = stores.get(id)
  if (store === undefined) {
    store = new S3ObjectStore(options)
    stores.set(id, store)
  }
  return store
}

export default async function runFlusherTask (task: FlusherTask): Promise<unknown> {
  try {
    return await run(task)
  } catch (error) {
    const failure = objectStoreErrorOf(error)
    throw { kind: failure.kind, message: failure.message } satisfies FlusherFailure
  }
}

async function run (task: FlusherTask): Promise<unknown> {
  const store = storeFor(task.options)
  switch (task.op) {
    case 'put': {
      const body = task.body === undefined ? Buffer.alloc(0) : Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength)
      const started = performance.now()
      await store.put(required(task.key, 'key'), body)
      return { ms: performance.now() - started, bytes: body.length, requests: S3ObjectStore.putRequestCount(body.length) } satisfies FlusherPutResult
    }
    case 'get':
      return Piscina.move(await store.get(required(task.key, 'key'), task.range))
    case 'list':
      return await store.list(task.prefix ?? '') satisfies StoredObject[]
    case 'delete':
      await store.delete(task.keys ?? [])
      return null
    case 'abort-stale':
      return await store.abortStaleMultipartUploads(task.prefix ?? '', task.olderThanMs ?? 24 * 3600_000)
    default:
      throw objectStoreErrorFrom({ kind: 'other', message: `flusher: unknown op ${String((task as { op: unknown }).op)}` })
  }
}

function required<T> (value: T | undefined, name: string): T {
  if (value === undefined) throw objectStoreErrorFrom({ kind: 'other', message: `flusher: task without ${name}` })
  return value
}
