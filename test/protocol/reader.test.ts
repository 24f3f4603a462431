import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Reader, ProtocolDecodeError } from '../../src/protocol/reader.ts'

function hex (text: string): Reader {
  return new Reader(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
}

function int64Bytes (value: bigint): Buffer {
  const out = Buffer.alloc(8)
  out.writeBigInt64BE(value)
  return out
}

test('int64 reads exact values up to ±2^53 including both words', () => {
  const values = [0n, 1n, -1n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n, 2n ** 32n + 1n, -(2n ** 32n), 1700000000123n,
    2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n)]
  for (const value of values) {
    const reader = new Reader(int64Bytes(value))
    assert.equal(reader.int64(), Number(value), String(value))
    assert.equal(reader.position, 8)
  }
})

test('fixed-width integers read big-endian and signed or unsigned as named', () => {
  const r = hex('ff 8000 ffff ffffffff 80000000 ffffffff 01')
  assert.equal(r.int8(), -1)
  assert.equal(r.int16(), -32768)
  assert.equal(r.uint16(), 65535)
  assert.equal(r.int32(), -1)
  assert.equal(r.int32(), -2147483648)
  assert.equal(r.uint32(), 4294967295)
  assert.equal(r.bool(), true)
  assert.equal(r.remaining, 0)
  assert.equal(hex('00').bool(), false)
  assert.equal(hex('02').bool(), true)
})

test('float64 reads IEEE doubles', () => {
  const b = Buffer.alloc(16)
  b.writeDoubleBE(-0.1, 0)
  b.writeDoubleBE(1e300, 8)
  const r = new Reader(b)
  assert.equal(r.float64(), -0.1)
  assert.equal(r.float64(), 1e300)
})

test('uuid reads 16 bytes as 32 lowercase hex characters', () => {
  const r = hex('00112233445566778899AABBCCDDEEFF 00')
  assert.equal(r.uuid(), '00112233445566778899aabbccddeeff')
  assert.equal(r.position, 16)
})

test('unsigned varints decode at every 7-bit boundary', () => {
  const cases: Array<[string, number]> = [
    ['00', 0], ['01', 1], ['7f', 127], ['8001', 128], ['ff7f', 16383], ['808001', 16384], ['ffff7f', 2097151],
    ['80808001', 2097152], ['ffffff7f', 268435455], ['8080808001', 268435456], ['ffffffff0f', 4294967295],
    ['ac02', 300]
  ]
  for (const [bytes, value] of cases) {
    const r = hex(bytes)
    assert.equal(r.unsignedVarint(), value, bytes)
    assert.equal(r.remaining, 0, bytes)
  }
})

test('an unsigned varint longer than 5 bytes or cut short is rejected', () => {
  assert.throws(() => hex('ffffffffff01').unsignedVarint(), ProtocolDecodeError)
  assert.throws(() => hex('ff').unsignedVarint(), ProtocolDecodeError)
  assert.throws(() => hex('').unsignedVarint(), ProtocolDecodeError)
})

test('classic strings have an int16 length, -1 meaning null', () => {
  const text = 'Grüße 🐟'
  const bytes = Buffer.from(text)
  const b = Buffer.concat([Buffer.from([0, bytes.length]), bytes, Buffer.from('ffff0000', 'hex')])
  const r = new Reader(b)
  assert.equal(r.nullableString(), text)
  assert.equal(r.nullableString(), null)
  assert.equal(r.string(), '')
  assert.equal(r.remaining, 0)
  assert.throws(() => hex('ffff').string(), ProtocolDecodeError)
  assert.throws(() => hex('fffe').nullableString(), ProtocolDecodeError)
  assert.throws(() => hex('8000').nullableString(), ProtocolDecodeError)
})

test('compact strings have an unsigned varint length + 1, 0 meaning null', () => {
  const r = hex('04 616263 00 01')
  assert.equal(r.compactNullableString(), 'abc')
  assert.equal(r.compactNullableString(), null)
  assert.equal(r.compactString(), '')
  assert.throws(() => hex('00').compactString(), ProtocolDecodeError)
  // A 200-byte string needs a two-byte length (201 = c9 01).
  const long = Buffer.concat([Buffer.from('c901', 'hex'), Buffer.alloc(200, 0x61)])
  assert.equal(new Reader(long).compactString(), 'a'.repeat(200))
})

test('the same bytes mean different things read as compact and as classic', () => {
  // 00 03 ...: classic string of 3 bytes; compact: null then a 2-character string.
  const classic = hex('0003 616263')
  assert.equal(classic.string(), 'abc')
  const compact = hex('00 03 6162')
  assert.equal(compact.compactNullableString(), null)
  assert.equal(compact.compactNullableString(), 'ab')
})

test('bytes have an int32 length (-1 null) or a compact length and are views, not copies', () => {
  const r = hex('00000003 aabbcc ffffffff 00000000 04 010203 00 01')
  const view = r.nullableBytes()!
  assert.deepEqual([...view], [0xaa, 0xbb, 0xcc])
  assert.equal(view.buffer, r.buffer.buffer)
  assert.equal(view.byteOffset, r.buffer.byteOffset + 4)
  assert.equal(r.nullableBytes(), null)
  assert.equal(r.bytes().length, 0)
  assert.deepEqual([...r.compactNullableBytes()!], [1, 2, 3])
  assert.equal(r.compactNullableBytes(), null)
  assert.equal(r.compactBytes().length, 0)
  assert.throws(() => hex('ffffffff').bytes(), ProtocolDecodeError)
  assert.throws(() => hex('00').compactBytes(), ProtocolDecodeError)
  assert.throws(() => hex('fffffffe').nullableBytes(), ProtocolDecodeError)
})

test('a length past the end of the frame is rejected without reading', () => {
  assert.throws(() => hex('0005 6162').string(), ProtocolDecodeError)
  assert.throws(() => hex('7fffffff 00').bytes(), ProtocolDecodeError)
  assert.throws(() => hex('ffffffff0f').compactBytes(), ProtocolDecodeError)
  const r = hex('0005 616263646566')
  const before = r.position
  assert.throws(() => new Reader(r.buffer, 0, 4).string(), ProtocolDecodeError)
  assert.equal(r.position, before)
})

test('array lengths: -1 is null, other negatives and counts beyond the bytes left are rejected', () => {
  assert.equal(hex('ffffffff').arrayLength(), -1)
  assert.equal(hex('00000000').arrayLength(), 0)
  assert.equal(hex('00000002 0000').arrayLength(), 2)
  assert.throws(() => hex('fffffffe').arrayLength(), /negative array length -2/)
  assert.throws(() => hex('80000000').arrayLength(), ProtocolDecodeError)
  assert.throws(() => hex('00000003 0000').arrayLength(), /array of 3 in 2 bytes/)
  assert.equal(hex('00').compactArrayLength(), -1)
  assert.equal(hex('01').compactArrayLength(), 0)
  assert.equal(hex('03 0000').compactArrayLength(), 2)
  assert.throws(() => hex('04 0000').compactArrayLength(), /array of 3 in 2 bytes/)
  assert.throws(() => hex('ffffffff0f').compactArrayLength(), ProtocolDecodeError)
})

test('every primitive throws ProtocolDecodeError, not RangeError, when the frame ends early', () => {
  const reads: Array<[string, (r: Reader) => unknown]> = [
    ['int8', (r) => r.int8()], ['int16', (r) => r.int16()], ['uint16', (r) => r.uint16()], ['int32', (r) => r.int32()],
    ['uint32', (r) => r.uint32()], ['int64', (r) => r.int64()], ['float64', (r) => r.float64()], ['uuid', (r) => r.uuid()],
    ['bool', (r) => r.bool()]
  ]
  for (const [name, read] of reads) {
    for (let size = 0; size < 16; size++) {
      const r = new Reader(Buffer.alloc(size))
      let result: unknown
      try {
        result = read(r)
      } catch (error) {
        assert.ok(error instanceof ProtocolDecodeError, `${name} with ${size} bytes threw ${(error as Error).name}`)
        continue
      }
      assert.ok(r.position <= size, `${name} read past the end: ${String(result)}`)
    }
  }
})

test('a reader over part of a buffer stops at its end, not the buffer\'s', () => {
  const buffer = Buffer.from('0000000100000002', 'hex')
  const r = new Reader(buffer, 0, 4)
  assert.equal(r.int32(), 1)
  assert.equal(r.remaining, 0)
  assert.throws(() => r.int32(), ProtocolDecodeError)
  const mid = new Reader(buffer, 4)
  assert.equal(mid.int32(), 2)
})

test('skip moves the position within bounds only', () => {
  const r = hex('00010203')
  r.skip(3)
  assert.equal(r.int8(), 3)
  assert.throws(() => r.skip(1), ProtocolDecodeError)
  assert.throws(() => hex('00').skip(-1), ProtocolDecodeError)
})

test('ProtocolDecodeError carries a stable code', () => {
  const error = new ProtocolDecodeError('x')
  assert.equal(error.code, 'SHOAL_PROTOCOL_DECODE')
  assert.equal(error.name, 'ProtocolDecodeError')
  assert.ok(error instanceof Error)
})
