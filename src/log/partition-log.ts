// The log of one partition on a single-node broker: a directory of segments (see segment.ts), the producer
// state of its idempotent producers, and the offsets Kafka clients see.
//
// Directory layout:
//   <base>.log / <base>.index / <base>.timeindex   the segments, ordered by base offset
//   <offset>.snapshot                              producer state as of <offset> (the 2 newest are kept)
//   log-start-offset                               "<offset>\n": the log start offset, once DeleteRecords or retention moved it
//                                                  (or eviction to S3 removed a segment: written then too)
//   local-start-offset                             "<offset>\n": present once eviction (evictOldestSegment) removed a
//                                                  segment already in S3: the log start offset may then lie below the
//                                                  first local segment, and open() keeps it there (the offset is the
//                                                  first local one when written, for operators)
//   leader-epoch-checkpoint                        leader epochs and their start offsets (leader-epochs.ts)
//   .clean-shutdown                                present only between a clean close() and the next open()
//   cleaner-offset-checkpoint                      "<offset>\n" or "<offset> <horizonMs>\n": the log cleaner cleaned
//                                                  everything below it (and a delete horizon is pending; cleaner.ts)
//   <name>.cleaned / <name>.swap                   a log cleaner swap in progress; open() deletes the first and
//                                                  completes the second (cleaner.ts)
//   <name>.deleted                                 files of a segment retention or DeleteRecords deleted, removed
//                                                  after file.delete.delay.ms (and by the next open(); see retention.ts)
//
// Threading: a partition is owned by one worker thread and its PartitionLog is used by that thread only, so
// nothing is locked. Appends and reads are synchronous (page cache); only flush() waits for the disk, through
// the async fdatasync, so the thread keeps serving while it runs.
//
// Durability: append() makes a batch visible (readable, counted in the high watermark) at once; flush()
// resolves once everything appended before the call is on disk. After a crash (kill -9, power loss), open()
// keeps every batch that was flushed and may keep more. The log start offset checkpoint and the producer state
// snapshots are written atomically (temporary file + rename) but not fsynced: losing one costs a replay, not data.
//
// Storage errors (a full disk, EIO): a write that fails is undone (the file truncated back to the last complete
// batch, so the log end, the in-memory indexes and a later recovery all agree) and answered KAFKA_STORAGE_ERROR,
// and the log stays writable: once space is freed the next append succeeds, without a restart. The same holds
// for a failed roll (index files, producer snapshot, new segment: each undone when it fails) and for a failed
// fsync (see flush()). Reads never write, so fetches of existing data keep working on a full disk. The log fails
// for good (every append and flush answering KAFKA_STORAGE_ERROR until a restart, whose recovery truncates the
// tail) only when a failed write could not be undone, data written before a failed fsync no longer checks out,
// or a log cleaner swap failed midway (replaceSealedSegments; the restart completes or undoes the swap).
// Each storage error counts `storage-errors`.
//
// Later: transactions (control batches, an aborted-transaction index <base>.txnindex per segment, and a last
// stable offset below ongoing transactions), and tiered storage (uploading sealed segments: sealedSegments()
// and the onSegmentSealed hook are the places).
import {
  closeSync, existsSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync,
  unlinkSync, writeFileSync
} from 'node:fs'
import { join } from 'node:path'
import { count } from '../counters.ts'
import { recordFsync } from '../metrics/worker-metrics.ts'
import { crc32c } from '../protocol/crc32c.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import {
  kAttributesOffset, kBaseSequenceOffset, kBaseTimestampOffset, kBatchHeaderSize, kBatchLengthOffset, kCompressionMask,
  kControlBit, kCrcOffset, kLastOffsetDeltaOffset, kLogOverhead, kMaxTimestampOffset, kPartitionLeaderEpochOffset, kProducerEpochOffset,
  kProducerIdOffset, kRecordCountOffset, kRecordsOffset, kTimestampTypeBit, kTransactionalBit
} from '../protocol/record-batch-layout.ts'
import { buildControlBatch, controlRecord, kControlTypeAbort, nextBatchEnd, readControlRecord } from '../protocol/record-batch.ts'
import { AbortedTransactionIndex, type AbortedTransaction } from './transaction-index.ts'
import { readInt64, writeInt64 } from '../protocol/int64.ts'
import { kSequenceOk, lastSequenceOf, ProducerStateTable } from './producer-state.ts'
import {
  kDeletedSuffix, kIndexSuffix, kLogSuffix, kMaxRelativeOffset, kMaxSegmentBytes, kTimeIndexSuffix, LogSegment, offsetFileName,
  parseOffsetFileName, setMaxOpenSegmentFiles, trimOpenSegmentFiles
} from './segment.ts'
import { writeFileAtomic } from './files.ts'
import { recoverInterruptedClean } from './cleaner.ts'
import { LeaderEpochCache } from './leader-epochs.ts'
import type { SegmentInfo } from './segment.ts'

export type { SegmentInfo } from './segment.ts'

export type FsyncFunction = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void

export interface LogConfig {
  /** A segment is rolled when the next batch would take it past this size. At most 2^31 - 1. */
  segmentBytes: number
  /** Log bytes between offset index entries. */
  indexIntervalBytes: number
  /**
   * When set, a segment is also rolled when it got its first batch this long ago (checked on append, and by the
   * maintenance pass through rollIfOlderThan).
   */
  segmentMs?: number
  /**
   * Kafka's segment.jitter.ms: each segment rolls up to this much earlier than segmentMs (a random amount, at
   * most segmentMs, drawn when it gets its first batch), so that partitions created together do not all roll at
   * once. 0 or absent: no jitter.
   */
  segmentJitterMs?: number
  /** The random source of the jitter, [0, 1) (tests pass their own); Math.random unless set. */
  jitterRandom?: () => number
  /** The fsync used by flush(); fs.fdatasync unless set (tests count calls through it). */
  fsyncImpl?: FsyncFunction
  /** Called (synchronously, on the append path) when a segment is sealed; the hook for tiered storage uploads. */
  onSegmentSealed?: (segment: SegmentInfo) => void
  /**
   * When set, the cap of the thread's LRU of open sealed segment files (shared by every log of the thread, so
   * the last open() sets it; see segment.ts). Default kDefaultMaxOpenSegmentFiles.
   */
  maxOpenSegmentFiles?: number
}

export const kDefaultSegmentBytes = 1024 * 1024 * 1024
export const kDefaultIndexIntervalBytes = 4096
export const kDefaultLogConfig: LogConfig = {
  segmentBytes: kDefaultSegmentBytes,
  indexIntervalBytes: kDefaultIndexIntervalBytes
}

export const kCleanShutdownFile = '.clean-shutdown'
export const kLogStartOffsetFile = 'log-start-offset'
export const kLocalStartOffsetFile = 'local-start-offset'
export const kSnapshotSuffix = '.snapshot'
const kRetainedSnapshots = 2
// Sealed segments whose indexes stay in memory after a lookup loaded them (per partition, most recent first out
// last); the active segment's are always in memory.
const kMaxLoadedSealedIndexes = 2
// setTimeout's largest delay (2^31 - 1 ms); a longer file.delete.delay.ms waits for the next check or open().
const kMaxTimerDelayMs = 0x7fffffff

export interface LogReadResult {
  /** NONE or OFFSET_OUT_OF_RANGE (fetch offset below the log start offset or above the log end offset). */
  errorCode: number
  /** Whole batches from the one containing the fetch offset; null when there is nothing to return. */
  records: Buffer | null
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** read_committed: the aborted transactions overlapping the records returned (else null). */
  abortedTransactions: AbortedTransaction[] | null
}

/** Fetch's and ListOffsets' isolation levels. */
export const kReadUncommitted = 0
export const kReadCommitted = 1

export interface OffsetAndTimestamp {
  offset: number
  timestamp: number
}

/** What open() found and did; for operators and tests. */
export interface RecoveryReport {
  /** Whether the previous close() was clean (its marker was present). */
  clean: boolean
  /** Segments whose batches were validated from the start and indexes rebuilt. */
  segmentsRebuilt: number
  /** Bytes cut off torn or corrupted tails. */
  bytesTruncated: number
  /** Segments removed because a corrupted segment before them broke offset continuity, or below the start. */
  segmentsDeleted: number
  /** Offset of the producer state snapshot loaded, -1 when none. */
  producerSnapshotOffset: number
  /** Batch headers replayed into the producer state after the snapshot. */
  batchesReplayed: number
}

export function resolveLogConfig (config: Partial<LogConfig>): LogConfig {
  const resolved = { ...kDefaultLogConfig, ...config }
  if (!(resolved.segmentBytes >= kBatchHeaderSize && resolved.segmentBytes <= kMaxSegmentBytes)) {
    throw new RangeError(`segmentBytes must be in [${kBatchHeaderSize}, ${kMaxSegmentBytes}]`)
  }
  if (!(resolved.indexIntervalBytes >= 0)) throw new RangeError('indexIntervalBytes must be >= 0')
  if (resolved.maxOpenSegmentFiles !== undefined && !(Number.isInteger(resolved.maxOpenSegmentFiles) && resolved.maxOpenSegmentFiles >= 1)) {
    throw new RangeError('maxOpenSegmentFiles must be an integer >= 1')
  }
  return resolved
}

// Results of findRecordByTimestamp, kept in module scope rather than allocated per call.
let foundOffset = -1
let foundTimestamp = -1
let varintEnd = 0

export class PartitionLog {
  readonly directory: string
  readonly config: LogConfig
  /** Idempotent producer state: check() before append(); append() updates it. */
  readonly producers = new ProducerStateTable()
  /** ABORT markers' transactions, for read_committed fetches (see transaction-index.ts). */
  readonly abortedTransactions: AbortedTransactionIndex
  /** Leader epochs and where each starts (`leader-epoch-checkpoint`, see leader-epochs.ts); set by load(). */
  leaderEpochs!: LeaderEpochCache
  readonly recovery: RecoveryReport = {
    clean: false, segmentsRebuilt: 0, bytesTruncated: 0, segmentsDeleted: 0, producerSnapshotOffset: -1, batchesReplayed: 0
  }

  /** Ordered by base offset; the last one is active, all others are sealed. Never empty. */
  private segments: LogSegment[] = []
  private startOffset = 0
  /** Every offset below it has been fsynced (by this process). */
  private durable = 0
  private readonly fsyncImpl: FsyncFunction

  // Group commit. At most one flush runs; callers arriving while it runs share the next one.
  private runningFlush: PromiseWithResolvers<void> | null = null
  private runningFlushTarget = -1
  /** performance.now() when the running flush round started (its time goes to the fsync histogram). */
  private runningFlushStartedAt = 0
  private nextFlush: PromiseWithResolvers<void> | null = null
  /** Sealed segments whose data and index files the next flush must fsync. */
  private segmentsToSync: LogSegment[] = []
  /** A file was created, renamed or removed since the last flush: fsync the directory too. */
  private directoryNeedsSync = false
  /** Segments whose fds close once the running flush is done (it may be fsyncing them). */
  private segmentsToCloseAfterFlush: LogSegment[] = []
  /** The segment whose fd the running flush fsyncs (pinned against the LRU), and the sealed ones it syncs. */
  private flushingSegment: LogSegment | null = null
  private flushingSealed: LogSegment[] = []
  /** A flush failed: the next one rewrites everything from the durable offset on before it fsyncs (see flush()). */
  private rewriteNeeded = false
  /** Set when the log can no longer be trusted: every append and flush fails until a restart recovers it. */
  private failure: Error | null = null
  private closed = false
  private removed = false

  // Where the last read ended, so that a consumer fetching from there skips the index lookup.
  private cachedReadOffset = -1
  private cachedReadSegment: LogSegment | null = null
  private cachedReadPosition = 0

  private loadedSealed: LogSegment[] = []
  /** Retention and DeleteRecords: `.deleted` files waiting for their file.delete.delay.ms, oldest first (see removeDeletedFiles). */
  private deletedFiles: Array<{ readonly path: string, readonly dueAtMs: number }> = []
  private readonly sizeScratch = Buffer.allocUnsafe(kLogOverhead)
  /**
   * Set by the S3 uploader (src/storage/uploader.ts) with --durability s3: flush() also waits for the promise it
   * returns, which resolves once every offset below `endOffset` is in S3.
   */
  remoteDurability: ((endOffset: number) => Promise<void>) | null = null
  /** segment.jitter.ms: how much earlier than segment.ms the active segment rolls (drawn at its first batch). */
  private activeRollJitterMs = 0
  /** Set by the S3 uploader: called after every append with the batch's size (no allocation; one call per batch). */
  onAppend: ((bytes: number) => void) | null = null

  private constructor (directory: string, config: LogConfig) {
    this.directory = directory
    this.config = config
    this.fsyncImpl = config.fsyncImpl ?? fdatasync
    this.abortedTransactions = new AbortedTransactionIndex(directory)
  }

  /** Opens (creating it when needed) the log in `directory`, recovering it after an unclean shutdown. */
  static open (directory: string, config: Partial<LogConfig> = {}): PartitionLog {
    mkdirSync(directory, { recursive: true })
    const resolved = resolveLogConfig(config)
    if (resolved.maxOpenSegmentFiles !== undefined) setMaxOpenSegmentFiles(resolved.maxOpenSegmentFiles)
    const log = new PartitionLog(directory, resolved)
    log.load()
    return log
  }

  get logStartOffset (): number {
    return this.startOffset
  }

  /**
   * The first offset still on the local disk: logStartOffset, unless eviction (evictOldestSegment, after the
   * segments went to S3: local.retention.*) removed segments above it. Offsets in [logStartOffset,
   * localStartOffset) exist but are only in S3: read() answers OFFSET_MOVED_TO_TIERED_STORAGE for them, and
   * offsetForTimestamp() and maxTimestampOffset() see only the local part.
   */
  get localStartOffset (): number {
    return Math.max(this.segments[0].baseOffset, this.startOffset)
  }

  /** The log end offset: the offset the next batch gets. Also the high watermark (the broker is the only replica). */
  get nextOffset (): number {
    return this.segments[this.segments.length - 1].nextOffset
  }

  get highWatermark (): number {
    return this.nextOffset
  }

  /**
   * The last stable offset: below it no transaction is open. The first offset of the earliest open transaction
   * (from the producer state), else the high watermark; at least the log start offset.
   */
  get lastStableOffset (): number {
    const firstUnstable = this.producers.firstUnstableOffset()
    const next = this.nextOffset
    // As Kafka bounds it: never below the log start offset (a transaction open since before a DeleteRecords).
    return firstUnstable >= 0 && firstUnstable < next ? Math.max(firstUnstable, this.startOffset) : next
  }

  /** close() or delete() was called. */
  get isClosed (): boolean {
    return this.closed
  }

  /** The log failed (see the header's storage errors): nothing changes it until a restart recovers it. */
  get hasFailed (): boolean {
    return this.failure !== null
  }

  /** Everything below it is fsynced. */
  get durableOffset (): number {
    return this.durable
  }

  get segmentCount (): number {
    return this.segments.length
  }

  /** Bytes of all local segments' data files (not their indexes; not what eviction left only in S3). */
  get sizeBytes (): number {
    let bytes = 0
    for (let index = 0; index < this.segments.length; index++) bytes += this.segments[index].size
    return bytes
  }

  private get active (): LogSegment {
    return this.segments[this.segments.length - 1]
  }

  /** The sealed segments (all but the active one), oldest first: what tiered storage may upload. */
  sealedSegments (): SegmentInfo[] {
    const infos: SegmentInfo[] = []
    for (let index = 0; index < this.segments.length - 1; index++) infos.push(this.segments[index].info())
    return infos
  }

  /**
   * The producer state check for a validated batch: kSequenceOk for batches of non-idempotent producers and
   * control batches, else ProducerStateTable.check with the batch's header fields.
   */
  checkProducerState (batch: Buffer): number {
    const producerId = readInt64(batch, kProducerIdOffset)
    if (producerId < 0 || (batch.readUInt16BE(kAttributesOffset) & kControlBit) !== 0) return kSequenceOk
    const baseSequence = batch.readInt32BE(kBaseSequenceOffset)
    return this.producers.check(producerId, batch.readInt16BE(kProducerEpochOffset), baseSequence,
      lastSequenceOf(baseSequence, batch.readInt32BE(kRecordCountOffset)))
  }

  /**
   * Appends one validated batch and returns its base offset. Assigns offsets in place (bytes 0..7 := nextOffset);
   * when `logAppendTime` >= 0 sets the timestamp type to LogAppendTime and maxTimestamp := logAppendTime, and
   * recomputes the CRC (the baseOffset is outside the CRC's coverage, so with -1 the CRC stays). Rolls a new
   * segment first when this one would outgrow segmentBytes. Updates the producer state for idempotent batches.
   * Throws KafkaError KAFKA_STORAGE_ERROR when the write fails, CORRUPT_MESSAGE for a batch whose length is off.
   */
  append (batch: Buffer, logAppendTime: number): number {
    this.ensureWritable()
    const lastOffsetDelta = checkedLastOffsetDelta(batch)
    let active = this.active
    const baseOffset = active.nextOffset
    const lastOffset = baseOffset + lastOffsetDelta
    const attributes = batch.readUInt16BE(kAttributesOffset)
    let maxTimestamp: number
    if (logAppendTime >= 0) {
      batch.writeUInt16BE(attributes | kTimestampTypeBit, kAttributesOffset)
      writeInt64(batch, kMaxTimestampOffset, logAppendTime)
      batch.writeUInt32BE(crc32c(batch.subarray(kAttributesOffset)), kCrcOffset)
      maxTimestamp = logAppendTime
    } else {
      maxTimestamp = readInt64(batch, kMaxTimestampOffset)
    }
    writeInt64(batch, 0, baseOffset)
    this.leaderEpochs.stamp(batch, baseOffset)
    if (this.shouldRoll(active, batch.length, lastOffset)) {
      this.roll()
      active = this.active
    }
    this.writeToActive(active, batch, baseOffset, lastOffset, maxTimestamp)
    const producerId = readInt64(batch, kProducerIdOffset)
    if (producerId >= 0) this.applyToProducerState(batch, 0, baseOffset, lastOffset, maxTimestamp, attributes)
    if (this.onAppend !== null) this.onAppend(batch.length)
    return baseOffset
  }

  /**
   * Writes a batch whose offsets are settled into the active segment. A failed write counts `storage-errors` and
   * throws KAFKA_STORAGE_ERROR; one the segment could not undo fails the log (see the header).
   */
  private writeToActive (active: LogSegment, batch: Buffer, baseOffset: number, lastOffset: number, maxTimestamp: number): void {
    try {
      active.append(batch, baseOffset, lastOffset, maxTimestamp)
    } catch (error) {
      count('storage-errors')
      if (active.tornByFailedWrite) this.failure = error as Error
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `append to ${active.logPath} failed: ${(error as Error).message}`)
    }
    if (active.createdAtMs < 0 && this.config.segmentMs !== undefined) this.startSegmentClock(active)
  }

  /** The active segment got its first batch (or segment.ms was set): its age counts from now, with its jitter. */
  private startSegmentClock (active: LogSegment): void {
    active.createdAtMs = Date.now()
    const jitterMs = this.config.segmentJitterMs ?? 0
    const segmentMs = this.config.segmentMs ?? 0
    // Kafka's draw: a random amount below min(segment.jitter.ms, segment.ms).
    this.activeRollJitterMs = jitterMs > 0 && segmentMs > 0 ? Math.floor((this.config.jitterRandom ?? Math.random)() * Math.min(jitterMs, segmentMs)) : 0
  }

  /**
   * Writes a COMMIT or ABORT marker for the producer's transaction (the transaction coordinator's
   * WriteTxnMarkers) and returns its offset. Throws KafkaError INVALID_PRODUCER_EPOCH or
   * TRANSACTION_COORDINATOR_FENCED (ProducerStateTable.checkMarker), or what append throws.
   */
  appendMarker (producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number, timestamp = Date.now()): number {
    const code = this.producers.checkMarker(producerId, producerEpoch, coordinatorEpoch)
    if (code !== ErrorCode.NONE) throw new KafkaError(code, `marker for producer ${producerId} epoch ${producerEpoch} (coordinator epoch ${coordinatorEpoch}) refused`)
    return this.append(buildControlBatch(producerId, producerEpoch, commit, coordinatorEpoch, timestamp), -1)
  }

  /**
   * The S3 restore (src/storage/restore.ts): appends a batch read back from S3 exactly as it was stored, keeping
   * its baseOffset, partitionLeaderEpoch, timestamps and CRC (the caller has checked the CRC). Its baseOffset must
   * be at least nextOffset. Above it (offsets the log cleaner removed, or a log whose S3 data starts later) the
   * log continues there: inside the active segment while the relative offsets fit (a gap inside a segment is what
   * compaction leaves and what recovery accepts; an empty log keeps its start, as the log it was uploaded from
   * did), else in an empty active segment re-based at the batch or a new segment based there (continueAt). The
   * restore moves the log start itself (restoreLogStart). Updates what append() and the replay on open update:
   * indexes, time index, producer state (duplicate-detection window included), aborted transactions for ABORT
   * markers, leader epochs (the batch's own epoch). onAppend is not called: the batch is in S3 already. Throws
   * KafkaError CORRUPT_MESSAGE for a batch whose length is off or whose offsets go backwards, KAFKA_STORAGE_ERROR
   * when a write fails.
   */
  appendRestored (batch: Buffer): void {
    this.ensureWritable()
    const lastOffsetDelta = checkedLastOffsetDelta(batch)
    const baseOffset = readInt64(batch, 0)
    if (!(baseOffset >= this.nextOffset)) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `restored batch at ${baseOffset} is below the log end offset ${this.nextOffset}`)
    }
    const lastOffset = baseOffset + lastOffsetDelta
    const attributes = batch.readUInt16BE(kAttributesOffset)
    const maxTimestamp = readInt64(batch, kMaxTimestampOffset)
    let active = this.active
    // An empty active segment takes the batch across a gap unless its relative offsets would not fit; a full
    // one rolls as append() rolls, the new segment based at the batch.
    if (active.isEmpty ? lastOffset - active.baseOffset > kMaxRelativeOffset : this.shouldRoll(active, batch.length, lastOffset)) {
      this.continueAt(baseOffset)
      active = this.active
    }
    const epoch = batch.readInt32BE(kPartitionLeaderEpochOffset)
    if (epoch >= 0) this.leaderEpochs.assign(epoch, baseOffset)
    this.writeToActive(active, batch, baseOffset, lastOffset, maxTimestamp)
    if (readInt64(batch, kProducerIdOffset) >= 0) this.applyToProducerState(batch, 0, baseOffset, lastOffset, maxTimestamp, attributes)
  }

  /**
   * The restore's log start (src/storage/restore.ts): moves the log start offset up to `offset` as
   * deleteRecordsBefore does, also past the log end offset (S3 knows a start beyond the last batch it holds:
   * everything below was deleted), where the log then continues empty at `offset`. No-op when not above the start.
   */
  restoreLogStart (offset: number): void {
    this.ensureWritable()
    if (offset <= this.startOffset) return
    if (offset > this.nextOffset) this.continueAt(offset)
    this.deleteRecordsBefore(offset)
  }

  /**
   * The restore's offset jump: the log continues at `offset` (above nextOffset). An empty active segment is
   * replaced by one based there (for a log holding nothing, its start moves there too, as open() would derive
   * it from the first segment's base); else the active segment is sealed and a new one starts there. The sealed
   * segment before it then ends at `offset`, as open() derives a sealed segment's end from the next one's base.
   */
  /**
   * The S3 restore: the log's next offset becomes `offset` (above nextOffset) with nothing in between, as after a
   * cleaner removed the last batches below it (a compacted copy in S3 ends past its last batch).
   */
  continueRestoredAt (offset: number): void {
    this.ensureWritable()
    if (offset > this.nextOffset) this.continueAt(offset)
  }

  private continueAt (offset: number): void {
    const active = this.active
    if (active.isEmpty) {
      const replacement = LogSegment.create(this.directory, offset, this.config.indexIntervalBytes)
      this.segments[this.segments.length - 1] = replacement
      this.forgetSegment(active)
      active.deleteFiles()
      if (this.segments.length === 1) {
        this.startOffset = Math.max(this.startOffset, offset)
        if (this.durable < this.startOffset) this.durable = this.startOffset
      }
    } else {
      this.roll(offset)
    }
    if (this.segments.length > 1) this.segments[this.segments.length - 2].nextOffset = offset
  }

  /**
   * The producer state change of a batch at `at` of `buffer`, appended at [baseOffset, lastOffset]: an
   * idempotent or transactional data batch updates its producer (a transactional one may open a transaction),
   * a marker closes the producer's transaction and, for ABORT, records it in the aborted-transaction index.
   * Shared by append() and the replay on open.
   */
  private applyToProducerState (buffer: Buffer, at: number, baseOffset: number, lastOffset: number, maxTimestamp: number, attributes: number): void {
    const producerId = readInt64(buffer, at + kProducerIdOffset)
    const producerEpoch = buffer.readInt16BE(at + kProducerEpochOffset)
    if ((attributes & kControlBit) !== 0) {
      if (!readControlRecord(buffer, at)) return
      const type = controlRecord.type
      const firstOffset = this.producers.completeTransaction(producerId, producerEpoch, controlRecord.coordinatorEpoch, maxTimestamp)
      if (type === kControlTypeAbort && firstOffset >= 0) {
        this.abortedTransactions.add({ producerId, firstOffset, lastOffset: baseOffset, lastStableOffset: this.lastStableOffset })
      }
      return
    }
    const baseSequence = buffer.readInt32BE(at + kBaseSequenceOffset)
    // From lastOffsetDelta, not recordCount (equal as produced): a compacted batch keeps its lastOffsetDelta,
    // and so its last sequence, with fewer records (Kafka's DefaultRecordBatch.lastSequence()).
    this.producers.update(producerId, producerEpoch, baseSequence,
      lastSequenceOf(baseSequence, lastOffset - baseOffset + 1), baseOffset, lastOffset, maxTimestamp,
      (attributes & kTransactionalBit) !== 0)
  }

  private shouldRoll (active: LogSegment, batchSize: number, lastOffset: number): boolean {
    if (active.isEmpty) return false
    if (active.size + batchSize > this.config.segmentBytes) return true
    if (lastOffset - active.baseOffset > kMaxRelativeOffset) return true
    const segmentMs = this.config.segmentMs
    return segmentMs !== undefined && active.createdAtMs >= 0 && Date.now() - active.createdAtMs >= segmentMs - this.activeRollJitterMs
  }

  /**
   * Seals the active segment and starts a new one at nextOffset. Order matters for crash safety: the sealed
   * segment's index files and the producer snapshot are complete before the new segment exists, and while it
   * does not, the old segment is the last one and gets recovered in full. A step that fails (ENOSPC) leaves no
   * partial file behind (each undoes its own writes), and the old segment stays the active one: the next append
   * tries the roll again (seal() again appends only the index entries not yet in the files).
   */
  private roll (nextBase = this.active.nextOffset): void {
    const sealed = this.active
    try {
      sealed.seal()
      this.takeProducerSnapshot()
      this.segments.push(LogSegment.create(this.directory, nextBase, this.config.indexIntervalBytes))
    } catch (error) {
      sealed.unseal()
      count('storage-errors')
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `rolling ${sealed.logPath} failed: ${(error as Error).message}`)
    }
    this.segmentsToSync.push(sealed)
    this.directoryNeedsSync = true
    this.noteIndexesLoaded(sealed)
    this.config.onSegmentSealed?.(sealed.info())
  }

  /**
   * Writes the producer state as of nextOffset to `<nextOffset>.snapshot`, keeping the newest two snapshots.
   * The aborted-transaction index is fsynced first: a snapshot vouches for every entry before its offset.
   */
  takeProducerSnapshot (): void {
    this.abortedTransactions.sync()
    writeFileAtomic(join(this.directory, offsetFileName(this.nextOffset, kSnapshotSuffix)), this.producers.serialize())
    this.directoryNeedsSync = true
    const offsets = this.snapshotOffsets()
    for (let index = kRetainedSnapshots; index < offsets.length; index++) {
      unlinkSync(join(this.directory, offsetFileName(offsets[index], kSnapshotSuffix)))
    }
  }

  /** Offsets of the snapshot files, newest first. */
  private snapshotOffsets (): number[] {
    const offsets: number[] = []
    for (const name of readdirSync(this.directory)) {
      const offset = parseOffsetFileName(name, kSnapshotSuffix)
      if (offset >= 0) offsets.push(offset)
    }
    return offsets.sort((a, b) => b - a)
  }

  /**
   * Every whole batch from the one containing `fromOffset` (default: the log start) to the end of the log as it is
   * when each chunk of `chunkBytes` is read, in log order, each a view of its chunk (valid until the next one is
   * read). The first batch may begin before fromOffset (after a DeleteRecords): its records below it are the
   * caller's to skip. Stops at the first batch it cannot frame. For replaying an internal topic at load.
   */
  * batches (fromOffset = this.logStartOffset, chunkBytes = 4 * 1024 * 1024): Generator<Buffer, void, void> {
    let offset = fromOffset
    while (offset < this.nextOffset) {
      const records = this.read(offset, chunkBytes, true).records
      if (records === null || records.length === 0) return
      let next = offset
      for (let position = 0, end; position < records.length && (end = nextBatchEnd(records, position, records.length)) > 0; position = end) {
        const batch = records.subarray(position, end)
        // The batch header's last offset, not its last record's: a compacted batch keeps its original range.
        next = Math.max(next, readInt64(batch, 0) + batch.readInt32BE(kLastOffsetDeltaOffset) + 1)
        yield batch
      }
      if (next <= offset) return
      offset = next
    }
  }

  /**
   * Reads whole batches from the one containing `fetchOffset` on, up to `maxBytes` in all, crossing segments.
   * When even the first batch is larger than maxBytes, it is returned whole if `minOneBatch` (KIP-74), else
   * nothing is. fetchOffset == nextOffset returns no records; outside [logStartOffset, nextOffset] the result
   * has errorCode OFFSET_OUT_OF_RANGE; in [logStartOffset, localStartOffset) (evicted, only in S3) it has
   * errorCode OFFSET_MOVED_TO_TIERED_STORAGE and no records: the caller reads S3 (src/storage/remote-reader.ts).
   * Allocates one Buffer for the records (two in the KIP-74 case).
   */
  read (fetchOffset: number, maxBytes: number, minOneBatch: boolean, isolation = kReadUncommitted): LogReadResult {
    const nextOffset = this.nextOffset
    const lastStable = this.lastStableOffset
    const readCommitted = isolation === kReadCommitted
    const result: LogReadResult = {
      errorCode: ErrorCode.NONE,
      records: null,
      highWatermark: nextOffset,
      lastStableOffset: lastStable,
      logStartOffset: this.startOffset,
      abortedTransactions: readCommitted ? [] : null
    }
    if (fetchOffset < this.startOffset || fetchOffset > nextOffset) {
      result.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE
      return result
    }
    if (fetchOffset < this.segments[0].baseOffset) {
      result.errorCode = ErrorCode.OFFSET_MOVED_TO_TIERED_STORAGE
      return result
    }
    // read_committed reads up to the last stable offset: the first batch of the earliest open transaction.
    const upper = readCommitted ? lastStable : nextOffset
    if (fetchOffset >= upper) return result
    if (this.closed) throw new Error(`partition log ${this.directory} is closed`)
    const segments = this.segments
    const segmentIndex = this.segmentIndexFor(fetchOffset)
    const segment = segments[segmentIndex]
    let position: number
    if (fetchOffset === this.cachedReadOffset && segment === this.cachedReadSegment && this.cachedReadPosition < segment.size) {
      position = this.cachedReadPosition
    } else {
      this.prepareIndexes(segment)
      position = segment.locate(fetchOffset)
      if (position < 0) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `offset ${fetchOffset} not found in ${segment.logPath}`)
    }
    const available = upper === nextOffset ? this.bytesFrom(segmentIndex, position) : this.bytesBetween(segmentIndex, position, upper)
    const toRead = Math.min(Math.max(maxBytes, 0), available)
    let records: Buffer | null = null
    let end = 0
    let lastBatchStart = 0
    if (toRead >= kLogOverhead) {
      records = Buffer.allocUnsafe(toRead)
      this.readRange(segmentIndex, position, records, toRead)
      // Keep whole batches only: the read may end inside one.
      while (end + kLogOverhead <= toRead) {
        const batchSize = kLogOverhead + records.readInt32BE(end + kBatchLengthOffset)
        if (end + batchSize > toRead) break
        lastBatchStart = end
        end += batchSize
      }
    }
    if (end === 0) {
      if (!minOneBatch) return result
      const firstBatchSize = records !== null
        ? kLogOverhead + records.readInt32BE(kBatchLengthOffset)
        : this.batchSizeAt(segment, position)
      records = Buffer.allocUnsafe(firstBatchSize)
      this.readRange(segmentIndex, position, records, firstBatchSize)
      end = firstBatchSize
    }
    records = records!
    // Remember where the next batch starts, for the consumer's next fetch.
    this.cachedReadOffset = readInt64(records, lastBatchStart) + records.readInt32BE(lastBatchStart + kLastOffsetDeltaOffset) + 1
    let cacheIndex = segmentIndex
    let cachePosition = position + end
    while (cacheIndex < segments.length - 1 && cachePosition >= segments[cacheIndex].size) {
      cachePosition -= segments[cacheIndex].size
      cacheIndex++
    }
    this.cachedReadSegment = segments[cacheIndex]
    this.cachedReadPosition = cachePosition
    result.records = end === records.length ? records : records.subarray(0, end)
    if (readCommitted && this.abortedTransactions.size > 0) result.abortedTransactions = this.abortedTransactions.collect(fetchOffset, this.cachedReadOffset)
    return result
  }

  /** Log bytes from `position` of segments[segmentIndex] to the end of the log. */
  private bytesFrom (segmentIndex: number, position: number): number {
    let bytes = this.segments[segmentIndex].size - position
    for (let index = segmentIndex + 1; index < this.segments.length; index++) bytes += this.segments[index].size
    return bytes
  }

  /**
   * Log bytes from `position` of segments[segmentIndex] up to the batch starting at `offset` (a batch boundary
   * below the log end: the last stable offset is the base offset of an open transaction's first batch).
   */
  private bytesBetween (segmentIndex: number, position: number, offset: number): number {
    const endIndex = this.segmentIndexFor(offset)
    const endSegment = this.segments[endIndex]
    this.prepareIndexes(endSegment)
    const endPosition = endSegment.locate(offset)
    if (endPosition < 0) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `offset ${offset} not found in ${endSegment.logPath}`)
    if (endIndex === segmentIndex) return endPosition - position
    let bytes = this.segments[segmentIndex].size - position + endPosition
    for (let index = segmentIndex + 1; index < endIndex; index++) bytes += this.segments[index].size
    return bytes
  }

  /** Copies `length` log bytes starting at `position` of segments[segmentIndex] (continuing into the next ones). */
  private readRange (segmentIndex: number, position: number, target: Buffer, length: number): void {
    let done = 0
    while (done < length) {
      const segment = this.segments[segmentIndex]
      const count = Math.min(length - done, segment.size - position)
      if (segment.readInto(position, target, done, count) !== count) {
        throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `short read from ${segment.logPath}`)
      }
      done += count
      segmentIndex++
      position = 0
    }
  }

  private batchSizeAt (segment: LogSegment, position: number): number {
    if (segment.readInto(position, this.sizeScratch, 0, kLogOverhead) !== kLogOverhead) {
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `short read from ${segment.logPath}`)
    }
    return kLogOverhead + this.sizeScratch.readInt32BE(kBatchLengthOffset)
  }

  /** Index of the segment holding `offset` (the last one whose base offset is <= offset). */
  private segmentIndexFor (offset: number): number {
    const segments = this.segments
    let high = segments.length - 1
    if (offset >= segments[high].baseOffset) return high
    let low = 0
    while (low < high) {
      const middle = (low + high + 1) >>> 1
      if (segments[middle].baseOffset <= offset) low = middle
      else high = middle - 1
    }
    return low
  }

  /** Loads a sealed segment's indexes for a lookup, unloading the least recently loaded beyond the limit. */
  private prepareIndexes (segment: LogSegment): void {
    if (segment.indexesLoaded) return
    segment.loadIndexes()
    this.noteIndexesLoaded(segment)
  }

  private noteIndexesLoaded (segment: LogSegment): void {
    if (!segment.sealed) return
    this.loadedSealed.push(segment)
    if (this.loadedSealed.length > kMaxLoadedSealedIndexes) this.loadedSealed.shift()!.unloadIndexes()
  }

  /**
   * ListOffsets by timestamp: the earliest offset (>= logStartOffset) whose record timestamp is >= `timestamp`,
   * with that timestamp; null when no record is that recent. Found through the time index and batch headers; the
   * exact record is found by decoding record timestamps in uncompressed batches. For compressed batches the
   * batch's base offset (or logStartOffset) and max timestamp are returned: the batch granularity Kafka allows.
   * LogAppendTime batches: every record has the batch's max timestamp. `timestamp` is a real timestamp (>= 0):
   * the caller answers LATEST (-1), EARLIEST (-2) and MAX_TIMESTAMP (-3) from nextOffset, logStartOffset and
   * maxTimestampOffset(). Local segments only: when localStartOffset > logStartOffset the caller looks in the
   * evicted part (in S3) first (offsetForTimestampIn on its batches).
   */
  offsetForTimestamp (timestamp: number): OffsetAndTimestamp | null {
    const minOffset = this.startOffset
    for (const segment of this.segments) {
      if (segment.nextOffset <= minOffset || segment.maxTimestamp < timestamp) continue
      this.prepareIndexes(segment)
      let position = segment.findByTimestamp(timestamp, minOffset, -1)
      while (position >= 0) {
        const size = segment.lastLocatedSize
        const batch = Buffer.allocUnsafe(size)
        segment.readInto(position, batch, 0, size)
        if (findRecordByTimestamp(batch, timestamp, minOffset)) return { offset: foundOffset, timestamp: foundTimestamp }
        position = segment.findByTimestamp(timestamp, minOffset, position + size)
      }
    }
    return null
  }

  /**
   * ListOffsets MAX_TIMESTAMP (-3): the offset of the record with the largest timestamp (the earliest such) and
   * that timestamp; {-1, -1} when the log holds no record or no timestamps. Exact for uncompressed CreateTime
   * batches, the batch's base offset otherwise. When that batch lies partly before logStartOffset the offset may
   * be below it. Local segments only (see localStartOffset).
   */
  maxTimestampOffset (): OffsetAndTimestamp {
    if (this.startOffset === this.nextOffset) return { offset: -1, timestamp: -1 }
    let best: LogSegment | null = null
    for (const segment of this.segments) {
      if (segment.nextOffset > this.startOffset && segment.maxTimestamp >= 0 &&
        (best === null || segment.maxTimestamp > best.maxTimestamp)) best = segment
    }
    if (best === null) return { offset: -1, timestamp: -1 }
    this.prepareIndexes(best)
    const position = best.locate(best.offsetOfMaxTimestamp)
    if (position >= 0) {
      const batch = Buffer.allocUnsafe(best.lastLocatedSize)
      best.readInto(position, batch, 0, batch.length)
      if (findRecordByTimestamp(batch, best.maxTimestamp, this.startOffset)) {
        return { offset: foundOffset, timestamp: foundTimestamp }
      }
    }
    return { offset: best.offsetOfMaxTimestamp, timestamp: best.maxTimestamp }
  }

  /**
   * Resolves once everything appended before the call is on disk (fdatasync). Group commit: at most one fsync
   * round runs at a time; callers arriving while it runs share the next round, which starts when it ends and
   * covers everything appended by then (or share the running one when it already covers everything). Segments
   * sealed since the last round are fsynced (data and index files) in the same round, as is the directory when
   * files came or went.
   *
   * A failed fsync (EIO; ENOSPC or EDQUOT where the file system allocates at writeback) rejects that round and
   * the one queued behind it with KAFKA_STORAGE_ERROR: nothing from the durable offset on is acknowledged as
   * durable. It is not trusted either: Linux reports a writeback error once and marks the pages that failed clean,
   * so their data stays readable from the page cache but a plain retry of the fsync succeeds without writing them
   * (PostgreSQL's "fsyncgate"). So the log does not fail, but the next round first reads back every batch from the
   * durable offset on, checks it (framing, CRC-32C, contiguous offsets) and writes it again in place, and only
   * then fsyncs: when that round succeeds the data is on disk and the log carries on. A batch that no longer
   * checks out (the page cache dropped it and the disk holds something else) fails the log for good: it will
   * answer KAFKA_STORAGE_ERROR until a restart, whose recovery truncates the log there. Reads in between serve
   * what the page cache holds (acks=1 never promised more).
   */
  flush (): Promise<void> {
    const local = this.flushLocal()
    // --durability s3 (src/storage/uploader.ts): durable means in S3 too; the local fsync runs alongside.
    if (this.remoteDurability === null || this.closed || this.failure !== null) return local
    const remote = this.remoteDurability(this.nextOffset)
    return Promise.all([local, remote]).then(noop)
  }

  /** flush() without the remote part: resolves once everything appended before the call is fsynced here. */
  flushLocal (): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.storageError())
    if (this.closed) return this.removed ? Promise.reject(removedError()) : Promise.resolve()
    const nothingNewToSync = this.segmentsToSync.length === 0 && !this.directoryNeedsSync
    if (this.runningFlush !== null) {
      if (nothingNewToSync && this.runningFlushTarget >= this.nextOffset) return this.runningFlush.promise
      this.nextFlush ??= Promise.withResolvers<void>()
      return this.nextFlush.promise
    }
    if (nothingNewToSync && this.durable >= this.nextOffset) return Promise.resolve()
    const flush = Promise.withResolvers<void>()
    this.startFlush(flush)
    return flush.promise
  }

  private startFlush (flush: PromiseWithResolvers<void>): void {
    this.runningFlush = flush
    this.runningFlushStartedAt = performance.now()
    const target = this.nextOffset
    this.runningFlushTarget = target
    if (this.rewriteNeeded) {
      const rewriteError = this.rewriteUndurable()
      if (rewriteError !== null) {
        this.finishFlush(target, [], rewriteError)
        return
      }
    }
    const fds: number[] = []
    // Sealed segments' files (their .log may be closed, see the LRU in segment.ts), index files and the
    // directory are opened for the round only and closed when it ends; only the active segment's fd is kept,
    // pinned against the LRU while the round fsyncs it.
    const roundFds: number[] = []
    const sealed = this.flushingSealed
    let openError: Error | null = null
    try {
      for (const segment of this.segmentsToSync) {
        sealed.push(segment)
        roundFds.push(openSync(segment.logPath, 'r'))
        roundFds.push(openSync(segment.indexPath, 'r'))
        roundFds.push(openSync(segment.timeIndexPath, 'r'))
      }
      if (this.directoryNeedsSync) roundFds.push(openSync(this.directory, 'r'))
      const active = this.active
      fds.push(active.openFd())
      active.syncing++
      this.flushingSegment = active
    } catch (error) {
      openError = error as Error
    }
    this.segmentsToSync.length = 0
    this.directoryNeedsSync = openError !== null
    let pending = fds.length + roundFds.length
    let firstError: Error | null = openError
    if (pending === 0) {
      this.finishFlush(target, roundFds, firstError)
      return
    }
    const onSynced = (error: NodeJS.ErrnoException | null): void => {
      if (error !== null && firstError === null) firstError = error
      if (--pending === 0) this.finishFlush(target, roundFds, firstError)
    }
    for (const fd of fds) this.fsyncImpl(fd, onSynced)
    for (const fd of roundFds) this.fsyncImpl(fd, onSynced)
  }

  /**
   * The first step of the round after a failed one (see flush()): checks and rewrites in place every batch from
   * the durable offset on, queueing the sealed segments it touched for the round's fsync. Returns the error that
   * fails the round, null when the round may go on; a batch that no longer checks out fails the log.
   */
  private rewriteUndurable (): Error | null {
    try {
      const from = Math.max(this.durable, this.segments[0].baseOffset)
      if (from < this.nextOffset) {
        const first = this.segmentIndexFor(from)
        const segments = this.segments
        this.prepareIndexes(segments[first])
        const position = Math.max(segments[first].locate(from), 0)
        for (let index = first; index < segments.length; index++) {
          const segment = segments[index]
          if (!segment.rewriteFrom(index === first ? position : 0, index === first ? -1 : segment.baseOffset)) {
            this.failure = new Error(`${segment.logPath} no longer holds what was written before a failed fsync`)
            count('storage-errors')
            return this.failure
          }
          if (segment !== this.active && !this.segmentsToSync.includes(segment)) this.segmentsToSync.push(segment)
        }
      }
      this.rewriteNeeded = false
      this.directoryNeedsSync = true
      return null
    } catch (error) {
      count('storage-errors')
      return error as Error
    }
  }

  private finishFlush (target: number, roundFds: number[], error: Error | null): void {
    for (const fd of roundFds) closeSync(fd)
    const finished = this.runningFlush!
    recordFsync((performance.now() - this.runningFlushStartedAt) / 1000)
    this.runningFlush = null
    const pinned = this.flushingSegment
    this.flushingSegment = null
    if (pinned !== null) pinned.syncing--
    for (const segment of this.segmentsToCloseAfterFlush) segment.closeFd()
    this.segmentsToCloseAfterFlush.length = 0
    trimOpenSegmentFiles()
    const synced = this.flushingSealed
    this.flushingSealed = []
    const next = this.nextFlush
    this.nextFlush = null
    if (error !== null) {
      if (error !== this.failure) {
        count('storage-errors')
        // Nothing of this round is known to be on disk: its sealed segments go to the next round again, and
        // that round rewrites from the durable offset on first.
        this.rewriteNeeded = true
        this.directoryNeedsSync = true
        for (const segment of synced) if (!segment.deleted && !this.segmentsToSync.includes(segment)) this.segmentsToSync.push(segment)
      }
      const storageError = this.storageError(error)
      finished.reject(storageError)
      next?.reject(storageError)
      return
    }
    if (target > this.durable) this.durable = target
    if (this.removed) {
      finished.reject(removedError())
      next?.reject(removedError())
      return
    }
    finished.resolve()
    if (next === null) return
    // close() fsyncs everything itself (synchronously), so a round queued before it has nothing left to wait for.
    if (this.closed) next.resolve()
    else this.startFlush(next)
  }

  private storageError (cause: Error | null = this.failure): KafkaError {
    return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `partition log ${this.directory} failed: ${cause?.message}`)
  }

  /**
   * DeleteRecords: moves the log start offset up to `offset` (no-op when not above it), persisting it in the
   * log-start-offset checkpoint, and deletes the segments that end at or before it (rolling first when that is
   * the active one) as retention deletes them (renamed `.deleted`, removed after `fileDeleteDelayMs`: the
   * topic's file.delete.delay.ms; 0, the default, removes them now). Throws KafkaError OFFSET_OUT_OF_RANGE when
   * offset > nextOffset.
   */
  deleteRecordsBefore (offset: number, fileDeleteDelayMs = 0, nowMs = Date.now()): void {
    this.ensureWritable()
    if (offset > this.nextOffset) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is above the log end offset ${this.nextOffset}`)
    }
    if (offset <= this.startOffset) return
    // The checkpoint first: when it cannot be written (ENOSPC) nothing has changed.
    writeFileAtomic(join(this.directory, kLogStartOffsetFile), `${offset}\n`)
    this.startOffset = offset
    this.directoryNeedsSync = true
    if (this.active.nextOffset <= offset && !this.active.isEmpty) this.roll()
    const dueAtMs = nowMs + Math.max(fileDeleteDelayMs, 0)
    let retired = 0
    while (this.segments.length > 1 && this.segments[0].nextOffset <= offset) {
      this.retireSegment(this.segments.shift()!, dueAtMs)
      retired++
    }
    if (retired > 0) this.scheduleDeletedFiles(fileDeleteDelayMs, nowMs)
    this.forgetBelowStart(offset)
  }

  // ---- retention (src/log/retention.ts decides; these do) ----

  /** The oldest segment when it is sealed, else null: retention never deletes the active segment. */
  oldestSealedSegment (): SegmentInfo | null {
    return this.segments.length > 1 ? this.segments[0].info() : null
  }

  /**
   * Retention: deletes the oldest segment (which must be sealed) and moves the log start offset up to the next
   * segment's base offset, persisting it first (a crash after the checkpoint: open() deletes the segment below
   * the start; after the rename: it removes the `.deleted` files). The files are renamed `<name>.deleted` and
   * removed once `fileDeleteDelayMs` has passed (a timer, or removeDeletedFiles; at once when it is 0). Producer
   * state and aborted transactions below the new start go as with deleteRecordsBefore. Returns the bytes of the
   * segment's data file. Throws KafkaError KAFKA_STORAGE_ERROR when the checkpoint or a rename fails.
   */
  deleteOldestSegment (fileDeleteDelayMs: number, nowMs = Date.now()): number {
    this.ensureWritable()
    if (this.segments.length < 2) throw new Error(`partition log ${this.directory}: the active segment is never deleted`)
    const oldest = this.segments[0]
    const newStart = Math.max(this.segments[1].baseOffset, this.startOffset)
    try {
      if (newStart > this.startOffset) writeFileAtomic(join(this.directory, kLogStartOffsetFile), `${newStart}\n`)
    } catch (error) {
      count('storage-errors')
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `moving the log start of ${this.directory} failed: ${(error as Error).message}`)
    }
    this.startOffset = newStart
    this.segments.shift()
    this.retireSegment(oldest, nowMs + Math.max(fileDeleteDelayMs, 0))
    this.scheduleDeletedFiles(fileDeleteDelayMs, nowMs)
    this.forgetBelowStart(newStart)
    return oldest.size
  }

  // ---- eviction to S3 (local.retention.*; src/shard/log-maintenance.ts decides, the segment is in S3) ----

  /**
   * Removes the oldest local segment (which must be sealed and wholly in S3: the caller checks) from the local
   * disk without moving the log start offset: its offsets stay readable from S3 (localStartOffset moves up to the
   * next segment's base). Producer state, aborted transactions and leader epochs keep what they know of it. The
   * log start checkpoint and the local-start-offset marker are written first, so that a restart keeps the log
   * start below the first local segment (a crash before the files go: the segment is found again, harmless).
   * The files go at once (no file.delete.delay.ms: a fetch reading them has its bytes, S3 has the rest). Returns
   * the bytes of its data file. Throws KafkaError KAFKA_STORAGE_ERROR when a checkpoint write fails.
   */
  evictOldestSegment (nowMs = Date.now()): number {
    this.ensureWritable()
    if (this.segments.length < 2) throw new Error(`partition log ${this.directory}: the active segment is never evicted`)
    const oldest = this.segments[0]
    try {
      writeFileAtomic(join(this.directory, kLogStartOffsetFile), `${this.startOffset}\n`)
      writeFileAtomic(join(this.directory, kLocalStartOffsetFile), `${this.segments[1].baseOffset}\n`)
    } catch (error) {
      count('storage-errors')
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `evicting a segment of ${this.directory} failed: ${(error as Error).message}`)
    }
    this.segments.shift()
    this.retireSegment(oldest, nowMs)
    this.scheduleDeletedFiles(0, nowMs)
    return oldest.size
  }

  /**
   * Retention's and DeleteRecords' deletion of a segment already taken out of `segments` (below the log start):
   * its files are renamed `<name>.deleted`, due for removal at `dueAtMs` (scheduleDeletedFiles). When the rename
   * fails they are removed now, or by the next open() when even that fails.
   */
  private retireSegment (segment: LogSegment, dueAtMs: number): void {
    let renamed: string[]
    try {
      renamed = segment.renameForDeletion()
    } catch {
      count('storage-errors')
      try {
        segment.deleteFiles()
      } catch {}
      renamed = []
    }
    this.forgetSegment(segment)
    for (const path of renamed) this.deletedFiles.push({ path, dueAtMs })
  }

  /** After retireSegment: removes the due `.deleted` files now (a delay of 0), or arms a timer for them. */
  private scheduleDeletedFiles (fileDeleteDelayMs: number, nowMs: number): void {
    if (fileDeleteDelayMs <= 0) this.removeDeletedFiles(nowMs)
    else if (this.deletedFiles.length > 0) setTimeout(removeDeletedFilesLater, Math.min(fileDeleteDelayMs, kMaxTimerDelayMs), this).unref()
  }

  /** The log start moved up to `newStart`: producer state, aborted transactions and epochs below it go. */
  private forgetBelowStart (newStart: number): void {
    this.producers.evictBefore(newStart)
    this.producers.stateMayBeIncomplete = true
    this.abortedTransactions.deleteBefore(newStart)
    this.leaderEpochs.truncateFromStart(newStart)
  }

  /** How many `.deleted` files wait for their delay (for tests and operators). */
  get pendingDeletedFiles (): number {
    return this.deletedFiles.length
  }

  /** Removes the `.deleted` files whose delay has passed by `nowMs`; returns how many. */
  removeDeletedFiles (nowMs = Date.now()): number {
    let removed = 0
    while (removed < this.deletedFiles.length && this.deletedFiles[removed].dueAtMs <= nowMs) {
      try {
        unlinkSync(this.deletedFiles[removed].path)
      } catch (error) {
        // Gone already (the directory was deleted); another failure leaves it to the next open().
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') count('storage-errors')
      }
      removed++
    }
    if (removed > 0) {
      this.deletedFiles.splice(0, removed)
      this.directoryNeedsSync = true
    }
    return removed
  }

  /**
   * segment.ms outside appends: rolls the active segment when it holds data and got its first batch at least
   * `segmentMs` ago, so that retention can then delete it. Returns whether it rolled. Throws what roll() throws.
   */
  rollIfOlderThan (segmentMs: number, nowMs = Date.now()): boolean {
    if (this.closed || this.failure !== null) return false
    const active = this.active
    if (active.isEmpty || active.createdAtMs < 0 || nowMs - active.createdAtMs < segmentMs - this.activeRollJitterMs) return false
    this.roll()
    return true
  }

  /**
   * A topic's segment.bytes / segment.ms / segment.jitter.ms changed (AlterConfigs): later rolls follow the new
   * values (a new jitter is drawn for the next segment).
   */
  updateSegmentConfig (segmentBytes: number, segmentMs: number | undefined, segmentJitterMs?: number): void {
    resolveLogConfig({ segmentBytes, segmentMs })
    this.config.segmentBytes = segmentBytes
    this.config.segmentMs = segmentMs
    if (segmentJitterMs !== undefined) this.config.segmentJitterMs = segmentJitterMs
    const active = this.active
    if (segmentMs !== undefined && active.createdAtMs < 0 && !active.isEmpty) this.startSegmentClock(active)
  }

  // ---- log compaction (src/log/cleaner.ts cleans; this swaps) ----

  /**
   * The log cleaner's swap: replaces the sealed segments whose base offsets are `replacedBases` (consecutive,
   * oldest first) by the cleaned segment that `commitFiles` puts in their place under the first one's name
   * (cleaner.ts: commitCleanedFiles), ending where the last of them ends. Returns false, changing nothing, when
   * those segments are no longer all sealed segments of this log (retention or DeleteRecords removed one
   * meanwhile) or the log is closed or failed; also when commitFiles returns false (a test's simulated crash,
   * after which the log must be opened again). When commitFiles throws (a rename, unlink or fsync failed
   * midway), the files no longer match the segments in memory: the log fails (every append and flush answers
   * KAFKA_STORAGE_ERROR until a restart, whose open() completes or undoes the swap from its .swap files, as
   * after a crash there) and this throws KafkaError KAFKA_STORAGE_ERROR.
   */
  replaceSealedSegments (replacedBases: readonly number[], commitFiles: () => boolean): boolean {
    if (this.closed || this.failure !== null || replacedBases.length === 0) return false
    const segments = this.segments
    const first = segments.findIndex(segment => segment.baseOffset === replacedBases[0])
    if (first < 0 || first + replacedBases.length > segments.length - 1) return false
    for (let index = 0; index < replacedBases.length; index++) {
      if (segments[first + index].baseOffset !== replacedBases[index]) return false
    }
    const end = segments[first + replacedBases.length].baseOffset
    try {
      if (!commitFiles()) return false
      for (const replaced of segments.splice(first, replacedBases.length)) {
        replaced.deleted = true
        this.forgetSegment(replaced)
      }
      this.cachedReadSegment = null
      this.cachedReadOffset = -1
      const cleaned = LogSegment.openExisting(this.directory, replacedBases[0], this.config.indexIntervalBytes)
      if (!cleaned.checkSealed(end)) {
        cleaned.rebuild()
        cleaned.sealed = true
        cleaned.unloadIndexes()
        cleaned.closeFd()
      }
      segments.splice(first, 0, cleaned)
    } catch (error) {
      count('storage-errors')
      this.failure = error as Error
      throw this.storageError()
    }
    return true
  }

  /** Drops a segment whose files are gone (or renamed) from the flush, index and read caches; closes its fd. */
  private forgetSegment (segment: LogSegment): void {
    this.directoryNeedsSync = true
    removeFrom(this.segmentsToSync, segment)
    removeFrom(this.loadedSealed, segment)
    if (this.cachedReadSegment === segment) {
      this.cachedReadSegment = null
      this.cachedReadOffset = -1
    }
    this.closeSegmentFd(segment)
  }

  /** Closes a segment's fd now, or once the running flush (which may be fsyncing it) is done. */
  private closeSegmentFd (segment: LogSegment): void {
    if (this.runningFlush !== null) this.segmentsToCloseAfterFlush.push(segment)
    else segment.closeFd()
  }

  /**
   * Clean shutdown: persists the active segment's indexes and a producer snapshot, fsyncs everything
   * (synchronously: shutdown is the one place the thread waits for the disk, so that the marker never
   * vouches for data that is not there) and writes the clean-shutdown marker. When a step fails (a full disk)
   * there is no marker, so the next open() recovers the log as after a crash; a queued flush then rejects.
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    const next = this.nextFlush
    this.nextFlush = null
    try {
      if (this.failure === null) {
        const rewriteError = this.rewriteNeeded ? this.rewriteUndurable() : null
        if (rewriteError !== null) throw rewriteError
        const active = this.active
        active.persistIndexes()
        this.takeProducerSnapshot()
        for (const segment of this.segmentsToSync) syncSegmentSync(segment)
        syncSegmentSync(active)
        this.segmentsToSync.length = 0
        writeFileSync(join(this.directory, kCleanShutdownFile), '')
        syncPathSync(this.directory)
        this.durable = this.nextOffset
        next?.resolve()
      } else {
        next?.reject(this.storageError())
      }
    } catch (error) {
      count('storage-errors')
      next?.reject(this.storageError(error as Error))
    } finally {
      for (const segment of this.segments) this.closeSegmentFd(segment)
      this.abortedTransactions.close()
    }
  }

  /** Closes the log and removes its directory (topic deletion). Pending flushes reject. */
  delete (): void {
    this.closed = true
    this.removed = true
    for (const segment of this.segments) this.closeSegmentFd(segment)
    this.abortedTransactions.close()
    rmSync(this.directory, { recursive: true, force: true })
    const next = this.nextFlush
    this.nextFlush = null
    next?.reject(removedError())
  }

  private ensureWritable (): void {
    if (this.closed) throw new Error(`partition log ${this.directory} is closed`)
    if (this.failure !== null) throw this.storageError()
  }

  /**
   * Loads the directory. Sealed segments are checked cheaply (index files' sizes and last entries) and rebuilt
   * when they fail; the last segment is rebuilt in full (every batch validated, indexes recomputed) after an
   * unclean shutdown, and after a clean one only the batches after its last index entry are validated. A segment
   * that loses batches to recovery makes the segments after it unreachable (offsets must be contiguous): they
   * are deleted. Then the log start offset, and the producer state from the latest snapshot plus a replay.
   */
  private load (): void {
    const directory = this.directory
    const report = this.recovery
    const markerPath = join(directory, kCleanShutdownFile)
    report.clean = existsSync(markerPath)
    if (report.clean) unlinkSync(markerPath)
    recoverInterruptedClean(directory) // a log cleaner swap a crash interrupted (cleaner.ts)
    const names = readdirSync(directory)
    const bases: number[] = []
    for (const name of names) {
      if (name.endsWith('.tmp')) unlinkSync(join(directory, name)) // an interrupted atomic write
      if (name.endsWith(kDeletedSuffix)) unlinkSync(join(directory, name)) // retention's, whose delay was cut short
      const base = parseOffsetFileName(name, kLogSuffix)
      if (base >= 0) bases.push(base)
    }
    bases.sort((a, b) => a - b)
    const baseSet = new Set(bases)
    for (const name of names) {
      // Index files of a segment whose deletion was interrupted after its .log went.
      const base = Math.max(parseOffsetFileName(name, kIndexSuffix), parseOffsetFileName(name, kTimeIndexSuffix))
      if (base >= 0 && !baseSet.has(base)) unlinkSync(join(directory, name))
    }
    const checkpoint = this.readLogStartCheckpoint()
    const interval = this.config.indexIntervalBytes
    if (bases.length === 0) {
      this.segments = [LogSegment.create(directory, Math.max(checkpoint, 0), interval)]
      this.directoryNeedsSync = true
    } else {
      this.segments = bases.map(base => LogSegment.openExisting(directory, base, interval))
      this.recoverSegments()
    }
    const nextOffset = this.nextOffset
    // After an eviction (local-start-offset present) the start may lie below the first local segment: the
    // offsets between are in S3. Otherwise a start below the first segment means those offsets are gone.
    const evicted = checkpoint >= 0 && existsSync(join(directory, kLocalStartOffsetFile))
    this.startOffset = Math.min(evicted ? checkpoint : Math.max(checkpoint, this.segments[0].baseOffset), nextOffset)
    while (this.segments.length > 1 && this.segments[0].nextOffset <= this.startOffset) {
      const below = this.segments.shift()!
      below.closeFd()
      below.deleteFiles()
      report.segmentsDeleted++
    }
    this.loadProducerState()
    this.leaderEpochs = LeaderEpochCache.load(directory, this.startOffset, nextOffset)
    this.producers.evictBefore(this.startOffset)
    this.producers.stateMayBeIncomplete = this.localStartOffset > 0
    if (report.clean) {
      this.durable = nextOffset
    } else {
      // Nothing found after a crash is known to be on disk: the first flush fsyncs it all.
      this.durable = this.startOffset
      for (let index = 0; index < this.segments.length - 1; index++) this.segmentsToSync.push(this.segments[index])
      this.directoryNeedsSync = true
    }
    this.startSegmentClock(this.active)
  }

  private recoverSegments (): void {
    const segments = this.segments
    const report = this.recovery
    let lastRecovered = false
    for (let index = 0; index < segments.length - 1; index++) {
      const segment = segments[index]
      const nextBase = segments[index + 1].baseOffset
      if (segment.checkSealed(nextBase)) continue
      report.segmentsRebuilt++
      report.bytesTruncated += segment.rebuild()
      if (segment.nextOffset !== nextBase) {
        for (const orphan of segments.splice(index + 1)) {
          orphan.closeFd()
          orphan.deleteFiles()
          report.segmentsDeleted++
        }
        lastRecovered = true
        break
      }
      segment.sealed = true
      segment.unloadIndexes()
      segment.closeFd() // rebuilt through its fd; opened again on first use (segment.ts: the LRU)
    }
    const last = segments[segments.length - 1]
    if (lastRecovered) return
    if (report.clean && last.loadActive()) return
    report.segmentsRebuilt++
    report.bytesTruncated += last.rebuildActive()
  }

  private readLogStartCheckpoint (): number {
    try {
      const text = readFileSync(join(this.directory, kLogStartOffsetFile), 'latin1')
      return /^\d+\n$/.test(text) ? Number(text.trimEnd()) : -1
    } catch {
      return -1
    }
  }

  /**
   * Producer state: the newest valid snapshot at or below nextOffset (newer ones describe batches recovery
   * dropped and are deleted, as are invalid ones), then a replay of the batch headers after it.
   */
  private loadProducerState (): void {
    const nextOffset = this.nextOffset
    let replayFrom = this.segments[0].baseOffset
    let loaded = false
    for (const offset of this.snapshotOffsets()) {
      const path = join(this.directory, offsetFileName(offset, kSnapshotSuffix))
      if (offset > nextOffset) {
        unlinkSync(path)
        continue
      }
      if (loaded) continue
      try {
        this.producers.load(readFileSync(path))
        loaded = true
        this.recovery.producerSnapshotOffset = offset
        replayFrom = Math.max(replayFrom, offset)
      } catch {
        unlinkSync(path)
      }
    }
    // Aborted transactions: the entries before the replay's start are durable (fsynced before the snapshot);
    // the replay finds the markers after it again.
    this.abortedTransactions.load(Math.min(replayFrom, nextOffset))
    if (replayFrom >= nextOffset) return
    const report = this.recovery
    const visitor = (buffer: Buffer, at: number): void => {
      const baseOffset = readInt64(buffer, at)
      if (baseOffset < replayFrom) return
      report.batchesReplayed++
      if (readInt64(buffer, at + kProducerIdOffset) < 0) return
      this.applyToProducerState(buffer, at, baseOffset, baseOffset + buffer.readInt32BE(at + kLastOffsetDeltaOffset),
        readInt64(buffer, at + kMaxTimestampOffset), buffer.readUInt16BE(at + kAttributesOffset))
    }
    const first = this.segmentIndexFor(replayFrom)
    this.prepareIndexes(this.segments[first])
    let position = Math.max(this.segments[first].locate(replayFrom), 0)
    for (let index = first; index < this.segments.length; index++) {
      this.segments[index].forEachHeader(position, visitor)
      position = 0
    }
  }
}

/** The timer of deleteOldestSegment: runs off every call stack, so nothing may throw out of it. */
function removeDeletedFilesLater (log: PartitionLog): void {
  try {
    log.removeDeletedFiles()
  } catch {
    count('storage-errors')
  }
}

function removedError (): KafkaError {
  return new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'partition log deleted')
}

function removeFrom<T> (list: T[], item: T): void {
  const index = list.indexOf(item)
  if (index >= 0) list.splice(index, 1)
}

function syncSegmentSync (segment: LogSegment): void {
  if (segment.sealed) syncPathSync(segment.logPath)
  else fdatasyncSync(segment.openFd())
  syncPathSync(segment.indexPath)
  syncPathSync(segment.timeIndexPath)
}

function syncPathSync (path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * ListOffsets by timestamp over batches read elsewhere (the evicted part, from S3): the first record of the
 * whole batches in `records` at or after `minOffset` whose timestamp is >= `timestamp`, as offsetForTimestamp
 * finds it in a segment (same granularity); null when none.
 */
export function offsetForTimestampIn (records: Buffer, timestamp: number, minOffset: number): OffsetAndTimestamp | null {
  for (let position = 0, end; position < records.length && (end = nextBatchEnd(records, position, records.length)) > 0; position = end) {
    if (findRecordByTimestamp(records.subarray(position, end), timestamp, minOffset)) return { offset: foundOffset, timestamp: foundTimestamp }
  }
  return null
}

/**
 * Finds the first record of `batch` at or after `minOffset` whose timestamp is >= `timestamp`, into foundOffset
 * and foundTimestamp; false when none. Decodes records (varint length, int8 attributes, varlong timestampDelta,
 * varint offsetDelta, ...) of uncompressed CreateTime batches; answers with the batch (max timestamp, first offset
 * at or after minOffset) for LogAppendTime batches, where all records share the time, and compressed ones.
 */
function findRecordByTimestamp (batch: Buffer, timestamp: number, minOffset: number): boolean {
  const baseOffset = readInt64(batch, 0)
  const lastOffset = baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset)
  const maxTimestamp = readInt64(batch, kMaxTimestampOffset)
  const attributes = batch.readUInt16BE(kAttributesOffset)
  if (maxTimestamp < timestamp || lastOffset < minOffset) return false
  if ((attributes & (kTimestampTypeBit | kCompressionMask)) !== 0) {
    foundOffset = Math.max(baseOffset, minOffset)
    foundTimestamp = maxTimestamp
    return true
  }
  const baseTimestamp = readInt64(batch, kBaseTimestampOffset)
  const recordCount = batch.readInt32BE(kRecordCountOffset)
  let cursor = kRecordsOffset
  for (let index = 0; index < recordCount && cursor < batch.length; index++) {
    const length = readZigZagVarint(batch, cursor)
    const recordStart = varintEnd
    const timestampDelta = readZigZagVarint(batch, recordStart + 1) // after the int8 attributes
    const offsetDelta = readZigZagVarint(batch, varintEnd)
    const offset = baseOffset + offsetDelta
    const recordTimestamp = baseTimestamp + timestampDelta
    if (offset >= minOffset && recordTimestamp >= timestamp) {
      foundOffset = offset
      foundTimestamp = recordTimestamp
      return true
    }
    cursor = recordStart + length
  }
  return false
}

/** A zigzag varint/varlong as a number (exact below 2^53); sets varintEnd to the byte after it. */
function readZigZagVarint (buffer: Buffer, at: number): number {
  let value = 0
  let multiplier = 1
  let byte = 0x80
  while (byte >= 0x80 && at < buffer.length) {
    byte = buffer[at++]
    value += (byte & 0x7f) * multiplier
    multiplier *= 128
  }
  varintEnd = at
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

function noop (): void {}

/** A batch's lastOffsetDelta, once its length field matches its buffer; else throws CORRUPT_MESSAGE. */
function checkedLastOffsetDelta (batch: Buffer): number {
  if (batch.length < kBatchHeaderSize || batch.readInt32BE(kBatchLengthOffset) !== batch.length - kLogOverhead) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'batch length does not match its buffer')
  }
  const lastOffsetDelta = batch.readInt32BE(kLastOffsetDeltaOffset)
  if (lastOffsetDelta < 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'negative lastOffsetDelta')
  return lastOffsetDelta
}
