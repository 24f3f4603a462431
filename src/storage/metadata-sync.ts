// The controller's metadata in S3 (main thread): `<data-dir>/meta/cluster.json` (topics and their ids, configs,
// SCRAM credentials, ACLs, client quotas, dynamic broker configs, the producer id block) is copied to
// `<prefix>meta/cluster.json` (object-format.ts: metadataKey) after every change, and brought back at start when
// the data directory has none (a fresh disk): the restored topics keep their ids, so the partitions' data objects
// (named by topic id) are found again, and the producer id block keeps ids from being handed out twice.
//
// Upload order: at most one PUT in flight; versions noted meanwhile coalesce (the latest wins, being a superset of
// what it replaces: every version is the whole state). Retriable failures are retried with back-off for as long
// as it takes; a non-retriable one (denied, no bucket) is logged and retried too, more slowly, since the
// operator may fix it at run time and a lost metadata update would lose topics on restore.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { count } from '../counters.ts'
import { writeFileDurable } from '../log/files.ts'
import type { Logger } from '../logger.ts'
import { metadataKey } from './object-format.ts'
import { ObjectStoreError, retryDelayMs, type ObjectStore } from './object-store.ts'

/**
 * At start: when `<dataDir>/meta/cluster.json` does not exist and S3 holds the metadata, writes it there
 * (durably) and returns true; false when the file exists or S3 has none. Rejects when S3 cannot be read.
 */
export async function restoreMetadataIfMissing (store: ObjectStore, prefix: string, dataDir: string, logger?: Logger): Promise<boolean> {
  const directory = join(dataDir, 'meta')
  const path = join(directory, 'cluster.json')
  if (existsSync(path)) return false
  let body: Buffer
  try {
    body = await store.get(metadataKey(prefix))
  } catch (error) {
    if (error instanceof ObjectStoreError && error.kind === 'not-found') return false
    throw error
  }
  // A body that is not JSON would make the controller refuse to start; better to say where it came from.
  try {
    JSON.parse(body.toString('utf8'))
  } catch (error) {
    throw new Error(`the cluster metadata in S3 (${metadataKey(prefix)}) is not JSON: ${(error as Error).message}`)
  }
  mkdirSync(directory, { recursive: true })
  writeFileDurable(path, body)
  logger?.info(`restored the cluster metadata from s3 ${metadataKey(prefix)} into ${path}`)
  return true
}

const kNonRetriableDelayMs = 30_000

interface Waiter {
  readonly seq: number
  readonly resolve: () => void
}

export interface MetadataUploaderOptions {
  /** For tests: how a back-off waits. */
  readonly sleep?: (ms: number) => Promise<void>
}

export class MetadataUploader {
  readonly #store: ObjectStore
  readonly #key: string
  readonly #logger: Logger | undefined
  readonly #sleep: (ms: number) => Promise<void>
  /** The latest JSON noted, and its sequence number; the sequence of the latest one in S3. */
  #latest: string | null = null
  #noted = 0
  #uploaded = 0
  #running = false
  #closed = false
  /** flush() callers waiting for a sequence to be in S3. */
  #waiters: Waiter[] = []

  constructor (store: ObjectStore, prefix: string, logger?: Logger, options: MetadataUploaderOptions = {}) {
    this.#store = store
    this.#key = metadataKey(prefix)
    this.#logger = logger
    this.#sleep = options.sleep ?? delay
  }

  /** A new version of cluster.json (the Controller's onPersist): uploaded soon, replacing any not yet sent. */
  noteChanged (json: string): void {
    if (this.#closed) return
    this.#latest = json
    this.#noted++
    if (!this.#running) void this.#run()
  }

  /** Resolves once the latest version noted before the call is in S3 (at once when there is none). */
  flush (): Promise<void> {
    const seq = this.#noted
    if (this.#uploaded >= seq || this.#closed) return Promise.resolve()
    return new Promise(resolve => this.#waiters.push({ seq, resolve }))
  }

  /** Stops uploading (shutdown): later notes are ignored, and pending and later flush() calls resolve at once. */
  close (): void {
    this.#closed = true
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) waiter.resolve()
  }

  async #run (): Promise<void> {
    this.#running = true
    let attempt = 0
    try {
      while (!this.#closed && this.#uploaded < this.#noted) {
        const seq = this.#noted
        const body = Buffer.from(this.#latest as string)
        try {
          await this.#store.put(this.#key, body)
          attempt = 0
          this.#uploaded = seq
          count('s3-metadata-uploads')
          this.#release()
        } catch (error) {
          const retriable = error instanceof ObjectStoreError && error.retriable
          this.#logger?.limited('s3-metadata-upload', retriable ? 'warn' : 'error', `uploading the cluster metadata to ${this.#key} failed (${(error as Error).message}); retrying`)
          await this.#sleep(retriable ? retryDelayMs(attempt++) : kNonRetriableDelayMs)
        }
      }
    } finally {
      this.#running = false
    }
  }

  #release (): void {
    const uploaded = this.#uploaded
    const waiting: Waiter[] = []
    for (const waiter of this.#waiters) {
      if (waiter.seq <= uploaded) waiter.resolve()
      else waiting.push(waiter)
    }
    this.#waiters = waiting
  }
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms).unref())
}
