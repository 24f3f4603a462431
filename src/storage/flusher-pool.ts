// The flusher pool (main thread): `--flushers` piscina threads that make every S3 request of the broker
// (flusher.ts runs in them), so that no partition worker's event loop waits on HTTP, TLS or the SDK. It is an
// ObjectStore for the main thread, and relays the partition workers' requests (serveWorker; the worker side is
// relayed-object-store.ts).
//
// Bodies cross threads by transfer, not by copy, wherever the pool owns them: a worker's put body arrives here as
// an ArrayBuffer it gave up and goes on into a flusher thread the same way; a get result comes back from the
// flusher thread moved and goes on to the worker moved. put() of the ObjectStore interface leaves the caller's
// Buffer alone (the caller may retry with it), so it copies once; putMoved() takes the Buffer over instead.
//
// Relay protocol on a partition worker's port (the Worker object here, parentPort there):
//   worker -> main  { type: 's3', id, op: 'put' | 'get' | 'list' | 'delete', key?, body?: ArrayBuffer, offset?,
//                     length?, range?: { start, end }, prefix?, keys? }   (body transferred)
//   main -> worker  { type: 's3-result', id, ok: true, value } | { type: 's3-result', id, ok: false,
//                     error: { kind, message } }                           (a get's bytes transferred)
// `id` is the worker's own (unique among its pending requests); every request gets exactly one answer unless the
// worker exits first.
import type { Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'
import type { S3Config } from '../config/config.ts'
import { count } from '../counters.ts'
import { objectStoreErrorFrom, ObjectStoreError, type ObjectStore, type StoredObject } from './object-store.ts'
import { isDetached } from './relayed-object-store.ts'
import { kDeleteBatchKeys, type S3ObjectStoreOptions } from './s3-object-store.ts'
import type { FlusherPutResult, FlusherTask } from './flusher.ts'

/** piscina types its transferList through MessagePort's postMessage overloads (and gets the wrong one); it passes the array on to postMessage. */
type PiscinaTransferList = NonNullable<NonNullable<Parameters<Piscina['run']>[1]>['transferList']>

const kFlusherTaskFile = new URL('./flusher.ts', import.meta.url).href
/**
 * Requests one flusher thread runs at once. Each is mostly waiting on the network, so a thread takes many; a
 * multipart upload is one task with up to 4 parts of its own in flight.
 */
const kTasksPerThread = 8
/** PUT latencies kept for the percentiles of stats() (the most recent ones). */
const kLatencySamples = 1024

export interface FlusherPoolOptions {
  /** Threads (--flushers). */
  readonly threads: number
  readonly store: S3ObjectStoreOptions
}

export interface FlusherPoolStats {
  /** Objects put (each counted once, however many requests a multipart upload made). */
  readonly putCount: number
  readonly putBytes: number
  /** Over the last 1024 puts; 0 before the first. */
  readonly putLatencyMsP50: number
  readonly putLatencyMsP99: number
  readonly getCount: number
  readonly getBytes: number
  /** Failed requests of every kind. */
  readonly errors: number
  /** Requests handed to the pool and not yet answered. */
  readonly inFlight: number
}

/** The message a partition worker posts for one request (see the header). */
export interface RelayRequest {
  readonly type: 's3'
  readonly id: number
  readonly op: 'put' | 'get' | 'list' | 'delete'
  readonly key?: string
  readonly body?: ArrayBuffer
  readonly offset?: number
  readonly length?: number
  readonly range?: { readonly start: number, readonly end: number }
  readonly prefix?: string
  readonly keys?: readonly string[]
}

export type RelayResult =
  | { readonly type: 's3-result', readonly id: number, readonly ok: true, readonly value: unknown }
  | { readonly type: 's3-result', readonly id: number, readonly ok: false, readonly error: { readonly kind: string, readonly message: string } }

export class FlusherPool implements ObjectStore {
  readonly #pool: Piscina
  readonly #options: S3ObjectStoreOptions
  readonly #latencies = new Float64Array(kLatencySamples)
  #latencyCount = 0
  #putCount = 0
  #putBytes = 0
  #getCount = 0
  #getBytes = 0
  #errors = 0
  #inFlight = 0
  #closed = false
  readonly #served = new WeakSet<Worker>()

  constructor (options: FlusherPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`flusher threads must be a positive integer, got ${options.threads}`)
    this.#options = options.store
    this.#pool = new Piscina({
      filename: kFlusherTaskFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: kTasksPerThread,
      // The threads do I/O: while idle they wait with Atomics.waitAsync, never blocking their event loop.
      atomics: 'async'
    })
  }

  /** The pool of a broker with `--s3-*` settings `s3` and `--flushers threads`. */
  static fromConfig (s3: S3Config, threads: number): FlusherPool {
    return new FlusherPool({ threads, store: { bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, requestTimeoutMs: s3.requestTimeoutMs } })
  }

  /** Stores a copy of `body` (the caller keeps its Buffer, e.g. to retry). */
  put (key: string, body: Buffer): Promise<void> {
    const owned = new Uint8Array(body.length)
    owned.set(body)
    return this.#put(key, owned)
  }

  /**
   * Stores `body` without copying it when it spans its whole ArrayBuffer: that ArrayBuffer is transferred to a
   * flusher thread and `body` is left detached (length 0) — the caller must not use it again, a retry included.
   * A Buffer that is a view into a larger ArrayBuffer (Node's shared pool for small Buffers) is copied instead.
   */
  putMoved (key: string, body: Buffer): Promise<void> {
    if (isDetached(body.buffer)) return Promise.reject(new ObjectStoreError('other', `put of ${key}: the body was already moved to another thread`))
    if (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength || body.buffer instanceof SharedArrayBuffer) return this.put(key, body)
    return this.#put(key, new Uint8Array(body.buffer as ArrayBuffer, 0, body.byteLength))
  }

  /** `body`'s ArrayBuffer is the pool's: it is transferred. */
  async #put (key: string, body: Uint8Array): Promise<void> {
    const result = await this.#run({ op: 'put', options: this.#options, key, body }, [body.buffer as ArrayBuffer]) as FlusherPutResult
    count('s3-put-requests', result.requests)
    count('s3-put-bytes', result.bytes)
    this.#putCount++
    this.#putBytes += result.bytes
    this.#latencies[this.#latencyCount % kLatencySamples] = result.ms
    this.#latencyCount++
  }

  async get (key: string, range?: { readonly start: number, readonly end: number }): Promise<Buffer> {
    const moved = await this.#run({ op: 'get', options: this.#options, key, range }) as Uint8Array
    count('s3-get-requests')
    count('s3-get-bytes', moved.byteLength)
    this.#getCount++
    this.#getBytes += moved.byteLength
    return Buffer.from(moved.buffer, moved.byteOffset, moved.byteLength)
  }

  async list (prefix: string): Promise<StoredObject[]> {
    const objects = await this.#run({ op: 'list', options: this.#options, prefix }) as StoredObject[]
    count('s3-list-requests')
    return objects
  }

  async delete (keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#run({ op: 'delete', options: this.#options, keys })
    count('s3-delete-requests', Math.ceil(keys.length / kDeleteBatchKeys))
  }

  /** Aborts multipart uploads under `prefix` older than `olderThanMs` (a crash's leftovers); how many it aborted. */
  async abortStaleMultipartUploads (prefix: string, olderThanMs: number): Promise<number> {
    return await this.#run({ op: 'abort-stale', options: this.#options, prefix, olderThanMs }) as number
  }

  async #run (task: FlusherTask, transferList?: ArrayBuffer[]): Promise<unknown> {
    if (this.#closed) throw new ObjectStoreError('unavailable', 'the flusher pool is closed')
    this.#inFlight++
    try {
      return await this.#pool.run(task, transferList === undefined ? undefined : { transferList: transferList as unknown as PiscinaTransferList })
    } catch (error) {
      this.#errors++
      count('s3-request-errors')
      // A task's own failure arrives as a plain { kind, message } (flusher.ts); an Error is the pool's (a thread
      // that died, a pool being destroyed): worth a retry.
      if (error instanceof Error) throw new ObjectStoreError('unavailable', `flusher thread: ${error.message}`)
      throw objectStoreErrorFrom(error)
    } finally {
      this.#inFlight--
    }
  }

  stats (): FlusherPoolStats {
    const samples = Math.min(this.#latencyCount, kLatencySamples)
    const sorted = this.#latencies.slice(0, samples).sort()
    const percentile = (p: number): number => (samples === 0 ? 0 : sorted[Math.min(samples - 1, Math.floor(samples * p))])
    return {
      putCount: this.#putCount,
      putBytes: this.#putBytes,
      putLatencyMsP50: percentile(0.5),
      putLatencyMsP99: percentile(0.99),
      getCount: this.#getCount,
      getBytes: this.#getBytes,
      errors: this.#errors,
      inFlight: this.#inFlight
    }
  }

  /**
   * Answers the S3 requests of a partition worker (the relay protocol in the header). Call it once per Worker
   * object (a restarted worker is a new one); the listener goes with the worker's exit, and answers to requests
   * still running then are dropped.
   */
  serveWorker (worker: Worker): void {
    if (this.#served.has(worker)) return
    this.#served.add(worker)
    let exited = false
    const answer = (result: RelayResult, transferList?: ArrayBuffer[]): void => {
      if (exited) return
      try {
        worker.postMessage(result, transferList)
      } catch {
        // The worker is gone between its exit and our noticing: nobody is waiting for the answer.
      }
    }
    const onMessage = (message: unknown): void => {
      if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 's3') return
      const request = message as RelayRequest
      this.#relay(request).then(
        (value) => {
          if (value instanceof Uint8Array) {
            const transferable = ownedBytes(value)
            answer({ type: 's3-result', id: request.id, ok: true, value: transferable }, [transferable.buffer as ArrayBuffer])
          } else {
            answer({ type: 's3-result', id: request.id, ok: true, value })
          }
        },
        (error: unknown) => {
          const failure = objectStoreErrorFrom(error)
          answer({ type: 's3-result', id: request.id, ok: false, error: { kind: failure.kind, message: failure.message } })
        }
      )
    }
    worker.on('message', onMessage)
    worker.once('exit', () => {
      exited = true
      worker.off('message', onMessage)
    })
  }

  #relay (request: RelayRequest): Promise<unknown> {
    try {
      switch (request.op) {
        case 'put': {
          const body = request.body ?? new ArrayBuffer(0)
          const offset = request.offset ?? 0
          const length = request.length ?? body.byteLength - offset
          if (offset < 0 || length < 0 || offset + length > body.byteLength) throw new ObjectStoreError('other', `put of ${String(request.key)}: body range ${offset}+${length} outside its ${body.byteLength} bytes`)
          return this.#put(requiredString(request.key, 'key'), new Uint8Array(body, offset, length))
        }
        case 'get':
          return this.get(requiredString(request.key, 'key'), request.range)
        case 'list':
          return this.list(typeof request.prefix === 'string' ? request.prefix : '')
        case 'delete':
          return this.delete(Array.isArray(request.keys) ? request.keys : []).then(() => null)
        default:
          throw new ObjectStoreError('other', `unknown S3 relay op ${JSON.stringify((request as { op?: unknown }).op)}`)
      }
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Stops the threads; requests still running fail as 'unavailable'. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.destroy()
  }
}

function requiredString (value: unknown, name: string): string {
  if (typeof value !== 'string') throw new ObjectStoreError('other', `S3 relay request without a ${name}`)
  return value
}

/** `bytes` if it spans its whole (non-shared) ArrayBuffer, so that transferring it detaches nothing else; else a copy. */
function ownedBytes (bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)) return bytes
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return copy
}
