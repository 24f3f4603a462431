// Record batches for the fuzzer: valid v2 batches (every codec) built with the project's own builder, invalid
// ones (a CRC that does not match, lengths and counts that lie, unknown codecs and magics, truncations, garbage
// records with a correct CRC) and compression bombs: small frames that declare or inflate to far more than the
// broker's decompression bound. Bombs are built by hand (zstd RLE blocks, repeated gzip members, snappy length
// preambles) so that the fuzzer never holds the inflated bytes itself.
import zlib from 'node:zlib'
import { buildRecordBatch, updateBatchCrc, type RecordInput } from '../../src/protocol/record-batch.ts'
import {
  kAttributesOffset, kBatchLengthOffset, kLastOffsetDeltaOffset, kMagicOffset, kRecordCountOffset, kRecordsOffset
} from '../../src/protocol/record-batch-layout.ts'
import { writeVarint } from '../../src/protocol/varint.ts'
import { Prng } from './prng.ts'

const kTimestamps = [-1, 0, 1, 1_700_000_000_000, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 41]

function randomRecords (rng: Prng): RecordInput[] {
  const count = rng.pick([1, 1, 1, 2, 3, 5, 10])
  const now = Date.now()
  const records: RecordInput[] = []
  const timestamp = rng.chance(0.8) ? now : rng.pick(kTimestamps)
  for (let i = 0; i < count; i++) {
    records.push({
      key: rng.chance(0.5) ? null : rng.bytes(rng.int(0, 16)),
      value: rng.chance(0.1) ? null : rng.bytes(rng.pick([0, 1, 10, 100, 512])),
      headers: rng.chance(0.2) ? [{ key: 'h', value: rng.chance(0.5) ? null : rng.bytes(4) }] : [],
      timestamp
    })
  }
  return records
}

/** A valid batch: 1-10 small records, any codec, sometimes idempotent or transactional. */
export function validBatch (rng: Prng): Buffer {
  const idempotent = rng.chance(0.15)
  return buildRecordBatch(randomRecords(rng), {
    compression: rng.pick([0, 0, 1, 2, 3, 4]),
    producerId: idempotent ? rng.pick([0, 1, 1000, 2 ** 40]) : -1,
    producerEpoch: idempotent ? rng.pick([0, 1, 32767]) : -1,
    baseSequence: idempotent ? rng.pick([0, 1, 2 ** 31 - 1]) : -1,
    isTransactional: rng.chance(0.05)
  })
}

// ---- bombs -------------------------------------------------------------------------------------------------

const kGiB = 1024 * 1024 * 1024
const kZstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

/**
 * A zstd frame of `totalBytes` zeros as RLE blocks of 128 KiB (4 bytes each: a 1 GiB bomb is 32 KiB). With
 * `declaredSize` the frame header carries that content size (a lie when it differs), else none.
 */
function zstdZeros (totalBytes: number, declaredSize: number | null): Buffer {
  const blockSize = 128 * 1024
  const blocks = Math.ceil(totalBytes / blockSize)
  const header = declaredSize === null ? Buffer.from([0x00, 0x38]) : Buffer.alloc(10)
  if (declaredSize !== null) {
    header[0] = 0xc0 // 8-byte content size, no single segment
    header[1] = 0x38 // window 128 KiB
    header.writeBigUInt64LE(BigInt(declaredSize), 2)
  }
  const body = Buffer.alloc(blocks * 4)
  for (let i = 0; i < blocks; i++) {
    const size = Math.min(blockSize, totalBytes - i * blockSize)
    const last = i === blocks - 1 ? 1 : 0
    const word = last | (1 << 1) | (size << 3) // RLE block
    body[i * 4] = word & 0xff
    body[i * 4 + 1] = (word >>> 8) & 0xff
    body[i * 4 + 2] = (word >>> 16) & 0xff
    body[i * 4 + 3] = 0
  }
  return Buffer.concat([kZstdMagic, header, body])
}

let gzipMember: Buffer | null = null

/** `members` concatenated gzip members of 1 MiB of zeros each (about 1 KiB per member). */
function gzipZeros (members: number): Buffer {
  gzipMember ??= zlib.gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })
  return Buffer.concat(new Array(members).fill(gzipMember))
}

/** A raw snappy block declaring `declared` bytes (varint preamble) with a body far too short. */
function snappyLie (declared: number, rng: Prng): Buffer {
  const preamble = Buffer.alloc(5)
  const end = writeVarint32Unsigned(preamble, declared)
  return Buffer.concat([preamble.subarray(0, end), rng.bytes(rng.int(0, 32))])
}

function writeVarint32Unsigned (buf: Buffer, value: number): number {
  let position = 0
  let v = value >>> 0
  while (v >= 0x80) {
    buf[position++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[position++] = v
  return position
}

/** An lz4 frame header (64 KiB blocks, independent) followed by blocks whose sizes lie. */
function lz4Lie (rng: Prng): Buffer {
  const out = Buffer.alloc(7 + 4 + 16)
  out.writeUInt32LE(0x184d2204, 0)
  out[4] = 0x60
  out[5] = 0x70 // 4 MiB blocks
  out[6] = 0x73 // header checksum (deliberately not verified here; the walk or the decoder refuses it)
  out.writeUInt32LE(rng.pick([0x7fffffff, 0x400000, 0x3fffff, 0xffffffff]), 7)
  rng.bytes(16).copy(out, 11)
  return out
}

interface Bomb { readonly name: string, readonly codec: number, readonly payload: Buffer }

let bombs: Bomb[] | null = null

/**
 * The bombs, built once per process (the largest, 150 gzip members, is about 150 KiB), from their own PRNG so
 * that building them does not shift the caller's stream.
 */
export function compressionBombs (): readonly Bomb[] {
  const rng = new Prng(0x626f6d62)
  bombs ??= [
    { name: 'zstd 1 GiB zeros, no content size', codec: 4, payload: zstdZeros(kGiB, null) },
    { name: 'zstd 1 GiB zeros, content size declared', codec: 4, payload: zstdZeros(kGiB, kGiB) },
    { name: 'zstd 1 GiB zeros, content size 100 (lie)', codec: 4, payload: zstdZeros(kGiB, 100) },
    { name: 'zstd 200 MiB zeros, content size 2^53', codec: 4, payload: zstdZeros(200 * 1024 * 1024, 2 ** 53) },
    { name: 'gzip 150 MiB zeros (150 members)', codec: 1, payload: gzipZeros(150) },
    { name: 'snappy declares 4 GiB', codec: 2, payload: snappyLie(0xffffffff, rng) },
    { name: 'snappy declares 120 MiB', codec: 2, payload: snappyLie(120 * 1024 * 1024, rng) },
    { name: 'lz4 lying block sizes', codec: 3, payload: lz4Lie(rng) }
  ]
  return bombs
}

/** A batch header (one record claimed) around `payload` as the records section, CRC correct. */
function batchAround (payload: Buffer, codec: number, recordCount: number): Buffer {
  const batch = Buffer.alloc(kRecordsOffset + payload.length)
  batch.writeInt32BE(batch.length - 12, kBatchLengthOffset)
  batch.writeInt32BE(-1, 12)
  batch[kMagicOffset] = 2
  batch.writeInt16BE(codec, kAttributesOffset)
  batch.writeInt32BE(recordCount - 1, kLastOffsetDeltaOffset)
  batch.writeBigInt64BE(BigInt(Date.now()), 27)
  batch.writeBigInt64BE(BigInt(Date.now()), 35)
  batch.writeBigInt64BE(-1n, 43)
  batch.writeInt16BE(-1, 51)
  batch.writeInt32BE(-1, 53)
  batch.writeInt32BE(recordCount, kRecordCountOffset)
  payload.copy(batch, kRecordsOffset)
  updateBatchCrc(batch, 0)
  return batch
}

/** A batch that must be refused, and what is wrong with it. */
export function invalidBatch (rng: Prng): { batch: Buffer, what: string } {
  const kind = rng.int(0, 13)
  const batch = validBatch(rng)
  switch (kind) {
    case 0: {
      const at = rng.int(kAttributesOffset, batch.length - 1)
      batch[at] ^= 1 << rng.int(0, 7)
      return { batch, what: 'bad crc' }
    }
    case 1: {
      batch.writeInt32BE(rng.pick([0, -1, 48, 0x7fffffff, -0x80000000, batch.length, batch.length - 13]), kBatchLengthOffset)
      return { batch, what: 'batchLength lies' }
    }
    case 2: {
      batch.writeInt32BE(0x7fffffff, kRecordCountOffset)
      batch.writeInt32BE(0x7ffffffe, kLastOffsetDeltaOffset)
      updateBatchCrc(batch, 0)
      return { batch, what: 'recordCount 2^31-1 (crc fixed)' }
    }
    case 3: {
      batch.writeInt32BE(rng.pick([0, -1, -0x80000000, batch.readInt32BE(kRecordCountOffset) + 1]), kRecordCountOffset)
      updateBatchCrc(batch, 0)
      return { batch, what: 'recordCount lies (crc fixed)' }
    }
    case 4: {
      batch[kMagicOffset] = rng.pick([0, 1, 3, 0xff])
      return { batch, what: 'magic' }
    }
    case 5: {
      batch.writeInt16BE((batch.readInt16BE(kAttributesOffset) & ~7) | rng.pick([5, 6, 7]), kAttributesOffset)
      updateBatchCrc(batch, 0)
      return { batch, what: 'unknown codec (crc fixed)' }
    }
    case 6: {
      batch.writeInt16BE(batch.readInt16BE(kAttributesOffset) | 0x20, kAttributesOffset)
      updateBatchCrc(batch, 0)
      return { batch, what: 'control bit (crc fixed)' }
    }
    case 7:
      return { batch: batch.subarray(0, rng.int(0, batch.length - 1)), what: 'truncated' }
    case 8:
      return { batch: Buffer.concat([batch, validBatch(rng)]), what: 'two batches' }
    case 9: {
      // Garbage in the records section with a correct CRC: the record walk must refuse it.
      const garbage = rng.bytes(rng.int(1, 200))
      return { batch: batchAround(garbage, rng.pick([0, 0, 1, 2, 3, 4]), rng.pick([1, 2, 0x7fffffff])), what: 'garbage records (crc fixed)' }
    }
    case 10: {
      // A record whose length varint lies, CRC fixed.
      const records = Buffer.alloc(16)
      const end = writeVarint(records, 0, rng.pick([0x7fffffff, -2, 1000, 0]))
      return { batch: batchAround(records.subarray(0, end + 8), 0, 1), what: 'record length lies (crc fixed)' }
    }
    default: {
      const bomb = rng.pick(compressionBombs())
      return { batch: batchAround(bomb.payload, bomb.codec, 1), what: `bomb: ${bomb.name}` }
    }
  }
}
