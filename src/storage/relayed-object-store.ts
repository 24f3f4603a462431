// The ObjectStore of a partition worker thread: each request travels over the worker's port to the main thread,
// whose flusher pool makes it (FlusherPool.serveWorker; the protocol is in flusher-pool.ts's header). The worker's
// event loop only posts a message and later takes the answer, so S3's latency never stalls it.
//
// The port is shared with the worker's other traffic: this class adds no listener of its own. The worker's
// port.on('message') handler hands it every message first (handleMessage), and handles the message itself when
// the answer is false.
//
// Bodies: a put body goes over by transfer. put() leaves the caller's Buffer intact (it copies once into a fresh
// ArrayBuffer that is transferred: the caller may retry with its Buffer); putMoved() transfers the Buffer's own
// ArrayBuffer when the Buffer spans it whole (no copy; the Buffer is left detached). A get's bytes come back
// transferred, owning their ArrayBuffer.
import type { MessagePort } from 'node:worker_threads'
import { objectStoreErrorFrom, ObjectStoreError, type ObjectStore, type StoredObject } from './object-store.ts'
// Types only: a worker thread must not load the pool (and piscina) to talk to it.
import type { RelayRequest, RelayResult } from './flusher-pool.ts'

/** True for an ArrayBuffer whose contents were transferred away (a SharedArrayBuffer never is). */
export function isDetached (buffer: ArrayBufferLike): boolean {
  return buffer instanceof ArrayBuffer && buffer.detached
}

interface Pending {
  resolve (value: unknown): void
  reject (error: ObjectStoreError): void
}

export class RelayedObjectStore implements ObjectStore {
  readonly #port: MessagePort
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false

  constructor (port: MessagePort) {
    this.#port = port
  }

  /** Requests sent and not yet answered. */
  get pendingCount (): number {
    return this.#pending.size
  }

  /**
   * Takes `message` if it is the answer to one of this store's requests (an 's3-result'): true when it was
   * consumed, false for every other message (which the caller handles as before).
   */
  handleMessage (message: unknown): boolean {
    if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 's3-result') return false
    const result = message as RelayResult
    const pending = this.#pending.get(result.id)
    if (pending === undefined) return true
    this.#pending.delete(result.id)
    if (result.ok) pending.resolve(result.value)
    else pending.reject(objectStoreErrorFrom(result.error))
    return true
  }

  /** Stores a copy of `body` (the caller keeps its Buffer). */
  put (key: string, body: Buffer): Promise<void> {
    const owned = new ArrayBuffer(body.length)
    new Uint8Array(owned).set(body)
    return this.#request({ type: 's3', id: 0, op: 'put', key, body: owned, offset: 0, length: owned.byteLength }, [owned]) as Promise<void>
  }

  /**
   * Stores `body`, transferring its ArrayBuffer to the main thread when it spans it whole (then `body` is
   * detached: length 0, not to be used again, a retry included); a view into a larger ArrayBuffer is copied.
   */
  putMoved (key: string, body: Buffer): Promise<void> {
    const buffer = body.buffer
    if (isDetached(buffer)) return Promise.reject(new ObjectStoreError('other', `put of ${key}: the body was already moved to another thread`))
    if (body.byteOffset !== 0 || body.byteLength !== buffer.byteLength || buffer instanceof SharedArrayBuffer) return this.put(key, body)
    return this.#request({ type: 's3', id: 0, op: 'put', key, body: buffer as ArrayBuffer, offset: 0, length: body.byteLength }, [buffer as ArrayBuffer]) as Promise<void>
  }

  async get (key: string, range?: { readonly start: number, readonly end: number }): Promise<Buffer> {
    const bytes = await this.#request({ type: 's3', id: 0, op: 'get', key, range: range === undefined ? undefined : { start: range.start, end: range.end } }) as Uint8Array
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  list (prefix: string): Promise<StoredObject[]> {
    return this.#request({ type: 's3', id: 0, op: 'list', prefix }) as Promise<StoredObject[]>
  }

  async delete (keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#request({ type: 's3', id: 0, op: 'delete', keys: [...keys] })
  }

  /** Fails every pending request (and every later one) as 'unavailable'. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    const failure = new ObjectStoreError('unavailable', 'the S3 relay is closed')
    for (const pending of this.#pending.values()) pending.reject(failure)
    this.#pending.clear()
  }

  #request (request: RelayRequest, transferList?: ArrayBuffer[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ObjectStoreError('unavailable', 'the S3 relay is closed'))
    const id = this.#nextId++
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      try {
        if (transferList === undefined) this.#port.postMessage({ ...request, id })
        else this.#port.postMessage({ ...request, id }, transferList)
      } catch (error) {
        this.#pending.delete(id)
        reject(new ObjectStoreError('unavailable', `S3 relay: could not post the request: ${(error as Error).message}`))
      }
    })
  }
}
