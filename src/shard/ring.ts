// Single-producer / single-consumer byte ring over a SharedArrayBuffer: the hot-path channel between two
// partition workers (one ring per ordered pair). Control-plane traffic uses postMessage; this never does.
//
// Layout of the SharedArrayBuffer:
//   Int32 slots (kHeaderBytes = 64, each slot on its own 4 bytes; producer- and consumer-written slots apart)
//     [kWriteField]   total bytes ever written, modulo 2^32   (written by the producer only)
//     [kReadField]    total bytes ever consumed, modulo 2^32  (written by the consumer only)
//     [kSenderWaitingField] 1 while the producer has messages queued because the ring was full; the consumer
//                     clears it and rings the producer's doorbell after it frees space
//   data: `capacity` bytes (a power of two), starting at kHeaderBytes
//
// A record in the data area, 4-byte aligned, never wrapping:
//   int32 recordLength   bytes of payload that follow; kPaddingMarker (-1): skip to the start of the data area
//   int32 flags          kMoreFragments when the message continues in the next record
//   payload              (recordLength bytes, then padding to a multiple of 4)
// Messages larger than a record allowance are split into fragments; the first fragment's payload starts with
// the int32 total length of the message so that the consumer allocates once.
//
// Ordering: the producer writes the record bytes, then publishes with Atomics.store(kWriteField); the consumer
// reads kWriteField with Atomics.load before touching the bytes, and publishes the space it freed with
// Atomics.store(kReadField). Both indices only grow (mod 2^32), so `write - read` is the bytes in use.

import { recordRingFull } from '../metrics/worker-metrics.ts'

export const kWriteField = 0
export const kReadField = 4
export const kSenderWaitingField = 8
export const kHeaderBytes = 64
const kRecordHeader = 8
const kPaddingMarker = -1
const kMoreFragments = 1

export function createRingBuffer (capacity: number): SharedArrayBuffer {
  if (capacity < 4096 || (capacity & (capacity - 1)) !== 0) throw new RangeError('ring capacity must be a power of two >= 4096')
  return new SharedArrayBuffer(kHeaderBytes + capacity)
}

/**
 * Empties a ring: both indices and the sender-waiting flag back to 0. Only while neither end is in use (the main
 * thread does it when one end's worker died and the other end has reset its RingWriter/RingReader and stopped
 * touching the ring; see the restart protocol in src/broker.ts).
 */
export function resetRingBuffer (buffer: SharedArrayBuffer): void {
  const header = new Int32Array(buffer, 0, kHeaderBytes / 4)
  Atomics.store(header, kWriteField / 4, 0)
  Atomics.store(header, kReadField / 4, 0)
  Atomics.store(header, kSenderWaitingField / 4, 0)
}

function align4 (n: number): number {
  return (n + 3) & ~3
}

interface PendingMessage {
  readonly chunks: Buffer[]
  readonly length: number
}

export class RingWriter {
  readonly #header: Int32Array
  readonly #data: Buffer
  readonly #capacity: number
  readonly #mask: number
  /** The largest payload of one record: a message above it is fragmented. */
  readonly #maxRecordPayload: number
  /**
   * Messages waiting for space, in order, each a vector of chunks (written back to back, never concatenated
   * first); for the head message, how many of its bytes are written and where in its chunks the next byte is.
   */
  readonly #pending: PendingMessage[]
  #pendingHead: number
  #pendingWritten: number
  #chunkIndex: number
  #chunkOffset: number

  constructor (buffer: SharedArrayBuffer) {
    this.#header = new Int32Array(buffer, 0, kHeaderBytes / 4)
    this.#capacity = buffer.byteLength - kHeaderBytes
    this.#mask = this.#capacity - 1
    this.#data = Buffer.from(buffer, kHeaderBytes, this.#capacity)
    this.#maxRecordPayload = Math.min(this.#capacity / 4, 256 * 1024) - kRecordHeader
    this.#pending = []
    this.#pendingHead = 0
    this.#pendingWritten = 0
    this.#chunkIndex = 0
    this.#chunkOffset = 0
  }

  /**
   * Forgets every queued message (the reader is gone). The shared indices are reset separately, by
   * resetRingBuffer, once this writer no longer touches the ring.
   */
  reset (): void {
    this.#pending.length = 0
    this.#pendingHead = 0
    this.#pendingWritten = 0
    this.#chunkIndex = 0
    this.#chunkOffset = 0
  }

  /** True when messages are queued behind a full ring. */
  get blocked (): boolean {
    return this.#pendingHead < this.#pending.length
  }

  /**
   * Queues `message` (one buffer, or a vector of chunks sent as one message: the caller's header first, then the
   * payload's chunks, none of them copied until they go into the ring) and writes as much as fits now.
   * Returns true if anything was published (the consumer should be woken).
   */
  send (message: Buffer | Buffer[]): boolean {
    const chunks = Buffer.isBuffer(message) ? [message] : message
    let length = 0
    for (let i = 0; i < chunks.length; i++) length += chunks[i].length
    this.#pending.push({ chunks, length })
    return this.flush()
  }

  /** Copies `bytes` of the head message, from where the last copy stopped, to `target` at `at`. */
  #copyPayload (message: PendingMessage, target: Buffer, at: number, bytes: number): void {
    while (bytes > 0) {
      const chunk = message.chunks[this.#chunkIndex]
      const n = Math.min(bytes, chunk.length - this.#chunkOffset)
      chunk.copy(target, at, this.#chunkOffset, this.#chunkOffset + n)
      at += n
      bytes -= n
      this.#chunkOffset += n
      if (this.#chunkOffset === chunk.length) {
        this.#chunkIndex++
        this.#chunkOffset = 0
      }
    }
  }

  /** Writes queued messages while there is space. Returns true if anything was published. */
  flush (): boolean {
    let published = false
    const header = this.#header
    let write = Atomics.load(header, kWriteField / 4) >>> 0
    while (this.#pendingHead < this.#pending.length) {
      const message = this.#pending[this.#pendingHead]
      const first = this.#pendingWritten === 0
      const prefix = first ? 4 : 0
      const remainingBytes = message.length - this.#pendingWritten
      // Skip empty chunks so that the copy below always starts on a byte.
      while (this.#chunkIndex < message.chunks.length && message.chunks[this.#chunkIndex].length === 0) this.#chunkIndex++
      const chunk = Math.min(remainingBytes + prefix, this.#maxRecordPayload)
      const recordBytes = kRecordHeader + align4(chunk)
      const read = Atomics.load(header, kReadField / 4) >>> 0
      const used = (write - read) >>> 0
      const offset = write & this.#mask
      const tillEnd = this.#capacity - offset
      const needed = recordBytes > tillEnd ? tillEnd + recordBytes : recordBytes
      if (used + needed > this.#capacity) {
        Atomics.store(header, kSenderWaitingField / 4, 1)
        // The consumer may have freed space between our read and the flag; re-check once.
        const readAgain = Atomics.load(header, kReadField / 4) >>> 0
        if (readAgain === read) {
          recordRingFull()
          break
        }
        continue
      }
      let at = offset
      if (recordBytes > tillEnd) {
        this.#data.writeInt32LE(kPaddingMarker, at)
        write = (write + tillEnd) >>> 0
        at = 0
      }
      const data = this.#data
      data.writeInt32LE(chunk, at)
      const payloadBytes = chunk - prefix
      const more = payloadBytes < remainingBytes
      data.writeInt32LE(more ? kMoreFragments : 0, at + 4)
      let cursor = at + kRecordHeader
      if (first) {
        data.writeInt32LE(message.length, cursor)
        cursor += 4
      }
      this.#copyPayload(message, data, cursor, payloadBytes)
      write = (write + recordBytes) >>> 0
      Atomics.store(header, kWriteField / 4, write | 0)
      published = true
      if (more) {
        this.#pendingWritten += payloadBytes
      } else {
        this.#pending[this.#pendingHead++] = undefined as unknown as PendingMessage
        this.#pendingWritten = 0
        this.#chunkIndex = 0
        this.#chunkOffset = 0
      }
    }
    if (this.#pendingHead === this.#pending.length) {
      this.#pending.length = 0
      this.#pendingHead = 0
    } else if (this.#pendingHead > 1024) {
      this.#pending.splice(0, this.#pendingHead)
      this.#pendingHead = 0
    }
    return published
  }
}

export class RingReader {
  readonly #header: Int32Array
  readonly #data: Buffer
  readonly #capacity: number
  readonly #mask: number
  #assembling: Buffer | null
  #assembled: number
  /** The read index just past the message last returned as a view, not yet handed back; -1 when none. */
  #viewEnd: number

  constructor (buffer: SharedArrayBuffer) {
    this.#header = new Int32Array(buffer, 0, kHeaderBytes / 4)
    this.#capacity = buffer.byteLength - kHeaderBytes
    this.#mask = this.#capacity - 1
    this.#data = Buffer.from(buffer, kHeaderBytes, this.#capacity)
    this.#assembling = null
    this.#assembled = 0
    this.#viewEnd = -1
  }

  /**
   * Returns the next whole message, copied out of the ring (the copy lets the producer reuse the space at once
   * while the message is handled asynchronously), or null when none is complete.
   */
  receive (): Buffer | null {
    return this.#next(false)
  }

  /**
   * Like receive(), but a message that sits whole in one fragment comes back as a view of the ring, not a copy.
   * The view is valid until the next call on this reader, which is when its space goes back to the producer: by
   * then the caller must be done with it, or have copied what it keeps. (A message in several fragments is
   * assembled into a copy, as receive() does.)
   */
  receiveView (): Buffer | null {
    return this.#next(true)
  }

  #next (inPlace: boolean): Buffer | null {
    const header = this.#header
    const data = this.#data
    if (this.#viewEnd !== -1) {
      Atomics.store(header, kReadField / 4, this.#viewEnd | 0)
      this.#viewEnd = -1
    }
    let read = Atomics.load(header, kReadField / 4) >>> 0
    for (;;) {
      const write = Atomics.load(header, kWriteField / 4) >>> 0
      if (read === write) {
        Atomics.store(header, kReadField / 4, read | 0)
        return null
      }
      let at = read & this.#mask
      let length = data.readInt32LE(at)
      if (length === kPaddingMarker) {
        read = (read + (this.#capacity - at)) >>> 0
        at = 0
        length = data.readInt32LE(at)
      }
      const more = data.readInt32LE(at + 4) === kMoreFragments
      let cursor = at + kRecordHeader
      let payload = length
      if (this.#assembling === null) {
        const total = data.readInt32LE(cursor)
        cursor += 4
        payload -= 4
        if (inPlace && !more) {
          // Released (the read index stored) on the next call.
          this.#viewEnd = (read + kRecordHeader + align4(length)) >>> 0
          return data.subarray(cursor, cursor + payload)
        }
        this.#assembling = Buffer.allocUnsafe(total)
        this.#assembled = 0
      }
      data.copy(this.#assembling, this.#assembled, cursor, cursor + payload)
      this.#assembled += payload
      read = (read + kRecordHeader + align4(length)) >>> 0
      if (!more) {
        Atomics.store(header, kReadField / 4, read | 0)
        const message = this.#assembling
        this.#assembling = null
        return message
      }
    }
  }

  /** Forgets a half-assembled message and any view not handed back (the writer is gone; see RingWriter.reset). */
  reset (): void {
    this.#assembling = null
    this.#assembled = 0
    this.#viewEnd = -1
  }

  /** Reads and clears the producer's request to be woken. */
  takeSenderWaiting (): boolean {
    return Atomics.exchange(this.#header, kSenderWaitingField / 4, 0) === 1
  }
}

/**
 * One Int32 slot per worker: a counter bumped by anyone who put work in that worker's rings. A worker parks on its
 * own slot with Atomics.waitAsync (never Atomics.wait: the worker also does socket and file I/O).
 */
export class Doorbells {
  readonly slots: Int32Array

  constructor (buffer: SharedArrayBuffer) {
    this.slots = new Int32Array(buffer)
  }

  static create (workers: number): SharedArrayBuffer {
    return new SharedArrayBuffer(Math.max(1, workers) * 4)
  }

  ring (worker: number): void {
    Atomics.add(this.slots, worker, 1)
    Atomics.notify(this.slots, worker, 1)
  }

  load (worker: number): number {
    return Atomics.load(this.slots, worker)
  }

  /** Resolves when the slot moves from `seen` (at once if it already has). */
  wait (worker: number, seen: number): Promise<unknown> | null {
    const result = Atomics.waitAsync(this.slots, worker, seen)
    return result.async ? result.value : null
  }
}
