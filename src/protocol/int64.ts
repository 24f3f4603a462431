// int64 fields (offsets, producer ids, timestamps) as JavaScript numbers, without BigInt allocations on the
// append path. Exact for |value| < 2^53, which every offset, producer id and millisecond timestamp is.

export function readInt64 (buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * 0x100000000 + buffer.readUInt32BE(at + 4)
}

const kInt64Bound = 2 ** 63

/** Writes `value` as an int64; values at or beyond ±2^63 saturate to the int64 bounds, NaN is refused. */
export function writeInt64 (buffer: Buffer, at: number, value: number): void {
  if (!(value < kInt64Bound && value >= -kInt64Bound)) {
    if (Number.isNaN(value)) throw new RangeError('NaN is not an int64')
    if (value > 0) {
      buffer.writeInt32BE(0x7fffffff, at)
      buffer.writeUInt32BE(0xffffffff, at + 4)
    } else {
      buffer.writeInt32BE(-0x80000000, at)
      buffer.writeUInt32BE(0, at + 4)
    }
    return
  }
  const high = Math.floor(value / 0x100000000)
  buffer.writeInt32BE(high, at)
  buffer.writeUInt32BE(value - high * 0x100000000, at + 4)
}
