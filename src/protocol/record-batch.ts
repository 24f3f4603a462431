// Record batch v2 (magic 2): header decoding, validation of what producers send, offset assignment, and the
// encoder/decoder used by tests and tools. Byte layout: record-batch-layout.ts.
//
// A record inside a batch (the records section, after decompression when the batch is compressed):
//   length          varint   bytes of the record after this field
//   attributes      int8     unused (0)
//   timestampDelta  varlong  timestamp - batch baseTimestamp
//   offsetDelta     varint   offset - batch baseOffset: the record's index in the batch
//   keyLength       varint   -1 for a null key
//   key             bytes
//   valueLength     varint   -1 for a null value
//   value           bytes
//   headerCount     varint
//   headers         headerCount x [keyLength varint (>= 0), key utf8, valueLength varint (-1 = null), value]
// Varints are zigzag (varint.ts).
import { count } from '../counters.ts'
import { readInt64, writeInt64 } from './int64.ts'
import { crc32c } from './crc32c.ts'
import { compress, decompress } from './compression.ts'
import { ErrorCode, KafkaError } from './errors.ts'
import {
  kAttributesOffset,
  kBaseOffsetOffset,
  kBaseSequenceOffset,
  kBaseTimestampOffset,
  kBatchHeaderSize,
  kBatchLengthOffset,
  kCompressionMask,
  kControlBit,
  kCrcOffset,
  kLastOffsetDeltaOffset,
  kLogOverhead,
  kMagicOffset,
  kMaxTimestampOffset,
  kPartitionLeaderEpochOffset,
  kProducerEpochOffset,
  kProducerIdOffset,
  kRecordCountOffset,
  kRecordsOffset,
  kTimestampTypeBit,
  kTransactionalBit
} from './record-batch-layout.ts'
import {
  createVarintCursor,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong
} from './varint.ts'

export const kMagicV2 = 2
/** Highest codec id we know (zstd). */
const kMaxCodec = 4

/** The fixed header of one batch. int64 fields are numbers (exact within 2^53). */
export interface BatchInfo {
  baseOffset: number
  /** Bytes after the batchLength field: the batch takes batchLength + 12 bytes. */
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  /** As stored, unsigned. */
  crc: number
  attributes: number
  /** attributes bits 0-2: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  compression: number
  /** attributes bit 3: 0 CreateTime, 1 LogAppendTime. */
  timestampType: number
  isTransactional: boolean
  isControl: boolean
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

export function createBatchInfo (): BatchInfo {
  return {
    baseOffset: 0,
    batchLength: 0,
    partitionLeaderEpoch: 0,
    magic: 0,
    crc: 0,
    attributes: 0,
    compression: 0,
    timestampType: 0,
    isTransactional: false,
    isControl: false,
    lastOffsetDelta: 0,
    baseTimestamp: 0,
    maxTimestamp: 0,
    producerId: 0,
    producerEpoch: 0,
    baseSequence: 0,
    recordCount: 0
  }
}

/**
 * Fills `into` from the header of the batch at `offset`. Allocates nothing. The caller guarantees 61 bytes at
 * `offset` (Buffer's readers throw RangeError otherwise); nothing is validated here.
 */
export function readBatchInfo (buf: Buffer, offset: number, into: BatchInfo): void {
  const attributes = buf.readInt16BE(offset + kAttributesOffset)
  into.baseOffset = readInt64(buf, offset + kBaseOffsetOffset)
  into.batchLength = buf.readInt32BE(offset + kBatchLengthOffset)
  into.partitionLeaderEpoch = buf.readInt32BE(offset + kPartitionLeaderEpochOffset)
  into.magic = buf.readInt8(offset + kMagicOffset)
  into.crc = buf.readUInt32BE(offset + kCrcOffset)
  into.attributes = attributes
  into.compression = attributes & kCompressionMask
  into.timestampType = (attributes & kTimestampTypeBit) !== 0 ? 1 : 0
  into.isTransactional = (attributes & kTransactionalBit) !== 0
  into.isControl = (attributes & kControlBit) !== 0
  into.lastOffsetDelta = buf.readInt32BE(offset + kLastOffsetDeltaOffset)
  into.baseTimestamp = readInt64(buf, offset + kBaseTimestampOffset)
  into.maxTimestamp = readInt64(buf, offset + kMaxTimestampOffset)
  into.producerId = readInt64(buf, offset + kProducerIdOffset)
  into.producerEpoch = buf.readInt16BE(offset + kProducerEpochOffset)
  into.baseSequence = buf.readInt32BE(offset + kBaseSequenceOffset)
  into.recordCount = buf.readInt32BE(offset + kRecordCountOffset)
}

/** CRC-32C of the batch at `offset` as it should be stored: over [attributes, end of batch). */
export function computeBatchCrc (buf: Buffer, offset = 0): number {
  const end = offset + kLogOverhead + buf.readInt32BE(offset + kBatchLengthOffset)
  return crc32c(buf.subarray(offset + kAttributesOffset, end))
}

/** Recomputes and stores the CRC of the batch at `offset` (after editing bytes it covers). */
export function updateBatchCrc (buf: Buffer, offset = 0): void {
  buf.writeUInt32BE(computeBatchCrc(buf, offset), offset + kCrcOffset)
}

export interface ProduceLimits {
  /** Largest batch accepted, in bytes as sent (compressed): the topic's max.message.bytes. */
  maxMessageBytes: number
  /** Largest records section a compressed batch may inflate to. */
  maxDecompressedBytes: number
}

// Reused by every walk: reading records allocates nothing.
const recordCursor = createVarintCursor()

/**
 * Validates the records a producer sent for one partition (produce v3+: exactly one v2 batch) and fills `into`
 * with its header. Returns a Kafka error code, 0 when the batch may be appended; never throws.
 *
 * Checks, in order:
 *   fewer than 17 bytes (no magic byte), or (magic 2) fewer than 61 bytes     CORRUPT_MESSAGE
 *   magic != 2                                                                UNSUPPORTED_FOR_MESSAGE_FORMAT
 *   batchLength below the header size or past the end of the buffer           CORRUPT_MESSAGE
 *   bytes after the batch (a second batch, or trailing bytes)                 INVALID_RECORD
 *   batch larger than maxMessageBytes                                         MESSAGE_TOO_LARGE
 *   CRC-32C mismatch                                                          CORRUPT_MESSAGE
 *   control bit set (clients may not write control batches)                   INVALID_RECORD
 *   codec 5-7                                                                 UNSUPPORTED_COMPRESSION_TYPE
 *   recordCount < 1, lastOffsetDelta != recordCount - 1                       INVALID_RECORD
 *   producerId >= 0 with baseSequence < 0 (as Kafka's LogValidator)          INVALID_RECORD
 *   records section does not inflate, or inflates past maxDecompressedBytes  CORRUPT_MESSAGE
 *   records: a length or field overrunning its record or the section, a negative header count or header key
 *   length, a record's offsetDelta != its index, record count != recordCount, bytes after the last record
 *                                                                             INVALID_RECORD
 * Uncompressed batches are walked in place; compressed ones are inflated once (bounded) and walked.
 */
export function validateProducedRecords (records: Buffer, limits: ProduceLimits, into: BatchInfo): number {
  lastInflatedSection = null
  const length = records.length
  if (length <= kMagicOffset) return ErrorCode.CORRUPT_MESSAGE
  if (records[kMagicOffset] !== kMagicV2) return ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT
  if (length < kBatchHeaderSize) return ErrorCode.CORRUPT_MESSAGE
  readBatchInfo(records, 0, into)
  if (into.batchLength < kBatchHeaderSize - kLogOverhead) return ErrorCode.CORRUPT_MESSAGE
  const batchSize = into.batchLength + kLogOverhead
  if (batchSize > length) return ErrorCode.CORRUPT_MESSAGE
  if (batchSize < length) return ErrorCode.INVALID_RECORD
  if (batchSize > limits.maxMessageBytes) return ErrorCode.MESSAGE_TOO_LARGE
  if (crc32c(records.subarray(kAttributesOffset, batchSize)) !== into.crc) return ErrorCode.CORRUPT_MESSAGE
  if (into.isControl) return ErrorCode.INVALID_RECORD
  if (into.compression > kMaxCodec) return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
  if (into.recordCount < 1 || into.lastOffsetDelta !== into.recordCount - 1) return ErrorCode.INVALID_RECORD
  if (into.producerId >= 0 && into.baseSequence < 0) return ErrorCode.INVALID_RECORD
  if (into.compression === 0) return walkRecords(records, kRecordsOffset, batchSize, into.recordCount)
  let inflated: Buffer
  try {
    inflated = decompress(into.compression, records.subarray(kRecordsOffset, batchSize), limits.maxDecompressedBytes)
  } catch (error) {
    if (!(error instanceof KafkaError)) return ErrorCode.CORRUPT_MESSAGE
    if (error.code === ErrorCode.MESSAGE_TOO_LARGE) count('produce-batches-over-max-decompressed-bytes')
    return error.code
  }
  const code = walkRecords(inflated, 0, inflated.length, into.recordCount)
  if (code === ErrorCode.NONE) lastInflatedSection = inflated
  return code
}

// The records section the last successful validateProducedRecords of a compressed batch inflated (a fresh
// buffer, owned by the caller once taken), so that key/timestamp checks and recompression need not inflate
// it again.
let lastInflatedSection: Buffer | null = null

/**
 * The inflated records section of the batch validateProducedRecords just accepted, or null when that batch was
 * uncompressed (its records are the batch's own bytes from offset 61). Clears it: the caller owns the buffer,
 * and this thread holds no inflated section past the partition it was inflated for.
 */
export function takeInflatedSection (): Buffer | null {
  const section = lastInflatedSection
  lastInflatedSection = null
  return section
}

/** One refused record, as Produce v8+ reports it (BatchIndexAndErrorMessage), with its Kafka error code. */
export interface RecordRefusal {
  batchIndex: number
  batchIndexErrorMessage: string
  errorCode: number
}

/** What collectRecordRefusals checks; timestamps only when `checkTimestamps` (a CreateTime topic with bounds). */
export interface RecordChecks {
  /** cleanup.policy contains compact: every record needs a key. */
  requireKeys: boolean
  checkTimestamps: boolean
  /** now - message.timestamp.before.max.ms: an earlier CreateTime is refused. */
  earliestTimestamp: number
  /** now + message.timestamp.after.max.ms: a later CreateTime is refused. */
  latestTimestamp: number
  /** For the messages: "topic-partition", as Kafka names a TopicPartition. */
  partitionName: string
}

/**
 * Kafka's LogValidator.validateRecord for a batch validateProducedRecords accepted: a record without a key when
 * `requireKeys` (INVALID_RECORD), else a timestamp (baseTimestamp + delta, -1 meaning none) outside
 * [earliestTimestamp, latestTimestamp] (INVALID_TIMESTAMP); at most one refusal per record. `section` holds the
 * records at [start, end). Returns the refusals in record order, or null when every record passes (allocating
 * nothing then).
 */
export function collectRecordRefusals (section: Buffer, start: number, end: number, info: BatchInfo, checks: RecordChecks): RecordRefusal[] | null {
  const cursor = recordCursor
  let refusals: RecordRefusal[] | null = null
  let position = start
  for (let index = 0; index < info.recordCount; index++) {
    cursor.position = position
    cursor.end = end
    const recordLength = readVarint(section, cursor)
    const recordEnd = cursor.position + recordLength
    cursor.end = recordEnd
    cursor.position++ // attributes
    const timestampDelta = readVarlong(section, cursor)
    const offsetDelta = readVarint(section, cursor)
    const keyLength = readVarint(section, cursor)
    let refusal: RecordRefusal | null = null
    if (checks.requireKeys && keyLength < 0) {
      refusal = { batchIndex: index, errorCode: ErrorCode.INVALID_RECORD, batchIndexErrorMessage: `Compacted topic cannot accept message without key in topic partition ${checks.partitionName}` }
    } else if (checks.checkTimestamps) {
      const timestamp = info.baseTimestamp + timestampDelta
      if (timestamp !== -1 && (timestamp < checks.earliestTimestamp || timestamp > checks.latestTimestamp)) {
        refusal = {
          batchIndex: index,
          errorCode: ErrorCode.INVALID_TIMESTAMP,
          batchIndexErrorMessage: `Timestamp ${timestamp} of message with offset ${info.baseOffset + offsetDelta} is out of range. The timestamp should be within [${checks.earliestTimestamp}, ${checks.latestTimestamp}]`
        }
      }
    }
    if (refusal !== null) (refusals ??= []).push(refusal)
    position = recordEnd
  }
  return refusals
}

/**
 * Walks `recordCount` records filling exactly [start, end) of `data`, checking every field stays inside its
 * record and each offsetDelta equals the record's index. Returns 0 or INVALID_RECORD. Allocates nothing.
 */
function walkRecords (data: Buffer, start: number, end: number, recordCount: number): number {
  const cursor = recordCursor
  let position = start
  try {
    for (let index = 0; index < recordCount; index++) {
      if (position >= end) return ErrorCode.INVALID_RECORD
      cursor.position = position
      cursor.end = end
      const recordLength = readVarint(data, cursor)
      const recordEnd = cursor.position + recordLength
      if (recordLength < 1 || recordEnd > end) return ErrorCode.INVALID_RECORD
      cursor.end = recordEnd
      cursor.position++ // attributes
      readVarlong(data, cursor) // timestampDelta
      if (readVarint(data, cursor) !== index) return ErrorCode.INVALID_RECORD
      const keyLength = readVarint(data, cursor)
      if (keyLength < -1) return ErrorCode.INVALID_RECORD
      if (keyLength > 0) cursor.position += keyLength
      const valueLength = readVarint(data, cursor)
      if (valueLength < -1) return ErrorCode.INVALID_RECORD
      if (valueLength > 0) cursor.position += valueLength
      let headerCount = readVarint(data, cursor)
      if (headerCount < 0) return ErrorCode.INVALID_RECORD
      for (; headerCount > 0; headerCount--) {
        const headerKeyLength = readVarint(data, cursor)
        if (headerKeyLength < 0) return ErrorCode.INVALID_RECORD
        cursor.position += headerKeyLength
        const headerValueLength = readVarint(data, cursor)
        if (headerValueLength < -1) return ErrorCode.INVALID_RECORD
        if (headerValueLength > 0) cursor.position += headerValueLength
      }
      // Skipping a key or value past the record end shows here, or as a VarintError on the next read.
      if (cursor.position !== recordEnd) return ErrorCode.INVALID_RECORD
      position = recordEnd
    }
  } catch {
    return ErrorCode.INVALID_RECORD
  }
  return position === end ? ErrorCode.NONE : ErrorCode.INVALID_RECORD
}

/**
 * Makes the batch at the start of `batch` the one stored at `baseOffset`, in place.
 *
 * With `logAppendTime` -1 (CreateTime topics) only baseOffset changes; it is outside the CRC's coverage, so the
 * CRC is left alone. With `logAppendTime` >= 0 (LogAppendTime topics) it also does what Kafka's
 * DefaultRecordBatch.setMaxTimestamp(LOG_APPEND_TIME, now) does: sets the timestamp type bit and maxTimestamp
 * to the append time (baseTimestamp and the records' deltas are kept; consumers read every record's timestamp
 * as maxTimestamp when the bit is set), then recomputes the CRC, unless both were already so.
 */
export function assignOffsets (batch: Buffer, baseOffset: number, logAppendTime: number): void {
  writeInt64(batch, kBaseOffsetOffset, baseOffset)
  if (logAppendTime < 0) return
  const attributes = batch.readInt16BE(kAttributesOffset)
  if ((attributes & kTimestampTypeBit) !== 0 && readInt64(batch, kMaxTimestampOffset) === logAppendTime) return
  batch.writeInt16BE(attributes | kTimestampTypeBit, kAttributesOffset)
  writeInt64(batch, kMaxTimestampOffset, logAppendTime)
  updateBatchCrc(batch, 0)
}

/** Where walking stops when the bytes at `position` do not hold a whole batch. */
export const kIncompleteBatch = -1
/** The batchLength at `position` is smaller than a batch header: the bytes are not a batch. */
export const kCorruptBatch = -2

/**
 * End of the batch starting at `position` (the position of the next one), judged by its batchLength alone:
 * kIncompleteBatch (-1) when [position, end) does not hold all of it (fewer than 12 bytes, or a batch cut short),
 * kCorruptBatch (-2) when its batchLength is below the header size. Walking a region:
 *   for (let p = start, next; p < end && (next = nextBatchEnd(buf, p, end)) > 0; p = next) { ... }
 */
export function nextBatchEnd (buf: Buffer, position: number, end: number): number {
  if (end - position < kLogOverhead) return kIncompleteBatch
  const batchLength = buf.readInt32BE(position + kBatchLengthOffset)
  if (batchLength < kBatchHeaderSize - kLogOverhead) return kCorruptBatch
  const batchEnd = position + kLogOverhead + batchLength
  return batchEnd <= end ? batchEnd : kIncompleteBatch
}

export interface RecordHeader {
  key: string
  value: Buffer | null
}

export interface RecordInput {
  key: Buffer | null
  value: Buffer | null
  headers?: RecordHeader[]
  /** Milliseconds since the epoch; the time of the build when absent. */
  timestamp?: number
}

export interface BuildBatchOptions {
  compression?: number
  baseOffset?: number
  /** -1 (default): not idempotent. */
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  isTransactional?: boolean
  isControl?: boolean
  partitionLeaderEpoch?: number
}

function bytesFieldSize (value: Buffer | null): number {
  return value === null ? varintSize(-1) : varintSize(value.length) + value.length
}

function writeBytesField (buf: Buffer, position: number, value: Buffer | null): number {
  if (value === null) return writeVarint(buf, position, -1)
  position = writeVarint(buf, position, value.length)
  return position + value.copy(buf, position)
}

/**
 * Encodes `records` as one valid v2 batch (CRC included) the way a Java producer would: offsetDelta = index,
 * baseTimestamp = the first record's timestamp, maxTimestamp = the largest. For tests, control batches and
 * benchmarks, not the produce path. Defaults: no compression, baseOffset 0, producerId/epoch/sequence -1,
 * partitionLeaderEpoch -1.
 */
export function buildRecordBatch (records: RecordInput[], options: BuildBatchOptions = {}): Buffer {
  const compression = options.compression ?? 0
  const now = Date.now()
  const baseTimestamp = records.length > 0 ? records[0].timestamp ?? now : now
  let maxTimestamp = baseTimestamp
  const bodySizes: number[] = []
  let recordsSize = 0
  for (let index = 0; index < records.length; index++) {
    const record = records[index]
    const timestamp = record.timestamp ?? now
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
    const headers = record.headers ?? []
    let bodySize = 1 + varlongSize(timestamp - baseTimestamp) + varintSize(index) +
      bytesFieldSize(record.key) + bytesFieldSize(record.value) + varintSize(headers.length)
    for (const header of headers) {
      const keyLength = Buffer.byteLength(header.key)
      bodySize += varintSize(keyLength) + keyLength + bytesFieldSize(header.value)
    }
    bodySizes.push(bodySize)
    recordsSize += varintSize(bodySize) + bodySize
  }
  const section = Buffer.allocUnsafe(recordsSize)
  let position = 0
  for (let index = 0; index < records.length; index++) {
    const record = records[index]
    const headers = record.headers ?? []
    position = writeVarint(section, position, bodySizes[index])
    section[position++] = 0 // attributes
    position = writeVarlong(section, position, (record.timestamp ?? now) - baseTimestamp)
    position = writeVarint(section, position, index)
    position = writeBytesField(section, position, record.key)
    position = writeBytesField(section, position, record.value)
    position = writeVarint(section, position, headers.length)
    for (const header of headers) {
      position = writeVarint(section, position, Buffer.byteLength(header.key))
      position += section.write(header.key, position)
      position = writeBytesField(section, position, header.value)
    }
  }
  const payload = compress(compression, section)
  const batch = Buffer.allocUnsafe(kRecordsOffset + payload.length)
  const attributes = (compression & kCompressionMask) |
    (options.isTransactional === true ? kTransactionalBit : 0) |
    (options.isControl === true ? kControlBit : 0)
  writeInt64(batch, kBaseOffsetOffset, options.baseOffset ?? 0)
  batch.writeInt32BE(batch.length - kLogOverhead, kBatchLengthOffset)
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, kPartitionLeaderEpochOffset)
  batch.writeInt8(kMagicV2, kMagicOffset)
  batch.writeInt16BE(attributes, kAttributesOffset)
  batch.writeInt32BE(records.length - 1, kLastOffsetDeltaOffset)
  writeInt64(batch, kBaseTimestampOffset, baseTimestamp)
  writeInt64(batch, kMaxTimestampOffset, maxTimestamp)
  writeInt64(batch, kProducerIdOffset, options.producerId ?? -1)
  batch.writeInt16BE(options.producerEpoch ?? -1, kProducerEpochOffset)
  batch.writeInt32BE(options.baseSequence ?? -1, kBaseSequenceOffset)
  batch.writeInt32BE(records.length, kRecordCountOffset)
  payload.copy(batch, kRecordsOffset)
  updateBatchCrc(batch, 0)
  return batch
}

export interface DecodedRecord {
  offset: number
  /** baseTimestamp + timestampDelta; maxTimestamp for every record of a LogAppendTime batch. */
  timestamp: number
  /** Views into the batch (or into its inflated records section), not copies. */
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

/**
 * Decodes every record of the one batch at the start of `batch` (inflating it when compressed, bounded by
 * kDefaultMaxDecompressedBytes). For tests and tools, not the fetch path. Throws KafkaError(CORRUPT_MESSAGE)
 * when the records do not parse.
 */
export function parseRecords (batch: Buffer): DecodedRecord[] {
  const info = createBatchInfo()
  readBatchInfo(batch, 0, info)
  if (info.magic !== kMagicV2) throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `magic ${info.magic}`)
  const batchEnd = kLogOverhead + info.batchLength
  if (info.batchLength < kBatchHeaderSize - kLogOverhead || batchEnd > batch.length) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'batchLength does not match the buffer')
  }
  let data = batch
  let start = kRecordsOffset
  let end = batchEnd
  if (info.compression !== 0) {
    data = decompress(info.compression, batch.subarray(kRecordsOffset, batchEnd))
    start = 0
    end = data.length
  }
  const logAppendTime = info.timestampType === 1
  const cursor = createVarintCursor(start, end)
  const decoded: DecodedRecord[] = []
  try {
    for (let index = 0; index < info.recordCount; index++) {
      cursor.end = end
      const recordLength = readVarint(data, cursor)
      const recordEnd = cursor.position + recordLength
      if (recordLength < 1 || recordEnd > end) throw new RangeError(`record ${index} overruns the batch`)
      cursor.end = recordEnd
      cursor.position++ // attributes
      const timestampDelta = readVarlong(data, cursor)
      const offsetDelta = readVarint(data, cursor)
      const key = readBytesField(data, cursor.end)
      const value = readBytesField(data, cursor.end)
      const headerCount = readVarint(data, cursor)
      if (headerCount < 0) throw new RangeError(`record ${index} has ${headerCount} headers`)
      const headers: RecordHeader[] = []
      for (let h = 0; h < headerCount; h++) {
        const headerKey = readBytesField(data, cursor.end)
        if (headerKey === null) throw new RangeError(`record ${index} has a null header key`)
        headers.push({ key: headerKey.toString('utf8'), value: readBytesField(data, cursor.end) })
      }
      if (cursor.position !== recordEnd) throw new RangeError(`record ${index} has ${recordEnd - cursor.position} extra bytes`)
      decoded.push({
        offset: info.baseOffset + offsetDelta,
        timestamp: logAppendTime ? info.maxTimestamp : info.baseTimestamp + timestampDelta,
        key,
        value,
        headers
      })
    }
  } catch (error) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `records do not parse: ${(error as Error).message}`)
  }
  return decoded

  function readBytesField (buf: Buffer, limit: number): Buffer | null {
    const fieldLength = readVarint(buf, cursor)
    if (fieldLength < 0) {
      if (fieldLength === -1) return null
      throw new RangeError(`negative length ${fieldLength}`)
    }
    const fieldEnd = cursor.position + fieldLength
    if (fieldEnd > limit) throw new RangeError('field overruns its record')
    const view = buf.subarray(cursor.position, fieldEnd)
    cursor.position = fieldEnd
    return view
  }
}

// ---- control batches (KIP-98 transaction markers) ----------------------------------------------------------
//
// A marker is a batch with the transactional and control attributes set, never compressed, holding one record:
//   key   int16 version (0), int16 type (0 ABORT, 1 COMMIT)
//   value int16 version (0), int32 coordinator epoch
// Its producer id and epoch are the transaction's; its base sequence is -1 (markers are not sequenced).

export const kControlTypeAbort = 0
export const kControlTypeCommit = 1

/** A COMMIT or ABORT marker for the producer's transaction, timestamped `timestamp`. */
export function buildControlBatch (producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number, timestamp: number): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(commit ? kControlTypeCommit : kControlTypeAbort, 2)
  const value = Buffer.alloc(6)
  value.writeInt16BE(0, 0)
  value.writeInt32BE(coordinatorEpoch, 2)
  return buildRecordBatch([{ key, value, timestamp }], { producerId, producerEpoch, baseSequence: -1, isTransactional: true, isControl: true })
}

/** What readControlRecord found: the marker's type and coordinator epoch. Module scope: no allocation per call. */
export const controlRecord = { type: -1, coordinatorEpoch: -1 }

/**
 * Reads the control record of the control batch at `at` in `buffer` into controlRecord. Returns false when its
 * first record is not a version-0 COMMIT or ABORT key (Kafka ignores control types it does not know); a value
 * too short for a coordinator epoch reads as -1. Reads the first record only: a marker holds one.
 */
export function readControlRecord (buffer: Buffer, at: number): boolean {
  const end = Math.min(buffer.length, at + kLogOverhead + buffer.readInt32BE(at + kBatchLengthOffset))
  if ((buffer.readUInt16BE(at + kAttributesOffset) & kCompressionMask) !== 0 || buffer.readInt32BE(at + kRecordCountOffset) < 1) return false
  // Record: varint length, int8 attributes, varlong timestampDelta, varint offsetDelta, key, value (varint
  // length + bytes each).
  const cursor = controlCursor
  cursor.position = at + kRecordsOffset
  cursor.end = end
  try {
    readVarint(buffer, cursor)
    cursor.position++
    readVarlong(buffer, cursor)
    readVarint(buffer, cursor)
    const keyLength = readVarint(buffer, cursor)
    const key = cursor.position
    if (keyLength < 4 || key + keyLength > end || buffer.readInt16BE(key) !== 0) return false
    const type = buffer.readInt16BE(key + 2)
    if (type !== kControlTypeAbort && type !== kControlTypeCommit) return false
    cursor.position = key + keyLength
    const valueLength = readVarint(buffer, cursor)
    const value = cursor.position
    controlRecord.type = type
    controlRecord.coordinatorEpoch = valueLength >= 6 && value + 6 <= end ? buffer.readInt32BE(value + 2) : -1
    return true
  } catch {
    return false
  }
}

const controlCursor = createVarintCursor()
