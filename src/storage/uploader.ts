// A worker's S3 uploads: what its partitions got since the last upload travels to S3 in one object per flush
// (object-format.ts), not one per partition, so PUTs per second follow the flush rate and not the partition
// count. It implements RemoteTier: the rest of the worker asks it what is in S3.
//
// The cycle:
//   1. a partition's log tells it of every append (PartitionLog.onAppend: the batch's size), which marks the
//      partition dirty and counts its bytes in the backlog;
//   2. every --s3-flush-interval-ms, or as soon as --s3-flush-bytes wait, or (--durability s3) as soon as an
//      acks=-1 request waits, a round reads every dirty partition's new batches from its log (page cache reads,
//      copies: the log may roll, clean or delete meanwhile) into objects ("pieces") of about --s3-flush-bytes
//      (at most 15 MiB: single PUTs), up to 4 of them, a partition's batches continuing from one piece into the
//      next; the pieces go to the store in parallel (the flusher pool, through the main thread: nothing here
//      waits for S3 on the event loop). Two rounds may be in flight: the next is read and sent while the
//      previous one uploads;
//   3. rounds are confirmed in order, once all their pieces are in S3: the ranges go into the partitions'
//      RemotePartitionIndex and the acks=-1 requests they cover are answered. A failed PUT is retried with
//      back-off, its spans read again from the log (the body of an attempt moves to the flusher, uncopied), and
//      later rounds wait for it, so every partition's ranges stay contiguous and in order.
// Reads go up to the log end, fsynced or not: after a power loss the local log may end below what S3 holds, and
// the next start tops it up from S3 (restore.ts) before serving, so offsets never diverge between the tiers.
//
// Backlog: bytes appended but not yet in S3. Past half of --s3-backlog-max-bytes produce answers carry a
// throttle time; past all of it produce is refused with NOT_ENOUGH_REPLICAS (retriable): the data a client was
// told is stored is never dropped, and what is not yet uploaded stays on disk (the backlog is a count, not a copy).
//
// The merge (every --s3-merge-interval-ms): a partition's consecutive ranges in shared flush objects are
// rewritten into one per-partition object once they add up to --s3-merge-bytes, or once the oldest is 60 merge
// intervals old; flush objects no range refers to any more are deleted. Objects that also hold partitions of
// other workers (written before a restart with another --workers) are left to the start-up garbage collection.
import { count } from '../counters.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { readInt64 } from '../protocol/int64.ts'
import { kBatchLengthOffset, kLastOffsetDeltaOffset, kLogOverhead, kMaxTimestampOffset } from '../protocol/record-batch-layout.ts'
import type { PartitionLog } from '../log/partition-log.ts'
import type { Logger } from '../logger.ts'
import type { S3Config } from '../config/config.ts'
import { dataObjectKey, encodeObject, type ObjectHeader, type ObjectRange } from './object-format.ts'
import { retryDelayMs, type ObjectStore } from './object-store.ts'
import { partitionKey, RemotePartitionIndex, type RemoteRange } from './remote-index.ts'
import type { RemoteTier } from './remote-tier.ts'

/** A partition the uploader follows: its identity and its log. */
export interface UploadedPartition {
  readonly topicId: string
  readonly topicName: string
  readonly partition: number
  readonly log: PartitionLog
  /** Whether its topic is compacted now (cleanup.policy has compact; asked at each merge round). */
  readonly compacted?: () => boolean
}

interface Waiter {
  readonly offset: number
  resolve (): void
  reject (error: Error): void
}

class PartitionState {
  readonly name: string
  readonly topicId: string
  readonly topicName: string
  readonly partition: number
  readonly log: PartitionLog
  readonly compacted: () => boolean
  readonly index: RemotePartitionIndex
  /** Everything below it is in S3 (the index's end, or the log start when that is higher). */
  uploaded: number
  /** Everything below it is in S3 or in a round in flight (at least `uploaded`). */
  queued: number
  /** Bytes appended since `uploaded` (an estimate after a restart: what was appended before is not counted). */
  pendingBytes = 0
  /** The log start moved since the last upload: the next object reports it even without data. */
  startChanged = false
  /** acks=-1 requests (--durability s3) waiting for offsets below `offset` to be in S3, in append order. */
  readonly waiters: Waiter[] = []
  detached = false

  constructor (partition: UploadedPartition, index: RemotePartitionIndex) {
    this.name = partitionKey(partition.topicId, partition.partition)
    this.topicId = partition.topicId
    this.topicName = partition.topicName
    this.partition = partition.partition
    this.log = partition.log
    this.compacted = partition.compacted ?? notCompacted
    this.index = index
    this.uploaded = Math.max(index.endOffset, partition.log.logStartOffset)
    this.queued = this.uploaded
  }
}

export interface UploaderOptions {
  readonly store: ObjectStore
  readonly config: S3Config
  readonly durability: 'local' | 's3'
  readonly worker: number
  /** The broker process's id (lease.ts): part of every key this process writes. */
  readonly instance: string
  readonly logger: Logger
  /** What S3 held of this worker's partitions at start (remote-state-loader.ts), by partitionKey. */
  readonly indexes?: Map<string, RemotePartitionIndex>
  /** Which partitions each object known at start holds (for deleting it once none needs it), by key. */
  readonly objectPartitions?: Map<string, readonly string[]>
  readonly now?: () => number
}

/** A round's pieces (objects uploaded in parallel) and the largest a piece aims at: a single PUT each. */
const kPiecesPerRound = 4
const kMaxPieceBytes = 15 * 1024 * 1024
/** Rounds in flight at once: the next one is read and sent while the previous is still uploading. */
const kMaxRoundsInFlight = 2
/** A merge round reads at most this many times --s3-merge-bytes at once (what it holds in memory). */
const kMergeRoundFactor = 4
/** A compacted partition's S3 copy is rewritten from its log only up to this size (it is read into memory). */
const kMaxRewriteBytes = 256 * 1024 * 1024

export class Uploader implements RemoteTier {
  readonly store: ObjectStore
  readonly #config: S3Config
  readonly #durability: 'local' | 's3'
  readonly #worker: number
  readonly #instance: string
  readonly #logger: Logger
  readonly #now: () => number
  readonly #partitions = new Map<string, PartitionState>()
  /** Indexes of partitions not (or no longer) open here, kept so that a partition reopened finds its ranges. */
  readonly #indexes: Map<string, RemotePartitionIndex>
  /** The partitions each object holds ranges of (every object this worker may delete). */
  readonly #objectPartitions: Map<string, readonly string[]>
  readonly #dirty = new Set<PartitionState>()
  #backlogBytes = 0
  #seq = 0
  /** Rounds in flight, oldest first (at most kMaxRoundsInFlight); confirmed in this order. */
  readonly #rounds: Round[] = []
  /** Bytes read into the rounds in flight. */
  #inFlightBytes = 0
  /** A round could not take everything: another is due once it is confirmed. */
  #again = false
  #scheduled = false
  /** Failed PUTs in a row (the back-off), the probe's timer, and the failed pieces waiting to go again. */
  #failures = 0
  readonly #retryTimers = new Set<NodeJS.Timeout>()
  readonly #failed: Array<{ round: Round, piece: Piece }> = []
  #interval: NodeJS.Timeout | null = null
  #mergeTimer: NodeJS.Timeout | null = null
  #merging = false
  #fenced: string | null = null
  #closed = false
  /** Totals for metrics and logs. */
  readonly stats = { uploads: 0, uploadedBytes: 0, failures: 0, lastPutMs: 0, merges: 0, deletedObjects: 0 }

  constructor (options: UploaderOptions) {
    this.store = options.store
    this.#config = options.config
    this.#durability = options.durability
    this.#worker = options.worker
    this.#instance = options.instance
    this.#logger = options.logger
    this.#now = options.now ?? Date.now
    this.#indexes = options.indexes ?? new Map()
    this.#objectPartitions = new Map(options.objectPartitions ?? [])
  }

  /** Starts the flush interval and the merge timer. */
  start (): void {
    this.#interval = setInterval(() => this.#schedule(), this.#config.flushIntervalMs)
    this.#interval.unref()
    this.#mergeTimer = setInterval(() => { this.#merge().catch((error: Error) => this.#logger.limited('s3-merge', 'warn', `S3 merge failed: ${error.message}`)) }, this.#config.mergeIntervalMs)
    this.#mergeTimer.unref()
  }

  // ---- partitions ---------------------------------------------------------------------------------------

  /** A partition opened on this worker: follow its appends (and, with --durability s3, its flushes). */
  attach (partition: UploadedPartition): void {
    const name = partitionKey(partition.topicId, partition.partition)
    let index = this.#indexes.get(name)
    if (index === undefined) this.#indexes.set(name, index = new RemotePartitionIndex())
    const state = new PartitionState(partition, index)
    this.#partitions.set(name, state)
    partition.log.onAppend = (bytes: number) => this.#appended(state, bytes)
    if (this.#durability === 's3') partition.log.remoteDurability = (endOffset: number) => this.#waitUploaded(state, endOffset)
    if (partition.log.nextOffset > state.uploaded) this.#markDirty(state, 0)
  }

  /**
   * A partition closed here (moved away or deleted): stop following it. Deleted (its topic is gone): its ranges
   * are forgotten and objects holding nothing else are deleted.
   */
  detach (topicId: string, partition: number, deleted: boolean): void {
    const name = partitionKey(topicId, partition)
    const state = this.#partitions.get(name)
    if (state !== undefined) {
      state.detached = true
      this.#partitions.delete(name)
      this.#dirty.delete(state)
      this.#backlogBytes -= state.pendingBytes
      state.log.onAppend = null
      state.log.remoteDurability = null
      const error = new KafkaError(deleted ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition closed before its data reached S3')
      for (const waiter of state.waiters.splice(0)) waiter.reject(error)
    }
    if (deleted) {
      this.#forgottenHere.add(name)
      const index = this.#indexes.get(name)
      this.#indexes.delete(name)
      if (index !== undefined) this.#forgetRanges(index.ranges.splice(0))
    }
  }

  // ---- RemoteTier ---------------------------------------------------------------------------------------

  index (topicId: string, partition: number): RemotePartitionIndex | undefined {
    const index = this.#indexes.get(partitionKey(topicId, partition))
    return index === undefined || index.ranges.length === 0 ? undefined : index
  }

  uploadedOffset (topicId: string, partition: number): number {
    return this.#partitions.get(partitionKey(topicId, partition))?.uploaded ?? this.#indexes.get(partitionKey(topicId, partition))?.endOffset ?? 0
  }

  advanceStart (topicId: string, partition: number, offset: number): void {
    const name = partitionKey(topicId, partition)
    const index = this.#indexes.get(name)
    if (index === undefined) return
    const dropped = index.advanceStart(offset)
    const state = this.#partitions.get(name)
    if (state !== undefined) {
      if (state.uploaded < offset) state.uploaded = offset
      if (state.queued < offset) state.queued = offset
      state.startChanged = true
      this.#markDirty(state, 0)
      // Rare (DeleteRecords, retention): reported at once, so a restore does not bring those offsets back.
      this.#schedule()
    }
    if (dropped.length > 0) this.#forgetRanges(dropped)
  }

  // ---- backlog ------------------------------------------------------------------------------------------

  /** Bytes appended to this worker's partitions and not yet in S3. */
  get backlogBytes (): number {
    return this.#backlogBytes
  }

  /** The produce throttle (ms) the backlog calls for: 0 below half the bound, rising to 1 s at the bound. */
  produceThrottleMs (): number {
    const half = this.#config.backlogMaxBytes / 2
    if (this.#backlogBytes <= half) return 0
    return Math.min(1000, Math.ceil(((this.#backlogBytes - half) / half) * 1000))
  }

  /** Produce is refused (NOT_ENOUGH_REPLICAS) while this holds: the backlog is at its bound, or the prefix was taken over. */
  get refusesProduce (): boolean {
    return this.#backlogBytes >= this.#config.backlogMaxBytes || this.#fenced !== null
  }

  /** Why produce is refused, for the error message. */
  get refusalReason (): string {
    if (this.#fenced !== null) return `another broker took over the S3 prefix (${this.#fenced}); this one no longer uploads`
    return `${this.#backlogBytes} bytes not yet uploaded to S3 reach --s3-backlog-max-bytes (${this.#config.backlogMaxBytes})`
  }

  /** The lease was lost (lease.ts): stop uploading, fail what waits. */
  fence (holder: string): void {
    if (this.#fenced !== null) return
    this.#fenced = holder
    this.#logger.error(`S3 prefix ${this.#config.prefix || '(none)'} taken over by ${holder}: uploads stop, produce is refused`)
    const error = new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, this.refusalReason)
    for (const state of this.#partitions.values()) for (const waiter of state.waiters.splice(0)) waiter.reject(error)
  }

  // ---- the upload cycle ---------------------------------------------------------------------------------

  #appended (state: PartitionState, bytes: number): void {
    this.#markDirty(state, bytes)
    if (this.#unqueuedBytes >= this.#config.flushBytes) this.#schedule()
  }

  #markDirty (state: PartitionState, bytes: number): void {
    state.pendingBytes += bytes
    this.#backlogBytes += bytes
    this.#dirty.add(state)
  }

  #waitUploaded (state: PartitionState, endOffset: number): Promise<void> {
    if (state.uploaded >= endOffset) return Promise.resolve()
    if (this.#fenced !== null) return Promise.reject(new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, this.refusalReason))
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    state.waiters.push({ offset: endOffset, resolve, reject })
    this.#dirty.add(state)
    this.#schedule()
    return promise
  }

  /** Rounds start soon (this turn's other appends and waiters join them), as many as may be in flight. */
  #schedule (): void {
    if (this.#closed || this.#fenced !== null || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#startRounds()
    })
  }

  #startRounds (): void {
    // While S3 fails, no new round: the data waits on disk until the probe gets through.
    while (!this.#closed && this.#fenced === null && this.#failures === 0 && this.#rounds.length < kMaxRoundsInFlight) {
      const round = this.#collectRound()
      if (round === null) return
      this.#rounds.push(round)
      for (const piece of round.pieces) this.#putPiece(round, piece)
    }
  }

  /** Bytes appended and not yet in a round. */
  get #unqueuedBytes (): number {
    return this.#backlogBytes - this.#inFlightBytes
  }

  /** Whether an acks=-1 request waits for offsets no round carries yet. */
  #hasUnqueuedWaiters (): boolean {
    for (const state of this.#dirty) {
      const waiters = state.waiters
      if (waiters.length > 0 && waiters[waiters.length - 1].offset > state.queued) return true
    }
    return false
  }

  /**
   * Reads every dirty partition's batches not yet in a round into pieces of about kPieceBytes (a partition's
   * batches may continue into the next piece), at most kPiecesPerRound of them; null when there is nothing.
   */
  #collectRound (): Round | null {
    const pieceBytes = this.#pieceBytes
    const pieces: Piece[] = []
    let piece: Piece | null = null
    let truncated = false
    const newPiece = (): Piece | null => {
      if (pieces.length >= kPiecesPerRound) return null
      const made: Piece = { spans: [], chunks: [], bytes: 0, key: '', header: null }
      pieces.push(made)
      return made
    }
    for (const state of [...this.#dirty]) {
      if (truncated) break
      const log = state.log
      if (log.isClosed || log.hasFailed) {
        this.#dirty.delete(state)
        continue
      }
      // Evicted offsets (local.retention.*) are in S3 already; the log reads only from its first local one.
      let from = Math.max(state.queued, log.localStartOffset)
      const to = log.nextOffset
      if (from >= to && !state.startChanged) {
        this.#dirty.delete(state)
        continue
      }
      piece ??= newPiece()
      if (piece === null) break
      let span = addSpan(piece, state, from, log.logStartOffset)
      state.startChanged = false
      while (from < to) {
        if (piece.bytes >= pieceBytes) {
          const next = newPiece()
          if (next === null) {
            truncated = true
            break
          }
          piece = next
          span = addSpan(piece, state, from, log.logStartOffset)
        }
        const result = log.read(from, pieceBytes - piece.bytes, true)
        const records = result.records
        if (result.errorCode !== ErrorCode.NONE || records === null || records.length === 0) break
        from = walkBatches(records, span)
        span.end = from
        piece.chunks.push(records)
        piece.bytes += records.length
      }
      state.queued = from
      if (from >= to) this.#dirty.delete(state)
    }
    if (pieces.length === 0) {
      // Nothing new: waiters whose offsets are already in S3 (a retried duplicate) are answered.
      for (const state of [...this.#dirty]) this.#settleWaiters(state)
      return null
    }
    let bytes = 0
    for (const made of pieces) bytes += made.bytes
    this.#inFlightBytes += bytes
    return { pieces, pending: pieces.length, truncated, bytes }
  }

  /** The object size a piece aims at: --s3-flush-bytes, within 1 MiB and kMaxPieceBytes (single PUTs). */
  get #pieceBytes (): number {
    return Math.min(kMaxPieceBytes, Math.max(1024 * 1024, this.#config.flushBytes))
  }

  /** Uploads a piece (reading its spans again for a retry: the body of an attempt moves to the flusher). */
  #putPiece (round: Round, piece: Piece): void {
    if (this.#closed) return
    const chunks = piece.chunks.length > 0 || piece.bytes === 0 ? piece.chunks : this.#reread(piece)
    piece.chunks = []
    const createdMs = this.#now()
    const key = dataObjectKey(this.#config.prefix, 'flush', createdMs, this.#instance, this.#worker, this.#seq++)
    const ranges: Array<Omit<ObjectRange, 'position'>> = piece.spans.map((span) => ({
      topicId: span.state.topicId, topic: span.state.topicName, partition: span.state.partition, baseOffset: span.base, endOffset: span.end,
      length: span.length, maxTimestamp: span.maxTimestamp, logStartOffset: span.logStartOffset
    }))
    const encoded = encodeObject({ kind: 'flush', instance: this.#instance, worker: this.#worker, createdMs }, ranges, chunks)
    const body = Buffer.concat(encoded.chunks, encoded.size)
    const bytes = body.length
    const started = performance.now()
    const put = this.store.putMoved === undefined ? this.store.put(key, body) : this.store.putMoved(key, body)
    put.then(() => {
      if (this.#closed) return
      this.#failures = 0
      this.stats.uploads++
      this.stats.uploadedBytes += bytes
      this.stats.lastPutMs = performance.now() - started
      count('s3-uploads')
      count('s3-upload-bytes', bytes)
      piece.key = key
      piece.header = encoded.header
      round.pending--
      this.#confirmRounds()
      // S3 answers again: the pieces that failed meanwhile go again at once.
      for (const waiting of this.#failed.splice(0)) this.#putPiece(waiting.round, waiting.piece)
    }, (error: Error) => {
      if (this.#closed) return
      this.#failures++
      this.stats.failures++
      count('s3-upload-errors')
      // While S3 fails, one piece probes it (after a back-off); the others wait, holding no bytes (they are read
      // again when sent), so memory does not grow with the outage.
      this.#failed.push({ round, piece })
      if (this.#retryTimers.size > 0) return
      const delay = retryDelayMs(this.#failures - 1)
      this.#logger.limited('s3-upload', 'warn', `S3 upload of ${bytes} bytes (${ranges.length} ranges) failed, retrying in ${delay} ms (${this.#failures} failure(s) in a row, ${this.#backlogBytes} bytes not yet in S3): ${error.message}`)
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer)
        const next = this.#failed.shift()
        if (next !== undefined) this.#putPiece(next.round, next.piece)
      }, delay)
      this.#retryTimers.add(timer)
    })
  }

  /**
   * A piece's spans read from the logs again, for a retry. A span whose offsets are gone meanwhile (retention,
   * DeleteRecords, a deleted topic) comes back empty: it then only reports the log start.
   */
  #reread (piece: Piece): Buffer[] {
    const chunks: Buffer[] = []
    piece.bytes = 0
    for (const span of piece.spans) {
      const log = span.state.log
      span.length = 0
      span.maxTimestamp = -1
      let from = Math.max(span.base, log.isClosed ? span.end : log.logStartOffset)
      while (from < span.end && !log.isClosed && !log.hasFailed) {
        const result = log.read(from, kMaxPieceBytes, true)
        const records = result.records
        if (result.errorCode !== ErrorCode.NONE || records === null || records.length === 0) break
        // Only the batches below the span's end (the log has grown since).
        const kept = batchesBelow(records, span.end)
        if (kept.length === 0) break
        const next = walkBatches(kept, span)
        chunks.push(kept)
        piece.bytes += kept.length
        if (next <= from) break
        from = next
      }
    }
    return chunks
  }

  /** Confirms the rounds at the head whose pieces are all in S3, in order (see the header). */
  #confirmRounds (): void {
    let confirmed = false
    while (this.#rounds.length > 0 && this.#rounds[0].pending === 0) {
      const round = this.#rounds.shift() as Round
      this.#inFlightBytes -= round.bytes
      for (const piece of round.pieces) this.#confirmPiece(piece)
      confirmed = true
      if (round.truncated) this.#again = true
    }
    if (!confirmed) return
    // More now: a backlog past --s3-flush-bytes, a round that could not take everything, or acks=-1 waiting.
    if (this.#again || this.#unqueuedBytes >= this.#config.flushBytes || this.#hasUnqueuedWaiters()) {
      this.#again = false
      this.#schedule()
    }
  }

  /** A piece's PUT succeeded (and every earlier one): record its ranges, answer the waiters they cover. */
  #confirmPiece (piece: Piece): void {
    const header = piece.header as ObjectHeader
    const key = piece.key
    const names: string[] = []
    header.ranges.forEach((range, at) => {
      const state = piece.spans[at].state
      names.push(state.name)
      if (state.detached) return
      if (range.length > 0 && range.endOffset > state.index.endOffset) {
        state.index.append({ key, baseOffset: range.baseOffset, endOffset: range.endOffset, position: range.position, length: range.length, maxTimestamp: range.maxTimestamp })
      }
      if (range.endOffset > state.uploaded) state.uploaded = range.endOffset
      const confirmed = Math.min(state.pendingBytes, range.length)
      state.pendingBytes -= confirmed
      this.#backlogBytes -= confirmed
      if (state.uploaded >= state.log.nextOffset) {
        // Everything is up: what the estimate still counts (batches appended before a restart) is dropped.
        this.#backlogBytes -= state.pendingBytes
        state.pendingBytes = 0
      }
      this.#settleWaiters(state)
    })
    this.#objectPartitions.set(key, names)
  }

  #settleWaiters (state: PartitionState): void {
    const waiters = state.waiters
    let answered = 0
    while (answered < waiters.length && waiters[answered].offset <= state.uploaded) waiters[answered++].resolve()
    if (answered > 0) waiters.splice(0, answered)
  }

  // ---- deleting what nothing needs ----------------------------------------------------------------------

  /** Ranges of partition `name` dropped from its index: delete the objects no open index refers to any more. */
  #forgetRanges (dropped: readonly RemoteRange[]): void {
    const candidates = new Set<string>()
    for (const range of dropped) candidates.add(range.key)
    const deletable: string[] = []
    for (const key of candidates) if (this.#unreferenced(key)) deletable.push(key)
    if (deletable.length === 0) return
    for (const key of deletable) this.#objectPartitions.delete(key)
    this.#delete(deletable)
  }

  /** Whether no partition this worker knows refers to `key`, and the object holds no partition of another worker. */
  #unreferenced (key: string): boolean {
    const names = this.#objectPartitions.get(key)
    if (names === undefined) return false
    for (const name of names) {
      const index = this.#indexes.get(name)
      // A partition this worker does not follow: the object may be needed by another worker; leave it.
      if (index === undefined && this.#partitions.get(name) === undefined) {
        if (!this.#forgottenHere.has(name)) return false
        continue
      }
      if (index !== undefined && index.ranges.some((range) => range.key === key)) return false
    }
    return true
  }

  /** Partitions deleted while this worker owned them: their ranges are gone, not someone else's. */
  readonly #forgottenHere = new Set<string>()

  #delete (keys: string[]): void {
    this.store.delete(keys).then(() => {
      this.stats.deletedObjects += keys.length
      count('s3-objects-deleted', keys.length)
    }, (error: Error) => {
      // Left behind: the start-up garbage collection deletes them (they are redundant by then).
      this.#logger.limited('s3-delete', 'warn', `S3 delete of ${keys.length} object(s) failed (the next start's clean-up removes them): ${error.message}`)
    })
  }

  // ---- the merge ----------------------------------------------------------------------------------------

  /**
   * Rewrites runs of small ranges into per-partition objects (see the header). The partitions due this round
   * are handled in groups of at most kMergeRoundFactor x --s3-merge-bytes; within a group every flush object is
   * read once (one ranged GET spanning the ranges due), whatever the number of its partitions that are due.
   */
  async #merge (): Promise<void> {
    if (this.#merging || this.#closed || this.#fenced !== null) return
    this.#merging = true
    try {
      const oldEnoughMs = this.#now() - this.#config.mergeIntervalMs * 60
      let group: Array<{ state: PartitionState, run: RemoteRange[] }> = []
      let groupBytes = 0
      for (const state of [...this.#partitions.values()]) {
        if (state.compacted()) {
          // A compacted log shrinks locally while S3 keeps every version: rewritten from the log instead.
          if (this.#worthRewriting(state)) await this.#rewriteFromLog(state)
          if (this.#closed || this.#fenced !== null) return
          continue
        }
        const run = this.#mergeableRun(state.index, oldEnoughMs)
        if (run === null) continue
        group.push({ state, run })
        for (const range of run) groupBytes += range.length
        if (groupBytes >= this.#config.mergeBytes * kMergeRoundFactor) {
          await this.#mergeGroup(group)
          group = []
          groupBytes = 0
        }
        if (this.#closed || this.#fenced !== null) return
      }
      if (group.length > 0) await this.#mergeGroup(group)
    } finally {
      this.#merging = false
    }
  }

  /**
   * A compacted partition is rewritten once S3 holds more than twice what its local log holds (and at least
   * --s3-merge-bytes / 4 more): the cleaner dropped superseded records here that S3 still keeps. Bounded to logs of
   * at most kMaxRewriteBytes (the rewrite holds the log's bytes in memory once).
   */
  #worthRewriting (state: PartitionState): boolean {
    const remote = state.index.sizeBytes
    const local = state.log.sizeBytes
    return state.index.ranges.length > 0 && local <= kMaxRewriteBytes && remote > 2 * local && remote - local >= this.#config.mergeBytes / 4 &&
      state.log.localStartOffset <= Math.max(state.index.logStartOffset, state.index.ranges[0].baseOffset)
  }

  /**
   * Replaces everything S3 holds of a compacted partition, [first range's base, uploaded), by one merged object
   * read from the local log (its cleaned batches): the old objects are then forgotten and deleted once nothing
   * refers to them. The same offsets, fewer records: what a restore brings back is the log as the cleaner left it.
   */
  async #rewriteFromLog (state: PartitionState): Promise<void> {
    const log = state.log
    const base = state.index.ranges[0].baseOffset
    const end = state.index.endOffset
    const parts: Buffer[] = []
    let maxTimestamp = -1
    let from = Math.max(base, log.logStartOffset)
    while (from < end) {
      const result = log.read(from, Math.min(this.#config.mergeBytes, kMaxRewriteBytes), true)
      const records = result.records
      if (result.errorCode !== ErrorCode.NONE || records === null || records.length === 0) return
      let at = 0
      let kept = 0
      while (at + kLogOverhead <= records.length) {
        const size = kLogOverhead + records.readInt32BE(at + kBatchLengthOffset)
        const batchEnd = readInt64(records, at) + records.readInt32BE(at + kLastOffsetDeltaOffset) + 1
        if (batchEnd > end) break
        const timestamp = readInt64(records, at + kMaxTimestampOffset)
        if (timestamp > maxTimestamp) maxTimestamp = timestamp
        at += size
        kept = at
        from = batchEnd
      }
      if (kept > 0) parts.push(records.subarray(0, kept))
      if (kept < records.length) break
    }
    if (from < end && parts.length === 0) return
    // The span is [base, end) whatever the batches: offsets the cleaner removed are simply not there.
    const run: RemoteRange[] = [{ key: '', baseOffset: base, endOffset: end, position: 0, length: 0, maxTimestamp }]
    await this.#putMerged(state, run, parts, maxTimestamp)
    count('s3-compacted-rewrites')
  }

  /** The first run of consecutive flush-object ranges worth merging, or null. */
  #mergeableRun (index: RemotePartitionIndex, oldEnoughMs: number): RemoteRange[] | null {
    let run: RemoteRange[] = []
    let bytes = 0
    for (const range of index.ranges) {
      const contiguous = run.length === 0 || run[run.length - 1].endOffset === range.baseOffset
      if (!isFlushObjectKey(range.key) || !contiguous) {
        if (this.#worthMerging(run, bytes, oldEnoughMs)) return run
        run = []
        bytes = 0
        if (!isFlushObjectKey(range.key)) continue
      }
      run.push(range)
      bytes += range.length
      if (bytes >= this.#config.mergeBytes) return run
    }
    return this.#worthMerging(run, bytes, oldEnoughMs) ? run : null
  }

  /** A run is merged once it adds up to --s3-merge-bytes, or its oldest range is 60 merge intervals old. */
  #worthMerging (run: RemoteRange[], bytes: number, oldEnoughMs: number): boolean {
    if (run.length === 0) return false
    return bytes >= this.#config.mergeBytes || createdMsOfKey(run[0].key) <= oldEnoughMs
  }

  async #mergeGroup (group: Array<{ state: PartitionState, run: RemoteRange[] }>): Promise<void> {
    // One GET per object: the span from the first range due in it to the end of the last.
    const spans = new Map<string, { start: number, end: number, bytes: Buffer | null }>()
    for (const { run } of group) {
      for (const range of run) {
        const span = spans.get(range.key)
        if (span === undefined) spans.set(range.key, { start: range.position, end: range.position + range.length, bytes: null })
        else {
          span.start = Math.min(span.start, range.position)
          span.end = Math.max(span.end, range.position + range.length)
        }
      }
    }
    for (const [key, span] of spans) span.bytes = await this.store.get(key, { start: span.start, end: span.end })
    for (const { state, run } of group) {
      if (state.detached || this.#closed || this.#fenced !== null) continue
      const parts: Buffer[] = []
      let maxTimestamp = -1
      for (const range of run) {
        const span = spans.get(range.key) as { start: number, bytes: Buffer }
        parts.push(span.bytes.subarray(range.position - span.start, range.position - span.start + range.length))
        if (range.maxTimestamp > maxTimestamp) maxTimestamp = range.maxTimestamp
      }
      await this.#putMerged(state, run, parts, maxTimestamp)
    }
  }

  async #putMerged (state: PartitionState, run: RemoteRange[], parts: Buffer[], maxTimestamp: number): Promise<void> {
    const length = parts.reduce((sum, part) => sum + part.length, 0)
    const first = run[0]
    const last = run[run.length - 1]
    const createdMs = this.#now()
    const key = dataObjectKey(this.#config.prefix, 'merged', createdMs, this.#instance, this.#worker, this.#seq++)
    const encoded = encodeObject({ kind: 'merged', instance: this.#instance, worker: this.#worker, createdMs },
      [{ topicId: state.topicId, topic: state.topicName, partition: state.partition, baseOffset: first.baseOffset, endOffset: last.endOffset, length, maxTimestamp, logStartOffset: state.index.logStartOffset }], parts)
    const body = Buffer.concat(encoded.chunks, encoded.size)
    await (this.store.putMoved === undefined ? this.store.put(key, body) : this.store.putMoved(key, body))
    const placed = encoded.header.ranges[0]
    this.#objectPartitions.set(key, [state.name])
    // The index may have moved meanwhile (retention): replace only if the run is still there as it was.
    const replaced = state.index.replace({ key, baseOffset: placed.baseOffset, endOffset: placed.endOffset, position: placed.position, length: placed.length, maxTimestamp })
    if (replaced === null) {
      this.#objectPartitions.delete(key)
      this.#delete([key])
      return
    }
    this.stats.merges++
    count('s3-merges')
    this.#forgetRanges(replaced)
  }

  // ---- shutdown -----------------------------------------------------------------------------------------

  /**
   * Uploads everything appended so far (SIGTERM), logging progress every 2 s; resolves once nothing is left or
   * the uploader is fenced. New appends keep being uploaded until close().
   */
  async finish (): Promise<void> {
    const left = (): boolean => {
      for (const state of this.#partitions.values()) if (!state.log.isClosed && !state.log.hasFailed && state.log.nextOffset > state.uploaded) return true
      return false
    }
    if (!left()) return
    this.#logger.info(`S3: uploading what is not there yet before stopping (${this.#backlogBytes} bytes)`)
    let lastLog = performance.now()
    while (left() && this.#fenced === null && !this.#closed) {
      this.#schedule()
      await new Promise((resolve) => setTimeout(resolve, 20))
      if (performance.now() - lastLog >= 2000) {
        lastLog = performance.now()
        this.#logger.info(`S3: ${this.#backlogBytes} bytes left to upload${this.#failures > 0 ? ` (${this.#failures} failed attempt(s) in a row)` : ''}`)
      }
    }
    if (!left()) this.#logger.info('S3: everything is uploaded')
  }

  close (): void {
    this.#closed = true
    if (this.#interval !== null) clearInterval(this.#interval)
    if (this.#mergeTimer !== null) clearInterval(this.#mergeTimer)
    for (const timer of this.#retryTimers) clearTimeout(timer)
    this.#retryTimers.clear()
    const error = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the broker is stopping')
    for (const state of this.#partitions.values()) {
      state.log.onAppend = null
      state.log.remoteDurability = null
      for (const waiter of state.waiters.splice(0)) waiter.reject(error)
    }
  }
}

/** One partition's offsets [base, end) in a piece: `length` bytes of whole batches, the newest timestamp among them. */
interface Span {
  readonly state: PartitionState
  readonly base: number
  end: number
  /** The partition's log start when the span was read (the object reports it). */
  readonly logStartOffset: number
  length: number
  maxTimestamp: number
}

/** One object of a round: the spans of several partitions, and (until its first PUT) their bytes. */
interface Piece {
  readonly spans: Span[]
  chunks: Buffer[]
  bytes: number
  /** Set once its PUT succeeded. */
  key: string
  header: ObjectHeader | null
}

/** What one collection read: its pieces go up in parallel, and the round is confirmed once all are in S3. */
interface Round {
  readonly pieces: Piece[]
  pending: number
  /** More was waiting than the round could take. */
  readonly truncated: boolean
  readonly bytes: number
}

function addSpan (piece: Piece, state: PartitionState, from: number, logStartOffset: number): Span {
  const span: Span = { state, base: from, end: from, logStartOffset, length: 0, maxTimestamp: -1 }
  piece.spans.push(span)
  return span
}

/** Adds the whole batches of `records` to `span` (length, newest timestamp); returns the offset after the last. */
function walkBatches (records: Buffer, span: Span): number {
  let at = 0
  let end = span.end
  while (at + kLogOverhead <= records.length) {
    const size = kLogOverhead + records.readInt32BE(at + kBatchLengthOffset)
    end = readInt64(records, at) + records.readInt32BE(at + kLastOffsetDeltaOffset) + 1
    const timestamp = readInt64(records, at + kMaxTimestampOffset)
    if (timestamp > span.maxTimestamp) span.maxTimestamp = timestamp
    at += size
  }
  span.length += records.length
  return end
}

/** The whole batches of `records` that end at or below `end`. */
function batchesBelow (records: Buffer, end: number): Buffer {
  let at = 0
  while (at + kLogOverhead <= records.length) {
    const batchEnd = readInt64(records, at) + records.readInt32BE(at + kLastOffsetDeltaOffset) + 1
    if (batchEnd > end) break
    at += kLogOverhead + records.readInt32BE(at + kBatchLengthOffset)
  }
  return at === records.length ? records : records.subarray(0, at)
}

function notCompacted (): boolean {
  return false
}

/** Flush objects (shared by partitions) are the merge's input; merged ones are not merged again. */
function isFlushObjectKey (key: string): boolean {
  return /-w\d+-\d+\.obj$/.test(key)
}

/** The creation time in a data object's key (object-format.ts), 0 when the key is not one of ours. */
export function createdMsOfKey (key: string): number {
  const slash = key.lastIndexOf('/')
  const value = Number(key.slice(slash + 1, slash + 14))
  return Number.isSafeInteger(value) ? value : 0
}
