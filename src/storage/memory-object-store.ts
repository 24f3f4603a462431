// An ObjectStore in memory, for tests of what sits above the store (uploads, restore, tiered reads) without an
// HTTP server; the S3 paths themselves are tested against s3rver. `failNext` and `down` inject faults.
import { ObjectStoreError, type ObjectStore, type StoredObject } from './object-store.ts'

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { body: Buffer, lastModifiedMs: number }>()
  /** Requests made, by operation (tests check PUT counts). */
  readonly requests = { put: 0, get: 0, list: 0, delete: 0 }
  /** While true every request fails as unreachable (retriable). */
  down = false
  /** The next N requests fail as throttled (retriable). */
  failNext = 0

  #check (): void {
    if (this.down) throw new ObjectStoreError('unavailable', 'memory store is down')
    if (this.failNext > 0) {
      this.failNext--
      throw new ObjectStoreError('throttled', 'memory store: SlowDown')
    }
  }

  async put (key: string, body: Buffer): Promise<void> {
    this.requests.put++
    this.#check()
    this.objects.set(key, { body: Buffer.from(body), lastModifiedMs: Date.now() })
  }

  async get (key: string, range?: { readonly start: number, readonly end: number }): Promise<Buffer> {
    this.requests.get++
    this.#check()
    const object = this.objects.get(key)
    if (object === undefined) throw new ObjectStoreError('not-found', `no object ${key}`)
    return Buffer.from(range === undefined ? object.body : object.body.subarray(range.start, range.end))
  }

  async list (prefix: string): Promise<StoredObject[]> {
    this.requests.list++
    this.#check()
    const found: StoredObject[] = []
    for (const [key, object] of this.objects) {
      if (key.startsWith(prefix)) found.push({ key, size: object.body.length, lastModifiedMs: object.lastModifiedMs })
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  async delete (keys: readonly string[]): Promise<void> {
    this.requests.delete++
    this.#check()
    for (const key of keys) this.objects.delete(key)
  }
}
