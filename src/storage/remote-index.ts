// Where each partition's offsets are in S3: for every partition, a sorted run of ranges (object key, offsets,
// bytes) covering [logStartOffset, endOffset). Built at start from the object headers (object-format.ts) and
// kept up to date by the worker that owns the partition (uploader.ts) as it uploads, merges and deletes.
//
// Overlaps: one offset may be held by several objects (a merge wrote a per-partition object and the broker
// stopped before deleting the flush objects it replaces). They hold the same bytes (every range is a read of the
// same log), so the index keeps one: the newest object's (see buildRemoteState). The others are redundant and the
// garbage collection deletes their objects once no range of theirs is kept.
import type { ObjectHeader, ObjectRange } from './object-format.ts'

export interface RemoteRange {
  readonly key: string
  readonly baseOffset: number
  readonly endOffset: number
  /** Byte position in the object and length. */
  readonly position: number
  readonly length: number
  readonly maxTimestamp: number
}

/** `${topicId}:${partition}`: how partitions are named across threads and in the index. */
export function partitionKey (topicId: string, partition: number): string {
  return `${topicId}:${partition}`
}

export class RemotePartitionIndex {
  /** Sorted by baseOffset, contiguous or with gaps, never overlapping. */
  readonly ranges: RemoteRange[] = []
  /** The partition's log start offset as S3 knows it (the largest any object reported). */
  logStartOffset = 0

  /** The offset after the last one in S3 (0 when nothing is). */
  get endOffset (): number {
    return this.ranges.length === 0 ? this.logStartOffset : this.ranges[this.ranges.length - 1].endOffset
  }

  /** Bytes held in S3 at or above the log start offset. */
  get sizeBytes (): number {
    let bytes = 0
    for (const range of this.ranges) if (range.endOffset > this.logStartOffset) bytes += range.length
    return bytes
  }

  /** Appends a range uploaded after every other one (its base at or above endOffset). */
  append (range: RemoteRange): void {
    const last = this.ranges[this.ranges.length - 1]
    if (last !== undefined && range.baseOffset < last.endOffset) throw new Error(`range [${range.baseOffset}, ${range.endOffset}) overlaps [${last.baseOffset}, ${last.endOffset})`)
    if (range.endOffset > range.baseOffset) this.ranges.push(range)
  }

  /** The range holding `offset`, or undefined. */
  find (offset: number): RemoteRange | undefined {
    let low = 0
    let high = this.ranges.length - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      const range = this.ranges[middle]
      if (offset < range.baseOffset) high = middle - 1
      else if (offset >= range.endOffset) low = middle + 1
      else return range
    }
    return undefined
  }

  /** Index of the first range ending above `offset` (ranges.length when none). */
  firstEndingAbove (offset: number): number {
    let low = 0
    let high = this.ranges.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.ranges[middle].endOffset <= offset) low = middle + 1
      else high = middle
    }
    return low
  }

  /** Moves the log start offset up (never down) and forgets ranges wholly below it; returns the ranges dropped. */
  advanceStart (offset: number): RemoteRange[] {
    if (offset <= this.logStartOffset) return []
    this.logStartOffset = offset
    const keep = this.firstEndingAbove(offset)
    return this.ranges.splice(0, keep)
  }

  /**
   * Replaces the ranges covering exactly [baseOffset, endOffset) by `range` (a merged object's); returns the
   * ranges replaced, or null when the index does not cover that span with range boundaries there.
   */
  replace (range: RemoteRange): RemoteRange[] | null {
    const first = this.firstEndingAbove(range.baseOffset)
    if (first >= this.ranges.length || this.ranges[first].baseOffset !== range.baseOffset) return null
    let last = first
    while (last < this.ranges.length && this.ranges[last].endOffset < range.endOffset) last++
    if (last >= this.ranges.length || this.ranges[last].endOffset !== range.endOffset) return null
    return this.ranges.splice(first, last - first + 1, range)
  }
}

export interface RemoteState {
  /** By partitionKey. */
  readonly partitions: Map<string, RemotePartitionIndex>
  /**
 * Objects of which no range is kept (redundant, see the header, or wholly below their partitions' starts) and
 * that are not the one reporting a partition's log start offset.
 */
  readonly redundantKeys: string[]
  /** Every object key read, with its header. */
  readonly objects: Map<string, ObjectHeader>
}

/**
 * Builds every partition's index from the object headers (in any order). Where ranges overlap, the newest
 * object's wins (a merged object over the flush objects it replaces; after a restore that stopped at a corrupt
 * batch, what was uploaded since over what could not be read), then the one reaching further.
 */
export function buildRemoteState (objects: Map<string, ObjectHeader>): RemoteState {
  const candidates = new Map<string, Array<{ range: ObjectRange, key: string, createdMs: number, merged: boolean }>>()
  const starts = new Map<string, number>()
  // The objects that reported each partition's start: one of them is kept (even with no range kept), so the
  // start survives a clean-up.
  const startReporters = new Map<string, string[]>()
  for (const [key, header] of objects) {
    for (const range of header.ranges) {
      const name = partitionKey(range.topicId, range.partition)
      const known = starts.get(name)
      if (known === undefined || range.logStartOffset > known) {
        starts.set(name, range.logStartOffset)
        startReporters.set(name, [key])
      } else if (range.logStartOffset === known) {
        startReporters.get(name)?.push(key)
      }
      if (range.length === 0 || range.endOffset <= range.baseOffset) continue
      let list = candidates.get(name)
      if (list === undefined) candidates.set(name, list = [])
      list.push({ range, key, createdMs: header.createdMs, merged: header.kind === 'merged' })
    }
  }
  const used = new Set<string>()
  const partitions = new Map<string, RemotePartitionIndex>()
  for (const [name, start] of starts) {
    const index = new RemotePartitionIndex()
    index.logStartOffset = start
    partitions.set(name, index)
    const list = candidates.get(name) ?? []
    list.sort((a, b) => b.createdMs - a.createdMs || Number(b.merged) - Number(a.merged) || (b.range.endOffset - b.range.baseOffset) - (a.range.endOffset - a.range.baseOffset))
    const kept: RemoteRange[] = []
    for (const { range, key } of list) {
      if (range.endOffset <= start) continue
      // kept is sorted by baseOffset: the first kept range ending above this one's base must start at or after its end.
      let low = 0
      let high = kept.length
      while (low < high) {
        const middle = (low + high) >>> 1
        if (kept[middle].endOffset <= range.baseOffset) low = middle + 1
        else high = middle
      }
      if (low < kept.length && kept[low].baseOffset < range.endOffset) continue
      kept.splice(low, 0, { key, baseOffset: range.baseOffset, endOffset: range.endOffset, position: range.position, length: range.length, maxTimestamp: range.maxTimestamp })
      used.add(key)
    }
    for (const range of kept) index.ranges.push(range)
  }
  for (const reporters of startReporters.values()) {
    if (!reporters.some((key) => used.has(key))) used.add(reporters[0])
  }
  const redundantKeys: string[] = []
  for (const key of objects.keys()) if (!used.has(key)) redundantKeys.push(key)
  return { partitions, redundantKeys, objects }
}

/**
 * A worker's share of a RemoteState in structured-clone form (workerData): its partitions' indexes and, for every
 * object they refer to, the partitions that object holds (a worker deletes an object only when all are its own).
 */
export interface WorkerRemoteState {
  readonly partitions: ReadonlyArray<readonly [string, { readonly logStartOffset: number, readonly ranges: readonly RemoteRange[] }]>
  readonly objects: ReadonlyArray<readonly [string, readonly string[]]>
}

/** The part of `state` about the partitions `wanted` accepts (partitionKey names). */
export function workerRemoteState (state: RemoteState, wanted: (name: string) => boolean): WorkerRemoteState {
  const partitions: Array<readonly [string, { logStartOffset: number, ranges: RemoteRange[] }]> = []
  const keys = new Set<string>()
  for (const [name, index] of state.partitions) {
    if (!wanted(name)) continue
    partitions.push([name, { logStartOffset: index.logStartOffset, ranges: index.ranges }])
    for (const range of index.ranges) keys.add(range.key)
  }
  const objects: Array<readonly [string, string[]]> = []
  for (const key of keys) {
    const header = state.objects.get(key)
    if (header !== undefined) objects.push([key, [...new Set(header.ranges.map((range) => partitionKey(range.topicId, range.partition)))]])
  }
  return { partitions, objects }
}

/** The indexes and object map of a WorkerRemoteState, as the uploader takes them. */
export function fromWorkerRemoteState (plain: WorkerRemoteState): { indexes: Map<string, RemotePartitionIndex>, objectPartitions: Map<string, readonly string[]> } {
  const indexes = new Map<string, RemotePartitionIndex>()
  for (const [name, { logStartOffset, ranges }] of plain.partitions) {
    const index = new RemotePartitionIndex()
    index.logStartOffset = logStartOffset
    for (const range of ranges) index.ranges.push(range)
    indexes.set(name, index)
  }
  return { indexes, objectPartitions: new Map(plain.objects) }
}
