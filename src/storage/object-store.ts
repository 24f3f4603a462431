// What the S3 copy needs of an object store, whatever carries the requests: the flusher pool's threads talking
// to S3 (s3-object-store.ts), the worker threads' relay to that pool over their control port
// (relayed-object-store.ts), or memory (tests). One attempt per call: retrying, with back-off, is the caller's
// choice (an upload is retried until it lands; a read for a fetch fails the fetch part instead).

export interface StoredObject {
  /** The full key, prefix included. */
  readonly key: string
  readonly size: number
  /** Milliseconds since the epoch. */
  readonly lastModifiedMs: number
}

export interface ObjectStore {
  /** Stores `body` under `key` (replacing an object there); multipart for large bodies. */
  put (key: string, body: Buffer): Promise<void>
  /**
   * put() that may take `body`'s memory (moved to another thread, no copy), leaving `body` empty: for a caller
   * that builds a new body for every attempt. Stores without it are given put().
   */
  putMoved? (key: string, body: Buffer): Promise<void>
  /**
   * The object's bytes [start, end) (end exclusive), or the whole object without a range. Rejects with an
   * ObjectStoreError of kind 'not-found' when there is no such object.
   */
  get (key: string, range?: { readonly start: number, readonly end: number }): Promise<Buffer>
  /** Every object whose key starts with `prefix`, in key order (all pages). */
  list (prefix: string): Promise<StoredObject[]>
  /** Deletes the keys (missing ones are no error). */
  delete (keys: readonly string[]): Promise<void>
}

/**
 * Why an object store request failed. `retriable`: a 5xx, throttling (SlowDown, 503), a timeout or a connection
 * that failed; a retry may succeed. Not retriable: a missing object or bucket, denied access, a bad request.
 */
export type ObjectStoreErrorKind = 'not-found' | 'no-bucket' | 'denied' | 'throttled' | 'timeout' | 'unavailable' | 'other'

export class ObjectStoreError extends Error {
  readonly kind: ObjectStoreErrorKind
  readonly retriable: boolean

  constructor (kind: ObjectStoreErrorKind, message: string) {
    super(message)
    this.name = 'ObjectStoreError'
    this.kind = kind
    this.retriable = kind === 'throttled' || kind === 'timeout' || kind === 'unavailable'
  }
}

/** An error that crossed a thread as `{ kind, message }` back into an ObjectStoreError. */
export function objectStoreErrorFrom (value: unknown): ObjectStoreError {
  if (value instanceof ObjectStoreError) return value
  const { kind, message } = (value ?? {}) as { kind?: ObjectStoreErrorKind, message?: string }
  return new ObjectStoreError(kind ?? 'other', message ?? String(value))
}

/** Delay before retry number `attempt` (0-based): 100 ms doubling to `maxMs`, with up to 25% jitter. */
export function retryDelayMs (attempt: number, maxMs = 5000): number {
  const base = Math.min(maxMs, 100 * 2 ** Math.min(attempt, 16))
  return base - Math.floor(Math.random() * base * 0.25)
}
