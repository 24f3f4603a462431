// Byte-level damage to a whole frame (int32 size, header, body). Every mutation but the frame-size lies keeps
// the size prefix true to the bytes that follow, so the connection stays in sync and the broker is expected to
// answer (or close) without harm. A frame-size lie desynchronises the stream: the broker may wait for bytes that
// never come or read garbage as the next frame, and may close the connection; the runner sends nothing more on
// such a connection and reconnects.
import type { Prng } from './prng.ts'

export interface Mutation {
  readonly bytes: Buffer
  readonly what: string
  /** The frame size lies: the stream is out of sync after this frame. */
  readonly desync: boolean
}

const kInt32Lies = [0x7fffffff, -2, -1, -0x80000000, 0x10000, 0x7ffffffe]
const kInt16Lies = [0x7fff, -1, -2, -0x8000]
const kUnknownApiKeys = [200, -1, 32767, -32768, 1000, 75, 99]
const kUnknownVersions = [999, -1, 32767, -32768, 100]

function resize (frame: Buffer): Buffer {
  frame.writeInt32BE(frame.length - 4, 0)
  return frame
}

/** A damaged copy of `frame`. */
export function mutate (rng: Prng, frame: Buffer): Mutation {
  const bytes = Buffer.from(frame)
  const body = bytes.length - 4
  switch (rng.int(0, 11)) {
    case 0: {
      const keep = rng.int(0, body - 1)
      return { bytes: resize(bytes.subarray(0, 4 + keep)), what: `truncated to ${keep} of ${body} bytes`, desync: false }
    }
    case 1: case 2: {
      const flips = rng.pick([1, 1, 2, 4, 8])
      for (let i = 0; i < flips; i++) bytes[rng.int(4, bytes.length - 1)] ^= 1 << rng.int(0, 7)
      return { bytes, what: `${flips} bit flip(s)`, desync: false }
    }
    case 3: {
      if (body < 12) return { bytes, what: 'unchanged (too short)', desync: false }
      const at = rng.int(4, bytes.length - 4)
      const lie = rng.pick(kInt32Lies)
      bytes.writeInt32BE(lie, at)
      return { bytes, what: `int32 ${lie} at ${at}`, desync: false }
    }
    case 4: {
      const at = rng.int(4, bytes.length - 2)
      const lie = rng.pick(kInt16Lies)
      bytes.writeInt16BE(lie, at)
      return { bytes, what: `int16 ${lie} at ${at}`, desync: false }
    }
    case 5: {
      // A huge (or over-long) varint spliced in.
      const at = rng.int(12, Math.max(12, bytes.length))
      const varint = rng.pick([[0xff, 0xff, 0xff, 0xff, 0x0f], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80]])
      return { bytes: resize(Buffer.concat([bytes.subarray(0, at), Buffer.from(varint), bytes.subarray(at)])), what: `varint ${varint.length} bytes spliced at ${at}`, desync: false }
    }
    case 6: {
      const key = rng.pick(kUnknownApiKeys)
      bytes.writeInt16BE(key, 4)
      return { bytes, what: `api key ${key}`, desync: false }
    }
    case 7: {
      const version = rng.pick(kUnknownVersions)
      bytes.writeInt16BE(version, 6)
      return { bytes, what: `api version ${version}`, desync: false }
    }
    case 8: {
      const junk = rng.bytes(rng.pick([1, 7, 100, 4096]))
      return { bytes: resize(Buffer.concat([bytes, junk])), what: `${junk.length} junk bytes appended`, desync: false }
    }
    case 9: {
      // A slice repeated in place (duplicated arrays, structs, records).
      const start = rng.int(12, Math.max(12, bytes.length - 1))
      const end = Math.min(bytes.length, start + rng.int(1, 256))
      return { bytes: resize(Buffer.concat([bytes.subarray(0, end), bytes.subarray(start, end), bytes.subarray(end)])), what: `bytes ${start}-${end} duplicated`, desync: false }
    }
    case 10: {
      // Random bytes over a stretch of the body.
      const start = rng.int(4, bytes.length - 1)
      const length = Math.min(bytes.length - start, rng.int(1, 64))
      rng.bytes(length).copy(bytes, start)
      return { bytes, what: `${length} random bytes at ${start}`, desync: false }
    }
    default: {
      const lie = rng.pick(['short', 'long', 'max', 'negative', 'zero', 'tiny'])
      const size = lie === 'short'
        ? rng.int(8, Math.max(8, body - 1))
        : lie === 'long'
          ? body + rng.int(1, 1000)
          : lie === 'max' ? 0x7fffffff : lie === 'negative' ? rng.pick([-1, -0x80000000]) : lie === 'zero' ? 0 : rng.int(1, 7)
      bytes.writeInt32BE(size, 0)
      return { bytes, what: `frame size ${size} for ${body} bytes (${lie})`, desync: true }
    }
  }
}
