// One segment of a partition log: the batches from `baseOffset` on, in three files named by the base offset
// zero-padded to 20 digits (the names sort by offset):
//
//   <base>.log        record batches (magic v2) back to back, exactly as produced, offsets assigned
//   <base>.index      offset index: entries [int32 offset - base][int32 position of that batch in .log], one every
//                     `indexIntervalBytes` of log data; both columns strictly increasing
//   <base>.timeindex  time index: entries [int64 timestamp][int32 offset - base]: the segment's max timestamp so far
//                     and the batch that reached it, appended at index points when the max has grown, and once
//                     more when the segment is sealed, so that the last entry holds the segment's max timestamp
//
// The active segment (the last one) keeps its indexes in memory and writes them to their files when sealed or
// closed: index entries are not appended with a syscall each, and after an unclean shutdown the last segment's
// indexes are rebuilt from the log anyway. Sealed segments load their indexes from the files on first use.
//
// File descriptors: only the active segment keeps its .log open for its lifetime. A sealed segment's .log is
// opened on first use (a fetch, a lookup, a recovery scan) and then kept in the thread's LRU of open segment
// files (`openSegmentFiles`, at most `maxOpenSegmentFiles` of them across every partition of the thread); the
// least recently used is closed when the LRU is full. Every use of an fd is synchronous and starts with openFd(),
// so closing a victim between two uses never breaks a read; the one asynchronous use, the fdatasync of a flush,
// pins its segment (`syncing`) and the LRU passes pinned segments over. Index files are never held open.
//
// Used by one thread only. Appends write with fs.writeSync (may block on the page cache, never on the disk);
// fsync is the PartitionLog's business (flush), never done here.
import {
  closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync,
  unlinkSync, writeFileSync, writeSync
} from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from './files.ts'
import { count } from '../counters.ts'
import { crc32c } from '../protocol/crc32c.ts'
import {
  kAttributesOffset, kBatchHeaderSize, kControlBit, kBatchLengthOffset, kCrcOffset, kLastOffsetDeltaOffset, kLogOverhead,
  kMagicOffset, kMaxTimestampOffset
} from '../protocol/record-batch-layout.ts'
import { readInt64, writeInt64 } from '../protocol/int64.ts'

export const kLogSuffix = '.log'
export const kIndexSuffix = '.index'
export const kTimeIndexSuffix = '.timeindex'
/** Appended to a segment file's name when retention deletes it; removed after file.delete.delay.ms. */
export const kDeletedSuffix = '.deleted'
export const kOffsetIndexEntrySize = 8
export const kTimeIndexEntrySize = 12
/** The smallest valid batchLength: a batch header with no records. */
export const kMinBatchLength = kBatchHeaderSize - kLogOverhead
/** Index entries hold positions and relative offsets as int32, which bounds a segment's size and offset span. */
export const kMaxSegmentBytes = 0x7fffffff
export const kMaxRelativeOffset = 0x7fffffff

const kMagicV2 = 2
// Header scans (locating a batch, replaying producer state) read the file through a window of this size.
const kHeaderWindowBytes = 16 * 1024
// Recovery reads the file in chunks of this size; larger batches get a buffer of their own.
const kRecoveryChunkBytes = 1024 * 1024

export function offsetFileName (offset: number, suffix: string): string {
  return String(offset).padStart(20, '0') + suffix
}

/** The offset a file is named by, or -1 when `name` is not 20 digits followed by `suffix`. */
export function parseOffsetFileName (name: string, suffix: string): number {
  if (name.length !== 20 + suffix.length || !name.endsWith(suffix)) return -1
  const digits = name.slice(0, 20)
  return /^\d{20}$/.test(digits) ? Number(digits) : -1
}

/** fs.readSync until `length` bytes are read or the file ends; returns the count read. */
export function readFully (fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  let total = 0
  while (total < length) {
    const count = readSync(fd, buffer, offset + total, length - total, position + total)
    if (count === 0) break
    total += count
  }
  return total
}

/** Default cap of the thread's LRU of open sealed segment files (`--max-open-segment-files`). */
export const kDefaultMaxOpenSegmentFiles = 256

/**
 * The thread's sealed segments whose .log fd is open, least recently used first (a Set keeps insertion order;
 * a use moves the segment to the end). Active segments are not in it: their fds stay open.
 */
class OpenSegmentFiles {
  limit = kDefaultMaxOpenSegmentFiles
  private readonly open = new Set<LogSegment>()

  get size (): number {
    return this.open.size
  }

  used (segment: LogSegment): void {
    this.open.delete(segment)
    this.open.add(segment)
    if (this.open.size > this.limit) this.trim(segment)
  }

  forget (segment: LogSegment): void {
    this.open.delete(segment)
  }

  /**
   * Closes the least recently used files beyond the limit, passing over those a flush is fsyncing and `keep`
   * (the one being opened for use: with the others pinned, the LRU stays over its limit for a while instead).
   */
  trim (keep: LogSegment | null = null): void {
    for (const segment of this.open) {
      if (this.open.size <= this.limit) return
      if (segment.syncing > 0 || segment === keep) continue
      this.open.delete(segment)
      segment.closeFd()
      count('segment-files-evicted')
    }
  }
}

const openSegmentFiles = new OpenSegmentFiles()

/** Sets the cap of this thread's LRU of open sealed segment files (at least 1), closing files beyond it. */
export function setMaxOpenSegmentFiles (limit: number): void {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError('maxOpenSegmentFiles must be an integer >= 1')
  openSegmentFiles.limit = limit
  openSegmentFiles.trim()
}

/** Sealed segment files open on this thread now (tests and operators). */
export function openSegmentFileCount (): number {
  return openSegmentFiles.size
}

/** Called by a flush that no longer pins a segment: closes files the LRU had to keep past its limit. */
export function trimOpenSegmentFiles (): void {
  openSegmentFiles.trim()
}

function unlinkIfExists (path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}

/**
 * The offset index in memory, in its file format ([int32 relativeOffset][int32 position] entries, big-endian) so
 * that loading a sealed segment's index is one file read with no decoding pass, and persisting is a write of a
 * slice. The active segment's buffer doubles as it fills.
 */
export class OffsetIndex {
  private entries: Buffer
  count: number
  /** Entries [0, persistedCount) are in the .index file. */
  persistedCount: number

  /** An empty index, or one over `fileContents` (entries as in the file; trusted, see validate()). */
  constructor (fileContents?: Buffer) {
    this.entries = fileContents ?? Buffer.allocUnsafe(64 * kOffsetIndexEntrySize)
    this.count = fileContents === undefined ? 0 : Math.floor(fileContents.length / kOffsetIndexEntrySize)
    this.persistedCount = this.count
  }

  append (relativeOffset: number, position: number): void {
    const at = this.count * kOffsetIndexEntrySize
    if (at + kOffsetIndexEntrySize > this.entries.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.entries.length * 2, 64 * kOffsetIndexEntrySize))
      this.entries.copy(grown, 0, 0, at)
      this.entries = grown
    }
    this.entries.writeInt32BE(relativeOffset, at)
    this.entries.writeInt32BE(position, at + 4)
    this.count++
  }

  relativeOffsetAt (index: number): number {
    return this.entries.readInt32BE(index * kOffsetIndexEntrySize)
  }

  positionAt (index: number): number {
    return this.entries.readInt32BE(index * kOffsetIndexEntrySize + 4)
  }

  /** Position of the last entry whose relative offset is <= `relativeOffset`; 0 (the segment start) if none. */
  floorPosition (relativeOffset: number): number {
    const found = this.floorEntry(relativeOffset)
    return found < 0 ? 0 : this.entries.readInt32BE(found * kOffsetIndexEntrySize + 4)
  }

  /** Index of the last entry whose relative offset is <= `relativeOffset`; -1 if none. */
  floorEntry (relativeOffset: number): number {
    const entries = this.entries
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (entries.readInt32BE(middle * kOffsetIndexEntrySize) <= relativeOffset) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found
  }

  /** Entries [from, to) in the file format: a view, to be written before the next append. */
  encode (from: number, to: number): Buffer {
    return this.entries.subarray(from * kOffsetIndexEntrySize, to * kOffsetIndexEntrySize)
  }

  /**
   * An index over an .index file's contents, or null when they are not a valid index of a log of `logSize`
   * bytes with relative offsets below `relativeOffsetLimit`: a torn entry, keys or positions not strictly
   * increasing, or past the end.
   */
  static decode (fileContents: Buffer, logSize: number, relativeOffsetLimit: number): OffsetIndex | null {
    if (fileContents.length % kOffsetIndexEntrySize !== 0) return null
    let previousOffset = -1
    let previousPosition = -1
    for (let at = 0; at < fileContents.length; at += kOffsetIndexEntrySize) {
      const relativeOffset = fileContents.readInt32BE(at)
      const position = fileContents.readInt32BE(at + 4)
      if (relativeOffset <= previousOffset || position <= previousPosition || position >= logSize ||
        relativeOffset >= relativeOffsetLimit) return null
      previousOffset = relativeOffset
      previousPosition = position
    }
    return new OffsetIndex(fileContents)
  }
}

/**
 * The time index in memory, in its file format ([int64 timestamp][int32 relativeOffset] entries, big-endian):
 * strictly increasing timestamps, each with the relative offset of the batch that reached it.
 */
export class TimeIndex {
  private entries: Buffer
  count: number
  /** Entries [0, persistedCount) are in the .timeindex file. */
  persistedCount: number

  constructor (fileContents?: Buffer) {
    this.entries = fileContents ?? Buffer.allocUnsafe(64 * kTimeIndexEntrySize)
    this.count = fileContents === undefined ? 0 : Math.floor(fileContents.length / kTimeIndexEntrySize)
    this.persistedCount = this.count
  }

  get lastTimestamp (): number {
    return this.count === 0 ? -1 : readInt64(this.entries, (this.count - 1) * kTimeIndexEntrySize)
  }

  get lastRelativeOffset (): number {
    return this.count === 0 ? -1 : this.entries.readInt32BE((this.count - 1) * kTimeIndexEntrySize + 8)
  }

  append (timestamp: number, relativeOffset: number): void {
    const at = this.count * kTimeIndexEntrySize
    if (at + kTimeIndexEntrySize > this.entries.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.entries.length * 2, 64 * kTimeIndexEntrySize))
      this.entries.copy(grown, 0, 0, at)
      this.entries = grown
    }
    writeInt64(this.entries, at, timestamp)
    this.entries.writeInt32BE(relativeOffset, at + 8)
    this.count++
  }

  /**
   * Relative offset of the last entry whose timestamp is < `timestamp`, or -1 when none. Every batch up to that
   * entry's batch has a max timestamp below `timestamp`, so a search for it may start there.
   */
  relativeOffsetBefore (timestamp: number): number {
    const entries = this.entries
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if (readInt64(entries, middle * kTimeIndexEntrySize) < timestamp) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found < 0 ? -1 : entries.readInt32BE(found * kTimeIndexEntrySize + 8)
  }

  /** Entries [from, to) in the file format: a view, to be written before the next append. */
  encode (from: number, to: number): Buffer {
    return this.entries.subarray(from * kTimeIndexEntrySize, to * kTimeIndexEntrySize)
  }

  /** An index over a .timeindex file's contents; null when torn, not increasing, or at/past the limit. */
  static decode (fileContents: Buffer, relativeOffsetLimit: number): TimeIndex | null {
    if (fileContents.length % kTimeIndexEntrySize !== 0) return null
    let previousTimestamp = -Infinity
    for (let at = 0; at < fileContents.length; at += kTimeIndexEntrySize) {
      const timestamp = readInt64(fileContents, at)
      const relativeOffset = fileContents.readInt32BE(at + 8)
      if (timestamp <= previousTimestamp || relativeOffset < 0 || relativeOffset >= relativeOffsetLimit) return null
      previousTimestamp = timestamp
    }
    return new TimeIndex(fileContents)
  }
}

/**
 * Reads batch headers through a window, so that scanning many small batches costs one read per window rather
 * than one per batch. One per thread (module scope): scans are synchronous and never nested; each starts with
 * reset(), since the file may have grown or the fd been reused since the last one.
 */
class HeaderWindow {
  readonly buffer = Buffer.allocUnsafeSlow(kHeaderWindowBytes)
  private fd = -1
  private start = 0
  private length = 0

  reset (fd: number): void {
    this.fd = fd
    this.start = 0
    this.length = 0
  }

  /** Offset in `buffer` of the full batch header at `position`; -1 when fewer header bytes remain in the file. */
  headerAt (position: number, fileSize: number): number {
    if (position >= this.start && position + kBatchHeaderSize <= this.start + this.length) return position - this.start
    if (fileSize - position < kBatchHeaderSize) return -1
    this.length = readFully(this.fd, this.buffer, 0, Math.min(this.buffer.length, fileSize - position), position)
    this.start = position
    return this.length >= kBatchHeaderSize ? 0 : -1
  }

  /**
   * Where the whole batch of `size` bytes at file `position` starts in the buffer, reading again from there
   * when the window holds only part of it; -1 when it is larger than the window or the file ends first.
   */
  batchAt (position: number, size: number, fileSize: number): number {
    if (position >= this.start && position + size <= this.start + this.length) return position - this.start
    if (size > this.buffer.length || fileSize - position < size) return -1
    this.length = readFully(this.fd, this.buffer, 0, Math.min(this.buffer.length, fileSize - position), position)
    this.start = position
    return this.length >= size ? 0 : -1
  }
}

const headerWindow = new HeaderWindow()
let recoveryChunk: Buffer | null = null

/** What a sealed segment looks like to an uploader (tiered storage) or an operator. */
export interface SegmentInfo {
  baseOffset: number
  /** One past the last offset in the segment. */
  nextOffset: number
  size: number
  maxTimestamp: number
  logPath: string
  indexPath: string
  timeIndexPath: string
}

/** Called for each batch of a header scan: the header is at buffer[at, at + 61); `position` is its file position. */
export type HeaderVisitor = (buffer: Buffer, at: number, position: number) => void

export class LogSegment {
  readonly baseOffset: number
  readonly logPath: string
  readonly indexPath: string
  readonly timeIndexPath: string
  readonly indexIntervalBytes: number
  /**
   * The .log fd, -1 while closed; use openFd(), which opens it when needed. The active segment's is opened 'a+'
   * (writes append, reads are positional), a sealed one's 'r+' (reads; recovery may truncate).
   */
  fd: number
  /** Flushes fsyncing this segment's fd right now: the LRU must not close it meanwhile. */
  syncing = 0
  /** Bytes of valid batches in the .log file. */
  size: number
  /** One past the last offset in the segment; baseOffset while empty. */
  nextOffset: number
  /** Largest batch max timestamp in the segment (-1 when none) and the base offset of the batch that has it. */
  maxTimestamp = -1
  offsetOfMaxTimestamp = -1
  bytesSinceLastIndexEntry = 0
  /** Wall-clock time of the first append to this segment (or of its opening), for time-based rolling. */
  createdAtMs = -1
  sealed = false
  deleted = false
  /** Null while a sealed segment's indexes are not loaded. */
  offsetIndex: OffsetIndex | null = null
  timeIndex: TimeIndex | null = null
  /** Size of the batch found by the last locate() or findByTimestamp(). */
  lastLocatedSize = 0
  /** Set when a failed append left bytes that could not be truncated away: the segment must not be appended to. */
  tornByFailedWrite = false

  private constructor (directory: string, baseOffset: number, indexIntervalBytes: number, fd: number, size: number) {
    this.baseOffset = baseOffset
    this.logPath = join(directory, offsetFileName(baseOffset, kLogSuffix))
    this.indexPath = join(directory, offsetFileName(baseOffset, kIndexSuffix))
    this.timeIndexPath = join(directory, offsetFileName(baseOffset, kTimeIndexSuffix))
    this.indexIntervalBytes = indexIntervalBytes
    this.fd = fd
    this.size = size
    this.nextOffset = baseOffset
  }

  /**
   * Creates an empty active segment; its files must not exist yet (or be empty). When creating a file fails (no
   * inode or page left), the files made so far are removed again, so that a later roll can retry.
   */
  static create (directory: string, baseOffset: number, indexIntervalBytes: number): LogSegment {
    const fd = openSync(join(directory, offsetFileName(baseOffset, kLogSuffix)), 'a+')
    if (fstatSync(fd).size !== 0) {
      closeSync(fd)
      throw new Error(`segment ${baseOffset} already exists in ${directory}`)
    }
    const segment = new LogSegment(directory, baseOffset, indexIntervalBytes, fd, 0)
    try {
      writeFileSync(segment.indexPath, '')
      writeFileSync(segment.timeIndexPath, '')
    } catch (error) {
      segment.closeFd()
      try {
        segment.deleteFiles()
      } catch {}
      throw error
    }
    segment.offsetIndex = new OffsetIndex()
    segment.timeIndex = new TimeIndex()
    return segment
  }

  /**
   * An existing segment, its .log not opened yet (see openFd()); its end and indexes are unknown until
   * checkSealed(), loadActive() or rebuild().
   */
  static openExisting (directory: string, baseOffset: number, indexIntervalBytes: number): LogSegment {
    const size = statSync(join(directory, offsetFileName(baseOffset, kLogSuffix))).size
    return new LogSegment(directory, baseOffset, indexIntervalBytes, -1, size)
  }

  /** The .log fd, opened when closed; a sealed segment's use is noted in the thread's LRU. */
  openFd (): number {
    if (this.fd < 0) this.fd = openSync(this.logPath, this.sealed ? 'r+' : 'a+')
    if (this.sealed) openSegmentFiles.used(this)
    return this.fd
  }

  get isEmpty (): boolean {
    return this.size === 0
  }

  info (): SegmentInfo {
    return {
      baseOffset: this.baseOffset,
      nextOffset: this.nextOffset,
      size: this.size,
      maxTimestamp: this.maxTimestamp,
      logPath: this.logPath,
      indexPath: this.indexPath,
      timeIndexPath: this.timeIndexPath
    }
  }

  /**
   * Appends a batch whose offsets are already assigned (bytes 0..7 hold `baseOffset`). On a failed write the
   * file is truncated back so that no partial batch stays behind; if even that fails, `tornByFailedWrite` is set.
   */
  append (batch: Buffer, baseOffset: number, lastOffset: number, maxTimestamp: number): void {
    const position = this.size
    const fd = this.openFd()
    let written = 0
    try {
      while (written < batch.length) written += writeSync(fd, batch, written, batch.length - written)
    } catch (error) {
      try {
        ftruncateSync(fd, position)
      } catch {
        this.tornByFailedWrite = true
      }
      throw error
    }
    this.track(position, baseOffset, lastOffset, maxTimestamp, batch.length)
  }

  /** Accounts for a batch at `position` (appended or found by recovery): indexes, max timestamp, end. */
  private track (position: number, baseOffset: number, lastOffset: number, maxTimestamp: number, length: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = baseOffset
    }
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex!.append(baseOffset - this.baseOffset, position)
      this.maybeAppendTimeIndex()
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += length
    this.size = position + length
    this.nextOffset = lastOffset + 1
  }

  private maybeAppendTimeIndex (): void {
    const timeIndex = this.timeIndex!
    if (this.maxTimestamp > timeIndex.lastTimestamp) {
      timeIndex.append(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset)
    }
  }

  /** Reads `length` bytes at `position` into target[targetOffset, ...); returns the count read. */
  readInto (position: number, target: Buffer, targetOffset: number, length: number): number {
    return readFully(this.openFd(), target, targetOffset, length, position)
  }

  /**
   * Position of the batch that contains `offset`, via the offset index and then a scan of batch headers; -1 when
   * the segment holds no such batch. Sets lastLocatedSize. Indexes must be loaded.
   */
  locate (offset: number): number {
    let position = this.indexedPosition(offset - this.baseOffset)
    const buffer = headerWindow.buffer
    while (position < this.size) {
      const at = headerWindow.headerAt(position, this.size)
      if (at < 0) return -1
      const length = kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset)
      if (readInt64(buffer, at) + buffer.readInt32BE(at + kLastOffsetDeltaOffset) >= offset) {
        this.lastLocatedSize = length
        return position
      }
      position += length
    }
    return -1
  }

  /**
   * Position of the offset index's last entry at or below `relativeOffset` (0 when none), checked against the log
   * before a scan starts there, and the header window reset for that scan. Index files are checked only for their
   * form when loaded (a sealed segment's at open by its last entries, then by a decode pass on first use; the
   * active one's after a clean shutdown by a decode pass), so an entry may be wrong however plausible it looks:
   * the header at its position must be a batch (magic 2) whose base offset is the entry's. One that is not gets
   * the indexes rebuilt from the log (rebuildIndexes()) and the lookup made again, rather than a scan from the
   * middle of a batch serving garbage. The check reads the header the scan reads first anyway, through the same
   * window; an index built by appends (track()) always passes it.
   */
  private indexedPosition (relativeOffset: number): number {
    headerWindow.reset(this.openFd())
    const entry = this.offsetIndex!.floorEntry(relativeOffset)
    if (entry < 0) return 0
    const position = this.offsetIndex!.positionAt(entry)
    const at = position < this.size ? headerWindow.headerAt(position, this.size) : -1
    if (at >= 0 && headerWindow.buffer[at + kMagicOffset] === kMagicV2 &&
      readInt64(headerWindow.buffer, at) === this.baseOffset + this.offsetIndex!.relativeOffsetAt(entry)) return position
    count('segment-indexes-rebuilt')
    this.rebuildIndexes()
    headerWindow.reset(this.openFd())
    return this.offsetIndex!.floorPosition(relativeOffset)
  }

  /** Empty indexes and timestamp bookkeeping, for a rebuild that tracks every batch again from the start. */
  private clearIndexes (): void {
    this.offsetIndex = new OffsetIndex()
    this.timeIndex = new TimeIndex()
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = -1
    this.bytesSinceLastIndexEntry = 0
  }

  /**
   * Rebuilds the segment's indexes in memory from its batch headers (framing only: the batches were checked when
   * appended or recovered; nothing is truncated, size and nextOffset stay), then writes them to their files.
   * A write that fails (a full disk) leaves the files as they were: the indexes in memory serve meanwhile, and the
   * next load of the files finds the fault again. Reads otherwise never write; this one repairs.
   */
  rebuildIndexes (): void {
    const { size, nextOffset } = this
    this.clearIndexes()
    headerWindow.reset(this.openFd())
    const buffer = headerWindow.buffer
    // track() moves this.size along; the walk is bounded by the size the segment had.
    for (let position = 0; position < size;) {
      const at = headerWindow.headerAt(position, size)
      if (at < 0) break
      const length = kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset)
      if (length < kBatchHeaderSize) break
      const baseOffset = readInt64(buffer, at)
      this.track(position, baseOffset, baseOffset + buffer.readInt32BE(at + kLastOffsetDeltaOffset), readInt64(buffer, at + kMaxTimestampOffset), length)
      position += length
    }
    this.size = size
    this.nextOffset = nextOffset
    this.maybeAppendTimeIndex()
    try {
      this.writeIndexFiles()
    } catch {
      count('storage-errors')
    }
  }

  /**
   * Position of the first batch at or after `fromPosition` whose max timestamp is >= `timestamp` and whose last
   * offset is >= `minOffset`; -1 when none. When `fromPosition` is -1 the search starts where the time index
   * allows. Sets lastLocatedSize. Indexes must be loaded.
   */
  findByTimestamp (timestamp: number, minOffset: number, fromPosition: number): number {
    let position = fromPosition
    if (position < 0) {
      const relativeOffset = this.timeIndex!.relativeOffsetBefore(timestamp)
      position = this.indexedPosition(Math.max(relativeOffset, minOffset - this.baseOffset))
    } else {
      headerWindow.reset(this.openFd())
    }
    const buffer = headerWindow.buffer
    while (position < this.size) {
      const at = headerWindow.headerAt(position, this.size)
      if (at < 0) return -1
      const length = kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset)
      if (readInt64(buffer, at + kMaxTimestampOffset) >= timestamp &&
        readInt64(buffer, at) + buffer.readInt32BE(at + kLastOffsetDeltaOffset) >= minOffset) {
        this.lastLocatedSize = length
        return position
      }
      position += length
    }
    return -1
  }

  /**
   * Calls `visit` for each batch header from `position` (a batch boundary) to the end of the segment. A control
   * batch (a transaction marker, a few dozen bytes) is visited whole, so that its record can be read.
   */
  forEachHeader (position: number, visit: HeaderVisitor): void {
    headerWindow.reset(this.openFd())
    const buffer = headerWindow.buffer
    while (position < this.size) {
      let at = headerWindow.headerAt(position, this.size)
      if (at < 0) return
      const size = kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset)
      if ((buffer.readUInt16BE(at + kAttributesOffset) & kControlBit) !== 0) {
        const whole = headerWindow.batchAt(position, size, this.size)
        if (whole >= 0) at = whole
      }
      visit(buffer, at, position)
      position += size
    }
  }

  /**
   * Validates the batches from `position` (a batch boundary where `expectedOffset` starts) to the end of the file,
   * tracking each valid one as an append would. A batch is valid when its batchLength is at least 49 and fits in
   * the file, its magic is 2, its CRC-32C matches, its baseOffset is at least `expectedOffset` (offsets increase;
   * the log cleaner leaves gaps) and its offsets fit the segment. The file is truncated at the first invalid batch
   * (a torn or corrupted tail).
   * Returns the number of bytes truncated.
   */
  private recoverFrom (position: number, expectedOffset: number): number {
    const fd = this.openFd()
    const fileSize = fstatSync(fd).size
    this.size = position
    this.nextOffset = expectedOffset
    const chunk = recoveryChunk ??= Buffer.allocUnsafeSlow(kRecoveryChunkBytes)
    let chunkStart = 0
    let chunkLength = 0
    while (fileSize - position >= kBatchHeaderSize) {
      if (position < chunkStart || position + kBatchHeaderSize > chunkStart + chunkLength) {
        chunkLength = readFully(fd, chunk, 0, Math.min(chunk.length, fileSize - position), position)
        chunkStart = position
        if (chunkLength < kBatchHeaderSize) break
      }
      const batchLength = chunk.readInt32BE(position - chunkStart + kBatchLengthOffset)
      if (batchLength < kMinBatchLength || batchLength > fileSize - position - kLogOverhead) break
      const size = kLogOverhead + batchLength
      let batch: Buffer
      if (position + size <= chunkStart + chunkLength) {
        batch = chunk.subarray(position - chunkStart, position - chunkStart + size)
      } else if (size <= chunk.length) {
        chunkLength = readFully(fd, chunk, 0, Math.min(chunk.length, fileSize - position), position)
        chunkStart = position
        if (chunkLength < size) break
        batch = chunk.subarray(0, size)
      } else {
        batch = Buffer.allocUnsafe(size)
        if (readFully(fd, batch, 0, size, position) < size) break
      }
      if (batch[kMagicOffset] !== kMagicV2) break
      if (batch.readUInt32BE(kCrcOffset) !== crc32c(batch.subarray(kAttributesOffset))) break
      const baseOffset = readInt64(batch, 0)
      const lastOffsetDelta = batch.readInt32BE(kLastOffsetDeltaOffset)
      // Offsets increase; gaps are the log cleaner's (cleaner.ts: compaction never renumbers).
      if (baseOffset < expectedOffset || lastOffsetDelta < 0) break
      const lastOffset = baseOffset + lastOffsetDelta
      if (lastOffset - this.baseOffset > kMaxRelativeOffset || position + size > kMaxSegmentBytes) break
      this.track(position, baseOffset, lastOffset, readInt64(batch, kMaxTimestampOffset), size)
      position += size
      expectedOffset = lastOffset + 1
    }
    if (position < fileSize) ftruncateSync(fd, position)
    return fileSize - position
  }

  /**
   * Full recovery: validates every batch (truncating at the first invalid one) and rebuilds both indexes from
   * the log, replacing their files. Returns the number of log bytes truncated.
   */
  rebuild (): number {
    this.clearIndexes()
    const truncated = this.recoverFrom(0, this.baseOffset)
    this.maybeAppendTimeIndex()
    this.writeIndexFiles()
    return truncated
  }

  /**
   * Full recovery of the last (active) segment after an unclean shutdown: validates every batch as rebuild() does
   * (truncating at the first invalid one) and rebuilds both indexes in memory, but does not replace their files.
   * An active segment keeps its indexes in memory and appends what its files lack when it is sealed or closed
   * (persistIndexes(), before a roll makes a newer segment and before the clean-shutdown marker), and after an
   * unclean shutdown the last segment is rebuilt whatever its files say: so its files need only hold a prefix of
   * the indexes. What they hold is kept as far as it agrees entry for entry with the rebuilt indexes (after a
   * clean start and then kill -9: everything persisted at the last clean close) and cut there (truncateSync: a
   * recovery that truncated the log cuts the entries past its end). rebuild()'s rename over each index file
   * costs, on ext4, a flush of the new file before the rename commits (its replace-via-rename heuristic): with
   * the disk busy, 1,000 partitions' renames took 18 of the 26 s a restart after kill -9 spent recovering.
   * Returns the number of log bytes truncated.
   */
  rebuildActive (): number {
    this.clearIndexes()
    const truncated = this.recoverFrom(0, this.baseOffset)
    this.maybeAppendTimeIndex()
    const offsetIndex = this.offsetIndex!
    const timeIndex = this.timeIndex!
    offsetIndex.persistedCount = keepAgreeingPrefix(this.indexPath, offsetIndex.encode(0, offsetIndex.count), kOffsetIndexEntrySize)
    timeIndex.persistedCount = keepAgreeingPrefix(this.timeIndexPath, timeIndex.encode(0, timeIndex.count), kTimeIndexEntrySize)
    return truncated
  }

  /**
   * Opens the last segment after a clean shutdown: loads its indexes and validates the batches after the last
   * index entry (written since the indexes were last persisted). Returns false, changing nothing that rebuild()
   * would not redo, when anything is off: the caller then rebuilds.
   */
  loadActive (): boolean {
    const offsetIndex = readOffsetIndex(this.indexPath, this.size, kMaxRelativeOffset)
    const timeIndex = readTimeIndex(this.timeIndexPath, kMaxRelativeOffset)
    if (offsetIndex === null || timeIndex === null) return false
    this.offsetIndex = offsetIndex
    this.timeIndex = timeIndex
    this.maxTimestamp = timeIndex.lastTimestamp
    this.offsetOfMaxTimestamp = timeIndex.count === 0 ? -1 : this.baseOffset + timeIndex.lastRelativeOffset
    this.bytesSinceLastIndexEntry = 0
    const last = offsetIndex.count - 1
    const position = last < 0 ? 0 : offsetIndex.positionAt(last)
    const expectedOffset = this.baseOffset + (last < 0 ? 0 : offsetIndex.relativeOffsetAt(last))
    if (this.recoverFrom(position, expectedOffset) !== 0) return false
    if (this.size === position && last >= 0) return false
    return timeIndex.count === 0 || this.offsetOfMaxTimestamp < this.nextOffset
  }

  /**
   * Checks a sealed segment's index files cheaply (sizes, last entries) and takes its end from the next segment's
   * base offset and its max timestamp from the last time index entry. Returns false when they cannot be
   * trusted: the caller then rebuilds.
   */
  checkSealed (nextBaseOffset: number): boolean {
    const relativeOffsetLimit = nextBaseOffset - this.baseOffset
    const lastIndexEntry = readLastEntry(this.indexPath, kOffsetIndexEntrySize)
    const lastTimeEntry = readLastEntry(this.timeIndexPath, kTimeIndexEntrySize)
    if (lastIndexEntry === null || lastTimeEntry === null) return false
    if (lastIndexEntry.length > 0) {
      const relativeOffset = lastIndexEntry.readInt32BE(0)
      const position = lastIndexEntry.readInt32BE(4)
      if (relativeOffset < 0 || relativeOffset >= relativeOffsetLimit || position < 0 || position >= this.size) return false
    }
    if (lastTimeEntry.length > 0) {
      const relativeOffset = lastTimeEntry.readInt32BE(8)
      if (relativeOffset < 0 || relativeOffset >= relativeOffsetLimit) return false
      this.maxTimestamp = readInt64(lastTimeEntry, 0)
      this.offsetOfMaxTimestamp = this.baseOffset + relativeOffset
    }
    if (this.size === 0) return false
    this.nextOffset = nextBaseOffset
    this.sealed = true
    return true
  }

  get indexesLoaded (): boolean {
    return this.offsetIndex !== null
  }

  /**
   * Loads a sealed segment's indexes from their files: one read each and a decode pass (entries whole, strictly
   * increasing, within the segment; checkSealed() looked at their last entries only, at open). Each lookup then
   * checks the entry it starts from against the log (indexedPosition()). A file that is gone, torn or fails the
   * decode gets both indexes rebuilt from the log (rebuildIndexes(): the data is not truncated by a read).
   */
  loadIndexes (): void {
    if (this.offsetIndex !== null) return
    let offsetIndex: OffsetIndex | null = null
    let timeIndex: TimeIndex | null = null
    try {
      offsetIndex = OffsetIndex.decode(readFileSync(this.indexPath), this.size, this.nextOffset - this.baseOffset)
      timeIndex = TimeIndex.decode(readFileSync(this.timeIndexPath), this.nextOffset - this.baseOffset)
    } catch {}
    if (offsetIndex === null || timeIndex === null) {
      count('segment-indexes-rebuilt')
      this.rebuildIndexes()
      return
    }
    this.offsetIndex = offsetIndex
    this.timeIndex = timeIndex
  }

  /** Drops a sealed segment's in-memory indexes (they are in their files); the next lookup loads them again. */
  unloadIndexes (): void {
    if (this.sealed) {
      this.offsetIndex = null
      this.timeIndex = null
    }
  }

  /** Seals the segment (it will get no more appends): final time index entry, indexes written to their files. */
  seal (): void {
    this.maybeAppendTimeIndex()
    this.persistIndexes()
    this.sealed = true
    if (this.fd >= 0) openSegmentFiles.used(this)
  }

  /** Undoes seal() after a roll failed past it: the segment is the active one again (its fd not in the LRU). */
  unseal (): void {
    this.sealed = false
    openSegmentFiles.forget(this)
  }

  /**
   * After a failed fsync: reads back the batches from `position` (a batch boundary) to the end, checks each
   * (framing, magic, CRC-32C, offsets increasing from `expectedOffset`) and writes it again at the same place,
   * through an fd of its own ('r+': a positional write on the 'a+' fd would append). Writing dirties the pages
   * again, so that the next fsync really writes them (Linux marks pages whose writeback failed clean);
   * `expectedOffset` -1 takes the first batch's base offset as it is. Returns
   * false, having stopped there, at a batch that no longer checks out (the page cache lost it); throws when a
   * read or a write fails.
   */
  rewriteFrom (position: number, expectedOffset: number): boolean {
    const fd = openSync(this.logPath, 'r+')
    try {
      const header = Buffer.allocUnsafe(kBatchHeaderSize)
      while (position < this.size) {
        if (this.size - position < kBatchHeaderSize || readFully(fd, header, 0, kBatchHeaderSize, position) < kBatchHeaderSize) return false
        const size = kLogOverhead + header.readInt32BE(kBatchLengthOffset)
        if (size < kBatchHeaderSize || position + size > this.size) return false
        const batch = Buffer.allocUnsafe(size)
        if (readFully(fd, batch, 0, size, position) < size) return false
        if (batch[kMagicOffset] !== kMagicV2 || (expectedOffset >= 0 && readInt64(batch, 0) < expectedOffset) ||
          batch.readUInt32BE(kCrcOffset) !== crc32c(batch.subarray(kAttributesOffset))) return false
        let written = 0
        while (written < size) written += writeSync(fd, batch, written, size - written, position + written)
        position += size
        expectedOffset = readInt64(batch, 0) + batch.readInt32BE(kLastOffsetDeltaOffset) + 1
      }
      return true
    } finally {
      closeSync(fd)
    }
  }

  /** Appends the index entries not yet in the files to them (on seal and on clean close). */
  persistIndexes (): void {
    this.maybeAppendTimeIndex()
    const offsetIndex = this.offsetIndex
    const timeIndex = this.timeIndex
    if (offsetIndex === null || timeIndex === null) return
    if (offsetIndex.count > offsetIndex.persistedCount) {
      appendToFile(this.indexPath, offsetIndex.encode(offsetIndex.persistedCount, offsetIndex.count))
      offsetIndex.persistedCount = offsetIndex.count
    }
    if (timeIndex.count > timeIndex.persistedCount) {
      appendToFile(this.timeIndexPath, timeIndex.encode(timeIndex.persistedCount, timeIndex.count))
      timeIndex.persistedCount = timeIndex.count
    }
  }

  /** Replaces both index files with the in-memory indexes, atomically each. */
  private writeIndexFiles (): void {
    const offsetIndex = this.offsetIndex!
    const timeIndex = this.timeIndex!
    writeFileAtomic(this.indexPath, offsetIndex.encode(0, offsetIndex.count))
    offsetIndex.persistedCount = offsetIndex.count
    writeFileAtomic(this.timeIndexPath, timeIndex.encode(0, timeIndex.count))
    timeIndex.persistedCount = timeIndex.count
  }

  closeFd (): void {
    openSegmentFiles.forget(this)
    if (this.fd >= 0) {
      closeSync(this.fd)
      this.fd = -1
    }
  }

  /** Removes the segment's files (the fd may stay open a while: see PartitionLog's deferred closing). */
  deleteFiles (): void {
    this.deleted = true
    unlinkIfExists(this.logPath)
    unlinkIfExists(this.indexPath)
    unlinkIfExists(this.timeIndexPath)
  }

  /**
   * Retention's first step of deleting the segment (Kafka's asynchronous delete): renames its files to
   * `<name>.deleted` (missing ones skipped) and returns the new paths, for the caller to remove once
   * file.delete.delay.ms has passed. A `.deleted` file found when a log opens is removed then. The fd stays
   * valid across the rename (see PartitionLog's deferred closing).
   */
  renameForDeletion (): string[] {
    this.deleted = true
    const renamed: string[] = []
    for (const path of [this.logPath, this.indexPath, this.timeIndexPath]) {
      const target = path + kDeletedSuffix
      try {
        renameSync(path, target)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw error
      }
      renamed.push(target)
    }
    return renamed
  }
}

/** Appends `data` to the file; a failed write (ENOSPC) truncates it back, so no torn entry stays behind. */
function appendToFile (path: string, data: Buffer): void {
  const fd = openSync(path, 'a')
  try {
    const size = fstatSync(fd).size
    let written = 0
    try {
      while (written < data.length) written += writeSync(fd, data, written, data.length - written)
    } catch (error) {
      if (written > 0) ftruncateSync(fd, size)
      throw error
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * Cuts an index file to its longest prefix of whole entries equal to `expected`'s (creating it empty when it is
 * missing) and returns how many entries that prefix holds.
 */
function keepAgreeingPrefix (path: string, expected: Buffer, entrySize: number): number {
  let contents: Buffer
  try {
    contents = readFileSync(path)
  } catch {
    writeFileSync(path, '')
    return 0
  }
  const limit = Math.min(contents.length, expected.length)
  let entries = 0
  while ((entries + 1) * entrySize <= limit &&
    contents.compare(expected, entries * entrySize, (entries + 1) * entrySize, entries * entrySize, (entries + 1) * entrySize) === 0) entries++
  if (contents.length !== entries * entrySize) truncateSync(path, entries * entrySize)
  return entries
}

function readOffsetIndex (path: string, logSize: number, relativeOffsetLimit: number): OffsetIndex | null {
  if (!existsSync(path)) return null
  return OffsetIndex.decode(readFileSync(path), logSize, relativeOffsetLimit)
}

function readTimeIndex (path: string, relativeOffsetLimit: number): TimeIndex | null {
  if (!existsSync(path)) return null
  return TimeIndex.decode(readFileSync(path), relativeOffsetLimit)
}

/** The last entry of an index file (empty when the file is), or null when it is missing or torn. */
function readLastEntry (path: string, entrySize: number): Buffer | null {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return null
  }
  try {
    const size = fstatSync(fd).size
    if (size % entrySize !== 0) return null
    if (size === 0) return Buffer.alloc(0)
    const entry = Buffer.allocUnsafe(entrySize)
    return readFully(fd, entry, 0, entrySize, size - entrySize) === entrySize ? entry : null
  } finally {
    closeSync(fd)
  }
}
