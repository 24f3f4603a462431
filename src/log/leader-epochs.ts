// Leader epochs of one partition's log: which epoch each stretch of offsets was written in, as Kafka keeps it in
// its `leader-epoch-checkpoint` file (KIP-101, KIP-279, KIP-320), and the end offset of an epoch that
// OffsetForLeaderEpoch answers.
//
// Shoal is a single node: it leads every partition from the partition's creation on and never loses the
// leadership, so a partition's leader epoch is kPartitionLeaderEpoch (0) for its whole life, and Metadata,
// ListOffsets, Fetch and OffsetForLeaderEpoch all answer that one epoch. Kafka starts a new partition at epoch 0 too
// (the first leader election), so clients see what a one-broker Kafka cluster shows them. Were the epoch ever
// bumped (a future leader change, a restore), this file already records and answers more than one epoch.
//
// Checkpoint file `<partition dir>/leader-epoch-checkpoint`, text as Kafka writes it:
//   0                      format version
//   <n>                    number of entries
//   <epoch> <startOffset>  n lines, epochs and start offsets both increasing
// An entry says: from startOffset on (until the next entry's start offset) the batches carry that epoch. It is
// written (atomically, temporary file + rename, not fsynced) only when an epoch gets its first batch, or when the
// log start moves past an entry: never per batch. Losing it costs nothing but precision: load() falls back to an
// entry for the current epoch at the log start.
//
// Threading: owned by its PartitionLog, used by the partition's worker only.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { kPartitionLeaderEpochOffset } from '../protocol/record-batch-layout.ts'
import { writeFileAtomic } from './files.ts'
import { count } from '../counters.ts'

export const kLeaderEpochCheckpointFile = 'leader-epoch-checkpoint'
const kCheckpointVersion = 0

/** The leader epoch of every partition this single-node broker leads (see the header). */
export const kPartitionLeaderEpoch = 0

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET: what an epoch no batch of the log has answers. */
export const kUndefinedEpoch = -1
export const kUndefinedEpochOffset = -1

export interface EpochEntry {
  readonly epoch: number
  readonly startOffset: number
}

/** endOffsetFor's result, filled into a caller's object. */
export interface EpochEndOffset {
  epoch: number
  endOffset: number
}

/**
 * The error a request's currentLeaderEpoch earns (Fetch, ListOffsets, OffsetForLeaderEpoch; KIP-320): -1 asks for
 * no check; an older epoch is FENCED_LEADER_EPOCH (the client is behind), a newer one UNKNOWN_LEADER_EPOCH (this
 * broker is behind, as Kafka says of a leader that has not caught up).
 */
export function currentLeaderEpochError (currentLeaderEpoch: number, leaderEpoch = kPartitionLeaderEpoch): number {
  if (currentLeaderEpoch === -1 || currentLeaderEpoch === leaderEpoch) return ErrorCode.NONE
  return currentLeaderEpoch < leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH
}

export class LeaderEpochCache {
  readonly path: string
  /** The epoch new batches are stamped with. */
  readonly currentEpoch: number
  /** Increasing in epoch and start offset. */
  #entries: EpochEntry[]
  /** The latest entry's epoch, kUndefinedEpoch when there is none: append()'s one comparison. */
  #latestEpoch: number

  private constructor (path: string, currentEpoch: number, entries: EpochEntry[]) {
    this.path = path
    this.currentEpoch = currentEpoch
    this.#entries = entries
    this.#latestEpoch = entries.length === 0 ? kUndefinedEpoch : entries[entries.length - 1].epoch
  }

  /**
   * Loads `<directory>/leader-epoch-checkpoint` for a log holding [logStartOffset, logEndOffset): entries that
   * start at or past the log end (their batches did not survive recovery) are dropped, as are entries wholly
   * below the log start; the first one left is moved up to the log start. A missing or unreadable file gives an
   * entry for the current epoch at the log start when the log holds anything (every batch Shoal wrote carries
   * it), else none. Rewrites the file when loading changed it.
   */
  static load (directory: string, logStartOffset: number, logEndOffset: number, currentEpoch = kPartitionLeaderEpoch): LeaderEpochCache {
    const path = join(directory, kLeaderEpochCheckpointFile)
    let entries = readCheckpoint(path)
    const found = entries
    if (entries === null) entries = logEndOffset > logStartOffset ? [{ epoch: currentEpoch, startOffset: logStartOffset }] : []
    const cache = new LeaderEpochCache(path, currentEpoch, entries)
    let changed = cache.#truncateFromEnd(logEndOffset)
    changed = cache.#truncateFromStart(logStartOffset) || changed
    if (changed || (found === null && entries.length > 0)) cache.#persistQuietly()
    return cache
  }

  get entries (): readonly EpochEntry[] {
    return this.#entries
  }

  /** The latest epoch with a batch in the log, kUndefinedEpoch when none. */
  get latestEpoch (): number {
    return this.#latestEpoch
  }

  /**
   * The append path: writes the current epoch into the batch header's partitionLeaderEpoch (outside the CRC's
   * coverage, so the CRC stays) and, when it is the first batch of that epoch, records the epoch's start at
   * `baseOffset` in the checkpoint first. Throws KafkaError KAFKA_STORAGE_ERROR when that write fails (the batch
   * must then not be appended: the checkpoint would not vouch for it).
   */
  stamp (batch: Buffer, baseOffset: number): void {
    batch.writeInt32BE(this.currentEpoch, kPartitionLeaderEpochOffset)
    if (this.currentEpoch > this.#latestEpoch) this.assign(this.currentEpoch, baseOffset)
  }

  /** Records that `epoch` starts at `startOffset` (ignored unless it is newer than the latest epoch). */
  assign (epoch: number, startOffset: number): void {
    if (epoch <= this.#latestEpoch) return
    const entries = this.#entries
    // An entry at or past this start (left by a write that failed after it was recorded) is superseded.
    let keep = entries.length
    while (keep > 0 && entries[keep - 1].startOffset >= startOffset) keep--
    const next = entries.slice(0, keep)
    next.push({ epoch, startOffset })
    try {
      writeFileAtomic(this.path, serialize(next))
    } catch (error) {
      count('storage-errors')
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `writing ${this.path} failed: ${(error as Error).message}`)
    }
    this.#entries = next
    this.#latestEpoch = epoch
  }

  /** DeleteRecords moved the log start: entries wholly below it go, the first left starts there. */
  truncateFromStart (logStartOffset: number): void {
    if (this.#truncateFromStart(logStartOffset)) this.#persistQuietly()
  }

  /**
   * Kafka's LeaderEpochFileCache.endOffsetFor: the end offset of `requestedEpoch` (the first offset after its
   * batches) and the epoch it belongs to, into `into`:
   *  - kUndefinedEpoch asked, or an epoch newer than every known one: (-1, -1);
   *  - the current epoch (also when it has no batch yet: the leader's epoch starts at the log end): the log end;
   *  - an older epoch: the start offset of the next higher epoch, with the highest known epoch at or below the
   *    one asked (an epoch with no batches of its own answers its predecessor's), or the epoch asked when it is
   *    below every known one (its batches were deleted; the earliest epoch's start is where the log starts).
   */
  endOffsetFor (requestedEpoch: number, logEndOffset: number, into: EpochEndOffset): EpochEndOffset {
    into.epoch = kUndefinedEpoch
    into.endOffset = kUndefinedEpochOffset
    // The leader's own epoch counts as starting at the log end until its first batch (Kafka records it there on
    // election).
    const latest = Math.max(this.currentEpoch, this.#latestEpoch)
    if (requestedEpoch === kUndefinedEpoch || requestedEpoch > latest) return into
    if (requestedEpoch === latest) {
      into.epoch = requestedEpoch
      into.endOffset = logEndOffset
      return into
    }
    const entries = this.#entries
    let higher = 0
    while (higher < entries.length && entries[higher].epoch <= requestedEpoch) higher++
    into.epoch = higher === 0 ? requestedEpoch : entries[higher - 1].epoch
    into.endOffset = higher === entries.length ? logEndOffset : entries[higher].startOffset
    return into
  }

  #truncateFromEnd (logEndOffset: number): boolean {
    const entries = this.#entries
    let keep = entries.length
    while (keep > 0 && entries[keep - 1].startOffset >= logEndOffset) keep--
    if (keep === entries.length) return false
    this.#entries = entries.slice(0, keep)
    this.#latestEpoch = keep === 0 ? kUndefinedEpoch : this.#entries[keep - 1].epoch
    return true
  }

  #truncateFromStart (logStartOffset: number): boolean {
    const entries = this.#entries
    // The last entry starting at or below the log start becomes the first, starting at the log start.
    let first = 0
    while (first + 1 < entries.length && entries[first + 1].startOffset <= logStartOffset) first++
    if (entries.length === 0 || (first === 0 && entries[0].startOffset >= logStartOffset)) return false
    const next = entries.slice(first)
    next[0] = { epoch: next[0].epoch, startOffset: Math.max(next[0].startOffset, logStartOffset) }
    this.#entries = next
    return true
  }

  /** Outside the append path a failed rewrite is only counted: the file is rebuilt or corrected on the next load. */
  #persistQuietly (): void {
    try {
      writeFileAtomic(this.path, serialize(this.#entries))
    } catch {
      count('storage-errors')
    }
  }
}

function serialize (entries: readonly EpochEntry[]): string {
  let text = `${kCheckpointVersion}\n${entries.length}\n`
  for (const entry of entries) text += `${entry.epoch} ${entry.startOffset}\n`
  return text
}

/** The entries of a checkpoint file, or null when it is missing or not a well-formed version 0 file. */
function readCheckpoint (path: string): EpochEntry[] | null {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch {
    return null
  }
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  if (lines.length < 2 || lines[0] !== String(kCheckpointVersion) || !/^\d+$/.test(lines[1])) return null
  const expected = Number(lines[1])
  if (lines.length !== expected + 2) return null
  const entries: EpochEntry[] = []
  for (let index = 2; index < lines.length; index++) {
    const match = /^(\d+) (\d+)$/.exec(lines[index])
    if (match === null) return null
    const epoch = Number(match[1])
    const startOffset = Number(match[2])
    const previous = entries[entries.length - 1]
    if (previous !== undefined && (epoch <= previous.epoch || startOffset < previous.startOffset)) return null
    entries.push({ epoch, startOffset })
  }
  return entries
}
