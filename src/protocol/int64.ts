// int64 fields (offsets, producer ids, timestamps) as JavaScript numbers, without BigInt allocations on the
// append path. Exact for |value| < 2^53, which every offset, producer id and millisecond timestamp is.

export function readInt64 (buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * 0x100000000 + buffer.readUInt32BE(at + 4)
}

export function writeInt64 (buffer: Buffer, at: number, value: number): void {
  const high = Math.floor(value / 0x100000000)
  buffer.writeInt32BE(high, at)
  buffer.writeUInt32BE(value - high * 0x100000000, at + 4)
}
