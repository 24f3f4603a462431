// Variable-length integers of the Kafka protocol (org.apache.kafka.common.utils.ByteUtils).
//
// Signed varint / varlong (record batch v2 records and headers): zigzag encoding, then LEB128, least significant
// 7 bits first, high bit of each byte set when another byte follows. Zigzag maps 0, -1, 1, -2, 2 ... to
// 0, 1, 2, 3, 4 ... so that small negative numbers stay short. A varint takes at most 5 bytes (int32), a varlong
// at most 10 (int64).
//
// Unsigned varint (flexible protocol versions: compact lengths, tagged fields): LEB128 of a uint32 without
// zigzag, at most 5 bytes.
//
// Readers take a caller-owned `VarintCursor` and advance its `position`: one cursor is reused for a whole walk,
// so reading allocates nothing. Reads never go past `cursor.end`; a truncated or over-long encoding throws
// VarintError (rare: only malformed input pays for the exception). Writers return the position after the
// bytes written and do no bounds checks: size the buffer with the *Size functions first.
//
// int64 values are JavaScript numbers: exact within ±2^53, which covers every offset, timestamp and delta we
// read or write.

export interface VarintCursor {
  /** Where the next read starts; advanced past every value read. */
  position: number
  /** Reads never touch `end` or anything after it. */
  end: number
}

export class VarintError extends RangeError {
  constructor (message: string) {
    super(message)
    this.name = 'VarintError'
  }
}

const kTwoPow6 = 64
const kTwoPow7 = 128

export function createVarintCursor (position = 0, end = 0): VarintCursor {
  return { position, end }
}

function truncated (position: number): VarintError {
  return new VarintError(`varint truncated at ${position}`)
}

/** Zigzag varint as an int32 (Kafka's ByteUtils.readVarint: at most 5 bytes, bits beyond 32 dropped). */
export function readVarint (buf: Buffer, cursor: VarintCursor): number {
  let position = cursor.position
  const end = cursor.end
  if (position >= end) throw truncated(position)
  let byte = buf[position++]
  if (byte < 0x80) {
    cursor.position = position
    return (byte >>> 1) ^ -(byte & 1)
  }
  let raw = byte & 0x7f
  let shift = 7
  for (;;) {
    if (position >= end) throw truncated(position)
    byte = buf[position++]
    if (byte < 0x80) {
      raw |= byte << shift
      break
    }
    raw |= (byte & 0x7f) << shift
    shift += 7
    if (shift > 28) throw new VarintError(`varint longer than 5 bytes at ${cursor.position}`)
  }
  cursor.position = position
  return (raw >>> 1) ^ -(raw & 1)
}

/**
 * Zigzag varlong as a number (Kafka's ByteUtils.readVarlong: at most 10 bytes). The sign is the low bit of the
 * first byte; the magnitude is accumulated by multiplication, exact while it stays within 2^53.
 */
export function readVarlong (buf: Buffer, cursor: VarintCursor): number {
  let position = cursor.position
  const end = cursor.end
  if (position >= end) throw truncated(position)
  let byte = buf[position++]
  const negative = byte & 1
  // raw >>> 1: bits 1-6 of the first byte are bits 0-5 of the magnitude.
  let magnitude = (byte & 0x7e) >>> 1
  if (byte >= 0x80) {
    let multiplier = kTwoPow6
    for (let bytesRead = 1; ; bytesRead++) {
      if (bytesRead === 10) throw new VarintError(`varlong longer than 10 bytes at ${cursor.position}`)
      if (position >= end) throw truncated(position)
      byte = buf[position++]
      magnitude += (byte & 0x7f) * multiplier
      if (byte < 0x80) break
      multiplier *= kTwoPow7
    }
  }
  cursor.position = position
  return negative === 1 ? -magnitude - 1 : magnitude
}

/** Bytes that writeVarint takes for `value` (an int32): 1 to 5. */
export function varintSize (value: number): number {
  const raw = ((value << 1) ^ (value >> 31)) >>> 0
  if (raw < 0x80) return 1
  if (raw < 0x4000) return 2
  if (raw < 0x200000) return 3
  if (raw < 0x10000000) return 4
  return 5
}

/** Writes `value` (an int32) as a zigzag varint at `position`; returns the position after it. */
export function writeVarint (buf: Buffer, position: number, value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0
  while (raw >= 0x80) {
    buf[position++] = (raw & 0x7f) | 0x80
    raw >>>= 7
  }
  buf[position++] = raw
  return position
}

/** Bytes that writeVarlong takes for `value` (an integer within ±2^53): 1 to 10. */
export function varlongSize (value: number): number {
  let rest = Math.floor((value < 0 ? -value - 1 : value) / kTwoPow6)
  let size = 1
  while (rest > 0) {
    size++
    rest = Math.floor(rest / kTwoPow7)
  }
  return size
}

/**
 * Writes `value` (an integer within ±2^53) as a zigzag varlong at `position`; returns the position after it.
 * Works on the magnitude (value, or -value - 1 when negative) so that no intermediate exceeds 2^53.
 */
export function writeVarlong (buf: Buffer, position: number, value: number): number {
  const negative = value < 0 ? 1 : 0
  const magnitude = negative === 1 ? -value - 1 : value
  // First byte: sign in bit 0, magnitude bits 0-5 in bits 1-6.
  let rest = Math.floor(magnitude / kTwoPow6)
  let byte = ((magnitude - rest * kTwoPow6) << 1) | negative
  while (rest > 0) {
    buf[position++] = byte | 0x80
    const next = Math.floor(rest / kTwoPow7)
    byte = rest - next * kTwoPow7
    rest = next
  }
  buf[position++] = byte
  return position
}

/** Unsigned varint as a uint32 (Kafka's ByteUtils.readUnsignedVarint: at most 5 bytes). */
export function readUnsignedVarint (buf: Buffer, cursor: VarintCursor): number {
  let position = cursor.position
  const end = cursor.end
  if (position >= end) throw truncated(position)
  let byte = buf[position++]
  if (byte < 0x80) {
    cursor.position = position
    return byte
  }
  let raw = byte & 0x7f
  let shift = 7
  for (;;) {
    if (position >= end) throw truncated(position)
    byte = buf[position++]
    if (byte < 0x80) {
      raw |= byte << shift
      break
    }
    raw |= (byte & 0x7f) << shift
    shift += 7
    if (shift > 28) throw new VarintError(`unsigned varint longer than 5 bytes at ${cursor.position}`)
  }
  cursor.position = position
  return raw >>> 0
}

/** Bytes that writeUnsignedVarint takes for `value` (a uint32): 1 to 5. */
export function unsignedVarintSize (value: number): number {
  const raw = value >>> 0
  if (raw < 0x80) return 1
  if (raw < 0x4000) return 2
  if (raw < 0x200000) return 3
  if (raw < 0x10000000) return 4
  return 5
}

/** Writes `value` (a uint32) as an unsigned varint at `position`; returns the position after it. */
export function writeUnsignedVarint (buf: Buffer, position: number, value: number): number {
  let raw = value >>> 0
  while (raw >= 0x80) {
    buf[position++] = (raw & 0x7f) | 0x80
    raw >>>= 7
  }
  buf[position++] = raw
  return position
}
