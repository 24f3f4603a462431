// Log compaction (cleanup.policy=compact and compact,delete): Kafka's log cleaner for one worker's partition
// logs, in resumable slices run on the thread that owns the logs, so that a clean never holds the thread for
// more than a slice's budget (a few ms) and needs no lock: the segments it reads are sealed (immutable), and the
// swap of cleaned segments for old ones happens between two slices, on the owner, in PartitionLog.
//
// One clean of a log (a "job"), as Kafka's cleaner does it:
//   plan    The cleanable section: the sealed segments below the first uncleanable offset, the least of the
//           active segment's base, the last stable offset (no open transaction is cleaned) and the base of the
//           first segment newer than min.compaction.lag.ms. Its dirty part follows the cleaner's checkpoint
//           (`cleaner-offset-checkpoint` in the partition directory: "<offset>\n"). The log is cleaned when the
//           dirty bytes are at least min.cleanable.dirty.ratio of the cleanable bytes, when its first dirty batch
//           is older than max.compaction.lag.ms, or when a delete horizon it set earlier has passed.
//   map     A key -> latest offset map (offset-map.ts, bounded by the dedupe buffer) over the dirty part's
//           keyed records, skipping control batches and aborted transactions' batches. When the map fills up,
//           the clean covers the dirty part up to the record that did not fit (`endOffset`).
//   clean   Every sealed segment from the log start to endOffset is rewritten, in groups of consecutive
//           segments whose sizes add up to at most segment.bytes, into one `<base>.log.cleaned` (and its
//           `.index.cleaned` and `.timeindex.cleaned`) named by the group's first segment. A record is kept when
//           it has a key, no later offset of its key is in the map, and it is not a tombstone (null value) whose
//           delete horizon has passed; aborted transactions' records are dropped; a marker (control batch) is
//           kept until its transaction has no data left (see Markers below). A batch keeping every record is copied as it is; one keeping some is rebuilt with the same base
//           offset, producer fields, base sequence and lastOffsetDelta (so that the last sequence of an idempotent
//           batch survives: Kafka's overrideLastOffset), compressed with its own codec; one keeping none is
//           dropped, except as an empty batch header (no records, uncompressed, as Kafka's RETAIN_EMPTY) when it is
//           its producer's last batch (producer state must survive a replay) or the group's last batch.
//           Keeping the group's last batch is Shoal's choice: every cleaned segment then ends exactly where the
//           segments it replaces ended, so segment ends stay contiguous and recovery's checks hold as before.
//           Offsets are never renumbered: cleaning leaves gaps.
//   sync    The cleaned files are fsynced: every fsync and fdatasync of a clean (these, and the directory's in
//           the swap) runs on libuv's pool, never on this thread; the job waits (kCleanWaitingForDisk) and
//           the cleaner's `resume` hook asks the caller to step it again once the disk is done.
//   swap    Steps 1-3 below, each run under PartitionLog.replaceSealedSegments() (the group's segments must
//           still be there: retention may have deleted one meanwhile, then the job is dropped; a file operation
//           failing fails the log): step 1 changes nothing in memory, step 3 replaces the old segments by the
//           new one there. The renames run on this thread (a few µs each); the directory fsyncs after step 1
//           and after step 3 are waited for asynchronously, like the files'.
//   finish  The checkpoint is set to endOffset; a log line with bytes read and written and the duration.
//
// Tombstones (KIP-534): a batch rewritten with tombstones kept gets a delete horizon (attributes bit 6, the
// horizon in baseTimestamp, the records' timestamp deltas recomputed against it) of now + delete.retention.ms;
// a later clean after the horizon drops them. The earliest horizon not passed yet among the batches a clean
// wrote is remembered, in memory and in the checkpoint ("<offset> <horizonMs>\n"), so that the log is cleaned
// again once it passes even when nothing new is dirty, also after a restart.
//
// Markers (KIP-98, as Kafka's cleaner): the clean phase reads every batch from the log start in offset order and
// tracks, per producer, whether it read data of the producer's committed or aborted transaction since its last
// marker. A COMMIT or ABORT marker with no such data (the transaction's records were all cleaned away, or the
// aborted data removed by an earlier clean) is discardable: it first gets a delete horizon like a tombstone's,
// and a clean after the horizon drops it. An ABORT's aborted-transaction index entry is removed (and the index
// fsynced) in the clean that finds its transaction without data, before that clean's swap: no read_committed
// fetch needs an entry without data, while one outliving its marker would hide the producer's later data from
// read_committed consumers. Batches kept as empty headers (a producer's last) count as data, so the marker of a
// transaction whose data a replay still sees is kept; so is a marker that is all its producer has left.
//
// Crash safety of the swap (a kill -9 or a power loss at any point leaves the old segments or the new one, never
// a mix). Each arrow waits for the syncs before it to be done (asynchronously, in a later slice):
//   0. the three .cleaned files are fsynced            -> 1.
//   1. rename <base>.index.cleaned and .timeindex.cleaned to .swap, then <base>.log.cleaned to .log.swap:
//      the commit point. fsync the directory            -> 2. (the old segments' files still serve reads)
//   2. delete the files of the group's other segments.
//   3. rename the index .swap files over <base>.index/.timeindex, then <base>.log.swap over <base>.log; the
//      new segment replaces the old ones in memory. fsync the directory  -> the next group, or the checkpoint.
// A job dropped between 1 and 2 (the segments changed during the directory fsync: retention deleted one) undoes
// step 1: it deletes <base>.log.swap, then the index .swap files; a closed log's are left to its next open().
// (A crash in that window, before the undo, completes the swap at the next open: the cleaned segment may then
// hold records below the log start offset, which retention advanced and checkpointed.)
// Not yet off the thread: AbortedTransactionIndex.removeMarkers' writeFileDurable (only a clean that removes an
// aborted transaction's index entry), and recoverInterruptedClean's directory fsync (at open, after a crash).
// A file operation failing midway (EIO, ENOSPC) leaves the files as a crash there would: the log then fails
// (PartitionLog.replaceSealedSegments: every append and flush answers KAFKA_STORAGE_ERROR, the cleaner leaves
// it alone) until a restart, whose recovery below completes or undoes the swap.
// Recovery (recoverInterruptedClean, at PartitionLog.open before the segments are listed) deletes every
// `.cleaned` file and `.swap` index files without a `.log.swap` (before the commit point), and for each
// `<base>.log.swap` (after it) deletes the segments whose base offsets lie in [base, end of the swap file)
// and renames the swap files into place; an index file renamed already was the new one, one missing is rebuilt
// by the log's recovery.
//
// Rate limit: bytes read plus written per second across the cleaner (Kafka's log.cleaner.io.max.bytes.per.
// second); a slice over the rate returns at once with kCleanThrottled (throttledForMs: until when; CompactionTask
// wakes the clean then).
//
// Recompression: a rebuilt batch is compressed with its codec on the thread, inside its slice (1 MiB takes
// about 2-3 ms with zstd, lz4 or snappy here), except a large gzip batch (about 20 ms a MiB) when the cleaner
// has a `resume` hook: compressAsync then runs it on libuv's pool while the job waits (kCleanWaitingForCodec),
// and the hook asks the caller to step the clean again once it is done.
//
// Internal topics (__consumer_offsets, __transaction_state) are compacted by their coordinators' checkpoints,
// not here.
import { closeSync, fdatasync, fstatSync, fsync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { count } from '../counters.ts'
import { topicConfigValue } from '../config/topic-config.ts'
import { compress, compressAsync, decompress } from '../protocol/compression.ts'
import { crc32c } from '../protocol/crc32c.ts'
import { readInt64, writeInt64 } from '../protocol/int64.ts'
import {
  kAttributesOffset, kBaseTimestampOffset, kBatchHeaderSize, kBatchLengthOffset, kCompressionMask, kControlBit, kCrcOffset,
  Compression, kDeleteHorizonBit, kLastOffsetDeltaOffset, kLogOverhead, kMaxTimestampOffset, kProducerEpochOffset, kProducerIdOffset,
  kRecordCountOffset, kRecordsOffset, kTimestampTypeBit, kTransactionalBit
} from '../protocol/record-batch-layout.ts'
import { controlRecord, kControlTypeAbort, readControlRecord } from '../protocol/record-batch.ts'
import { createVarintCursor, readVarint, readVarlong, varlongSize, writeVarint, writeVarlong } from '../protocol/varint.ts'
import { syncDirectoryAsync, writeFileAtomic, writeFileThenSync, type SyncFunction } from './files.ts'
import { kOffsetMapSlotBytes, OffsetMap } from './offset-map.ts'
import {
  kIndexSuffix, kLogSuffix, kMaxRelativeOffset, kMaxSegmentBytes, kTimeIndexSuffix, OffsetIndex, offsetFileName,
  parseOffsetFileName, readFully, TimeIndex
} from './segment.ts'
import type { AbortedTransaction } from './transaction-index.ts'
import type { PartitionLog, SegmentInfo } from './partition-log.ts'

export const kCleanerOffsetCheckpointFile = 'cleaner-offset-checkpoint'
export const kCleanedSuffix = '.cleaned'
export const kSwapSuffix = '.swap'

/** Kafka's log.cleaner.dedupe.buffer.size default is 128 MiB for all cleaner threads; Shoal's is per worker. */
export const kDefaultDedupeBufferBytes = 32 * 1024 * 1024

const kInternalTopics: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state'])
const kReadChunkBytes = 1024 * 1024
const kWriteChunkBytes = 1024 * 1024

/** What one cleanSlice() call found or did. */
export const kCleanIdle = 0
export const kCleanWorking = 1
export const kCleanThrottled = 2
export const kCleanWaitingForDisk = 3
export const kCleanDone = 4
export const kCleanAborted = 5
export const kCleanBusy = 6
export const kCleanWaitingForCodec = 7

/**
 * A rebuilt gzip batch's records section from this size on is compressed off the thread (compressAsync) when
 * the cleaner has a `resume` hook: gzip takes about 20 ms a MiB here (zstd, lz4 and snappy 2 to 3 ms: always on
 * the thread), far over a slice's budget.
 */
export const kDefaultAsyncCodecMinBytes = 256 * 1024

export interface CleanProgress {
  /**
   * kCleanIdle (nothing to clean: call again after the backoff), kCleanWorking (call again soon),
   * kCleanThrottled (over the rate limit: call again soon), kCleanWaitingForDisk (an fsync runs: call again
   * soon), kCleanDone (a clean just finished), kCleanAborted (a clean was dropped: see the log line), kCleanBusy
   * (the cleaner is cleaning another log: one at a time), kCleanWaitingForCodec (a large batch is being
   * recompressed off the thread: the cleaner's `resume` hook is called when it is done).
   */
  state: number
  /** Of the current (or just finished) job. */
  bytesRead: number
  bytesWritten: number
}

export interface CleanerLogger {
  info (message: string, fields?: Record<string, string | number | boolean | null>): void
  warn (message: string, fields?: Record<string, string | number | boolean | null>): void
}

export interface LogCleanerOptions {
  /** Bytes of the key -> offset map (--log-cleaner-dedupe-buffer-size). */
  dedupeBufferBytes?: number
  /** Bytes read plus written per second (--log-cleaner-io-max-bytes-per-second); Infinity: unlimited. */
  ioMaxBytesPerSecond?: number
  logger?: CleanerLogger
  /** The rate limiter's clock in ms (default performance.now); tests move it instead of waiting. */
  clock?: () => number
  /**
   * Tests only: the swap stops after this many of its file operations (renames, deletions), as a crash there
   * would; the job is then dropped and the log must be opened again to see the outcome.
   */
  stopSwapAfterSteps?: number
  /**
   * Tests only: the swap's file operation of this number (1-based: renames, deletions) throws EIO instead of
   * running, as a failing disk would; the log then fails (PartitionLog.replaceSealedSegments).
   */
  failSwapAtStep?: number
  /**
   * Called (on this thread) when a clean's asynchronous step finished, so that the caller steps the clean again
   * now rather than at its next pass. Without it every batch is recompressed on the thread, within its slice.
   */
  resume?: () => void
  /** With `resume`: a rebuilt gzip records section of this many bytes or more is compressed asynchronously. */
  asyncCodecMinBytes?: number
  /**
   * Tests only: every sync of a clean (the cleaned files' and the directory's) goes through it instead of
   * fs.fdatasync (the cleaned log) and fs.fsync (the rest), e.g. to hold them and look at the files meanwhile.
   */
  sync?: SyncFunction
}

/** A compacted topic's settings, as the cleaner reads them (topicConfigValue). */
export interface CompactionSettings {
  deleteRetentionMs: number
  minCompactionLagMs: number
  maxCompactionLagMs: number
  minCleanableDirtyRatio: number
}

/** The topic's compaction settings, or null when it is not compacted by the cleaner (not compact, or internal). */
export function compactionSettings (topic: string, configs: Readonly<Record<string, string>>): CompactionSettings | null {
  if (kInternalTopics.has(topic)) return null
  if (!topicConfigValue(configs, 'cleanup.policy').split(',').includes('compact')) return null
  return {
    deleteRetentionMs: Number(topicConfigValue(configs, 'delete.retention.ms')),
    minCompactionLagMs: Number(topicConfigValue(configs, 'min.compaction.lag.ms')),
    maxCompactionLagMs: Number(topicConfigValue(configs, 'max.compaction.lag.ms')),
    minCleanableDirtyRatio: Number(topicConfigValue(configs, 'min.cleanable.dirty.ratio'))
  }
}

// The checkpoint file: "<offset>\n", or "<offset> <horizonMs>\n" when batches of the cleaned section carry a
// delete horizon that has not passed yet (the earliest of them, ms since the epoch), so that a restarted broker
// cleans the log again once it passes without waiting for new dirty data.
const kCheckpointPattern = /^(\d+)(?: (\d+))?\n$/

function readCheckpointFile (directory: string): RegExpExecArray | null {
  try {
    return kCheckpointPattern.exec(readFileSync(join(directory, kCleanerOffsetCheckpointFile), 'latin1'))
  } catch {
    return null
  }
}

/** The cleaner's checkpoint of `directory`: every offset below it has been cleaned; 0 when none. */
export function readCleanerCheckpoint (directory: string): number {
  const found = readCheckpointFile(directory)
  return found === null ? 0 : Number(found[1])
}

/** The earliest delete horizon pending in the cleaned section of `directory` (its checkpoint); Infinity when none. */
export function readCleanerDeleteHorizon (directory: string): number {
  const found = readCheckpointFile(directory)
  return found === null || found[2] === undefined ? Infinity : Number(found[2])
}

function writeCleanerCheckpoint (directory: string, offset: number, deleteHorizonMs: number): void {
  const text = deleteHorizonMs === Infinity ? `${offset}\n` : `${offset} ${deleteHorizonMs}\n`
  writeFileAtomic(join(directory, kCleanerOffsetCheckpointFile), text)
}

// ---- the swap's files and their recovery ------------------------------------------------------------------

function renameIfExists (from: string, to: string): boolean {
  try {
    renameSync(from, to)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

function unlinkIfExists (path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}

function syncDirectory (directory: string): void {
  const fd = openSync(directory, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

const kSegmentSuffixes = [kIndexSuffix, kTimeIndexSuffix, kLogSuffix] as const

/**
 * The swap's file operations done so far (renames, deletions: the directory fsyncs between them are not
 * counted), and the test hooks that stop or fail it at one of them.
 */
export interface SwapSteps {
  done: number
  /** Stop (return false) once this many are done: a simulated crash. */
  stopAfter: number
  /** Throw EIO instead of running operation number `failAt` (1-based): a failing disk. */
  failAt: number
}

function beforeSwapStep (steps: SwapSteps): void {
  if (steps.done + 1 === steps.failAt) throw Object.assign(new Error(`EIO: i/o error (the swap's step ${steps.failAt}, simulated)`), { code: 'EIO' })
}

/** Counts a swap step done; true when the test hook stops the swap here. */
function swapStepStops (steps: SwapSteps): boolean {
  return ++steps.done >= steps.stopAfter
}

/**
 * Step 1 of the swap (see the header): renames `<base>.*.cleaned` (fsynced) to `.swap`, the log file last (the
 * commit point). The caller then fsyncs the directory, and only after that runs commitCleanedFiles. Returns
 * false when the test hook stopped it; throws when a rename fails.
 */
export function renameCleanedToSwap (directory: string, base: number, steps: SwapSteps): boolean {
  for (const suffix of kSegmentSuffixes) {
    const name = offsetFileName(base, suffix)
    beforeSwapStep(steps)
    renameSync(join(directory, name + kCleanedSuffix), join(directory, name + kSwapSuffix))
    if (swapStepStops(steps)) return false
  }
  return true
}

/**
 * Steps 2 and 3 of the swap (see the header), once step 1 (renameCleanedToSwap) is durable: deletes the files
 * of the segments `replacedBases` (oldest first, replacedBases[0] === base) other than `base`'s, then renames
 * the `.swap` files into place, the log file last. The caller then fsyncs the directory. Returns false when
 * the test hook stopped it; throws when a file operation fails.
 */
export function commitCleanedFiles (directory: string, base: number, replacedBases: readonly number[], steps: SwapSteps): boolean {
  for (const replaced of replacedBases) {
    if (replaced === base) continue
    for (const suffix of kSegmentSuffixes) {
      beforeSwapStep(steps)
      unlinkIfExists(join(directory, offsetFileName(replaced, suffix)))
      if (swapStepStops(steps)) return false
    }
  }
  for (const suffix of kSegmentSuffixes) {
    const name = offsetFileName(base, suffix)
    beforeSwapStep(steps)
    renameSync(join(directory, name + kSwapSuffix), join(directory, name))
    if (swapStepStops(steps)) return false
  }
  return true
}

/** One past the last offset of the batches in the file at `path` (framing only: it was fsynced whole); -1 if none. */
function endOffsetOfFile (path: string): number {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const header = Buffer.allocUnsafe(kBatchHeaderSize)
    let end = -1
    for (let position = 0; position + kBatchHeaderSize <= size;) {
      if (readFully(fd, header, 0, kBatchHeaderSize, position) < kBatchHeaderSize) break
      const batchLength = header.readInt32BE(kBatchLengthOffset)
      if (batchLength < kBatchHeaderSize - kLogOverhead) break
      end = readInt64(header, 0) + header.readInt32BE(kLastOffsetDeltaOffset) + 1
      position += kLogOverhead + batchLength
    }
    return end
  } finally {
    closeSync(fd)
  }
}

/**
 * Finishes or undoes a swap a crash interrupted (see the header), before the log lists its segments. Returns
 * the number of swaps completed.
 */
export function recoverInterruptedClean (directory: string): number {
  const names = readdirSync(directory)
  const logSwaps: number[] = []
  let changed = false
  for (const name of names) {
    if (name.endsWith(kCleanedSuffix)) {
      unlinkSync(join(directory, name))
      changed = true
      continue
    }
    const base = parseOffsetFileName(name, kLogSuffix + kSwapSuffix)
    if (base >= 0) logSwaps.push(base)
  }
  const swapSet = new Set(logSwaps)
  for (const name of names) {
    // Index swaps whose log is not a .swap yet: renamed before the commit point. The old index stays.
    const base = Math.max(parseOffsetFileName(name, kIndexSuffix + kSwapSuffix), parseOffsetFileName(name, kTimeIndexSuffix + kSwapSuffix))
    if (base >= 0 && !swapSet.has(base)) {
      unlinkSync(join(directory, name))
      changed = true
    }
  }
  for (const base of logSwaps) {
    const end = endOffsetOfFile(join(directory, offsetFileName(base, kLogSuffix) + kSwapSuffix))
    for (const name of names) {
      const segmentBase = parseOffsetFileName(name, kLogSuffix)
      if (segmentBase > base && segmentBase < end) {
        for (const suffix of kSegmentSuffixes) unlinkIfExists(join(directory, offsetFileName(segmentBase, suffix)))
      }
    }
    // An index whose .swap is gone was renamed over the old one before the crash: it is the new one already.
    for (const suffix of kSegmentSuffixes) {
      const name = offsetFileName(base, suffix)
      renameIfExists(join(directory, name + kSwapSuffix), join(directory, name))
    }
    count('log-cleaner-swaps-recovered')
    changed = true
  }
  if (changed) syncDirectory(directory)
  return logSwaps.length
}

// ---- reading and writing segments ---------------------------------------------------------------------------

/** Reads the batches of one sealed segment file in order, through a chunk buffer shared by the cleaner. */
class SegmentReader {
  fd = -1
  size = 0
  position = 0
  private chunkStart = 0
  private chunkLength = 0
  private readonly chunk: Buffer

  constructor (chunk: Buffer) {
    this.chunk = chunk
  }

  open (path: string): void {
    this.close()
    this.fd = openSync(path, 'r')
    this.size = fstatSync(this.fd).size
    this.position = 0
    this.chunkStart = 0
    this.chunkLength = 0
  }

  /** The next whole batch (a view, valid until the next call), or null at the end of the file. */
  next (): Buffer | null {
    const position = this.position
    if (this.size - position < kBatchHeaderSize) return null
    if (position < this.chunkStart || position + kLogOverhead > this.chunkStart + this.chunkLength) this.fill(position)
    const batchSize = kLogOverhead + this.chunk.readInt32BE(position - this.chunkStart + kBatchLengthOffset)
    if (batchSize < kBatchHeaderSize || position + batchSize > this.size) return null
    let batch: Buffer
    if (position + batchSize <= this.chunkStart + this.chunkLength) {
      batch = this.chunk.subarray(position - this.chunkStart, position - this.chunkStart + batchSize)
    } else if (batchSize <= this.chunk.length) {
      this.fill(position)
      batch = this.chunk.subarray(0, batchSize)
    } else {
      batch = Buffer.allocUnsafe(batchSize)
      readFully(this.fd, batch, 0, batchSize, position)
    }
    this.position = position + batchSize
    return batch
  }

  private fill (position: number): void {
    this.chunkLength = readFully(this.fd, this.chunk, 0, Math.min(this.chunk.length, this.size - position), position)
    this.chunkStart = position
  }

  close (): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

/** The cleaned segment being written: `<base>.log.cleaned` and its indexes, built as LogSegment builds them. */
class CleanedSegmentWriter {
  readonly base: number
  readonly logPath: string
  fd: number
  size = 0
  lastOffset = -1
  private readonly indexIntervalBytes: number
  private readonly offsetIndex = new OffsetIndex()
  private readonly timeIndex = new TimeIndex()
  private bytesSinceLastIndexEntry = 0
  private maxTimestamp = -1
  private offsetOfMaxTimestamp = -1
  private readonly pending: Buffer
  private pendingLength = 0

  constructor (directory: string, base: number, indexIntervalBytes: number, pending: Buffer) {
    this.base = base
    this.logPath = join(directory, offsetFileName(base, kLogSuffix) + kCleanedSuffix)
    this.indexIntervalBytes = indexIntervalBytes
    this.pending = pending
    this.fd = openSync(this.logPath, 'w')
  }

  /** Appends a whole batch (its bytes are copied before this returns). */
  append (batch: Buffer): void {
    const baseOffset = readInt64(batch, 0)
    const maxTimestamp = readInt64(batch, kMaxTimestampOffset)
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = baseOffset
    }
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset - this.base, this.size)
      this.maybeAppendTimeIndex()
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += batch.length
    this.size += batch.length
    this.lastOffset = baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset)
    if (this.pendingLength + batch.length > this.pending.length) this.writePending()
    if (batch.length > this.pending.length) writeFileSync(this.fd, batch)
    else this.pendingLength += batch.copy(this.pending, this.pendingLength)
  }

  private writePending (): void {
    if (this.pendingLength > 0) writeFileSync(this.fd, this.pending.subarray(0, this.pendingLength))
    this.pendingLength = 0
  }

  private maybeAppendTimeIndex (): void {
    if (this.maxTimestamp > this.timeIndex.lastTimestamp) {
      this.timeIndex.append(this.maxTimestamp, this.offsetOfMaxTimestamp - this.base)
    }
  }

  /**
   * Writes what is pending and both index files (`.index.cleaned`, `.timeindex.cleaned`), and starts an fsync
   * of each on libuv's pool, which calls `indexSynced` (resp. `timeIndexSynced`) when it is done. The log
   * file's fdatasync is the caller's (it takes over `fd`).
   */
  finish (directory: string, indexSynced: (error: Error | null) => void, timeIndexSynced: (error: Error | null) => void, sync: SyncFunction): void {
    this.writePending()
    this.maybeAppendTimeIndex()
    writeFileThenSync(join(directory, offsetFileName(this.base, kIndexSuffix) + kCleanedSuffix), this.offsetIndex.encode(0, this.offsetIndex.count), indexSynced, sync)
    writeFileThenSync(join(directory, offsetFileName(this.base, kTimeIndexSuffix) + kCleanedSuffix), this.timeIndex.encode(0, this.timeIndex.count), timeIndexSynced, sync)
  }

  close (): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}


// ---- records --------------------------------------------------------------------------------------------

// The record walk of the cleaner: one record at a time into these module-scope fields (no allocation per
// record). Layout of a record: record-batch.ts's header comment.
const cursor = createVarintCursor()
let recordStart = 0
let recordEnd = 0
let recordTimestampDelta = 0
/** Where the offsetDelta field starts: everything from there on is copied as it is when a record is rebuilt. */
let recordOffsetDeltaAt = 0
let recordOffsetDelta = 0
let recordKeyStart = 0
let recordKeyLength = 0
let recordValueLength = 0

/** Reads the record at `position` of data[.., end) into the fields above; returns its end. Throws VarintError. */
function readRecord (data: Buffer, position: number, end: number): number {
  cursor.position = position
  cursor.end = end
  const length = readVarint(data, cursor)
  recordStart = position
  recordEnd = cursor.position + length
  if (length < 1 || recordEnd > end) throw new RangeError('record overruns its batch')
  cursor.end = recordEnd
  cursor.position++ // attributes
  recordTimestampDelta = readVarlong(data, cursor)
  recordOffsetDeltaAt = cursor.position
  recordOffsetDelta = readVarint(data, cursor)
  recordKeyLength = readVarint(data, cursor)
  recordKeyStart = cursor.position
  if (recordKeyLength > 0) cursor.position += recordKeyLength
  recordValueLength = readVarint(data, cursor)
  if (recordKeyStart + Math.max(recordKeyLength, 0) > recordEnd) throw new RangeError('key overruns its record')
  return recordEnd
}

/** A batch's records section: itself (uncompressed) or inflated. Sets sectionStart/sectionEnd. */
let sectionStart = 0
let sectionEnd = 0
function recordsSection (batch: Buffer): Buffer {
  const codec = batch.readUInt16BE(kAttributesOffset) & kCompressionMask
  if (codec === 0) {
    sectionStart = kRecordsOffset
    sectionEnd = batch.length
    return batch
  }
  const inflated = decompress(codec, batch.subarray(kRecordsOffset))
  sectionStart = 0
  sectionEnd = inflated.length
  return inflated
}

// ---- the cleaner ----------------------------------------------------------------------------------------

// A job's phases. Each group goes clean -> sync -> commit -> commit sync -> replace -> replace sync; the three
// sync phases wait (kCleanWaitingForDisk) for fsyncs running on libuv's pool, whose completion calls the
// cleaner's resume hook.
const kPhaseMap = 0
const kPhaseClean = 1
/** The group's cleaned files (.log.cleaned, .index.cleaned, .timeindex.cleaned) are being fsynced. */
const kPhaseSync = 2
/** Swap step 1 (renameCleanedToSwap) runs next. */
const kPhaseCommit = 3
/** A rebuilt batch's records are compressed off the thread (compressAsync); the clean phase resumes after it. */
const kPhaseCompress = 4
/** The directory is being fsynced after step 1: the commit point becomes durable. A job dropped here undoes it. */
const kPhaseCommitSync = 5
/** Swap steps 2 and 3 (commitCleanedFiles) and the in-memory replacement run next. */
const kPhaseReplace = 6
/** The directory is being fsynced after step 3; then the next group, or the checkpoint. */
const kPhaseReplaceSync = 7

interface LogCleanState {
  /**
   * Earliest delete horizon pending in this log (ms since the epoch; from the checkpoint when the log was
   * opened), Infinity when none: once it passes the log is cleaned even with nothing dirty.
   */
  nextDeleteHorizonMs: number
  /** Not cleaned again before this (after an error). */
  retryAfterMs: number
}

class CleanJob {
  readonly log: PartitionLog
  readonly settings: CompactionSettings
  readonly nowMs: number
  readonly startedAt = performance.now()
  phase = kPhaseMap
  readonly segments: SegmentInfo[]
  /** Offsets [firstDirty, mapEnd) are mapped; the clean then covers the segments below endOffset. */
  readonly firstDirty: number
  readonly mapEnd: number
  endOffset: number
  /** Index in `segments` of the segment being read (map phase, then clean phase). */
  segmentIndex = 0
  /** Index in `segments` of the first segment at or after mapEnd: where the map phase stops. */
  readonly mapSegmentsEnd: number
  readerOpen = false
  readonly abortedByProducer = new Map<number, AbortedTransaction[]>()
  /** Clean phase: the groups (index ranges into `segments`), the current one, and its writer. */
  groups: Array<[number, number]> = []
  groupIndex = 0
  writer: CleanedSegmentWriter | null = null
  /** Header of the last batch read when it was dropped whole (kept as an empty batch if it ends the group). */
  readonly droppedHeader = Buffer.allocUnsafe(kBatchHeaderSize)
  lastBatchDropped = false
  /** The current group's base offsets (its segments'), from the commit on. */
  replacedBases: number[] = []
  /** Syncs (fsync, fdatasync) started and not done yet; the first error any of them reported. */
  pendingSyncs = 0
  syncError: Error | null = null
  readonly swapSteps: SwapSteps
  /** Swap step 1 is done and step 2 not started: a job dropped now removes the `.swap` files (#drop). */
  committed = false
  /** kPhaseCompress: the rebuilt batch's header (kRecordsOffset bytes, a copy) and the compressed records. */
  compressHeader: Buffer | null = null
  compressed: Buffer | null = null
  compressError: Error | null = null
  bytesRead = 0
  bytesWritten = 0
  recordsRemoved = 0
  /** The earliest delete horizon not passed yet among the batches this clean wrote; Infinity when none. */
  nextDeleteHorizonMs = Infinity
  // The transactions the clean phase has read, as Kafka's CleanedTransactionMetadata tracks them: the producers
  // with a data batch of a committed (resp. aborted) transaction read since their last COMMIT (resp. ABORT)
  // marker. The clean phase reads every batch from the log start in offset order, so a marker whose producer is
  // not in its set has no data left in the log.
  readonly committedDataSeen = new Set<number>()
  readonly abortedDataSeen = new Set<number>()
  /** The current group's ABORT markers whose transactions have no data left (their index entries go: #swap). */
  abortMarkersWithoutData: number[] = []

  constructor (log: PartitionLog, settings: CompactionSettings, nowMs: number, segments: SegmentInfo[], firstDirty: number, mapEnd: number,
    stopSwapAfterSteps: number, failSwapAtStep: number) {
    this.log = log
    this.settings = settings
    this.nowMs = nowMs
    this.segments = segments
    this.firstDirty = firstDirty
    this.mapEnd = mapEnd
    this.endOffset = mapEnd
    this.swapSteps = { done: 0, stopAfter: stopSwapAfterSteps, failAt: failSwapAtStep }
    while (this.segmentIndex < segments.length && segments[this.segmentIndex].nextOffset <= firstDirty) this.segmentIndex++
    let mapSegmentsEnd = this.segmentIndex
    while (mapSegmentsEnd < segments.length && segments[mapSegmentsEnd].baseOffset < mapEnd) mapSegmentsEnd++
    this.mapSegmentsEnd = mapSegmentsEnd
    for (const entry of log.abortedTransactions.entries()) {
      let list = this.abortedByProducer.get(entry.producerId)
      if (list === undefined) this.abortedByProducer.set(entry.producerId, list = [])
      list.push(entry)
    }
  }

  isAborted (producerId: number, offset: number): boolean {
    const list = this.abortedByProducer.get(producerId)
    if (list === undefined) return false
    for (let index = 0; index < list.length; index++) {
      if (list[index].firstOffset <= offset && offset < list[index].lastOffset) return true
    }
    return false
  }
}

export class LogCleaner {
  #map: OffsetMap
  /** The dedupe buffer size the next clean's map is built with (setDedupeBufferBytes); #map has it once a clean starts. */
  #dedupeBufferBytes: number
  #ioMaxBytesPerSecond: number
  readonly #logger: CleanerLogger | null
  readonly #stopSwapAfterSteps: number
  readonly #failSwapAtStep: number
  readonly #resume: (() => void) | null
  readonly #asyncCodecMinBytes: number
  readonly #clock: () => number
  readonly #fsync: SyncFunction
  readonly #fdatasync: SyncFunction
  readonly #reader = new SegmentReader(Buffer.allocUnsafeSlow(kReadChunkBytes))
  readonly #writeChunk = Buffer.allocUnsafeSlow(kWriteChunkBytes)
  readonly #states = new WeakMap<PartitionLog, LogCleanState>()
  #job: CleanJob | null = null
  // Rate limit window: bytes of I/O since #windowStart (performance.now()).
  #windowStart = -1
  #windowBytes = 0

  constructor (options: LogCleanerOptions = {}) {
    this.#dedupeBufferBytes = options.dedupeBufferBytes ?? kDefaultDedupeBufferBytes
    this.#map = new OffsetMap(this.#dedupeBufferBytes)
    this.#ioMaxBytesPerSecond = options.ioMaxBytesPerSecond ?? Infinity
    this.#logger = options.logger ?? null
    this.#stopSwapAfterSteps = options.stopSwapAfterSteps ?? Infinity
    this.#failSwapAtStep = options.failSwapAtStep ?? Infinity
    this.#resume = options.resume ?? null
    this.#asyncCodecMinBytes = options.asyncCodecMinBytes ?? kDefaultAsyncCodecMinBytes
    this.#clock = options.clock ?? performanceNow
    this.#fsync = options.sync ?? fsync
    this.#fdatasync = options.sync ?? fdatasync
  }

  /** The I/O rate limit in bytes a second (Infinity: none), as set now. */
  get ioMaxBytesPerSecond (): number {
    return this.#ioMaxBytesPerSecond
  }

  /**
   * Changes the I/O rate limit (log.cleaner.io.max.bytes.per.second at run time; Infinity: none). It applies from
   * the next slice, in a fresh window: the bytes counted under the old rate do not throttle (or bank) under the new.
   */
  setIoMaxBytesPerSecond (bytesPerSecond: number): void {
    if (bytesPerSecond === this.#ioMaxBytesPerSecond) return
    this.#ioMaxBytesPerSecond = bytesPerSecond
    this.#windowStart = -1
    this.#windowBytes = 0
  }

  /** The dedupe buffer size the next clean uses, in bytes. */
  get dedupeBufferBytes (): number {
    return this.#dedupeBufferBytes
  }

  /** Slots (16 bytes each) of the map the running (or last) clean uses; a new dedupe buffer size shows here once the next clean starts. */
  get mapSlots (): number {
    return this.#map.slots
  }

  /**
   * Changes the dedupe buffer size (log.cleaner.dedupe.buffer.size at run time). A clean in progress keeps its
   * map (its plan is built on what the map holds); the next clean that starts allocates one of the new size.
   */
  setDedupeBufferBytes (bytes: number): void {
    this.#dedupeBufferBytes = bytes
  }

  /** The log being cleaned now, if any. */
  get cleaning (): PartitionLog | null {
    return this.#job?.log ?? null
  }

  /**
   * Works on cleaning `log` of partition of `topic` for about `budgetMs` (a job runs across calls; one log at a
   * time): starts a clean when the log needs one, else returns kCleanIdle. Never throws: a failed clean is
   * dropped (its `.cleaned` files removed), logged, counted in `log-cleaner-errors`, and the log is left alone
   * for a minute.
   */
  cleanSlice (log: PartitionLog, topic: string, topicConfigs: Readonly<Record<string, string>>, nowMs: number, budgetMs: number): CleanProgress {
    let job = this.#job
    if (job !== null && job.log !== log) {
      // A log closed or deleted mid-clean is never stepped again: its job must not block the others.
      if (!job.log.isClosed) return { state: kCleanBusy, bytesRead: 0, bytesWritten: 0 }
      this.#drop()
      job = null
    }
    try {
      if (job === null) {
        const settings = compactionSettings(topic, topicConfigs)
        if (settings === null) return { state: kCleanIdle, bytesRead: 0, bytesWritten: 0 }
        const planned = this.#plan(log, settings, nowMs)
        if (planned === null) return { state: kCleanIdle, bytesRead: 0, bytesWritten: 0 }
        this.#job = planned
        // A size changed by setDedupeBufferBytes takes effect here, between cleans; else the map is reused.
        if (Math.max(16, Math.floor(this.#dedupeBufferBytes / kOffsetMapSlotBytes)) !== this.#map.slots) this.#map = new OffsetMap(this.#dedupeBufferBytes)
        else this.#map.clear()
      }
      return this.#work(this.#job!, budgetMs)
    } catch (error) {
      const failed = this.#job
      count('log-cleaner-errors')
      const next = log.hasFailed ? 'the log failed until a restart recovers it' : 'retrying in a minute'
      this.#logger?.warn(`log cleaner: cleaning ${log.directory} failed, ${next}: ${(error as Error).message}`)
      this.#state(log).retryAfterMs = nowMs + 60_000
      this.#drop()
      return { state: kCleanAborted, bytesRead: failed?.bytesRead ?? 0, bytesWritten: failed?.bytesWritten ?? 0 }
    }
  }

  /** Drops the job of `log` (closed or deleted), if it is the one running. */
  forget (log: PartitionLog): void {
    if (this.#job?.log === log) this.#drop()
  }

  #state (log: PartitionLog): LogCleanState {
    let state = this.#states.get(log)
    // A log opened again (a restart) finds the horizon its last clean left pending in the checkpoint.
    if (state === undefined) this.#states.set(log, state = { nextDeleteHorizonMs: readCleanerDeleteHorizon(log.directory), retryAfterMs: 0 })
    return state
  }

  /**
   * Drops the running job and removes its group's files: the `.cleaned` ones, or, between the commit and the
   * replacement (job.committed: step 1 done, nothing deleted yet), the `.swap` ones, the log's first so that
   * the commit point goes first. A closed log's swap files stay: its next open() completes the swap. Syncs
   * still running close their own files when they are done and no longer call the resume hook.
   */
  #drop (): void {
    const job = this.#job
    this.#job = null
    this.#reader.close()
    if (job === null || job.writer === null) return
    const writer = job.writer
    job.writer = null
    writer.close()
    const committed = job.committed
    if (committed && job.log.isClosed) return
    const suffix = committed ? kSwapSuffix : kCleanedSuffix
    for (let index = kSegmentSuffixes.length - 1; index >= 0; index--) {
      try {
        unlinkIfExists(join(job.log.directory, offsetFileName(writer.base, kSegmentSuffixes[index]) + suffix))
      } catch {}
    }
  }

  /**
   * Counts a sync started for `job`; the callback to give it. The last of the job's pending syncs to finish
   * calls the resume hook (while the job is still the cleaner's), so that the caller steps the clean again
   * now, not at its next pass.
   */
  #syncStarted (job: CleanJob): (error: Error | null) => void {
    job.pendingSyncs++
    return (error) => {
      if (error !== null && job.syncError === null) job.syncError = error
      if (--job.pendingSyncs === 0 && this.#job === job) this.#resume?.()
    }
  }

  /** The job for `log` when it needs a clean now, else null. */
  #plan (log: PartitionLog, settings: CompactionSettings, nowMs: number): CleanJob | null {
    const state = this.#state(log)
    if (nowMs < state.retryAfterMs || log.hasFailed) return null
    const sealed = log.sealedSegments()
    if (sealed.length === 0) return null
    const start = log.logStartOffset
    let firstUncleanable = Math.min(sealed[sealed.length - 1].nextOffset, log.lastStableOffset)
    const cleanable: SegmentInfo[] = []
    for (const segment of sealed) {
      if (segment.nextOffset <= start) continue
      if (settings.minCompactionLagMs > 0 && segment.maxTimestamp > nowMs - settings.minCompactionLagMs) {
        firstUncleanable = Math.min(firstUncleanable, segment.baseOffset)
      }
      if (segment.nextOffset > firstUncleanable) break
      cleanable.push(segment)
    }
    if (cleanable.length === 0) return null
    const end = cleanable[cleanable.length - 1].nextOffset
    let checkpoint = readCleanerCheckpoint(log.directory)
    if (checkpoint > log.nextOffset) checkpoint = 0 // a log recreated under an old checkpoint
    const firstDirty = Math.max(checkpoint, start)
    let cleanBytes = 0
    let dirtyBytes = 0
    let firstDirtySegment: SegmentInfo | null = null
    for (const segment of cleanable) {
      if (segment.nextOffset <= firstDirty) cleanBytes += segment.size
      else {
        dirtyBytes += segment.size
        firstDirtySegment ??= segment
      }
    }
    const horizonDue = nowMs >= state.nextDeleteHorizonMs
    if (dirtyBytes === 0 && !horizonDue) return null
    const ratio = dirtyBytes / (cleanBytes + dirtyBytes)
    if (ratio < settings.minCleanableDirtyRatio && !horizonDue &&
      !(firstDirtySegment !== null && firstBatchTimestamp(firstDirtySegment.logPath) < nowMs - settings.maxCompactionLagMs)) return null
    return new CleanJob(log, settings, nowMs, cleanable, firstDirty, dirtyBytes === 0 ? firstDirty : end, this.#stopSwapAfterSteps, this.#failSwapAtStep)
  }

  /** After kCleanThrottled: ms until the I/O done in the rate limit's window is back within the rate. */
  get throttledForMs (): number {
    if (this.#ioMaxBytesPerSecond === Infinity || this.#windowStart < 0) return 0
    return Math.max(0, this.#windowBytes * 1000 / this.#ioMaxBytesPerSecond - (this.#clock() - this.#windowStart))
  }

  /** Over the rate limit now? */
  #throttled (): boolean {
    if (this.#ioMaxBytesPerSecond === Infinity) return false
    const now = this.#clock()
    if (this.#windowStart < 0 || now - this.#windowStart > 10_000) {
      // A fresh window every 10 s, so that an idle spell does not bank a burst.
      this.#windowStart = now
      this.#windowBytes = 0
      return false
    }
    return this.#windowBytes > this.#ioMaxBytesPerSecond * (now - this.#windowStart) / 1000
  }

  #work (job: CleanJob, budgetMs: number): CleanProgress {
    const deadline = performance.now() + budgetMs
    for (;;) {
      if (this.#throttled()) return { state: kCleanThrottled, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
      switch (job.phase) {
        case kPhaseMap:
          this.#mapSome(job, deadline)
          break
        case kPhaseClean:
          this.#cleanSome(job, deadline)
          break
        case kPhaseCompress:
          if (job.compressError !== null) throw job.compressError
          if (job.compressed === null) return { state: kCleanWaitingForCodec, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
          this.#account(job, 0, this.#appendRebuilt(job.writer!, job.compressHeader!, job.compressed))
          job.compressHeader = null
          job.compressed = null
          job.phase = kPhaseClean
          break
        case kPhaseSync:
        case kPhaseCommitSync:
        case kPhaseReplaceSync:
          if (job.syncError !== null) throw job.syncError
          if (job.pendingSyncs > 0) return { state: kCleanWaitingForDisk, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
          if (job.phase === kPhaseSync) job.phase = kPhaseCommit
          else if (job.phase === kPhaseCommitSync) job.phase = kPhaseReplace
          else if (this.#nextGroup(job)) return { state: kCleanDone, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
          break
        case kPhaseCommit: {
          const dropped = this.#commit(job)
          if (dropped !== null) return dropped
          break
        }
        case kPhaseReplace: {
          const dropped = this.#replace(job)
          if (dropped !== null) return dropped
          break
        }
      }
      if (this.#job !== job) return { state: kCleanAborted, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
      if (performance.now() >= deadline) return { state: kCleanWorking, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
    }
  }

  #account (job: CleanJob, read: number, written: number): void {
    job.bytesRead += read
    job.bytesWritten += written
    this.#windowBytes += read + written
    if (read > 0) count('log-cleaner-bytes-read', read)
    if (written > 0) count('log-cleaner-bytes-written', written)
  }

  /** Map phase: adds the dirty section's keys to the map until the deadline, the section's end or a full map. */
  #mapSome (job: CleanJob, deadline: number): void {
    const map = this.#map
    while (performance.now() < deadline) {
      const batch = this.#nextBatch(job, job.mapSegmentsEnd)
      if (batch === null) {
        this.#startCleanPhase(job)
        return
      }
      this.#account(job, batch.length, 0)
      const baseOffset = readInt64(batch, 0)
      const lastOffset = baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset)
      if (lastOffset < job.firstDirty) continue
      if (baseOffset >= job.mapEnd) {
        this.#startCleanPhase(job)
        return
      }
      const attributes = batch.readUInt16BE(kAttributesOffset)
      if ((attributes & kControlBit) !== 0) continue
      if ((attributes & kTransactionalBit) !== 0 && job.isAborted(readInt64(batch, kProducerIdOffset), baseOffset)) continue
      const data = recordsSection(batch)
      const end = sectionEnd
      const recordCount = batch.readInt32BE(kRecordCountOffset)
      for (let position = sectionStart, index = 0; index < recordCount && position < end; index++) {
        position = readRecord(data, position, end)
        const offset = baseOffset + recordOffsetDelta
        if (offset < job.firstDirty || recordKeyLength < 0) continue
        if (!map.put(data, recordKeyStart, recordKeyStart + recordKeyLength, offset)) {
          // Full: the clean covers the dirty section up to here; the rest stays dirty for the next one.
          if (offset <= job.firstDirty) throw new Error(`the dedupe buffer (${map.slots} slots) holds no record of a batch at ${baseOffset}`)
          job.endOffset = offset
          count('log-cleaner-offset-map-full')
          this.#startCleanPhase(job)
          return
        }
      }
    }
  }

  #startCleanPhase (job: CleanJob): void {
    this.#reader.close()
    job.readerOpen = false
    // Groups of consecutive segments below endOffset, at most segment.bytes of input each (and an offset span an
    // index can address). Half of kMaxSegmentBytes at most: a rebuilt batch may grow a little.
    const maxBytes = Math.min(job.log.config.segmentBytes, Math.floor(kMaxSegmentBytes / 2))
    const segments = job.segments
    const groups: Array<[number, number]> = []
    for (let index = 0; index < segments.length && segments[index].baseOffset < job.endOffset;) {
      const first = index
      let bytes = segments[index].size
      index++
      while (index < segments.length && segments[index].baseOffset < job.endOffset &&
        bytes + segments[index].size <= maxBytes &&
        segments[index].nextOffset - segments[first].baseOffset <= kMaxRelativeOffset) {
        bytes += segments[index].size
        index++
      }
      groups.push([first, index])
    }
    job.groups = groups
    job.groupIndex = 0
    job.segmentIndex = groups.length > 0 ? groups[0][0] : 0
    job.phase = kPhaseClean
    if (groups.length === 0) this.#finish(job)
  }

  /** Clean phase: filters the current group's batches into its cleaned segment until the deadline or its end. */
  #cleanSome (job: CleanJob, deadline: number): void {
    const [, groupEnd] = job.groups[job.groupIndex]
    const log = job.log
    while (performance.now() < deadline) {
      if (job.writer === null) {
        job.writer = new CleanedSegmentWriter(log.directory, job.segments[job.segmentIndex].baseOffset, log.config.indexIntervalBytes, this.#writeChunk)
        job.lastBatchDropped = false
      }
      const batch = this.#nextBatch(job, groupEnd)
      if (batch === null) {
        this.#finishGroup(job)
        return
      }
      const written = this.#filterBatch(job, batch, job.writer)
      this.#account(job, batch.length, written)
      if (job.phase === kPhaseCompress) return
    }
  }

  /**
   * The next batch of the job's segments from job.segmentIndex on (opening each in turn), or null once the
   * segments before `endIndex` are read. A view, valid until the next call.
   */
  #nextBatch (job: CleanJob, endIndex: number): Buffer | null {
    const reader = this.#reader
    for (;;) {
      if (!job.readerOpen) {
        if (job.segmentIndex >= endIndex) return null
        reader.open(job.segments[job.segmentIndex].logPath)
        job.readerOpen = true
      }
      const batch = reader.next()
      if (batch !== null) return batch
      reader.close()
      job.readerOpen = false
      job.segmentIndex++
    }
  }

  /** Writes what `batch` keeps to `writer`; returns the bytes written. */
  #filterBatch (job: CleanJob, batch: Buffer, writer: CleanedSegmentWriter): number {
    const baseOffset = readInt64(batch, 0)
    const lastOffset = baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset)
    const attributes = batch.readUInt16BE(kAttributesOffset)
    const producerId = readInt64(batch, kProducerIdOffset)
    const recordCount = batch.readInt32BE(kRecordCountOffset)
    job.lastBatchDropped = false
    if ((attributes & kControlBit) !== 0) return this.#filterMarker(job, batch, writer, attributes, producerId, baseOffset)
    const producersLast = producerId >= 0 && job.log.producers.get(producerId)?.lastOffset === lastOffset
    if ((attributes & kTransactionalBit) !== 0 && producerId >= 0) {
      if (job.isAborted(producerId, baseOffset)) {
        job.abortedDataSeen.add(producerId)
        job.recordsRemoved += recordCount
        count('log-cleaner-records-removed', recordCount)
        return this.#dropBatch(job, batch, writer, producersLast)
      }
      job.committedDataSeen.add(producerId)
    }
    const map = this.#map
    const horizonSet = (attributes & kDeleteHorizonBit) !== 0
    const baseTimestamp = readInt64(batch, kBaseTimestampOffset)
    const horizonPassed = horizonSet && job.nowMs >= baseTimestamp
    const data = recordsSection(batch)
    const start = sectionStart
    const end = sectionEnd
    // First pass: which records stay. Kept ones are marked in `kept` (reused, grown when needed).
    let keptCount = 0
    let tombstonesKept = false
    if (keptScratch.length < recordCount) keptScratch = new Uint8Array(Math.max(recordCount, keptScratch.length * 2))
    const kept = keptScratch
    for (let position = start, index = 0; index < recordCount && position < end; index++) {
      position = readRecord(data, position, end)
      const offset = baseOffset + recordOffsetDelta
      let keep = recordKeyLength >= 0
      if (keep) {
        const latest = map.get(data, recordKeyStart, recordKeyStart + recordKeyLength)
        if (latest > offset) keep = false
        else if (recordValueLength < 0) {
          if (horizonPassed) keep = false
          else tombstonesKept = true
        }
      }
      kept[index] = keep ? 1 : 0
      if (keep) keptCount++
    }
    const removed = recordCount - keptCount
    if (removed > 0) {
      job.recordsRemoved += removed
      count('log-cleaner-records-removed', removed)
    }
    if (keptCount === 0) return this.#dropBatch(job, batch, writer, producersLast)
    if (horizonSet && !horizonPassed) noteDeleteHorizon(job, baseTimestamp)
    const newHorizon = tombstonesKept && !horizonSet
    if (removed === 0 && !newHorizon) {
      writer.append(batch)
      return batch.length
    }
    return this.#writeRebuilt(job, batch, data, start, end, keptCount, newHorizon, writer)
  }

  /**
   * A marker (control batch), as Kafka's cleaner treats it (KIP-98, KIP-534): discardable once its transaction
   * has no data left in the log, i.e. this clean (reading from the log start) read no data batch of the
   * producer's committed (COMMIT) or aborted (ABORT) transaction since the producer's previous marker; a batch
   * kept as an empty header counts as data. A discardable marker first gets a delete horizon (now +
   * delete.retention.ms), so that consumers reading behind still see it for that long; a clean after the
   * horizon drops it. An ABORT marker's aborted-transaction index entry goes as soon as the transaction has no
   * data (#swap), before the marker does: no fetch needs it then. A marker that is all its producer has (no data
   * batch in the producer state, same epoch) is kept, as Kafka keeps it, for the producer's epochs on a replay.
   */
  #filterMarker (job: CleanJob, batch: Buffer, writer: CleanedSegmentWriter, attributes: number, producerId: number, markerOffset: number): number {
    let discardable: boolean
    if (!readControlRecord(batch, 0)) {
      // No record: an empty header kept by an earlier clean, cleaned already. A control type we do not know: kept.
      discardable = batch.readInt32BE(kRecordCountOffset) === 0
    } else if (controlRecord.type === kControlTypeAbort) {
      discardable = !job.abortedDataSeen.delete(producerId)
      if (discardable) job.abortMarkersWithoutData.push(markerOffset)
    } else {
      discardable = !job.committedDataSeen.delete(producerId)
    }
    if (discardable) {
      const producer = job.log.producers.get(producerId)
      if (producer !== undefined && producer.lastOffset < 0 && producer.epoch === batch.readInt16BE(kProducerEpochOffset)) discardable = false
    }
    const horizonSet = (attributes & kDeleteHorizonBit) !== 0
    const horizonMs = readInt64(batch, kBaseTimestampOffset)
    if (discardable && horizonSet && job.nowMs >= horizonMs) {
      count('log-cleaner-markers-removed')
      return this.#dropBatch(job, batch, writer, false)
    }
    if (!discardable || horizonSet) {
      if (horizonSet && job.nowMs < horizonMs) noteDeleteHorizon(job, horizonMs)
      writer.append(batch)
      return batch.length
    }
    const recordCount = batch.readInt32BE(kRecordCountOffset)
    if (keptScratch.length < recordCount) keptScratch = new Uint8Array(Math.max(recordCount, keptScratch.length * 2))
    keptScratch.fill(1, 0, recordCount)
    return this.#writeRebuilt(job, batch, batch, kRecordsOffset, batch.length, recordCount, true, writer)
  }

  /**
   * Writes `batch` rebuilt with the records marked in keptScratch (its records section is data[start, end),
   * inflated when compressed), same offsets and producer fields, compressed with its own codec; with
   * `newHorizon` it gets a delete horizon of now + delete.retention.ms (the timestamp deltas recomputed against
   * it). Returns the bytes written.
   */
  #writeRebuilt (job: CleanJob, batch: Buffer, data: Buffer, start: number, end: number, keptCount: number, newHorizon: boolean, writer: CleanedSegmentWriter): number {
    const kept = keptScratch
    const attributes = batch.readUInt16BE(kAttributesOffset)
    const recordCount = batch.readInt32BE(kRecordCountOffset)
    const baseTimestamp = readInt64(batch, kBaseTimestampOffset)
    const newBaseTimestamp = newHorizon ? job.nowMs + job.settings.deleteRetentionMs : baseTimestamp
    if (newHorizon) noteDeleteHorizon(job, newBaseTimestamp)
    const logAppendTime = (attributes & kTimestampTypeBit) !== 0
    let maxTimestamp = logAppendTime ? readInt64(batch, kMaxTimestampOffset) : -1
    const section = Buffer.allocUnsafe(end - start + keptCount * 12)
    let out = 0
    for (let position = start, index = 0; index < recordCount && position < end; index++) {
      position = readRecord(data, position, end)
      if (kept[index] === 0) continue
      const timestamp = baseTimestamp + recordTimestampDelta
      if (!logAppendTime && timestamp > maxTimestamp) maxTimestamp = timestamp
      if (!newHorizon) {
        out += data.copy(section, out, recordStart, recordEnd)
        continue
      }
      const delta = timestamp - newBaseTimestamp
      const bodyLength = 1 + varlongSize(delta) + (recordEnd - recordOffsetDeltaAt)
      out = writeVarint(section, out, bodyLength)
      section[out++] = 0 // attributes
      out = writeVarlong(section, out, delta)
      out += data.copy(section, out, recordOffsetDeltaAt, recordEnd)
    }
    if (maxTimestamp < 0) maxTimestamp = readInt64(batch, kMaxTimestampOffset)
    // The header of the rebuilt batch (a copy: `batch` is a view into the reader's chunk), all but its length and CRC.
    const header = Buffer.allocUnsafe(kRecordsOffset)
    batch.copy(header, 0, 0, kRecordsOffset)
    header.writeUInt16BE(newHorizon ? attributes | kDeleteHorizonBit : attributes, kAttributesOffset)
    writeInt64(header, kBaseTimestampOffset, newBaseTimestamp)
    writeInt64(header, kMaxTimestampOffset, maxTimestamp)
    header.writeInt32BE(keptCount, kRecordCountOffset)
    const codec = attributes & kCompressionMask
    const records = section.subarray(0, out)
    if (codec === Compression.gzip && this.#resume !== null && out >= this.#asyncCodecMinBytes) {
      this.#compressOffThread(job, header, records)
      return 0
    }
    return this.#appendRebuilt(writer, header, compress(codec, records))
  }

  /**
   * Starts compressing a rebuilt batch's `records` (a buffer of its own, unchanged until the codec is done) off
   * the thread: the job waits in kPhaseCompress, and the resume hook is called once the codec is done.
   */
  #compressOffThread (job: CleanJob, header: Buffer, records: Buffer): void {
    const resume = this.#resume!
    job.phase = kPhaseCompress
    job.compressHeader = header
    job.compressed = null
    job.compressError = null
    count('log-cleaner-async-compressions')
    // zlib's default level, as compress() uses.
    compressAsync(Compression.gzip, records, -1).then((compressed) => {
      job.compressed = compressed
      resume()
    }, (error: Error) => {
      job.compressError = error
      resume()
    })
  }

  /** Appends the rebuilt batch `header` + `payload` (its length and CRC set here) to `writer`; returns its size. */
  #appendRebuilt (writer: CleanedSegmentWriter, header: Buffer, payload: Buffer): number {
    const rebuilt = Buffer.allocUnsafe(kRecordsOffset + payload.length)
    header.copy(rebuilt, 0, 0, kRecordsOffset)
    rebuilt.writeInt32BE(rebuilt.length - kLogOverhead, kBatchLengthOffset)
    payload.copy(rebuilt, kRecordsOffset)
    rebuilt.writeUInt32BE(crc32c(rebuilt.subarray(kAttributesOffset)), kCrcOffset)
    writer.append(rebuilt)
    return rebuilt.length
  }

  /**
   * A batch that keeps no record: an empty header now when it is its producer's last batch, else remembered
   * (the group's last batch is kept as an empty header too, see #finishGroup).
   */
  #dropBatch (job: CleanJob, batch: Buffer, writer: CleanedSegmentWriter, producersLast: boolean): number {
    batch.copy(job.droppedHeader, 0, 0, kBatchHeaderSize)
    if (producersLast) {
      writer.append(emptyBatchHeader(job.droppedHeader))
      return kBatchHeaderSize
    }
    job.lastBatchDropped = true
    return 0
  }

  #finishGroup (job: CleanJob): void {
    const writer = job.writer!
    if (job.lastBatchDropped) {
      writer.append(emptyBatchHeader(job.droppedHeader))
      this.#account(job, 0, kBatchHeaderSize)
      job.lastBatchDropped = false
    }
    // The three files are fsynced on libuv's pool (kPhaseSync waits for them): the log file's fd goes to its
    // fdatasync, which closes it when done (also when the job is dropped meanwhile).
    job.syncError = null
    job.phase = kPhaseSync
    writer.finish(job.log.directory, this.#syncStarted(job), this.#syncStarted(job), this.#fsync)
    const fd = writer.fd
    writer.fd = -1
    const logSynced = this.#syncStarted(job)
    this.#fdatasync(fd, (error) => {
      try {
        closeSync(fd)
      } catch {}
      logSynced(error)
    })
  }

  /**
   * Commit phase (swap step 1): once the group's segments are checked to be still there, their cleaned files
   * (fsynced) are renamed to `.swap`, and the directory fsync that makes the commit point durable is started.
   * The renames run inside replaceSealedSegments for its checks and its failure handling (a rename failing
   * midway fails the log); its commitFiles returns false so that nothing changes in memory yet: the old
   * segments serve reads until #replace. Returns the job's last progress when it was dropped, else null.
   */
  #commit (job: CleanJob): CleanProgress | null {
    const [first, end] = job.groups[job.groupIndex]
    const bases: number[] = []
    for (let index = first; index < end; index++) bases.push(job.segments[index].baseOffset)
    job.replacedBases = bases
    job.swapSteps.done = 0
    const directory = job.log.directory
    const base = job.writer!.base
    // The index entries of transactions with no data left go first (fsynced), then their markers may go.
    job.log.abortedTransactions.removeMarkers(job.abortMarkersWithoutData)
    job.abortMarkersWithoutData = []
    let renamed = false
    let stopped = false
    job.log.replaceSealedSegments(bases, () => {
      if (renameCleanedToSwap(directory, base, job.swapSteps)) renamed = true
      else stopped = true
      return false
    })
    if (stopped) return this.#simulatedCrash(job)
    if (!renamed) return this.#abandon(job)
    job.committed = true
    job.phase = kPhaseCommitSync
    syncDirectoryAsync(directory, this.#syncStarted(job), this.#fsync)
    return null
  }

  /**
   * Replace phase (swap steps 2 and 3), once the commit point is durable: the old segments' files go, the swap
   * files are renamed into place and the cleaned segment replaces the old ones in memory (replaceSealedSegments),
   * then the directory fsync is started. When the segments changed during the commit's directory sync
   * (retention deleted one) the commit is undone (#drop removes the swap files) and the job dropped. Returns
   * the job's last progress when it was dropped, else null.
   */
  #replace (job: CleanJob): CleanProgress | null {
    const directory = job.log.directory
    const base = job.writer!.base
    let stopped = false
    const swapped = job.log.replaceSealedSegments(job.replacedBases, () => {
      job.committed = false // from the first deletion on, only going forward (a restart's recovery) is safe
      if (commitCleanedFiles(directory, base, job.replacedBases, job.swapSteps)) return true
      stopped = true
      return false
    })
    if (stopped) return this.#simulatedCrash(job)
    if (!swapped) return this.#abandon(job)
    job.writer = null
    job.phase = kPhaseReplaceSync
    syncDirectoryAsync(directory, this.#syncStarted(job), this.#fsync)
    return null
  }

  /** A test's simulated crash in the swap: the files stay as they are, the job is dropped. */
  #simulatedCrash (job: CleanJob): CleanProgress {
    job.writer = null
    this.#drop()
    return { state: kCleanAborted, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
  }

  /** The group's segments are no longer all there (retention deleted one, or the log closed): job dropped. */
  #abandon (job: CleanJob): CleanProgress {
    count('log-cleaner-swaps-abandoned')
    this.#logger?.info(`log cleaner: ${job.log.directory} changed while it was cleaned (segments deleted); cleaning again later`)
    this.#drop()
    return { state: kCleanAborted, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten }
  }

  /** After a group's swap: the next group (false), or the job finished (true). */
  #nextGroup (job: CleanJob): boolean {
    job.groupIndex++
    if (job.groupIndex < job.groups.length) {
      job.segmentIndex = job.groups[job.groupIndex][0]
      job.phase = kPhaseClean
      return false
    }
    this.#finish(job)
    return true
  }

  #finish (job: CleanJob): void {
    const log = job.log
    // The clean read every batch that can carry a delete horizon (only cleans set them, below their checkpoint)
    // unless the cleanable section shrank since (a longer min.compaction.lag.ms): a pending horizon known before
    // stays too, one that has passed was this clean's to act on.
    const state = this.#state(log)
    const previous = state.nextDeleteHorizonMs > job.nowMs ? state.nextDeleteHorizonMs : Infinity
    state.nextDeleteHorizonMs = Math.min(job.nextDeleteHorizonMs, previous)
    writeCleanerCheckpoint(log.directory, job.endOffset, state.nextDeleteHorizonMs)
    count('log-cleaner-cleans')
    const durationMs = performance.now() - job.startedAt
    this.#logger?.info(`log cleaner: cleaned ${log.directory} up to offset ${job.endOffset}: read ${job.bytesRead} bytes, wrote ${job.bytesWritten}, removed ${job.recordsRemoved} records in ${durationMs.toFixed(0)} ms`, {
      directory: log.directory, endOffset: job.endOffset, bytesRead: job.bytesRead, bytesWritten: job.bytesWritten,
      recordsRemoved: job.recordsRemoved, durationMs: Math.round(durationMs)
    })
    this.#job = null
    this.#reader.close()
  }
}

let keptScratch = new Uint8Array(1024)

function noteDeleteHorizon (job: CleanJob, horizonMs: number): void {
  if (horizonMs < job.nextDeleteHorizonMs) job.nextDeleteHorizonMs = horizonMs
}

function performanceNow (): number {
  return performance.now()
}

/** An empty batch (no records, uncompressed, as Kafka's writeEmptyHeader) with `header`'s offsets and producer. */
function emptyBatchHeader (header: Buffer): Buffer {
  const empty = Buffer.allocUnsafe(kBatchHeaderSize)
  header.copy(empty, 0, 0, kBatchHeaderSize)
  empty.writeInt32BE(kBatchHeaderSize - kLogOverhead, kBatchLengthOffset)
  empty.writeUInt16BE(empty.readUInt16BE(kAttributesOffset) & ~kCompressionMask, kAttributesOffset)
  empty.writeInt32BE(0, kRecordCountOffset)
  empty.writeUInt32BE(crc32c(empty.subarray(kAttributesOffset)), kCrcOffset)
  return empty
}

/** The max timestamp of the first batch of a segment file (Kafka's first batch timestamp), -1 when none. */
function firstBatchTimestamp (path: string): number {
  const fd = openSync(path, 'r')
  try {
    const header = Buffer.allocUnsafe(kBatchHeaderSize)
    return readFully(fd, header, 0, kBatchHeaderSize, 0) === kBatchHeaderSize ? readInt64(header, kMaxTimestampOffset) : -1
  } finally {
    closeSync(fd)
  }
}

/** What CompactionTask needs of a worker's partition (src/shard/shard.ts's LocalPartition has it). */
export interface CleanablePartition {
  readonly topic: { readonly name: string, readonly configs: Readonly<Record<string, string>> }
  readonly log: PartitionLog
}

/** What CompactionTask builds its LogCleaner with: its own `resume` hook wakes the maintenance. */
export interface CompactionTaskOptions extends Omit<LogCleanerOptions, 'resume'> {
  /** One cleanSlice's budget in ms (default 2). */
  sliceBudgetMs?: number
}

/**
 * Compaction as a task of the worker's log maintenance (src/shard/log-maintenance.ts: PartitionMaintenanceTask,
 * matched structurally since log/ does not import shard/): each step runs one cleanSlice of `sliceBudgetMs` on
 * the partition and asks to be called again while the clean is working. A clean waiting for an fsync or for
 * the codec (both on libuv's pool) is stepped again as soon as that is done: the cleaner's resume hook calls
 * the `wake` the maintenance bound (bindWake), which steps the partition on the next setImmediate. So a clean
 * of N groups takes about the time of its work and its fsyncs, not N passes (log.cleaner.backoff.ms apart).
 * A throttled clean is woken by a timer once the rate limit allows more (throttledForMs), at least 1 ms later.
 */
export class CompactionTask {
  readonly name = 'compaction'
  readonly cleaner: LogCleaner
  readonly #sliceBudgetMs: number
  #waker: { wake (partition: CleanablePartition): void } | null = null
  /** The partition whose log the cleaner's job is cleaning (the one to wake), null when none. */
  #cleaning: CleanablePartition | null = null
  /** The wake of a throttled clean, pending (unref'd: it does not keep the thread alive). */
  #throttleTimer: NodeJS.Timeout | null = null

  constructor (options: CompactionTaskOptions = {}) {
    this.cleaner = new LogCleaner({ ...options, resume: () => { this.#resumeCleaning() } })
    this.#sliceBudgetMs = options.sliceBudgetMs ?? 2
  }

  /** The maintenance running this task: its wake(partition) steps it on `partition` soon (next setImmediate). */
  bindWake (waker: { wake (partition: CleanablePartition): void }): void {
    this.#waker = waker
  }

  step (partition: CleanablePartition, nowMs: number): boolean {
    const topic = partition.topic
    const state = this.cleaner.cleanSlice(partition.log, topic.name, topic.configs, nowMs, this.#sliceBudgetMs).state
    const cleaning = this.cleaner.cleaning
    if (cleaning === partition.log) this.#cleaning = partition
    else if (cleaning === null) this.#cleaning = null
    if (state === kCleanThrottled && this.#waker !== null && this.#throttleTimer === null) {
      count('log-cleaner-throttle-waits')
      this.#throttleTimer = setTimeout(resumeThrottledClean, Math.max(1, Math.ceil(this.cleaner.throttledForMs)), this)
      this.#throttleTimer.unref()
    }
    return state === kCleanWorking
  }

  /** The throttle timer's callback (module-level resumeThrottledClean calls it). */
  resumeThrottled (): void {
    this.#throttleTimer = null
    this.#resumeCleaning()
  }

  #resumeCleaning (): void {
    const partition = this.#cleaning
    if (partition !== null && this.#waker !== null) this.#waker.wake(partition)
  }
}

function resumeThrottledClean (task: CompactionTask): void {
  task.resumeThrottled()
}
