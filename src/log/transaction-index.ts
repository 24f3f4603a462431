// The aborted transactions of one partition (KIP-98): for each ABORT marker, the producer id and the offsets
// its transaction spans here. A read_committed Fetch returns, with its records, the aborted transactions that
// overlap them, so that the consumer drops their records (it sees each producer's data from `firstOffset` on
// as aborted until that producer's marker).
//
// File `aborted-transactions` in the partition directory: fixed entries of 34 bytes, big-endian, in the order
// the markers were appended (so by lastOffset), Kafka's transaction index entry layout:
//   int16 version (0), int64 producerId, int64 firstOffset, int64 lastOffset (the marker), int64 lastStableOffset
//
// Durability follows the producer snapshot, not each append: the file is fsynced before every snapshot is
// written, so every entry before a snapshot's offset is on disk, and on open the entries at or after the
// offset the log replays from are dropped and rebuilt by the replay (markers are batches in the log). An entry
// can therefore be lost only together with a marker the replay finds again. A torn last entry is ignored.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { readInt64, writeInt64 } from '../protocol/int64.ts'
import { writeFileAtomic, writeFileDurable } from './files.ts'

export const kAbortedTransactionsFile = 'aborted-transactions'
const kEntrySize = 34

export interface AbortedTransaction {
  readonly producerId: number
  readonly firstOffset: number
  readonly lastOffset: number
  readonly lastStableOffset: number
}

export class AbortedTransactionIndex {
  readonly path: string
  #entries: AbortedTransaction[] = []
  #fd = -1
  /** Entries written since the last sync. */
  #unsynced = false
  /** An append failed: the file lacks entries and is written whole by the next sync(). */
  #needsRewrite = false

  constructor (directory: string) {
    this.path = join(directory, kAbortedTransactionsFile)
  }

  get size (): number {
    return this.#entries.length
  }

  entries (): readonly AbortedTransaction[] {
    return this.#entries
  }

  /** Reads the file (missing: empty), keeping the entries whose marker is below `keepBelow`. */
  load (keepBelow: number): void {
    this.close()
    let bytes: Buffer
    try {
      bytes = readFileSync(this.path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      bytes = Buffer.alloc(0)
    }
    const entries: AbortedTransaction[] = []
    let valid = 0
    for (let at = 0; at + kEntrySize <= bytes.length; at += kEntrySize) {
      if (bytes.readInt16BE(at) !== 0) break
      const entry = {
        producerId: readInt64(bytes, at + 2),
        firstOffset: readInt64(bytes, at + 10),
        lastOffset: readInt64(bytes, at + 18),
        lastStableOffset: readInt64(bytes, at + 26)
      }
      // Entries come in marker order; anything else is damage: stop there.
      if (entry.firstOffset > entry.lastOffset || (entries.length > 0 && entry.lastOffset <= entries[entries.length - 1].lastOffset)) break
      if (entry.lastOffset >= keepBelow) break
      entries.push(entry)
      valid = at + kEntrySize
    }
    this.#entries = entries
    if (valid !== bytes.length) this.#rewriteOrDefer()
  }

  /**
   * Adds the entry of an ABORT marker. A marker at or below the last entry's is one the index already holds
   * (a replay over entries kept on open) and is skipped.
   */
  add (entry: AbortedTransaction): void {
    const entries = this.#entries
    if (entries.length > 0 && entry.lastOffset <= entries[entries.length - 1].lastOffset) return
    entries.push(entry)
    this.#unsynced = true
    if (this.#needsRewrite) return
    const bytes = encode(entry)
    try {
      if (this.#fd < 0) this.#fd = openSync(this.path, 'a')
      if (writeSync(this.#fd, bytes, 0, bytes.length) !== bytes.length) throw new Error('short write')
    } catch {
      // A full disk: the entry stays in memory and the next sync() writes the whole file again (and throws if
      // it still cannot), before any snapshot relies on it.
      this.#needsRewrite = true
    }
  }

  /**
   * The aborted transactions overlapping the offsets [from, to): marker at or after `from`, first offset before
   * `to`. In marker order.
   */
  collect (from: number, to: number): AbortedTransaction[] {
    const entries = this.#entries
    const found: AbortedTransaction[] = []
    // First entry whose marker is at or after `from` (entries are sorted by lastOffset).
    let low = 0
    let high = entries.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (entries[middle].lastOffset < from) low = middle + 1
      else high = middle
    }
    for (let index = low; index < entries.length; index++) {
      if (entries[index].firstOffset < to) found.push(entries[index])
    }
    return found
  }

  /** Drops the entries whose marker is below `offset` (the log start offset moved past them). */
  deleteBefore (offset: number): void {
    if (this.#entries.length === 0 || this.#entries[0].lastOffset >= offset) return
    this.#entries = this.#entries.filter((entry) => entry.lastOffset >= offset)
    this.#rewriteOrDefer()
  }

  /**
   * Drops the entries whose marker is at one of `markerOffsets` (the log cleaner: transactions whose data is gone
   * from the log, so that no fetch needs them), rewriting the file durably (writeFileDurable) before this returns: the
   * cleaner removes a marker only after its entry is gone on disk, since an entry outliving its marker would make
   * a read_committed consumer drop that producer's later data. Throws when the file cannot be written.
   */
  removeMarkers (markerOffsets: readonly number[]): void {
    if (markerOffsets.length === 0) return
    const before = this.#entries.length
    const removed = new Set(markerOffsets)
    this.#entries = this.#entries.filter((entry) => !removed.has(entry.lastOffset))
    if (this.#entries.length === before) return
    this.close()
    // Until the write below succeeds: when it throws, the next sync() writes the file again.
    this.#needsRewrite = true
    this.#unsynced = true
    writeFileDurable(this.path, Buffer.concat(this.#entries.map(encode)))
    this.#needsRewrite = false
    this.#unsynced = false
  }

  /** fsyncs what was written (before a producer snapshot vouches for it). */
  sync (): void {
    if (!this.#unsynced) return
    if (this.#needsRewrite) this.#rewrite()
    if (this.#fd < 0) this.#fd = openSync(this.path, 'a')
    fsyncSync(this.#fd)
    this.#unsynced = false
  }

  close (): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }

  /** Rewrites the file now, or (a full disk) at the next sync(). */
  #rewriteOrDefer (): void {
    try {
      this.#rewrite()
    } catch {
      this.#needsRewrite = true
      this.#unsynced = true
    }
  }

  /** Writes the file anew from the entries (a temporary file renamed over it); the next sync() fsyncs it. */
  #rewrite (): void {
    this.close()
    writeFileAtomic(this.path, Buffer.concat(this.#entries.map(encode)))
    this.#needsRewrite = false
    this.#unsynced = true
  }
}

function encode (entry: AbortedTransaction): Buffer {
  const bytes = Buffer.alloc(kEntrySize)
  bytes.writeInt16BE(0, 0)
  writeInt64(bytes, 2, entry.producerId)
  writeInt64(bytes, 10, entry.firstOffset)
  writeInt64(bytes, 18, entry.lastOffset)
  writeInt64(bytes, 26, entry.lastStableOffset)
  return bytes
}
