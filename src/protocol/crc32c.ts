// CRC-32C (Castagnoli), the checksum of record batch v2. Native (@node-rs/crc32, SSE4.2/ARMv8 CRC
// instructions) because it runs over every produced byte: about 5 GB/s against about 1 GB/s in JavaScript.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const native = require('@node-rs/crc32') as { crc32c (input: Buffer, initial?: number | null): number }

/** CRC-32C of `input`, continuing from `initial` (the CRC of the bytes before it) when given. */
export function crc32c (input: Buffer, initial?: number): number {
  return native.crc32c(input, initial ?? null) >>> 0
}
