// One broker per bucket prefix: two brokers uploading into the same prefix would interleave their objects and
// each would restore the other's data as its own. The owner holds `<prefix>lease.json` (object-format.ts: leaseKey)
// and renews it; a second broker started on the same prefix waits for it to lapse or refuses to start.
//
// lease.json: { instance, host, pid, renewedMs, released } (UTF-8 JSON). `instance` names the broker process's
// data directory (`<data-dir>/meta/s3-instance`, loadOrCreateInstanceId), so a restart on the same directory finds
// its own lease and takes it at once; host and pid are for the operator reading the refusal.
//
// S3 has no compare-and-swap here (conditional writes are not assumed of every S3-compatible store), so taking the
// lease is write, wait, read back: of two brokers writing at once the last write wins, and the one that reads
// back the other's instance refuses to start. A lease is free when it is missing, released (a clean shutdown),
// ours, or not renewed for 2 * leaseMs. A lease that looks alive is watched for leaseMs: renewed meanwhile, its
// holder is alive and this broker refuses (LeaseHeldError); not renewed, it is taken over. Only the staleness test
// compares clocks (ours against the holder's renewedMs): a clock skewed by more than 2 * leaseMs may take a live
// broker's lease at once, and that broker's next renewal then sees the takeover and stops uploading (onLost).
//
// Renewal: every leaseMs / 3, reading first. Found held by another instance (it took the lease over, or an
// operator started one by mistake): renewal stops and onLost(holder) tells the caller to stop uploading. A
// renewal that fails (S3 down) is logged and retried at the next tick: S3 being unreachable never loses the lease
// by itself (nobody else can take it over meanwhile without reaching S3 either).
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { count } from '../counters.ts'
import { writeFileDurable } from '../log/files.ts'
import type { Logger } from '../logger.ts'
import { leaseKey } from './object-format.ts'
import { ObjectStoreError, retryDelayMs, type ObjectStore } from './object-store.ts'

export interface LeaseRecord {
  readonly instance: string
  readonly host: string
  readonly pid: number
  /** Milliseconds since the epoch, by the holder's clock. */
  readonly renewedMs: number
  /** Written by a clean shutdown: the next broker need not wait. */
  readonly released: boolean
}

/** The prefix is held by a live broker: the caller exits (code 2) with this one line, as for a config error. */
export class LeaseHeldError extends Error {
  readonly code = 'S3_LEASE_HELD'
  readonly holder: LeaseRecord

  constructor (prefix: string, holder: LeaseRecord) {
    super(`the S3 prefix "${prefix}" is in use by another broker (instance ${holder.instance} on host ${holder.host}, pid ${holder.pid}); stop it or use another --s3-prefix`)
    this.name = 'LeaseHeldError'
    this.holder = holder
  }
}

export interface LeaseOptions {
  /** This broker's instance id (loadOrCreateInstanceId). */
  readonly instance: string
  readonly leaseMs: number
  readonly logger?: Logger
  /** Default os.hostname() and process.pid. */
  readonly host?: string
  readonly pid?: number
  /** Called once when a renewal finds the lease held by another instance. */
  readonly onLost?: (holder: LeaseRecord) => void
  /** Tries of a request at acquisition (retriable errors only); default 20. */
  readonly attempts?: number
  /** For tests. */
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
}

const kDefaultAttempts = 20

export class Lease {
  readonly store: ObjectStore
  readonly prefix: string
  readonly instance: string
  readonly leaseMs: number
  onLost: ((holder: LeaseRecord) => void) | null
  readonly #host: string
  readonly #pid: number
  readonly #logger: Logger | undefined
  readonly #now: () => number
  #timer: ReturnType<typeof setInterval> | null = null
  #renewing: Promise<void> | null = null
  #lost = false
  #released = false

  constructor (store: ObjectStore, prefix: string, options: LeaseOptions) {
    this.store = store
    this.prefix = prefix
    this.instance = options.instance
    this.leaseMs = options.leaseMs
    this.onLost = options.onLost ?? null
    this.#host = options.host ?? hostname()
    this.#pid = options.pid ?? process.pid
    this.#logger = options.logger
    this.#now = options.now ?? Date.now
  }

  /** Another instance took the lease: this broker must not upload into the prefix any more. */
  get lost (): boolean {
    return this.#lost
  }

  /** Renews every leaseMs / 3 until release() or the lease is lost (the timer does not keep the process up). */
  start (): void {
    if (this.#timer !== null || this.#lost || this.#released) return
    this.#timer = setInterval(renewLater, Math.max(1, Math.floor(this.leaseMs / 3)), this)
    this.#timer.unref()
  }

  /** One renewal (the timer's; tests call it): read, then write ours unless another instance holds it. */
  renewNow (): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => { this.#renewing = null })
    return this.#renewing
  }

  async #renew (): Promise<void> {
    if (this.#lost || this.#released) return
    try {
      const holder = await readLease(this.store, this.prefix)
      if (this.#released) return
      if (holder !== null && holder.instance !== this.instance) {
        this.#lose(holder)
        return
      }
      await this.store.put(leaseKey(this.prefix), this.record(false))
    } catch (error) {
      this.#logger?.limited('s3-lease-renew', 'warn', `renewing the S3 lease of "${this.prefix}" failed (${(error as Error).message}); retrying in ${Math.floor(this.leaseMs / 3)} ms`)
    }
  }

  #lose (holder: LeaseRecord): void {
    this.#lost = true
    this.#stopTimer()
    count('s3-lease-lost')
    this.#logger?.error(`the S3 lease of "${this.prefix}" was taken by instance ${holder.instance} (host ${holder.host}, pid ${holder.pid}); uploads stop`)
    this.onLost?.(holder)
  }

  /** Clean shutdown: stops renewing and marks the lease released, so that a restart need not wait. */
  async release (): Promise<void> {
    this.#stopTimer()
    if (this.#released) return
    this.#released = true
    await this.#renewing?.catch(() => {})
    if (this.#lost) return
    await this.store.put(leaseKey(this.prefix), this.record(true))
  }

  /** lease.json's body as this broker writes it now. */
  record (released: boolean): Buffer {
    const record: LeaseRecord = { instance: this.instance, host: this.#host, pid: this.#pid, renewedMs: this.#now(), released }
    return Buffer.from(JSON.stringify(record))
  }

  #stopTimer (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}

function renewLater (lease: Lease): void {
  lease.renewNow().catch(() => {}) // #renew catches everything; nothing may escape a timer
}

/** lease.json, or null when there is none (or it is not one: a lease nobody can hold). */
export async function readLease (store: ObjectStore, prefix: string): Promise<LeaseRecord | null> {
  let body: Buffer
  try {
    body = await store.get(leaseKey(prefix))
  } catch (error) {
    if (error instanceof ObjectStoreError && error.kind === 'not-found') return null
    throw error
  }
  try {
    const record = JSON.parse(body.toString('utf8')) as LeaseRecord
    if (typeof record.instance !== 'string' || typeof record.renewedMs !== 'number') return null
    return { instance: record.instance, host: String(record.host), pid: Number(record.pid), renewedMs: record.renewedMs, released: record.released === true }
  } catch {
    return null
  }
}

/**
 * Takes the prefix's lease (see the header for the algorithm). Resolves with the Lease (not yet renewing: call
 * start()); rejects with LeaseHeldError when a live broker holds it, or with the store's error when S3 cannot
 * be reached (after `attempts` tries of each request).
 */
export async function acquireLease (store: ObjectStore, prefix: string, options: LeaseOptions): Promise<Lease> {
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? delay
  const attempts = options.attempts ?? kDefaultAttempts
  const lease = new Lease(store, prefix, options)
  const leaseMs = options.leaseMs
  const read = (): Promise<LeaseRecord | null> => withRetries(() => readLease(store, prefix), attempts, sleep)
  const isFree = (holder: LeaseRecord | null): boolean =>
    holder === null || holder.released || holder.instance === options.instance || now() - holder.renewedMs > 2 * leaseMs
  const takeOver = async (): Promise<Lease> => {
    await withRetries(() => store.put(leaseKey(prefix), lease.record(false)), attempts, sleep)
    await sleep(Math.min(leaseMs / 5, 1000))
    const holder = await read()
    if (holder !== null && holder.instance !== options.instance) throw new LeaseHeldError(prefix, holder)
    options.logger?.info(`holding the S3 lease of "${prefix}" as instance ${options.instance}`)
    return lease
  }
  const first = await read()
  if (isFree(first)) return takeOver()
  const holder = first as LeaseRecord
  options.logger?.warn(`waiting up to ${leaseMs} ms for the S3 prefix lease held by instance ${holder.instance} (${holder.host}, pid ${holder.pid}) of "${prefix}"; a live holder renews it and this broker then refuses to start`)
  const waitStart = now()
  for (;;) {
    await sleep(leaseMs / 5)
    const current = await read()
    if (current === null || current.released) return takeOver()
    if (current.instance !== holder.instance || current.renewedMs !== holder.renewedMs) throw new LeaseHeldError(prefix, current)
    if (now() - waitStart >= leaseMs) {
      options.logger?.warn(`the S3 lease of "${prefix}" held by instance ${holder.instance} was not renewed for ${leaseMs} ms; taking it over`)
      return takeOver()
    }
  }
}

async function withRetries<T> (request: () => Promise<T>, attempts: number, sleep: (ms: number) => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request()
    } catch (error) {
      if (!(error instanceof ObjectStoreError) || !error.retriable || attempt + 1 >= attempts) throw error
      await sleep(retryDelayMs(attempt))
    }
  }
}

/** 16 hex digits: a broker's instance id in lease.json and in data object keys. */
export function newInstanceId (): string {
  return randomBytes(8).toString('hex')
}

export const kInstanceIdFile = 's3-instance'

/**
 * The instance id stored in `<dataDir>/meta/s3-instance`, created (durably) when missing or not an id: a restart
 * on the same data directory is the same instance, and takes its own lease over at once.
 */
export function loadOrCreateInstanceId (dataDir: string): string {
  const directory = join(dataDir, 'meta')
  const path = join(directory, kInstanceIdFile)
  try {
    const stored = readFileSync(path, 'latin1').trim()
    if (/^[0-9a-f]{16}$/.test(stored)) return stored
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const instance = newInstanceId()
  mkdirSync(directory, { recursive: true })
  writeFileDurable(path, `${instance}\n`)
  return instance
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
