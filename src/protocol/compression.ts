// Kafka's record batch codecs (attributes bits 0-2): 1 gzip, 2 snappy, 3 lz4, 4 zstd. The whole records section
// of a batch (everything after recordCount) is compressed as one unit.
//
// What real clients write, and so what decompress must read:
//   gzip    RFC 1952 member(s) (Java's GZIPOutputStream, librdkafka's zlib).
//   snappy  Java: xerial framing (SnappyOutputStream): 16-byte header = magic 0x82 'SNAPPY' 0x00, int32 version,
//           int32 compatible version (both 1), then chunks of [int32 BE length][raw snappy block], each block
//           holding at most 32 KiB of input. librdkafka (seen from librdkafka 2.0.2) and the JavaScript clients
//           write one raw snappy block (varint uncompressed length, then the body); Java's SnappyInputStream
//           reads both, and so do we. compress writes xerial framing.
//   lz4     the LZ4 *frame* format, magic 0x184D2204 (not the bare block format): Java's Lz4BlockOutputStream
//           (64 KiB independent blocks, no content size, no checksums) and librdkafka's LZ4F (the same: FLG 0x60,
//           BD 0x40). Java's reader rejects dependent (linked) blocks, dictionary ids and reserved bits, and
//           reads only one frame; we accept exactly what it accepts so that every batch we store can be read by
//           Java consumers. compress writes one frame of independent 256 KiB blocks (lz4_flex's default).
//   zstd    standard zstd frame(s); the content size may be absent (librdkafka omits it).
//
// Decompression is bounded by `maxOutput` bytes: the output size is known or bounded before anything is
// allocated (gzip and unknown-size zstd stop inflating as soon as they cross the bound), so a small compressed
// batch cannot make us allocate gigabytes. Malformed input throws KafkaError(CORRUPT_MESSAGE), output beyond the
// bound KafkaError(MESSAGE_TOO_LARGE) (the broker's --max-decompressed-batch-bytes), and a codec we do not know
// (5-7) KafkaError(UNSUPPORTED_COMPRESSION_TYPE).
import { constants as bufferConstants } from 'node:buffer'
import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { Compression } from './record-batch-layout.ts'
import { ErrorCode, KafkaError } from './errors.ts'

const require = createRequire(import.meta.url)

const snappy = require('@napi-rs/snappy') as {
  compress (input: Buffer): Promise<Buffer>
  compressSync (input: Buffer): Buffer
  uncompressSync (compressed: Buffer): Buffer
}
const lz4 = require('lz4-napi') as {
  compressFrame (data: Buffer, options?: { contentChecksum?: boolean, blockChecksums?: boolean } | null): Promise<Buffer>
  compressFrameSync (data: Buffer, options?: { contentChecksum?: boolean, blockChecksums?: boolean } | null): Buffer
  decompressFrameSync (data: Buffer): Buffer
}
interface ZstdDecompressionContext {
  decompress (destination: Uint8Array, source: Uint8Array): number
}
const zstdBinding = require('zstd-napi/binding') as {
  DCtx: new () => ZstdDecompressionContext
  getFrameContentSize (frame: Uint8Array): number | null
  findFrameCompressedSize (frame: Uint8Array): number
}
const zstdSimple = require('zstd-napi') as { compress (data: Uint8Array, parameters?: object): Buffer }

/** Default bound of decompress when the caller gives none. */
export const kDefaultMaxDecompressedBytes = 64 * 1024 * 1024

function corrupt (message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message)
}

/**
 * Output beyond the bound: MESSAGE_TOO_LARGE, the batch is larger than this broker accepts once inflated (a
 * Java producer splits such a batch and sends it again; a compression bomb is refused without being inflated).
 */
function tooLarge (message: string): KafkaError {
  return new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, message)
}

/** zlib's streaming decoders stop at maxOutputLength with ERR_BUFFER_TOO_LARGE; anything else is corrupt data. */
function streamingFailure (codec: string, error: unknown): KafkaError {
  const message = `${codec}: ${(error as Error).message}`
  return (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? tooLarge(message) : corrupt(message)
}

function unsupported (codec: number): KafkaError {
  return new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unsupported compression codec ${codec}`)
}

/** Compresses `data` as a Kafka producer would for `codec` (0 returns `data` itself). */
export function compress (codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip: return zlib.gzipSync(data)
    case Compression.snappy: return compressXerialSnappy(data)
    case Compression.lz4: return lz4.compressFrameSync(data)
    case Compression.zstd: return zstdSimple.compress(data)
    default: throw unsupported(codec)
  }
}

/**
 * Compresses `data` for `codec` off this thread (libuv's thread pool, or the addon's async work), as the
 * broker does when a topic's compression.type differs from a batch's codec. `data` must stay unchanged until
 * the promise settles (the pool reads it meanwhile). `level`: compression.gzip.level (-1 = zlib's default) or
 * compression.zstd.level; lz4-napi (lz4_flex) has one level only, so compression.lz4.level is accepted but
 * cannot change its output; snappy has no levels. Codec 0 resolves to `data` itself. Output is what compress
 * writes (xerial snappy chunks, one lz4 frame, one zstd frame with its content size), so every client reads it.
 */
export function compressAsync (codec: number, data: Buffer, level: number): Promise<Buffer> {
  switch (codec) {
    case Compression.none: return Promise.resolve(data)
    case Compression.gzip: return zlibAsync(zlib.gzip, data, { level })
    case Compression.snappy: return compressXerialSnappyAsync(data)
    case Compression.lz4: return lz4.compressFrame(data)
    case Compression.zstd:
      return zlibAsync(zlib.zstdCompress, data, {
        params: { [zlib.constants.ZSTD_c_compressionLevel]: level, [zlib.constants.ZSTD_c_contentSizeFlag]: 1 },
        pledgedSrcSize: data.length
      })
    default: return Promise.reject(unsupported(codec))
  }
}

type ZlibAsync<Options> = (data: Buffer, options: Options, callback: (error: Error | null, result: Buffer) => void) => void

function zlibAsync<Options> (method: ZlibAsync<Options>, data: Buffer, options: Options): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    method(data, options, (error, result) => { if (error !== null) reject(error); else resolve(result) })
  })
}

/** compressXerialSnappy, its 32 KiB chunks compressed concurrently on the addon's async work. */
async function compressXerialSnappyAsync (data: Buffer): Promise<Buffer> {
  const pending: Array<Promise<Buffer>> = []
  for (let start = 0; start < data.length; start += kXerialChunkSize) {
    pending.push(snappy.compress(data.subarray(start, Math.min(data.length, start + kXerialChunkSize))))
  }
  return frameXerialSnappy(await Promise.all(pending))
}

/**
 * Decompresses a batch's records section. Never returns (or allocates for) more than `maxOutput` bytes: more
 * output than that throws CORRUPT_MESSAGE. Codec 0 returns `data` itself.
 */
export function decompress (codec: number, data: Buffer, maxOutput: number = kDefaultMaxDecompressedBytes): Buffer {
  switch (codec) {
    case Compression.none: return data
    case Compression.gzip: return decompressGzip(data, maxOutput)
    case Compression.snappy: return decompressSnappy(data, maxOutput)
    case Compression.lz4: return decompressLz4(data, maxOutput)
    case Compression.zstd: return decompressZstd(data, maxOutput)
    default: throw unsupported(codec)
  }
}

// ---------------------------------------------------------------------------------------------------- gzip

const kInflateChunkSize = 64 * 1024

/** zlib's maxOutputLength must lie in [1, buffer.constants.MAX_LENGTH]. */
function zlibOutputLimit (maxOutput: number): number {
  return Math.min(bufferConstants.MAX_LENGTH, Math.max(1, maxOutput))
}

function decompressGzip (data: Buffer, maxOutput: number): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: zlibOutputLimit(maxOutput), chunkSize: kInflateChunkSize })
  } catch (error) {
    throw streamingFailure('gzip', error)
  }
}

// -------------------------------------------------------------------------------------------------- snappy

const kXerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
/** Magic (8) + version int32 + compatible version int32. */
const kXerialHeaderSize = 16
const kXerialVersion = 1
/** Input bytes per chunk: xerial SnappyOutputStream's default block size, which Kafka uses. */
const kXerialChunkSize = 32 * 1024

function hasXerialMagic (data: Buffer, position: number): boolean {
  if (data.length - position < kXerialHeaderSize) return false
  for (let i = 0; i < 8; i++) {
    if (data[position + i] !== kXerialMagic[i]) return false
  }
  return true
}

/**
 * Uncompressed length declared by the raw snappy block at [start, end): its leading unsigned varint (at most
 * 32 bits). -1 when the varint is truncated or too long.
 */
function snappyDeclaredLength (data: Buffer, start: number, end: number): number {
  let value = 0
  let multiplier = 1
  for (let position = start; position < end && position < start + 5; position++) {
    const byte = data[position]
    value += (byte & 0x7f) * multiplier
    if (byte < 0x80) return value
    multiplier *= 128
  }
  return -1
}

function uncompressSnappyBlock (block: Buffer): Buffer {
  try {
    return snappy.uncompressSync(block)
  } catch (error) {
    throw corrupt(`snappy: ${(error as Error).message}`)
  }
}

function decompressSnappy (data: Buffer, maxOutput: number): Buffer {
  if (!hasXerialMagic(data, 0)) {
    const declared = snappyDeclaredLength(data, 0, data.length)
    if (declared < 0) throw corrupt('snappy: bad length preamble')
    if (declared > maxOutput) throw tooLarge(`snappy: ${declared} bytes exceed the bound of ${maxOutput}`)
    // The native decoder allocates exactly the declared length and fails unless the block fills it.
    return uncompressSnappyBlock(data)
  }
  // Xerial: first pass checks the framing and sums the declared lengths, so nothing is inflated past the bound.
  let total = 0
  let chunks = 0
  let position = kXerialHeaderSize
  while (position < data.length) {
    if (hasXerialMagic(data, position)) {
      // Concatenated streams (SnappyInputStream accepts a header where a chunk would start).
      position += kXerialHeaderSize
      continue
    }
    if (data.length - position < 4) throw corrupt('snappy: truncated xerial chunk length')
    const chunkLength = data.readInt32BE(position)
    position += 4
    if (chunkLength < 0 || chunkLength > data.length - position) throw corrupt('snappy: xerial chunk overruns the data')
    if (chunkLength > 0) {
      const declared = snappyDeclaredLength(data, position, position + chunkLength)
      if (declared < 0) throw corrupt('snappy: bad length preamble in xerial chunk')
      total += declared
      if (total > maxOutput) throw tooLarge(`snappy: more than the bound of ${maxOutput} bytes`)
      chunks++
    }
    position += chunkLength
  }
  if (chunks === 0) return Buffer.alloc(0)
  // Second pass inflates; one chunk is returned as is, several are copied into one buffer of the summed size.
  const output = chunks === 1 ? null : Buffer.allocUnsafe(total)
  let written = 0
  position = kXerialHeaderSize
  while (position < data.length) {
    if (hasXerialMagic(data, position)) {
      position += kXerialHeaderSize
      continue
    }
    const chunkLength = data.readInt32BE(position)
    position += 4
    if (chunkLength > 0) {
      const block = uncompressSnappyBlock(data.subarray(position, position + chunkLength))
      if (output === null) return block
      written += block.copy(output, written)
    }
    position += chunkLength
  }
  return output as Buffer
}

/** Xerial-framed snappy, as Java's SnappyOutputStream writes it: header, then one chunk per 32 KiB of input. */
function compressXerialSnappy (data: Buffer): Buffer {
  const blocks: Buffer[] = []
  for (let start = 0; start < data.length; start += kXerialChunkSize) {
    blocks.push(snappy.compressSync(data.subarray(start, Math.min(data.length, start + kXerialChunkSize))))
  }
  return frameXerialSnappy(blocks)
}

/** The xerial header, then each compressed block as [int32 BE length][block]. */
function frameXerialSnappy (blocks: readonly Buffer[]): Buffer {
  let size = kXerialHeaderSize
  for (const block of blocks) size += 4 + block.length
  const output = Buffer.allocUnsafe(size)
  kXerialMagic.copy(output, 0)
  output.writeInt32BE(kXerialVersion, 8)
  output.writeInt32BE(kXerialVersion, 12)
  let position = kXerialHeaderSize
  for (const block of blocks) {
    output.writeInt32BE(block.length, position)
    position += 4 + block.copy(output, position + 4)
  }
  return output
}

// ----------------------------------------------------------------------------------------------------- lz4
//
// Frame layout (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md), little-endian:
//   magic uint32 0x184D2204
//   FLG   bits 7-6 version (01), 5 block independence, 4 block checksum, 3 content size, 2 content checksum,
//         1 reserved (0), 0 dictionary id
//   BD    bits 6-4 block max size id (4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB), others reserved (0)
//   [content size uint64]  when FLG bit 3
//   HC    header checksum byte (xxh32 of FLG..content size, >> 8): verified by the native decoder
//   blocks: uint32 size (bit 31 set: stored uncompressed), data, [uint32 block checksum when FLG bit 4]
//   end mark uint32 0, then [uint32 content checksum when FLG bit 2]
// The native decoder (lz4_flex) fails a block that inflates past the block max size, but reads only the first
// frame and tolerates a missing end mark or trailing bytes; the walk below rejects all of those first.

const kLz4FrameMagic = 0x184d2204
const kLz4UncompressedBlockBit = 0x80000000

// Results of walkLz4Frame (module state rather than an allocated result object).
let lz4FrameEnd = 0
let lz4OutputBound = 0

/**
 * Checks the framing of the single frame that must fill `data` and bounds its output: sets lz4OutputBound to
 * the sum of stored block sizes plus, per compressed block, the block max size (or, when `exact`, the size it
 * actually inflates to, found by walking its sequences without copying). Throws CORRUPT_MESSAGE.
 */
function walkLz4Frame (data: Buffer, exact: boolean): void {
  const end = data.length
  if (end < 7 || data.readUInt32LE(0) !== kLz4FrameMagic) throw corrupt('lz4: not an lz4 frame')
  const flags = data[4]
  const blockDescriptor = data[5]
  if ((flags >>> 6) !== 1) throw corrupt('lz4: unsupported frame version')
  if ((flags & 0x03) !== 0) throw corrupt('lz4: dictionary id or reserved flag set')
  if ((flags & 0x20) === 0) throw corrupt('lz4: dependent blocks are not supported by Kafka')
  if ((blockDescriptor & 0x8f) !== 0) throw corrupt('lz4: reserved block descriptor bits set')
  const blockSizeId = (blockDescriptor >>> 4) & 0x07
  if (blockSizeId < 4) throw corrupt('lz4: invalid block max size')
  const blockMaxSize = 1 << (2 * blockSizeId + 8)
  const hasBlockChecksum = (flags & 0x10) !== 0
  const hasContentChecksum = (flags & 0x04) !== 0
  let position = 6 + ((flags & 0x08) !== 0 ? 8 : 0) + 1
  let bound = 0
  for (;;) {
    if (end - position < 4) throw corrupt('lz4: truncated frame')
    const word = data.readUInt32LE(position)
    position += 4
    if (word === 0) break
    const blockSize = (word & ~kLz4UncompressedBlockBit) >>> 0
    if (blockSize > blockMaxSize) throw corrupt('lz4: block larger than the block max size')
    if (end - position < blockSize + (hasBlockChecksum ? 4 : 0)) throw corrupt('lz4: truncated block')
    if ((word & kLz4UncompressedBlockBit) !== 0) {
      bound += blockSize
    } else if (exact) {
      const inflated = lz4BlockInflatedSize(data, position, position + blockSize)
      if (inflated < 0 || inflated > blockMaxSize) throw corrupt('lz4: malformed block')
      bound += inflated
    } else {
      bound += blockMaxSize
    }
    position += blockSize + (hasBlockChecksum ? 4 : 0)
  }
  if (hasContentChecksum) {
    if (end - position < 4) throw corrupt('lz4: truncated content checksum')
    position += 4
  }
  lz4FrameEnd = position
  lz4OutputBound = bound
}

/**
 * Bytes the LZ4 block at [start, end) inflates to, walking its sequences (token, literal length, literals,
 * offset, match length) without copying; -1 when malformed. A block is sequences of
 *   token (high nibble literal length, low nibble match length - 4; 15 means more length bytes follow, each
 *   added, until one is not 255), literals, uint16 LE offset (1..bytes produced so far), then the match;
 * the last sequence has literals only.
 */
function lz4BlockInflatedSize (data: Buffer, start: number, end: number): number {
  let position = start
  let size = 0
  for (;;) {
    if (position >= end) return -1
    const token = data[position++]
    let literalLength = token >>> 4
    if (literalLength === 15) {
      let byte
      do {
        if (position >= end) return -1
        byte = data[position++]
        literalLength += byte
      } while (byte === 255)
    }
    position += literalLength
    size += literalLength
    if (position >= end) return position === end ? size : -1
    if (position + 2 > end) return -1
    const matchOffset = data[position] | (data[position + 1] << 8)
    position += 2
    if (matchOffset === 0 || matchOffset > size) return -1
    let matchLength = token & 0x0f
    if (matchLength === 15) {
      let byte
      do {
        if (position >= end) return -1
        byte = data[position++]
        matchLength += byte
      } while (byte === 255)
    }
    size += matchLength + 4
  }
}

function decompressLz4 (data: Buffer, maxOutput: number): Buffer {
  walkLz4Frame(data, false)
  if (lz4FrameEnd !== data.length) throw corrupt('lz4: bytes after the end of the frame')
  if (lz4OutputBound > maxOutput) {
    walkLz4Frame(data, true)
    if (lz4OutputBound > maxOutput) throw tooLarge(`lz4: ${lz4OutputBound} bytes exceed the bound of ${maxOutput}`)
  }
  let output: Buffer
  try {
    output = lz4.decompressFrameSync(data)
  } catch (error) {
    throw corrupt(`lz4: ${(error as Error).message}`)
  }
  if (output.length > maxOutput) throw tooLarge(`lz4: more than the bound of ${maxOutput} bytes`)
  return output
}

// ---------------------------------------------------------------------------------------------------- zstd
//
// The frames are walked first (frame headers and block headers only, no inflating): bytes that are not a whole
// zstd frame, trailing garbage included, are CORRUPT_MESSAGE, as librdkafka's consumer would find them.
// Then one frame with a declared content size (what zstd-napi and zstd-jni with a known input write): inflated
// in one call into a buffer of exactly that size, which the decoder cannot overrun. Anything else (no content
// size, as librdkafka writes; several frames): Node's streaming decoder, which stops at maxOutputLength. The
// window size is left at zstd's default limit (2^27), as Kafka's zstd-jni leaves it.

const zstdContext = new zstdBinding.DCtx()

function decompressZstd (data: Buffer, maxOutput: number): Buffer {
  let frames = 0
  try {
    for (let position = 0; position < data.length; frames++) {
      position += zstdBinding.findFrameCompressedSize(position === 0 ? data : data.subarray(position))
    }
  } catch (error) {
    throw corrupt(`zstd: ${(error as Error).message}`)
  }
  if (frames === 0) throw corrupt('zstd: no frame')
  const contentSize = frames === 1 ? zstdBinding.getFrameContentSize(data) : null
  if (contentSize !== null) {
    if (contentSize > maxOutput) throw tooLarge(`zstd: ${contentSize} bytes exceed the bound of ${maxOutput}`)
    const output = Buffer.allocUnsafe(contentSize)
    let written: number
    try {
      written = zstdContext.decompress(output, data)
    } catch (error) {
      throw corrupt(`zstd: ${(error as Error).message}`)
    }
    if (written !== contentSize) throw corrupt('zstd: frame shorter than its declared content size')
    return output
  }
  try {
    return zlib.zstdDecompressSync(data, { maxOutputLength: zlibOutputLimit(maxOutput), chunkSize: kInflateChunkSize })
  } catch (error) {
    throw streamingFailure('zstd', error)
  }
}
