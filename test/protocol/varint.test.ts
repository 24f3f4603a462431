import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createVarintCursor,
  readUnsignedVarint,
  readVarint,
  readVarlong,
  unsignedVarintSize,
  varintSize,
  varlongSize,
  VarintError,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong
} from '../../src/protocol/varint.ts'

const kInt32Edges = [0, 1, -1, 63, -64, 64, -65, 127, 128, 8191, -8192, 8192, 2 ** 20, -(2 ** 27), 2 ** 30, 2147483647, -2147483648]

test('varint round-trips int32 edge values and writes exactly varintSize bytes', () => {
  for (const value of kInt32Edges) {
    const buf = Buffer.alloc(8)
    const end = writeVarint(buf, 1, value)
    assert.equal(end - 1, varintSize(value), `size of ${value}`)
    const cursor = createVarintCursor(1, buf.length)
    assert.equal(readVarint(buf, cursor), value)
    assert.equal(cursor.position, end)
  }
})

test('varint uses the zigzag bytes Kafka writes', () => {
  // ByteUtils.writeVarint: 0 -> 00, -1 -> 01, 1 -> 02, -64 -> 7f, 64 -> 80 01, int32 min -> ff ff ff ff 0f
  const cases: Array<[number, string]> = [
    [0, '00'], [-1, '01'], [1, '02'], [-64, '7f'], [64, '8001'], [300, 'd804'],
    [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f']
  ]
  for (const [value, hex] of cases) {
    const buf = Buffer.alloc(5)
    const end = writeVarint(buf, 0, value)
    assert.equal(buf.subarray(0, end).toString('hex'), hex, `encoding of ${value}`)
  }
})

test('varlong round-trips int64 values within 2^53 and writes exactly varlongSize bytes', () => {
  const values = [
    0, -1, 1, 63, -64, 64, 2147483647, -2147483648, 2147483648, -2147483649, 2 ** 32, 1700000000000, -1700000000000,
    2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, -(2 ** 53)
  ]
  for (const value of values) {
    const buf = Buffer.alloc(12)
    const end = writeVarlong(buf, 2, value)
    assert.equal(end - 2, varlongSize(value), `size of ${value}`)
    const cursor = createVarintCursor(2, buf.length)
    assert.equal(readVarlong(buf, cursor), value)
    assert.equal(cursor.position, end)
  }
})

test('varlong matches the bytes of a 64-bit zigzag encoding', () => {
  // zigzag(2^40) = 2^41; zigzag(-(2^40)) = 2^41 - 1
  const cases: Array<[number, bigint]> = [[2 ** 40, 2n ** 41n], [-(2 ** 40), 2n ** 41n - 1n], [Number.MAX_SAFE_INTEGER, 2n ** 54n - 2n]]
  for (const [value, zigzag] of cases) {
    const expected: number[] = []
    let rest = zigzag
    while (rest >= 0x80n) {
      expected.push(Number(rest & 0x7fn) | 0x80)
      rest >>= 7n
    }
    expected.push(Number(rest))
    const buf = Buffer.alloc(10)
    const end = writeVarlong(buf, 0, value)
    assert.deepEqual([...buf.subarray(0, end)], expected, `encoding of ${value}`)
  }
})

test('varlong decodes a 10-byte encoding of int64 min to its nearest number', () => {
  // zigzag(int64 min) = 2^64 - 1: nine 0xff bytes then 0x01
  const buf = Buffer.from('ffffffffffffffffff01', 'hex')
  const cursor = createVarintCursor(0, buf.length)
  assert.equal(readVarlong(buf, cursor), -(2 ** 63))
  assert.equal(cursor.position, 10)
})

test('readers advance one cursor through consecutive values', () => {
  const buf = Buffer.alloc(32)
  let position = writeVarint(buf, 0, -5)
  position = writeVarlong(buf, position, 1234567890123)
  position = writeUnsignedVarint(buf, position, 300)
  position = writeVarint(buf, position, 7)
  const cursor = createVarintCursor(0, position)
  assert.equal(readVarint(buf, cursor), -5)
  assert.equal(readVarlong(buf, cursor), 1234567890123)
  assert.equal(readUnsignedVarint(buf, cursor), 300)
  assert.equal(readVarint(buf, cursor), 7)
  assert.equal(cursor.position, position)
})

test('a truncated varint throws VarintError instead of reading past the cursor end', () => {
  const buf = Buffer.from([0x80, 0x80, 0x01])
  assert.throws(() => readVarint(buf, createVarintCursor(0, 2)), VarintError)
  assert.throws(() => readVarlong(buf, createVarintCursor(0, 2)), VarintError)
  assert.throws(() => readUnsignedVarint(buf, createVarintCursor(0, 2)), VarintError)
  assert.throws(() => readVarint(buf, createVarintCursor(3, 3)), VarintError)
})

test('a varint longer than 5 bytes and a varlong longer than 10 bytes are rejected', () => {
  const six = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
  assert.throws(() => readVarint(six, createVarintCursor(0, six.length)), VarintError)
  assert.throws(() => readUnsignedVarint(six, createVarintCursor(0, six.length)), VarintError)
  const eleven = Buffer.from('ffffffffffffffffffff01', 'hex')
  assert.throws(() => readVarlong(eleven, createVarintCursor(0, eleven.length)), VarintError)
})

test('unsigned varint round-trips uint32 values without zigzag', () => {
  for (const value of [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1]) {
    const buf = Buffer.alloc(6)
    const end = writeUnsignedVarint(buf, 0, value)
    assert.equal(end, unsignedVarintSize(value), `size of ${value}`)
    const cursor = createVarintCursor(0, buf.length)
    assert.equal(readUnsignedVarint(buf, cursor), value)
    assert.equal(cursor.position, end)
  }
  const buf = Buffer.alloc(2)
  writeUnsignedVarint(buf, 0, 300)
  assert.equal(buf.toString('hex'), 'ac02')
})
