// A bounds-checked cursor over one Kafka frame. Every length read from the wire is checked against the bytes
// remaining before anything is allocated or sliced; a violation throws ProtocolDecodeError, which the
// connection answers with the API's error response and INVALID_REQUEST (only a request header that cannot be
// decoded closes the connection: without it there is no correlation id to answer).
//
// Strings are decoded to JS strings; bytes and records are returned as views (`subarray`) into the frame:
// the frame buffer is owned by the request and never reused, so views stay valid.

import { readInt64 } from './int64.ts'
import { createVarintCursor, readUnsignedVarint, VarintError } from './varint.ts'

// Reused by every unsigned varint read on this thread: reading allocates nothing.
const varintCursor = createVarintCursor()

export class ProtocolDecodeError extends Error {
  readonly code = 'SHOAL_PROTOCOL_DECODE'
  constructor (message: string) {
    super(message)
    this.name = 'ProtocolDecodeError'
  }
}

const kHex: string[] = []
for (let i = 0; i < 256; i++) kHex.push(i.toString(16).padStart(2, '0'))

export class Reader {
  buffer: Buffer
  position: number
  end: number

  constructor (buffer: Buffer, position = 0, end = buffer.length) {
    this.buffer = buffer
    this.position = position
    this.end = end
  }

  get remaining (): number {
    return this.end - this.position
  }

  #need (bytes: number): void {
    if (bytes < 0 || this.position + bytes > this.end) {
      throw new ProtocolDecodeError(`need ${bytes} bytes at ${this.position}, frame ends at ${this.end}`)
    }
  }

  skip (bytes: number): void {
    this.#need(bytes)
    this.position += bytes
  }

  int8 (): number {
    this.#need(1)
    return this.buffer.readInt8(this.position++)
  }

  bool (): boolean {
    return this.int8() !== 0
  }

  int16 (): number {
    this.#need(2)
    const value = this.buffer.readInt16BE(this.position)
    this.position += 2
    return value
  }

  uint16 (): number {
    this.#need(2)
    const value = this.buffer.readUInt16BE(this.position)
    this.position += 2
    return value
  }

  int32 (): number {
    this.#need(4)
    const value = this.buffer.readInt32BE(this.position)
    this.position += 4
    return value
  }

  uint32 (): number {
    this.#need(4)
    const value = this.buffer.readUInt32BE(this.position)
    this.position += 4
    return value
  }

  /** int64 as a number: exact within ±2^53, which covers every offset, timestamp and id Kafka sends. */
  int64 (): number {
    this.#need(8)
    const value = readInt64(this.buffer, this.position)
    this.position += 8
    return value
  }

  float64 (): number {
    this.#need(8)
    const value = this.buffer.readDoubleBE(this.position)
    this.position += 8
    return value
  }

  /** 16 bytes as 32 lowercase hex characters. */
  uuid (): string {
    this.#need(16)
    const b = this.buffer
    let out = ''
    for (let i = this.position, end = this.position + 16; i < end; i++) out += kHex[b[i]]
    this.position += 16
    return out
  }

  /** Unsigned varint of at most 5 bytes (a uint32), as flexible versions use for lengths and tags. */
  unsignedVarint (): number {
    varintCursor.position = this.position
    varintCursor.end = this.end
    let value: number
    try {
      value = readUnsignedVarint(this.buffer, varintCursor)
    } catch (error) {
      if (error instanceof VarintError) throw new ProtocolDecodeError(error.message)
      throw error
    }
    this.position = varintCursor.position
    return value
  }

  /**
   * A string of `length` bytes. Kafka holds every string, compact or not, to 32767 bytes. Invalid UTF-8 decodes
   * to U+FFFD (3 bytes each), so a long string is also checked to encode again within that limit: a decoded
   * string can always be echoed in a response.
   */
  #text (length: number): string {
    if (length > 0x7fff) throw new ProtocolDecodeError(`string of ${length} bytes exceeds 32767`)
    this.#need(length)
    const value = this.buffer.toString('utf8', this.position, this.position + length)
    this.position += length
    if (length > 0x7fff / 3 && Buffer.byteLength(value) > 0x7fff) throw new ProtocolDecodeError('string is not valid UTF-8')
    return value
  }

  #view (length: number): Buffer {
    this.#need(length)
    const value = this.buffer.subarray(this.position, this.position + length)
    this.position += length
    return value
  }

  /** int16 length, -1 for null. */
  nullableString (): string | null {
    const length = this.int16()
    if (length < 0) {
      if (length === -1) return null
      throw new ProtocolDecodeError(`negative string length ${length}`)
    }
    return this.#text(length)
  }

  string (): string {
    const value = this.nullableString()
    if (value === null) throw new ProtocolDecodeError('null in a non-nullable string')
    return value
  }

  /** Unsigned varint length + 1, 0 for null. */
  compactNullableString (): string | null {
    const lengthPlusOne = this.unsignedVarint()
    if (lengthPlusOne === 0) return null
    return this.#text(lengthPlusOne - 1)
  }

  compactString (): string {
    const value = this.compactNullableString()
    if (value === null) throw new ProtocolDecodeError('null in a non-nullable compact string')
    return value
  }

  /** int32 length, -1 for null. */
  nullableBytes (): Buffer | null {
    const length = this.int32()
    if (length < 0) {
      if (length === -1) return null
      throw new ProtocolDecodeError(`negative bytes length ${length}`)
    }
    return this.#view(length)
  }

  bytes (): Buffer {
    const value = this.nullableBytes()
    if (value === null) throw new ProtocolDecodeError('null in non-nullable bytes')
    return value
  }

  compactNullableBytes (): Buffer | null {
    const lengthPlusOne = this.unsignedVarint()
    if (lengthPlusOne === 0) return null
    return this.#view(lengthPlusOne - 1)
  }

  compactBytes (): Buffer {
    const value = this.compactNullableBytes()
    if (value === null) throw new ProtocolDecodeError('null in non-nullable compact bytes')
    return value
  }

  /**
   * int32 element count, -1 for null. Every element takes at least one byte on the wire, so a count larger than
   * the bytes remaining is rejected before any array is allocated.
   */
  arrayLength (): number {
    const count = this.int32()
    if (count < -1) throw new ProtocolDecodeError(`negative array length ${count}`)
    if (count > this.remaining) throw new ProtocolDecodeError(`array of ${count} in ${this.remaining} bytes`)
    return count
  }

  /** Unsigned varint count + 1, 0 for null: returns the count, or -1 for null. */
  compactArrayLength (): number {
    const count = this.unsignedVarint() - 1
    if (count > this.remaining) throw new ProtocolDecodeError(`array of ${count} in ${this.remaining} bytes`)
    return count
  }
}
