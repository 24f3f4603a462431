// Encodes a message into a list of chunks ready for `socket.cork()` + writes (a write vector). Small fields go
// into a growing scratch buffer; large byte fields (record batches read from a segment) are appended by
// reference, never copied. `finishFrame()` fills in the 4-byte size prefix reserved by `startFrame()`.

import { writeInt64 } from './int64.ts'
import { writeUnsignedVarint } from './varint.ts'

const kInitialChunk = 4096
/** Byte fields at least this large are referenced, not copied. */
const kReferenceThreshold = 1024

export class Writer {
  /** Finished chunks, in order. */
  chunks: Buffer[]
  #current: Buffer
  #position: number
  #chunkStart: number
  #length: number
  #framePrefix: Buffer | null
  #frameOffset: number

  constructor (initialSize = kInitialChunk) {
    this.chunks = []
    this.#current = Buffer.allocUnsafe(initialSize)
    this.#position = 0
    this.#chunkStart = 0
    this.#length = 0
    this.#framePrefix = null
    this.#frameOffset = 0
  }

  /** Bytes written so far. */
  get length (): number {
    return this.#length
  }

  #ensure (bytes: number): void {
    if (this.#position + bytes <= this.#current.length) return
    this.#flushCurrent()
    this.#current = Buffer.allocUnsafe(Math.max(bytes, this.#current.length * 2))
    this.#position = 0
    this.#chunkStart = 0
  }

  #flushCurrent (): void {
    if (this.#position > this.#chunkStart) {
      this.chunks.push(this.#current.subarray(this.#chunkStart, this.#position))
      this.#chunkStart = this.#position
    }
  }

  /** Reserves the int32 size prefix of a frame; `finishFrame` fills it with the bytes written after it. */
  startFrame (): void {
    this.#ensure(4)
    this.#framePrefix = this.#current
    this.#frameOffset = this.#position
    this.#position += 4
    this.#length += 4
  }

  /** Fills the size prefix and returns the chunks of the whole frame. */
  finishFrame (): Buffer[] {
    this.#flushCurrent()
    if (this.#framePrefix !== null) this.#framePrefix.writeInt32BE(this.#length - 4, this.#frameOffset)
    return this.chunks
  }

  /** Returns the bytes written as one buffer (tests, tagged fields, small messages). */
  toBuffer (): Buffer {
    this.#flushCurrent()
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.#length)
  }

  int8 (value: number): void {
    this.#ensure(1)
    this.#current.writeInt8(value, this.#position)
    this.#position += 1
    this.#length += 1
  }

  bool (value: boolean): void {
    this.int8(value ? 1 : 0)
  }

  int16 (value: number): void {
    this.#ensure(2)
    this.#current.writeInt16BE(value, this.#position)
    this.#position += 2
    this.#length += 2
  }

  uint16 (value: number): void {
    this.#ensure(2)
    this.#current.writeUInt16BE(value, this.#position)
    this.#position += 2
    this.#length += 2
  }

  int32 (value: number): void {
    this.#ensure(4)
    this.#current.writeInt32BE(value, this.#position)
    this.#position += 4
    this.#length += 4
  }

  uint32 (value: number): void {
    this.#ensure(4)
    this.#current.writeUInt32BE(value, this.#position)
    this.#position += 4
    this.#length += 4
  }

  /**
   * int64 from a number, exact within ±2^53. Numbers beyond the int64 range are written as its bound: an
   * int64 read from the wire near the bound comes back as a number rounded past it (2^63 - 1 reads as 2^63).
   */
  int64 (value: number): void {
    this.#ensure(8)
    writeInt64(this.#current, this.#position, value)
    this.#position += 8
    this.#length += 8
  }

  float64 (value: number): void {
    this.#ensure(8)
    this.#current.writeDoubleBE(value, this.#position)
    this.#position += 8
    this.#length += 8
  }

  /** 32 hex characters to 16 bytes. */
  uuid (value: string): void {
    this.#ensure(16)
    const written = this.#current.write(value, this.#position, 16, 'hex')
    if (written !== 16) throw new TypeError(`not a uuid: ${value}`)
    this.#position += 16
    this.#length += 16
  }

  /** A uint32 (lengths, counts, tags) as an unsigned varint. */
  unsignedVarint (value: number): void {
    this.#ensure(5)
    const end = writeUnsignedVarint(this.#current, this.#position, value)
    this.#length += end - this.#position
    this.#position = end
  }

  #text (value: string, compact: boolean): void {
    const length = Buffer.byteLength(value)
    // Kafka's strings are at most 32767 bytes in every version (int16 length; compact ones are held to it too).
    if (length > 0x7fff) throw new RangeError(`string of ${length} bytes exceeds 32767`)
    if (compact) this.unsignedVarint(length + 1)
    else this.int16(length)
    this.#ensure(length)
    this.#current.write(value, this.#position, length, 'utf8')
    this.#position += length
    this.#length += length
  }

  nullableString (value: string | null): void {
    if (value === null) this.int16(-1)
    else this.#text(value, false)
  }

  compactNullableString (value: string | null): void {
    if (value === null) this.unsignedVarint(0)
    else this.#text(value, true)
  }

  /** Appends raw bytes: copied when small, referenced when large. */
  raw (value: Buffer): void {
    const length = value.length
    if (length >= kReferenceThreshold) {
      this.#flushCurrent()
      this.chunks.push(value)
    } else {
      this.#ensure(length)
      value.copy(this.#current, this.#position)
      this.#position += length
    }
    this.#length += length
  }

  /** Bytes (or records given as a vector of buffers); int32 length or, compact, varint length + 1. */
  nullableBytes (value: Buffer | Buffer[] | null, compact: boolean): void {
    if (value === null) {
      if (compact) this.unsignedVarint(0)
      else this.int32(-1)
      return
    }
    if (Buffer.isBuffer(value)) {
      if (compact) this.unsignedVarint(value.length + 1)
      else this.int32(value.length)
      this.raw(value)
      return
    }
    let length = 0
    for (let i = 0; i < value.length; i++) length += value[i].length
    if (compact) this.unsignedVarint(length + 1)
    else this.int32(length)
    for (let i = 0; i < value.length; i++) this.raw(value[i])
  }

  arrayLength (count: number, compact: boolean): void {
    if (compact) this.unsignedVarint(count + 1)
    else this.int32(count)
  }
}
