import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { compress, decompress } from '../../src/protocol/compression.ts'
import { ErrorCode, KafkaError } from '../../src/protocol/errors.ts'
import { Compression } from '../../src/protocol/record-batch-layout.ts'

const require = createRequire(import.meta.url)
const lz4Native = require('lz4-napi') as { compressSync (data: Buffer): Buffer }
const snappyNative = require('@napi-rs/snappy') as { compressSync (data: Buffer): Buffer }

const kCodecs = [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]
const kCodecNames = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

/** The input of the golden frames below: 'key00=value00;key01=value07;...', 84,000 bytes for 6,000 entries. */
function sample (entries: number): Buffer {
  let text = ''
  for (let i = 0; i < entries; i++) {
    text += `key${String(i % 50).padStart(2, '0')}=value${String((i * 7) % 50).padStart(2, '0')};`
  }
  return Buffer.from(text)
}

function assertKafkaError (fn: () => unknown, code: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof KafkaError, `expected a KafkaError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return true
  })
}

// Golden frames written by the reference C libraries (liblz4 1.9.4, libzstd 1.5.4) through ctypes, with the
// settings real producers use; they pin decoding to what those libraries write, not to what our encoder writes.
// librdkafka's lz4 writer: LZ4F_compressFrame with blockMode = LZ4F_blockIndependent, defaults otherwise
// (64 KiB blocks, no content size, no checksums); sample(6000), two blocks.
const lz4LibrdkafkaStyle = Buffer.from(
  'BCJNGGBAgqcCAADga2V5MDA9dmFsdWUwMDsOABMxDgARNw4AEjIOACExNA4AEjMOACEyMQ4AEzQOABE4DgASNQ4AITM1DgASNg4A' +
  'ITQyDgATNw4AETkOABI4DgAhMDYOABI5DgAgMTMOABMxjAARMowAEzGMABEyjAATMYwAETOMABMxjAARNIwAEzGMABE0jAATMYwA' +
  'ETCMABMxjAARMYwAEzGMABExjAATMYwAETKMABMxjAARM4wAEzKMABE0jAATMowAETSMABMyjAARMIwAEzKMABExjAATMowAETGM' +
  'ABMyjAARMowAEzKMABEzjAATMowAETOMABMyjAARNIwAEzKMABEwjAATM4wAETGMABMzjAARMYwAEzOMABEyjAATM4wAETOMABMz' +
  'jAARM4wAEzOMABE0jAATM4wAETCMABMzjAARMIwAEzOMABExjAATM4wAETKMABM0jAARM4wAEzSMABEzjAATNIwAETSMABM0jAAR' +
  'MIwAEzSMABEwjAATNIwAETGMABM0jAARMowAEzSMABEyjAATNIwAETOMABM0jAARNIwAD7wC////////////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '//////////8nUDEwO2tl7wEAAPICeTMxPXZhbHVlMTc7a2V5MzIOACEyNA4AEjMOACEzMQ4AEzQOABE4DgASNQ4AITQ1DgASNg4A' +
  'ITAyDgATNw4AETkOABI4DgAhMTYOABI5DgAgMjMOACI0MA4AITMwDgADjAARM4wAEzSMABE0jAATNIwAETCMABM0jAARMIwAEzSM' +
  'ABExjAATNIwAETKMABM0jAARMowAEzSMABEzjAATNIwAETSMABMwjAARMIwAEzCMABEwjAATMIwAETGMABMwjAARMowAEzCMABEy' +
  'jAATMIwAETOMABMwjAARNIwAEzCMABE0jAATMIwAETCMABMwjAARMYwAEzGMABEyjAATMYwAETKMABMxjAARM4wAEzGMABE0jAAT' +
  'MYwAETSMABMxjAARMIwAEzGMABExjAATMYwAETGMABMxjAARMowAEzGMABEzjAATMowAETSMABMyjAARNIwAEzKMABEwjAATMowA' +
  'ETGMABMyjAARMYwAEzKMABEyjAATMowAETOMABMyjAARM4wAEzKMABE0jAATMowAETCMABMzjAARMYwAD7wC////////////////' +
  '////////////////////////////////////////////////////////////////////////////kFB1ZTQzOwAAAAA=', 'base64')
// LZ4F with content size, content checksum and block checksums (FLG 0x7c); sample(2000), one block.
const lz4AllFlags = Buffer.from(
  'BCJNGHxAYG0AAAAAAAAxEwIAAOBrZXkwMD12YWx1ZTAwOw4AEzEOABE3DgASMg4AITE0DgASMw4AITIxDgATNA4AETgOABI1DgAh' +
  'MzUOABI2DgAhNDIOABM3DgAROQ4AEjgOACEwNg4AEjkOACAxMw4AEzGMABEyjAATMYwAETKMABMxjAARM4wAEzGMABE0jAATMYwA' +
  'ETSMABMxjAARMIwAEzGMABExjAATMYwAETGMABMxjAARMowAEzGMABEzjAATMowAETSMABMyjAARNIwAEzKMABEwjAATMowAETGM' +
  'ABMyjAARMYwAEzKMABEyjAATMowAETOMABMyjAARM4wAEzKMABE0jAATMowAETCMABMzjAARMYwAEzOMABExjAATM4wAETKMABMz' +
  'jAARM4wAEzOMABEzjAATM4wAETSMABMzjAARMIwAEzOMABEwjAATM4wAETGMABMzjAARMowAEzSMABEzjAATNIwAETOMABM0jAAR' +
  'NIwAEzSMABEwjAATNIwAETCMABM0jAARMYwAEzSMABEyjAATNIwAETKMABM0jAARM4wAEzSMABE0jAAPvAL/////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////////////81B1ZTQzO+zCt9EAAAAAb+dRBg==', 'base64')
// LZ4F defaults (the lz4 CLI's): linked blocks (FLG 0x40), which Java's reader refuses; sample(6000).
const lz4Linked = Buffer.from(
  'BCJNGEBAwKsCAADga2V5MDA9dmFsdWUwMDsOABMxDgARNw4AEjIOACExNA4AEjMOACEyMQ4AEzQOABE4DgASNQ4AITM1DgASNg4A' +
  'ITQyDgATNw4AETkOABI4DgAhMDYOABI5DgBzMTM7a2V5MYwAETKMABMxjAARMowAEzGMABEzjAATMYwAETSMABMxjAARNIwAEzGM' +
  'ABEwjAAjMTZiAAGMABMxjAARMYwAEzGMABEyjAATMYwAETOMABMyjAARNIwAEzKMABE0jAATMowAETCMABMyjAARMYwAEzKMABEx' +
  'jAATMowAETKMABMyjAARM4wAEzKMABEzjAATMowAETSMABMyjAARMIwAEzOMABExjAATM4wAETGMABMzjAARMowAEzOMABEzjAAT' +
  'M4wAETOMABMzjAARNIwAEzOMAHMwMjtrZXkzjAARMIwAIzM4NAEBjAATM4wAETKMABM0jAARM4wAEzSMABEzjAATNIwAETSMABM0' +
  'jAARMIwAEzSMABEwjAATNIwAETGMABM0jAARMowAEzSMABEyjAATNIwAETOMACI0OZoAETSMAA+8Av//////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '////////////////J1AxMDtrZVIAAAAPTP7/////////////////////////////////////////////////////////////////' +
  '//////////////////////////////9QUHVlNDM7AAAAAA==', 'base64')
// ZSTD_compress2 with ZSTD_c_contentSizeFlag = 0, as streaming producers write it; sample(6000).
const zstdNoContentSize = Buffer.from(
  'KLUv/QA47QQAogkXFMAXhgMAVImUfk6ESSmlTCkxwDkBfompppVg0Dn/Hc67W0Kq6SQedNpvh+PslZxqaokGnfTX4b7aJaWaUmJB' +
  '5313uI5myaiml3DQWZ8dbiAMAJtAMCBQELANhCFjqCGcvv8G8KXNEuDAY33///9/A15Fv9pTNUepCuwLJ+kfpE/LMWJaLdgfLRNP' +
  'RY6mKtgXnqQ/yD6ZGYMgqw==', 'base64')

test('every codec round-trips empty, small and multi-block inputs', () => {
  const inputs = [Buffer.alloc(0), Buffer.from('hello kafka'), sample(20000), Buffer.from(zlib.deflateRawSync(sample(3000)))]
  for (const codec of kCodecs) {
    for (const input of inputs) {
      const compressed = compress(codec, input)
      const output = decompress(codec, compressed, input.length)
      assert.ok(output.equals(input), `${kCodecNames[codec]} of ${input.length} bytes`)
    }
  }
})

test('codec 0 passes data through untouched', () => {
  const data = Buffer.from('plain')
  assert.equal(compress(Compression.none, data), data)
  assert.equal(decompress(Compression.none, data, 1), data)
})

test('unknown codecs 5-7 throw UNSUPPORTED_COMPRESSION_TYPE both ways', () => {
  for (const codec of [5, 6, 7]) {
    assertKafkaError(() => compress(codec, Buffer.from('x')), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    assertKafkaError(() => decompress(codec, Buffer.from('x'), 100), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  }
})

test('garbage input throws CORRUPT_MESSAGE for every codec', () => {
  const garbage = Buffer.from('this is not compressed data at all, honestly')
  for (const codec of kCodecs) {
    assertKafkaError(() => decompress(codec, garbage, 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  }
})

test('a truncated stream throws CORRUPT_MESSAGE for every codec', () => {
  const input = sample(20000)
  for (const codec of kCodecs) {
    const compressed = compress(codec, input)
    assertKafkaError(() => decompress(codec, compressed.subarray(0, compressed.length - 7), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  }
})

test('decompression refuses output beyond maxOutput and accepts output of exactly maxOutput', () => {
  // 1 MiB of zeros compresses to a few KiB in every codec: a small zip bomb.
  const bomb = Buffer.alloc(1 << 20)
  for (const codec of kCodecs) {
    const compressed = compress(codec, bomb)
    assert.ok(compressed.length < 64 * 1024, `${kCodecNames[codec]} compresses zeros`)
    assertKafkaError(() => decompress(codec, compressed, 1000), ErrorCode.MESSAGE_TOO_LARGE)
    assertKafkaError(() => decompress(codec, compressed, bomb.length - 1), ErrorCode.MESSAGE_TOO_LARGE)
    assert.equal(decompress(codec, compressed, bomb.length).length, bomb.length)
  }
})

test('snappy compress writes xerial framing with 32 KiB chunks, as Java producers do', () => {
  const input = sample(10000) // 140,000 bytes: five chunks
  const framed = compress(Compression.snappy, input)
  assert.equal(framed.subarray(0, 8).toString('hex'), '82534e4150505900')
  assert.equal(framed.readInt32BE(8), 1)
  assert.equal(framed.readInt32BE(12), 1)
  let position = 16
  let chunks = 0
  while (position < framed.length) {
    const chunkLength = framed.readInt32BE(position)
    // Each chunk is a raw snappy block whose length preamble (a varint) is at most 32 KiB.
    let declared = 0
    for (let shift = 0, i = position + 4; ; shift += 7, i++) {
      declared += (framed[i] & 0x7f) * 2 ** shift
      if (framed[i] < 0x80) break
    }
    assert.ok(declared <= 32 * 1024)
    position += 4 + chunkLength
    chunks++
  }
  assert.equal(position, framed.length)
  assert.equal(chunks, 5)
})

test('snappy decodes both a raw block (librdkafka) and a xerial stream (Java)', () => {
  // Hand-assembled: raw snappy of 'hello' is preamble 05, literal tag (5 - 1) << 2 = 0x10, then the bytes.
  const rawHello = Buffer.from('051068656c6c6f', 'hex')
  assert.equal(decompress(Compression.snappy, rawHello, 100).toString(), 'hello')
  const xerialHello = Buffer.concat([
    Buffer.from('82534e41505059000000000100000001', 'hex'),
    Buffer.from('00000007', 'hex'), rawHello,
    Buffer.from('00000007', 'hex'), Buffer.from('051068656c6c6f', 'hex')
  ])
  assert.equal(decompress(Compression.snappy, xerialHello, 100).toString(), 'hellohello')
  const input = sample(5000)
  assert.ok(decompress(Compression.snappy, snappyNative.compressSync(input), input.length).equals(input))
})

test('snappy xerial accepts a concatenated second stream header between chunks', () => {
  const header = Buffer.from('82534e41505059000000000100000001', 'hex')
  const chunk = Buffer.from('00000007051068656c6c6f', 'hex')
  const stream = Buffer.concat([header, chunk, header, chunk])
  assert.equal(decompress(Compression.snappy, stream, 100).toString(), 'hellohello')
})

test('snappy refuses a block whose declared length exceeds the bound before inflating it', () => {
  // Preamble ff ff ff ff 0f declares 4 GiB; the body is irrelevant.
  const liar = Buffer.from('ffffffff0f00', 'hex')
  assertKafkaError(() => decompress(Compression.snappy, liar, 1 << 20), ErrorCode.MESSAGE_TOO_LARGE)
  const framedLiar = Buffer.concat([Buffer.from('82534e41505059000000000100000001', 'hex'), Buffer.from('00000006', 'hex'), liar])
  assertKafkaError(() => decompress(Compression.snappy, framedLiar, 1 << 20), ErrorCode.MESSAGE_TOO_LARGE)
})

test('snappy xerial rejects a chunk length that overruns the data', () => {
  const stream = Buffer.from('82534e4150505900000000010000000100000009051068656c6c6f', 'hex')
  assertKafkaError(() => decompress(Compression.snappy, stream, 100), ErrorCode.CORRUPT_MESSAGE)
})

test('lz4 compress writes an LZ4 frame with independent blocks that Java and librdkafka read', () => {
  const frame = compress(Compression.lz4, sample(100))
  assert.equal(frame.readUInt32LE(0), 0x184d2204)
  const flags = frame[4]
  assert.equal(flags >>> 6, 1, 'frame version 01')
  assert.equal(flags & 0x20, 0x20, 'block independence')
  assert.equal(flags & 0x03, 0, 'no dictionary id, reserved bit clear')
  const blockSizeId = (frame[5] >>> 4) & 7
  assert.ok(blockSizeId >= 4 && blockSizeId <= 7)
  assert.equal(frame.readUInt32LE(frame.length - 4), 0, 'ends with the end mark')
})

test('lz4 decodes a librdkafka-style frame of two independent 64 KiB blocks', () => {
  const output = decompress(Compression.lz4, lz4LibrdkafkaStyle, 1 << 20)
  assert.ok(output.equals(sample(6000)))
})

test('lz4 decodes a frame with content size, block checksums and a content checksum', () => {
  assert.equal(lz4AllFlags[4], 0x7c)
  assert.ok(decompress(Compression.lz4, lz4AllFlags, 1 << 20).equals(sample(2000)))
})

test('lz4 rejects linked blocks, which Kafka consumers cannot read', () => {
  assert.equal(lz4Linked[4] & 0x20, 0)
  assertKafkaError(() => decompress(Compression.lz4, lz4Linked, 1 << 20), ErrorCode.CORRUPT_MESSAGE)
})

test('lz4 rejects the bare block format, a missing end mark, bytes after the frame and a second frame', () => {
  const input = sample(2000)
  const frame = compress(Compression.lz4, input)
  assertKafkaError(() => decompress(Compression.lz4, lz4Native.compressSync(input), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  assertKafkaError(() => decompress(Compression.lz4, frame.subarray(0, frame.length - 4), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  assertKafkaError(() => decompress(Compression.lz4, Buffer.concat([frame, Buffer.from([1, 2, 3])]), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  assertKafkaError(() => decompress(Compression.lz4, Buffer.concat([frame, frame]), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
})

test('lz4 measures the exact inflated size when the block-size bound exceeds maxOutput', () => {
  // 1 MiB - 100 bytes: the frame's blocks could hold 1 MiB, so the bound alone would refuse maxOutput = length.
  const input = Buffer.alloc((1 << 20) - 100, 0x61)
  const frame = compress(Compression.lz4, input)
  assert.equal(decompress(Compression.lz4, frame, input.length).length, input.length)
  assertKafkaError(() => decompress(Compression.lz4, frame, input.length - 1), ErrorCode.MESSAGE_TOO_LARGE)
})

test('lz4 rejects a block that inflates past the block max size', () => {
  // A 64 KiB-block frame whose one block inflates to 1 MiB.
  const block = lz4Native.compressSync(Buffer.alloc(1 << 20)).subarray(4) // compressSync prefixes the size
  const size = Buffer.alloc(4)
  size.writeUInt32LE(block.length)
  const frame = Buffer.concat([Buffer.from('04224d18604082', 'hex'), size, block, Buffer.alloc(4)])
  assertKafkaError(() => decompress(Compression.lz4, frame, 1 << 30), ErrorCode.CORRUPT_MESSAGE)
})

test('zstd decodes a frame without a content size, bounded by maxOutput', () => {
  // Byte 4 is the frame header descriptor: bits 6-7 = 0 and bit 5 = 0, so no content size field.
  assert.equal(zstdNoContentSize[4] & 0xe0, 0)
  const input = sample(6000)
  assert.ok(decompress(Compression.zstd, zstdNoContentSize, input.length).equals(input))
  assertKafkaError(() => decompress(Compression.zstd, zstdNoContentSize, input.length - 1), ErrorCode.MESSAGE_TOO_LARGE)
})

test('zstd decodes concatenated frames', () => {
  const first = compress(Compression.zstd, Buffer.from('first '))
  const second = compress(Compression.zstd, Buffer.from('second'))
  assert.equal(decompress(Compression.zstd, Buffer.concat([first, second]), 100).toString(), 'first second')
})

test('zstd rejects a frame that holds more than its declared content size', () => {
  const input = sample(100)
  const frame = Buffer.from(compress(Compression.zstd, input))
  // Frame header descriptor (byte 4): bits 6-7 content size field size (0: 1 byte when single segment, 1: 2
  // bytes holding size - 256, 2: 4 bytes), bit 5 single segment (no window descriptor byte), bits 0-1 dict id.
  const descriptor = frame[4]
  assert.equal(descriptor & 0x03, 0)
  const sizeAt = 5 + ((descriptor & 0x20) !== 0 ? 0 : 1)
  const sizeFlag = descriptor >>> 6
  assert.ok(sizeFlag === 1 || sizeFlag === 2, 'our compressor records the content size')
  if (sizeFlag === 1) {
    assert.equal(frame.readUInt16LE(sizeAt) + 256, input.length)
    frame.writeUInt16LE(0, sizeAt) // declares 256 bytes
  } else {
    assert.equal(frame.readUInt32LE(sizeAt), input.length)
    frame.writeUInt32LE(10, sizeAt)
  }
  assertKafkaError(() => decompress(Compression.zstd, frame, 1 << 20), ErrorCode.CORRUPT_MESSAGE)
})

test('frames from @platformatic/kafka (wasm snappy and lz4, Node zstd) decode, and ours decode with it', async () => {
  const { compressionsAlgorithms } = await import('@platformatic/kafka') as unknown as {
    compressionsAlgorithms: Record<string, { compressSync (data: Buffer): Buffer, decompressSync (data: Buffer): Buffer }>
  }
  const input = sample(8000)
  for (const codec of kCodecs) {
    const theirs = compressionsAlgorithms[kCodecNames[codec]]
    assert.ok(decompress(codec, theirs.compressSync(input), input.length).equals(input), `${kCodecNames[codec]}: theirs to ours`)
    assert.ok(Buffer.from(theirs.decompressSync(compress(codec, input))).equals(input), `${kCodecNames[codec]}: ours to theirs`)
  }
})

test('zstd rejects bytes after the last frame', () => {
  const frame = compress(Compression.zstd, sample(100))
  assertKafkaError(() => decompress(Compression.zstd, Buffer.concat([frame, Buffer.from([1, 2, 3])]), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  assertKafkaError(() => decompress(Compression.zstd, Buffer.concat([zstdNoContentSize, Buffer.from([1, 2, 3])]), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  assertKafkaError(() => decompress(Compression.zstd, Buffer.alloc(0), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
})

test('gzip and zstd accept a bound beyond the largest Buffer', () => {
  const input = sample(100)
  for (const codec of [Compression.gzip, Compression.zstd]) {
    assert.ok(decompress(codec, compress(codec, input), Number.MAX_SAFE_INTEGER).equals(input))
  }
  assert.ok(decompress(Compression.zstd, zstdNoContentSize, Infinity).equals(sample(6000)))
})

test('lz4 verifies the header, block and content checksums', () => {
  // lz4AllFlags: header checksum at byte 14 (after magic, FLG, BD and the 8-byte content size); the frame ends
  // with block checksum, end mark, content checksum.
  const damage = (position: number): Buffer => {
    const copy = Buffer.from(lz4AllFlags)
    copy[position] ^= 0x01
    return copy
  }
  for (const position of [14, lz4AllFlags.length - 9, lz4AllFlags.length - 1]) {
    assertKafkaError(() => decompress(Compression.lz4, damage(position), 1 << 20), ErrorCode.CORRUPT_MESSAGE)
  }
})
