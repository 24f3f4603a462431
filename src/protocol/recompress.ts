// Rewriting one record batch with another codec: what the broker does when a topic's compression.type names a
// codec other than the batch's (Kafka's LogValidator rebuilds the batch; so do we, without re-encoding records).
//
// The records section (every byte after recordCount, once inflated) is the same whatever the codec, so the
// rewrite keeps the 61-byte header as sent (baseOffset, partitionLeaderEpoch, magic, producer id/epoch, base
// sequence, recordCount, lastOffsetDelta, base/max timestamps, the transactional and timestamp-type bits) and
// changes only what the codec decides:
//   batchLength   61 - 12 + compressed size
//   attributes    bits 0-2 := the target codec, the other bits as sent
//   crc           CRC-32C over [attributes, end), recomputed
// Compression runs off the calling thread (compressAsync); the header is copied before it starts, so the
// caller's buffer (a view of a request, or of a ring slot) may be reused as soon as recompressBatch returns.
import { compressAsync } from './compression.ts'
import { updateBatchCrc } from './record-batch.ts'
import { kAttributesOffset, kBatchLengthOffset, kCompressionMask, kLogOverhead, kRecordsOffset } from './record-batch-layout.ts'

/** The codec id (attributes bits 0-2) a compression.type names; -1 for `producer` (keep the batch's own). */
export function codecOfCompressionType (compressionType: string): number {
  switch (compressionType) {
    case 'uncompressed': return 0
    case 'gzip': return 1
    case 'snappy': return 2
    case 'lz4': return 3
    case 'zstd': return 4
    default: return -1
  }
}

/**
 * The batch at the start of `batch` (a validated v2 batch) rewritten with `codec` at `level`. `section` is its
 * records section uncompressed; `sectionOwned` says whether the caller gives it away (a freshly inflated
 * buffer) or whether it is a view of `batch` that must be copied before this function returns. Everything read
 * from `batch` is read before the first await. Rejects only when the codec fails (a bug, or out of memory).
 */
export async function recompressBatch (batch: Buffer, section: Buffer, sectionOwned: boolean, codec: number, level: number): Promise<Buffer> {
  const header = Buffer.allocUnsafe(kRecordsOffset)
  batch.copy(header, 0, 0, kRecordsOffset)
  const input = sectionOwned ? section : Buffer.from(section)
  const payload = await compressAsync(codec, input, level)
  const rebuilt = Buffer.allocUnsafe(kRecordsOffset + payload.length)
  header.copy(rebuilt, 0)
  payload.copy(rebuilt, kRecordsOffset)
  rebuilt.writeInt32BE(rebuilt.length - kLogOverhead, kBatchLengthOffset)
  const attributes = rebuilt.readUInt16BE(kAttributesOffset)
  rebuilt.writeUInt16BE((attributes & ~kCompressionMask) | (codec & kCompressionMask), kAttributesOffset)
  updateBatchCrc(rebuilt, 0)
  return rebuilt
}
