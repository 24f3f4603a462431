// Reads of offsets that eviction (local.retention.*) left only in S3: Fetch of [logStartOffset, localStartOffset)
// and ListOffsets by timestamp there. Runs on the partition's worker thread, beside its RemoteTier.
//
// Unit of download and cache: one whole range (RemoteRange: one partition's whole record batches in one object,
// at most a flush interval's or a merge's worth), fetched with one ranged GET. A range is the smallest unit whose
// first byte is known to start a batch, so a fetch offset inside it is found by walking its batch headers; a
// byte window inside a range would need a batch index S3 does not hold. Ranges larger than the cache are still
// served (downloaded for that read) but not kept.
//
// Cache: an LRU of downloaded ranges bounded by `cacheBytes` (a Map in use order: a hit moves its entry to the
// end, eviction drops from the front). Concurrent misses on one range share one GET (single flight). After a
// miss, the ranges following it, up to `readAheadBytes`, are fetched in the background (a consumer catching up
// reads on), so its next fetches are hits.
//
// Failures: a retriable ObjectStoreError (5xx, throttling, timeout) is retried kReadAttempts times with
// back-off (retryDelayMs); then, or at once for a non-retriable one (the object is missing), read() rejects with
// it. The caller (the Fetch handler) answers that partition KAFKA_STORAGE_ERROR; nothing is cached.
//
// Counters: s3-tiered-reads (read() calls), s3-cache-hits / s3-cache-misses (ranges looked up), s3-read-bytes
// (bytes downloaded, read-ahead included).
import { count } from '../counters.ts'
import type { Logger } from '../logger.ts'
import { kBatchLengthOffset, kLastOffsetDeltaOffset, kLogOverhead } from '../protocol/record-batch-layout.ts'
import { readInt64 } from '../protocol/int64.ts'
import { ObjectStoreError, retryDelayMs } from './object-store.ts'
import type { RemoteRange } from './remote-index.ts'
import type { RemoteTier } from './remote-tier.ts'

export interface RemoteReaderOptions {
  /** Bytes of downloaded ranges kept (0: nothing kept; every read downloads). */
  readonly cacheBytes: number
  /** Bytes of the ranges after a missed one fetched ahead in the background (0: no read-ahead). */
  readonly readAheadBytes: number
  readonly logger?: Logger
}

/** What the reader needs of the worker's RemoteTier. */
export type RemoteReadSource = Pick<RemoteTier, 'store' | 'index'>

/** GET attempts per range before a read fails (the first try and retries). */
export const kReadAttempts = 4
/** Longest back-off between two attempts: a fetch waits for this, so kept short. */
const kMaxRetryDelayMs = 1000

export class RemoteReader {
  readonly tier: RemoteReadSource
  readonly cacheBytes: number
  readonly readAheadBytes: number
  readonly #logger: Logger | undefined
  /** Downloaded ranges by rangeCacheKey, least recently used first. */
  readonly #cache = new Map<string, Buffer>()
  #cachedBytes = 0
  /** GETs in flight by rangeCacheKey (single flight). */
  readonly #inFlight = new Map<string, Promise<Buffer>>()

  constructor (tier: RemoteReadSource, options: RemoteReaderOptions) {
    this.tier = tier
    this.cacheBytes = Math.max(0, options.cacheBytes)
    this.readAheadBytes = Math.max(0, options.readAheadBytes)
    this.#logger = options.logger
  }

  /** Bytes held by the cache now (for tests and metrics). */
  get cachedBytes (): number {
    return this.#cachedBytes
  }

  /**
   * Whole batches from the one holding `fetchOffset` on, up to `maxBytes` in all, continuing into the following
   * ranges while they are contiguous and there is room; when even the first batch is larger than maxBytes it
   * comes back alone if `minOneBatch` (KIP-74), else null. Rejects with an ObjectStoreError when S3 fails (see
   * the header), of kind 'not-found' when S3's index holds no range with fetchOffset (the caller asked for an
   * offset that is neither local nor in S3: a bug or a lost object, never a client's offset out of range).
   */
  async read (topicId: string, partition: number, fetchOffset: number, maxBytes: number, minOneBatch: boolean): Promise<Buffer | null> {
    count('s3-tiered-reads')
    const index = this.tier.index(topicId, partition)
    let rangeIndex = index === undefined ? 0 : index.firstEndingAbove(fetchOffset)
    let range: RemoteRange | undefined = index?.ranges[rangeIndex]
    if (index === undefined || range === undefined || range.baseOffset > fetchOffset) {
      throw new ObjectStoreError('not-found', `S3 holds no range of ${topicId}:${partition} with offset ${fetchOffset}`)
    }
    const parts: Buffer[] = []
    let total = 0
    let offset = fetchOffset
    while (range !== undefined) {
      const bytes = await this.#rangeBytes(range, index.ranges, rangeIndex)
      const start = offset === range.baseOffset ? 0 : batchHolding(bytes, offset)
      if (start < 0) break // only when the index and the bytes disagree: served as far as they agree
      const room = Math.max(maxBytes - total, 0)
      let end = start
      for (;;) {
        if (end + kLogOverhead > bytes.length) break
        const batchEnd = end + kLogOverhead + bytes.readInt32BE(end + kBatchLengthOffset)
        if (batchEnd > bytes.length) break
        // KIP-74: the very first batch goes out even when it alone passes maxBytes.
        if (batchEnd - start > room && !(minOneBatch && total === 0 && end === start)) break
        end = batchEnd
      }
      if (end > start) {
        parts.push(bytes.subarray(start, end))
        total += end - start
      }
      // Went on to the range's end with room left: the next range, if it follows on.
      if (end < bytes.length || total >= maxBytes) break
      // Looked up again: the index may have changed while the GET ran (a merge replaced ranges, the start moved).
      rangeIndex = index.firstEndingAbove(range.endOffset)
      const next: RemoteRange | undefined = index.ranges[rangeIndex]
      if (next === undefined || next.baseOffset !== range.endOffset) break
      offset = next.baseOffset
      range = next
    }
    if (total === 0) return null
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total)
  }

  /** The range's bytes from the cache or S3; after a miss, starts the read-ahead of the ranges after it. */
  async #rangeBytes (range: RemoteRange, ranges: readonly RemoteRange[], rangeIndex: number): Promise<Buffer> {
    const key = rangeCacheKey(range)
    const cached = this.#cache.get(key)
    if (cached !== undefined) {
      count('s3-cache-hits')
      this.#cache.delete(key)
      this.#cache.set(key, cached)
      return cached
    }
    count('s3-cache-misses')
    const bytes = this.#download(range, key)
    this.#readAhead(ranges, rangeIndex + 1)
    return await bytes
  }

  /** Fetches the ranges after a miss in the background, up to readAheadBytes; their failures are only logged. */
  #readAhead (ranges: readonly RemoteRange[], from: number): void {
    let budget = this.readAheadBytes
    for (let index = from; index < ranges.length && budget > 0; index++) {
      const range = ranges[index]
      if (range.length > this.cacheBytes) break // would not be kept
      budget -= range.length
      const key = rangeCacheKey(range)
      if (this.#cache.has(key) || this.#inFlight.has(key)) continue
      this.#download(range, key).catch((error: unknown) => {
        this.#logger?.limited('s3-read-ahead', 'warn', `read-ahead of ${range.key} failed: ${(error as Error).message}`)
      })
    }
  }

  /** One GET of the range (shared by concurrent callers), retried while retriable; cached once it lands. */
  #download (range: RemoteRange, key: string): Promise<Buffer> {
    const running = this.#inFlight.get(key)
    if (running !== undefined) return running
    const download = this.#get(range).then((bytes) => {
      this.#inFlight.delete(key)
      this.#keep(key, bytes)
      return bytes
    }, (error: unknown) => {
      this.#inFlight.delete(key)
      throw error
    })
    this.#inFlight.set(key, download)
    return download
  }

  async #get (range: RemoteRange): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        const bytes = await this.tier.store.get(range.key, { start: range.position, end: range.position + range.length })
        if (bytes.length !== range.length) throw new ObjectStoreError('other', `${range.key}: got ${bytes.length} bytes of a ${range.length}-byte range`)
        count('s3-read-bytes', bytes.length)
        return bytes
      } catch (error) {
        const retriable = error instanceof ObjectStoreError && error.retriable
        if (!retriable || attempt + 1 >= kReadAttempts) throw error
        await delay(retryDelayMs(attempt, kMaxRetryDelayMs))
      }
    }
  }

  #keep (key: string, bytes: Buffer): void {
    if (bytes.length > this.cacheBytes || this.#cache.has(key)) return
    this.#cache.set(key, bytes)
    this.#cachedBytes += bytes.length
    for (const [oldKey, oldBytes] of this.#cache) {
      if (this.#cachedBytes <= this.cacheBytes) break
      this.#cache.delete(oldKey)
      this.#cachedBytes -= oldBytes.length
    }
  }
}

/** A range's identity in the cache: its object and byte span (a merge writes new keys, never new bytes under a key). */
function rangeCacheKey (range: RemoteRange): string {
  return `${range.key}@${range.position}+${range.length}`
}

/** Position in `bytes` (whole batches) of the batch holding `offset`; -1 when none does. */
function batchHolding (bytes: Buffer, offset: number): number {
  let position = 0
  while (position + kLogOverhead <= bytes.length) {
    const lastOffset = readInt64(bytes, position) + bytes.readInt32BE(position + kLastOffsetDeltaOffset)
    if (lastOffset >= offset) return position
    position += kLogOverhead + bytes.readInt32BE(position + kBatchLengthOffset)
  }
  return -1
}

function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
