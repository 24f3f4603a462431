// Test helpers for the log: building record batches (magic v2, uncompressed) without depending on the
// protocol's batch writer, decoding what a read returns, and temporary directories.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import {
  kAttributesOffset, kBaseSequenceOffset, kBaseTimestampOffset, kBatchLengthOffset, kCrcOffset, kLastOffsetDeltaOffset,
  kLogOverhead, kMagicOffset, kMaxTimestampOffset, kPartitionLeaderEpochOffset, kProducerEpochOffset,
  kProducerIdOffset, kRecordCountOffset, kRecordsOffset
} from '../../src/protocol/record-batch-layout.ts'

export interface BatchOptions {
  /** One record per value. */
  values: string[]
  /** Default 1_000_000. */
  baseTimestamp?: number
  /** Per record; default 0, 1, 2, ... */
  timestampDeltas?: number[]
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  /** Raw attributes (e.g. compression bits, to exercise batch-granularity paths); default 0. */
  attributes?: number
}

function zigZagVarint (value: number): number[] {
  let zigZag = value >= 0 ? value * 2 : -value * 2 - 1
  const bytes: number[] = []
  while (zigZag >= 0x80) {
    bytes.push((zigZag % 0x80) | 0x80)
    zigZag = Math.floor(zigZag / 0x80)
  }
  bytes.push(zigZag)
  return bytes
}

function writeInt64 (buffer: Buffer, at: number, value: number): void {
  buffer.writeBigInt64BE(BigInt(value), at)
}

/** A valid v2 batch: records [attributes 0, timestampDelta, offsetDelta, key null, value, no headers]. */
export function buildBatch (options: BatchOptions): Buffer {
  const baseTimestamp = options.baseTimestamp ?? 1_000_000
  const deltas = options.timestampDeltas ?? options.values.map((_, index) => index)
  const records: Buffer[] = options.values.map((text, index) => {
    const value = Buffer.from(text)
    const body = Buffer.from([
      0,
      ...zigZagVarint(deltas[index]),
      ...zigZagVarint(index),
      ...zigZagVarint(-1),
      ...zigZagVarint(value.length),
      ...value,
      ...zigZagVarint(0)
    ])
    return Buffer.concat([Buffer.from(zigZagVarint(body.length)), body])
  })
  const header = Buffer.alloc(kRecordsOffset)
  const batch = Buffer.concat([header, ...records])
  batch.writeInt32BE(batch.length - kLogOverhead, kBatchLengthOffset)
  batch.writeInt32BE(-1, kPartitionLeaderEpochOffset)
  batch[kMagicOffset] = 2
  batch.writeUInt16BE(options.attributes ?? 0, kAttributesOffset)
  batch.writeInt32BE(options.values.length - 1, kLastOffsetDeltaOffset)
  writeInt64(batch, kBaseTimestampOffset, baseTimestamp)
  writeInt64(batch, kMaxTimestampOffset, baseTimestamp + Math.max(...deltas))
  writeInt64(batch, kProducerIdOffset, options.producerId ?? -1)
  batch.writeInt16BE(options.producerEpoch ?? -1, kProducerEpochOffset)
  batch.writeInt32BE(options.baseSequence ?? -1, kBaseSequenceOffset)
  batch.writeInt32BE(options.values.length, kRecordCountOffset)
  batch.writeUInt32BE(crc32c(batch.subarray(kAttributesOffset)), kCrcOffset)
  return batch
}

export interface DecodedBatch {
  baseOffset: number
  lastOffset: number
  attributes: number
  maxTimestamp: number
  crcValid: boolean
  records: Array<{ offset: number, timestamp: number, value: string }>
}

function readVarint (buffer: Buffer, cursor: { at: number }): number {
  let value = 0
  let multiplier = 1
  for (;;) {
    const byte = buffer[cursor.at++]
    value += (byte & 0x7f) * multiplier
    multiplier *= 128
    if (byte < 0x80) break
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

/** Decodes a buffer of whole uncompressed batches, as read() returns them. */
export function decodeBatches (buffer: Buffer | null): DecodedBatch[] {
  const batches: DecodedBatch[] = []
  if (buffer === null) return batches
  let at = 0
  while (at < buffer.length) {
    const size = kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset)
    const batch = buffer.subarray(at, at + size)
    const baseOffset = Number(batch.readBigInt64BE(0))
    const baseTimestamp = Number(batch.readBigInt64BE(kBaseTimestampOffset))
    const decoded: DecodedBatch = {
      baseOffset,
      lastOffset: baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset),
      attributes: batch.readUInt16BE(kAttributesOffset),
      maxTimestamp: Number(batch.readBigInt64BE(kMaxTimestampOffset)),
      crcValid: batch.readUInt32BE(kCrcOffset) === crc32c(batch.subarray(kAttributesOffset)),
      records: []
    }
    const cursor = { at: kRecordsOffset }
    for (let index = 0; index < batch.readInt32BE(kRecordCountOffset); index++) {
      const length = readVarint(batch, cursor)
      const end = cursor.at + length
      cursor.at++ // attributes
      const timestampDelta = readVarint(batch, cursor)
      const offsetDelta = readVarint(batch, cursor)
      const keyLength = readVarint(batch, cursor)
      if (keyLength > 0) cursor.at += keyLength
      const valueLength = readVarint(batch, cursor)
      const value = batch.toString('utf8', cursor.at, cursor.at + valueLength)
      decoded.records.push({ offset: baseOffset + offsetDelta, timestamp: baseTimestamp + timestampDelta, value })
      cursor.at = end
    }
    batches.push(decoded)
    at += size
  }
  return batches
}

/** All record values of a read result, in order. */
export function valuesOf (buffer: Buffer | null): string[] {
  return decodeBatches(buffer).flatMap(batch => batch.records.map(record => record.value))
}

/** A fresh temporary directory, removed after the test. */
export function temporaryDirectory (t: { after: (fn: () => void) => void }): string {
  const directory = mkdtempSync(join(tmpdir(), 'shoal-log-'))
  t.after(() => rmSync(directory, { recursive: true, force: true }))
  return directory
}

/** Values of batch `index` in the standard test sequence: `count` records "b<index>-r<i>". */
export function standardValues (index: number, count = 3): string[] {
  return Array.from({ length: count }, (_, record) => `b${index}-r${record}`)
}

/**
 * Mounts a tmpfs of `sizeBytes` on a fresh temporary directory, unmounted (and removed) after the test; null,
 * with the reason in `skipped`, where mounting is not permitted (not root, or no CAP_SYS_ADMIN in a container).
 */
export function mountTmpfs (t: { after: (fn: () => void) => void }, sizeBytes: number): { path: string } | { skipped: string } {
  const directory = mkdtempSync(join(tmpdir(), 'shoal-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', directory], { stdio: 'pipe' })
  } catch (error) {
    rmSync(directory, { recursive: true, force: true })
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim()
    return { skipped: `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${stderr || (error as Error).message}` }
  }
  t.after(() => {
    try {
      execFileSync('umount', [directory], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', directory], { stdio: 'pipe' }) // something still holds a file open
    }
    rmSync(directory, { recursive: true, force: true })
  })
  return { path: directory }
}

/** Segments of about 1 KiB with an index entry every 128 bytes: a few batches roll one. */
export const kSmallSegments = { segmentBytes: 1024, indexIntervalBytes: 128 }

/**
 * A log of `batches` standard batches in small segments (`timed`: base timestamps 10 ms apart), closed: its
 * values in order and its next offset.
 */
export function fill (directory: string, batches: number, timed = false): { values: string[], nextOffset: number } {
  const log = PartitionLog.open(directory, kSmallSegments)
  for (let index = 0; index < batches; index++) {
    log.append(buildBatch({ values: standardValues(index), baseTimestamp: 1_000_000 + (timed ? index * 10 : 0) }), -1)
  }
  const values = valuesOf(log.read(0, 1 << 20, true).records)
  const nextOffset = log.nextOffset
  log.close()
  return { values, nextOffset }
}

/** The paths of `directory`'s files ending in `suffix`, sorted (segment files sort by base offset). */
export function segmentFiles (directory: string, suffix: string): string[] {
  return readdirSync(directory).filter(name => name.endsWith(suffix)).sort().map(name => join(directory, name))
}
