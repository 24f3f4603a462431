import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writer } from '../../src/protocol/writer.ts'
import { Reader } from '../../src/protocol/reader.ts'

function written (fill: (w: Writer) => void, initialSize?: number): string {
  const w = new Writer(initialSize)
  fill(w)
  const bytes = w.toBuffer()
  assert.equal(bytes.length, w.length)
  return bytes.toString('hex')
}

test('int64 writes exact two-word big-endian values up to ±2^53', () => {
  const values = [0n, 1n, -1n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n) - 1n, 1700000000123n,
    2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n)]
  for (const value of values) {
    const expected = Buffer.alloc(8)
    expected.writeBigInt64BE(value)
    assert.equal(written((w) => w.int64(Number(value))), expected.toString('hex'), String(value))
    assert.equal(new Reader(Buffer.from(expected)).int64(), Number(value))
  }
})

test('fixed-width integers, bools and doubles are written big-endian', () => {
  assert.equal(written((w) => {
    w.int8(-1)
    w.int16(-32768)
    w.uint16(65535)
    w.int32(-2)
    w.uint32(4294967295)
    w.bool(true)
    w.bool(false)
  }), 'ff' + '8000' + 'ffff' + 'fffffffe' + 'ffffffff' + '01' + '00')
  const d = Buffer.alloc(8)
  d.writeDoubleBE(-2.5)
  assert.equal(written((w) => w.float64(-2.5)), d.toString('hex'))
})

test('uuid writes 32 hex characters as 16 bytes and refuses anything shorter', () => {
  assert.equal(written((w) => w.uuid('00112233445566778899aabbccddeeff')), '00112233445566778899aabbccddeeff')
  assert.throws(() => new Writer().uuid('abcd'), TypeError)
})

test('unsigned varints are written in the fewest bytes at every 7-bit boundary', () => {
  const cases: Array<[number, string]> = [
    [0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [16383, 'ff7f'], [16384, '808001'], [2097151, 'ffff7f'],
    [2097152, '80808001'], [268435455, 'ffffff7f'], [268435456, '8080808001'], [2147483648, '8080808008'],
    [4294967295, 'ffffffff0f']
  ]
  for (const [value, hex] of cases) {
    assert.equal(written((w) => w.unsignedVarint(value)), hex, String(value))
    assert.equal(new Reader(Buffer.from(hex, 'hex')).unsignedVarint(), value)
  }
})

test('strings: int16 length or compact varint length + 1, measured in UTF-8 bytes', () => {
  const text = 'ä🐟'
  const utf8 = Buffer.from(text).toString('hex')
  assert.equal(written((w) => w.nullableString(text)), '0006' + utf8)
  assert.equal(written((w) => w.compactNullableString(text)), '07' + utf8)
  assert.equal(written((w) => w.nullableString('')), '0000')
  assert.equal(written((w) => w.compactNullableString('')), '01')
  // 64 two-byte characters: 128 bytes, a compact length of 129 needs two varint bytes.
  const long = 'é'.repeat(64)
  assert.equal(written((w) => w.compactNullableString(long)).slice(0, 4), '8101')
  assert.equal(written((w) => w.nullableString(long)).slice(0, 4), '0080')
})

test('null strings, bytes and arrays: -1 classic, 0 compact', () => {
  assert.equal(written((w) => w.nullableString(null)), 'ffff')
  assert.equal(written((w) => w.compactNullableString(null)), '00')
  assert.equal(written((w) => w.nullableBytes(null, false)), 'ffffffff')
  assert.equal(written((w) => w.nullableBytes(null, true)), '00')
  assert.equal(written((w) => w.arrayLength(-1, false)), 'ffffffff')
  assert.equal(written((w) => w.arrayLength(-1, true)), '00')
  assert.equal(written((w) => w.arrayLength(0, true)), '01')
  assert.equal(written((w) => w.arrayLength(300, true)), 'ad02')
  assert.equal(written((w) => w.arrayLength(300, false)), '0000012c')
})

test('bytes: int32 length or compact varint length + 1, and a buffer vector is written as one field', () => {
  const data = Buffer.from('aabbcc', 'hex')
  assert.equal(written((w) => w.nullableBytes(data, false)), '00000003aabbcc')
  assert.equal(written((w) => w.nullableBytes(data, true)), '04aabbcc')
  assert.equal(written((w) => w.nullableBytes(Buffer.alloc(0), false)), '00000000')
  assert.equal(written((w) => w.nullableBytes(Buffer.alloc(0), true)), '01')
  assert.equal(written((w) => w.nullableBytes([data, Buffer.from('dd', 'hex'), Buffer.alloc(0)], true)), '05aabbccdd')
  assert.equal(written((w) => w.nullableBytes([], false)), '00000000')
})

test('small byte fields are copied into the scratch buffer', () => {
  const data = Buffer.alloc(100, 1)
  const w = new Writer()
  w.int8(7)
  w.nullableBytes(data, false)
  const out = w.toBuffer()
  data.fill(2)
  assert.equal(out[5], 1, 'later changes to the source do not show: it was copied')
  assert.ok(!w.chunks.includes(data))
})

test('large byte fields are referenced, not copied, between chunks of the scratch buffer', () => {
  const big = Buffer.alloc(5000, 0x42)
  const w = new Writer(64)
  w.int32(1)
  w.nullableBytes(big, false)
  w.int16(2)
  w.toBuffer()
  const chunks = w.chunks
  const index = chunks.indexOf(big)
  assert.ok(index > 0, 'the buffer itself is one of the chunks')
  assert.equal(Buffer.concat(chunks).length, w.length)
  assert.equal(w.length, 4 + 4 + 5000 + 2)
  const all = Buffer.concat(chunks)
  assert.equal(all.readInt32BE(0), 1)
  assert.equal(all.readInt32BE(4), 5000)
  assert.equal(all.readInt16BE(8 + 5000), 2)
  // Referenced: a change to the source shows in the chunk list.
  big[0] = 0x43
  assert.equal(Buffer.concat(w.chunks)[8], 0x43)
})

test('raw at the threshold is referenced; just below it is copied', () => {
  const below = Buffer.alloc(1023)
  const at = Buffer.alloc(1024)
  const w = new Writer()
  w.raw(below)
  w.raw(at)
  assert.ok(!w.chunks.includes(below))
  assert.ok(w.chunks.includes(at))
  assert.equal(w.length, 2047)
})

test('the writer grows past its initial size without losing bytes', () => {
  const w = new Writer(4)
  for (let i = 0; i < 1000; i++) w.int32(i)
  w.compactNullableString('x'.repeat(300))
  const out = w.toBuffer()
  assert.equal(out.length, 4000 + 2 + 300)
  for (let i = 0; i < 1000; i++) assert.equal(out.readInt32BE(i * 4), i)
  assert.equal(new Reader(out, 4000).compactString(), 'x'.repeat(300))
})

test('startFrame reserves a size prefix that finishFrame fills with the bytes after it', () => {
  const w = new Writer(16)
  w.startFrame()
  w.int32(42) // correlation id
  w.nullableBytes(Buffer.alloc(2000, 9), false) // referenced
  w.int16(-1)
  const frame = Buffer.concat(w.finishFrame())
  assert.equal(frame.length, 4 + 4 + 4 + 2000 + 2)
  assert.equal(frame.readInt32BE(0), frame.length - 4)
  assert.equal(frame.readInt32BE(4), 42)
  assert.equal(frame.readInt16BE(frame.length - 2), -1)
})

test('a frame with only small fields is one chunk, size prefix included', () => {
  const w = new Writer()
  w.startFrame()
  w.int32(7)
  w.compactNullableString('abc')
  const chunks = w.finishFrame()
  assert.equal(chunks.length, 1)
  assert.equal(chunks[0].toString('hex'), '00000008' + '00000007' + '04616263')
})
