// Byte layout of a Kafka record batch, magic v2 (KIP-98). All integers big-endian.
//
//   offset size field
//   0      8    baseOffset             assigned by the broker (clients send 0)
//   8      4    batchLength            bytes after this field: total size - 12
//   12     4    partitionLeaderEpoch
//   16     1    magic                  2
//   17     4    crc                    CRC-32C (Castagnoli) of bytes [21, end)
//   21     2    attributes             bits 0-2 compression, 3 timestamp type (1 = LogAppendTime),
//                                      4 transactional, 5 control, 6 has delete horizon
//   23     4    lastOffsetDelta
//   27     8    baseTimestamp
//   35     8    maxTimestamp
//   43     8    producerId             -1 when not idempotent
//   51     2    producerEpoch
//   53     4    baseSequence
//   57     4    recordCount
//   61     ...  records (compressed as a whole when attributes say so)

export const kBaseOffsetOffset = 0
export const kBatchLengthOffset = 8
export const kPartitionLeaderEpochOffset = 12
export const kMagicOffset = 16
export const kCrcOffset = 17
export const kAttributesOffset = 21
export const kLastOffsetDeltaOffset = 23
export const kBaseTimestampOffset = 27
export const kMaxTimestampOffset = 35
export const kProducerIdOffset = 43
export const kProducerEpochOffset = 51
export const kBaseSequenceOffset = 53
export const kRecordCountOffset = 57
export const kRecordsOffset = 61

/** Bytes before the batch length's coverage starts: baseOffset + batchLength. */
export const kLogOverhead = 12
export const kBatchHeaderSize = 61

export const kCompressionMask = 0x07
export const kTimestampTypeBit = 0x08
export const kTransactionalBit = 0x10
export const kControlBit = 0x20
export const kDeleteHorizonBit = 0x40

export const Compression = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4
} as const
