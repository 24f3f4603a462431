import { counterValue } from '../../src/counters.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { compress } from '../../src/protocol/compression.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import {
  assignOffsets,
  buildRecordBatch,
  computeBatchCrc,
  createBatchInfo,
  kCorruptBatch,
  kIncompleteBatch,
  nextBatchEnd,
  parseRecords,
  readBatchInfo,
  updateBatchCrc,
  validateProducedRecords,
  type RecordInput
} from '../../src/protocol/record-batch.ts'
import {
  Compression,
  kAttributesOffset,
  kBatchLengthOffset,
  kCrcOffset,
  kLastOffsetDeltaOffset,
  kMagicOffset,
  kRecordCountOffset,
  kRecordsOffset
} from '../../src/protocol/record-batch-layout.ts'
import { writeVarint } from '../../src/protocol/varint.ts'

const require = createRequire(import.meta.url)

const kLimits = { maxMessageBytes: 1024 * 1024, maxDecompressedBytes: 16 * 1024 * 1024 }
const kCodecs = [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]

function sampleRecords (count: number): RecordInput[] {
  const records: RecordInput[] = []
  for (let i = 0; i < count; i++) {
    records.push({
      key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
      value: i % 5 === 4 ? null : Buffer.from(`value-${i}-`.repeat(1 + (i % 7))),
      headers: i % 2 === 0 ? [] : [{ key: 'trace', value: Buffer.from(`t${i}`) }, { key: 'empty', value: null }],
      timestamp: 1_700_000_000_000 + i * 3
    })
  }
  return records
}

function validate (batch: Buffer, limits = kLimits): number {
  return validateProducedRecords(batch, limits, createBatchInfo())
}

/** A v2 batch around an already-encoded records section (compressed here when `codec` says so). */
function wrapSection (section: Buffer, recordCount: number, codec = 0): Buffer {
  const template = buildRecordBatch(sampleRecords(recordCount))
  const payload = compress(codec, section)
  const batch = Buffer.concat([template.subarray(0, kRecordsOffset), payload])
  batch.writeInt32BE(batch.length - 12, kBatchLengthOffset)
  batch.writeInt16BE(codec, kAttributesOffset)
  updateBatchCrc(batch)
  return batch
}

/** The uncompressed records section of sampleRecords(count), for tests that edit records. */
function sampleSection (count: number): Buffer {
  return Buffer.from(buildRecordBatch(sampleRecords(count)).subarray(kRecordsOffset))
}

test('batches built with every codec validate and parse back to the same records', () => {
  const records = sampleRecords(50)
  for (const codec of kCodecs) {
    const batch = buildRecordBatch(records, { compression: codec, baseOffset: 1000 })
    const info = createBatchInfo()
    assert.equal(validateProducedRecords(batch, kLimits, info), ErrorCode.NONE, `codec ${codec}`)
    assert.equal(info.compression, codec)
    assert.equal(info.recordCount, 50)
    const parsed = parseRecords(batch)
    assert.equal(parsed.length, records.length)
    for (let i = 0; i < records.length; i++) {
      assert.equal(parsed[i].offset, 1000 + i)
      assert.equal(parsed[i].timestamp, records[i].timestamp)
      assert.deepEqual(parsed[i].key, records[i].key)
      assert.deepEqual(parsed[i].value, records[i].value)
      assert.deepEqual(parsed[i].headers, records[i].headers)
    }
  }
})

test('readBatchInfo reads every header field', () => {
  const batch = buildRecordBatch(sampleRecords(3), {
    compression: Compression.zstd,
    baseOffset: 2 ** 40 + 7,
    producerId: 123456789012,
    producerEpoch: 4,
    baseSequence: 99,
    isTransactional: true,
    partitionLeaderEpoch: 12
  })
  const info = createBatchInfo()
  readBatchInfo(batch, 0, info)
  assert.deepEqual(info, {
    baseOffset: 2 ** 40 + 7,
    batchLength: batch.length - 12,
    partitionLeaderEpoch: 12,
    magic: 2,
    crc: crc32c(batch.subarray(kAttributesOffset)),
    attributes: 0x10 | 4,
    compression: 4,
    timestampType: 0,
    isTransactional: true,
    isControl: false,
    lastOffsetDelta: 2,
    baseTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_006,
    producerId: 123456789012,
    producerEpoch: 4,
    baseSequence: 99,
    recordCount: 3
  })
})

test('readBatchInfo reads a batch at an offset inside a larger buffer', () => {
  const batch = buildRecordBatch(sampleRecords(2), { baseOffset: 77 })
  const info = createBatchInfo()
  readBatchInfo(Buffer.concat([Buffer.alloc(5), batch]), 5, info)
  assert.equal(info.baseOffset, 77)
  assert.equal(info.recordCount, 2)
})

test('a flipped byte anywhere under the CRC is CORRUPT_MESSAGE', () => {
  for (const codec of kCodecs) {
    const batch = buildRecordBatch(sampleRecords(10), { compression: codec })
    for (const position of [kCrcOffset, kAttributesOffset + 1, kRecordCountOffset + 3, kRecordsOffset + 2, batch.length - 1]) {
      const damaged = Buffer.from(batch)
      damaged[position] ^= 0x01
      assert.equal(validate(damaged), ErrorCode.CORRUPT_MESSAGE, `codec ${codec}, byte ${position}`)
    }
  }
})

test('a buffer shorter than the header, or than its batchLength says, is CORRUPT_MESSAGE', () => {
  const batch = buildRecordBatch(sampleRecords(10))
  assert.equal(validate(batch.subarray(0, 10)), ErrorCode.CORRUPT_MESSAGE)
  assert.equal(validate(batch.subarray(0, 40)), ErrorCode.CORRUPT_MESSAGE)
  assert.equal(validate(batch.subarray(0, kRecordsOffset)), ErrorCode.CORRUPT_MESSAGE)
  assert.equal(validate(batch.subarray(0, batch.length - 1)), ErrorCode.CORRUPT_MESSAGE)
  const shortLength = Buffer.from(batch)
  shortLength.writeInt32BE(20, kBatchLengthOffset)
  assert.equal(validate(shortLength), ErrorCode.CORRUPT_MESSAGE)
  const negativeLength = Buffer.from(batch)
  negativeLength.writeInt32BE(-1, kBatchLengthOffset)
  assert.equal(validate(negativeLength), ErrorCode.CORRUPT_MESSAGE)
})

test('two batches, or bytes after the batch, are INVALID_RECORD', () => {
  const batch = buildRecordBatch(sampleRecords(3))
  assert.equal(validate(Buffer.concat([batch, batch])), ErrorCode.INVALID_RECORD)
  assert.equal(validate(Buffer.concat([batch, Buffer.alloc(3)])), ErrorCode.INVALID_RECORD)
})

test('magic 0 and 1 are UNSUPPORTED_FOR_MESSAGE_FORMAT', () => {
  for (const magic of [0, 1]) {
    const batch = buildRecordBatch(sampleRecords(3))
    batch[kMagicOffset] = magic
    assert.equal(validate(batch), ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT)
  }
  // A v1 message is shorter than a v2 header: still answered by its magic.
  const legacy = Buffer.alloc(34)
  legacy.writeInt32BE(22, 8)
  legacy[kMagicOffset] = 1
  assert.equal(validate(legacy), ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT)
})

test('a batch larger than maxMessageBytes is MESSAGE_TOO_LARGE, checked on the size as sent', () => {
  const batch = buildRecordBatch(sampleRecords(100))
  assert.equal(validate(batch, { maxMessageBytes: batch.length - 1, maxDecompressedBytes: 1 << 24 }), ErrorCode.MESSAGE_TOO_LARGE)
  assert.equal(validate(batch, { maxMessageBytes: batch.length, maxDecompressedBytes: 1 << 24 }), ErrorCode.NONE)
  // Compressed: the compressed size counts, not the inflated one.
  const compressed = buildRecordBatch(sampleRecords(100), { compression: Compression.zstd })
  assert.ok(compressed.length < batch.length)
  assert.equal(validate(compressed, { maxMessageBytes: compressed.length, maxDecompressedBytes: 1 << 24 }), ErrorCode.NONE)
})

test('recordCount below 1 or not matching lastOffsetDelta + 1 is INVALID_RECORD', () => {
  const edits: Array<[number, number]> = [[0, -1], [3, 1], [2, 2], [-1, -2]]
  for (const [recordCount, lastOffsetDelta] of edits) {
    const batch = buildRecordBatch(sampleRecords(2))
    batch.writeInt32BE(recordCount, kRecordCountOffset)
    batch.writeInt32BE(lastOffsetDelta, kLastOffsetDeltaOffset)
    updateBatchCrc(batch)
    assert.equal(validate(batch), ErrorCode.INVALID_RECORD, `recordCount ${recordCount}, lastOffsetDelta ${lastOffsetDelta}`)
  }
})

test('a recordCount that disagrees with the records present is INVALID_RECORD, compressed or not', () => {
  for (const codec of kCodecs) {
    for (const claimed of [2, 4]) {
      const batch = wrapSection(sampleSection(3), 3, codec)
      batch.writeInt32BE(claimed, kRecordCountOffset)
      batch.writeInt32BE(claimed - 1, kLastOffsetDeltaOffset)
      updateBatchCrc(batch)
      assert.equal(validate(batch), ErrorCode.INVALID_RECORD, `codec ${codec}, ${claimed} claimed for 3`)
    }
  }
})

test('a record whose offsetDelta is not its index is INVALID_RECORD, compressed or not', () => {
  // Record layout: length varint, attributes, timestampDelta varlong, offsetDelta varint. Hand-built records
  // with small fields keep every varint one byte long.
  const section = Buffer.alloc(3 * 8)
  let position = 0
  for (const offsetDelta of [0, 1, 5]) {
    position = writeVarint(section, position, 7) // body: 1 + 1 + 1 + 1 + 2 + 1
    section[position++] = 0
    position = writeVarint(section, position, 0) // timestampDelta (one byte, same zigzag as a varlong)
    position = writeVarint(section, position, offsetDelta)
    position = writeVarint(section, position, -1) // null key
    position = writeVarint(section, position, 1)
    section[position++] = 0x61 // value 'a'
    position = writeVarint(section, position, 0) // no headers
  }
  assert.equal(position, section.length)
  for (const codec of kCodecs) {
    assert.equal(validate(wrapSection(section, 3, codec)), ErrorCode.INVALID_RECORD, `codec ${codec}`)
    const fixed = Buffer.from(section)
    fixed[16 + 3] = 4 // zigzag 2
    assert.equal(validate(wrapSection(fixed, 3, codec)), ErrorCode.NONE, `codec ${codec}, fixed`)
  }
})

test('a record length, key or header that overruns its record or the batch is INVALID_RECORD', () => {
  const section = sampleSection(2)
  // First record: length at 0, attributes, timestampDelta, offsetDelta, then the key length (null key: 0x01).
  const overlongRecord = Buffer.from(section)
  overlongRecord[0] = 0x7e // 63: past the end of the section
  assert.equal(validate(wrapSection(overlongRecord, 2)), ErrorCode.INVALID_RECORD)
  const shortRecord = Buffer.from(section)
  shortRecord[0] -= 2 // one byte less, so the record's fields overrun it
  assert.equal(validate(wrapSection(shortRecord, 2)), ErrorCode.INVALID_RECORD)
  const badKey = Buffer.from(section)
  badKey[4] = 0x03 // key length -2
  assert.equal(validate(wrapSection(badKey, 2)), ErrorCode.INVALID_RECORD)
  const longKey = Buffer.from(section)
  longKey[4] = 0x7e // key length 63 inside a shorter record
  assert.equal(validate(wrapSection(longKey, 2)), ErrorCode.INVALID_RECORD)
  const trailing = Buffer.concat([section, Buffer.from([0])])
  assert.equal(validate(wrapSection(trailing, 2)), ErrorCode.INVALID_RECORD)
  const truncated = section.subarray(0, section.length - 1)
  assert.equal(validate(wrapSection(truncated, 2)), ErrorCode.INVALID_RECORD)
})

test('a negative header count or a null header key is INVALID_RECORD', () => {
  // One record, null key, null value, then the header count.
  const build = (tail: number[]): Buffer => {
    const body = [0, 0, 0, 0x01, 0x01, ...tail]
    return wrapSection(Buffer.from([body.length * 2, ...body]), 1)
  }
  assert.equal(validate(build([0x00])), ErrorCode.NONE)
  assert.equal(validate(build([0x01])), ErrorCode.INVALID_RECORD) // -1 headers
  assert.equal(validate(build([0x02, 0x01, 0x01])), ErrorCode.INVALID_RECORD) // header key length -1
  assert.equal(validate(build([0x02, 0x02, 0x68, 0x01])), ErrorCode.NONE) // header 'h' with a null value
})

test('a control batch from a client is INVALID_RECORD', () => {
  const batch = buildRecordBatch(sampleRecords(1), { isControl: true, isTransactional: true, producerId: 5, producerEpoch: 0, baseSequence: 0 })
  assert.equal(validate(batch), ErrorCode.INVALID_RECORD)
})

test('codec 5, 6 or 7 is UNSUPPORTED_COMPRESSION_TYPE', () => {
  for (const codec of [5, 6, 7]) {
    const batch = buildRecordBatch(sampleRecords(2))
    batch.writeInt16BE(codec, kAttributesOffset)
    updateBatchCrc(batch)
    assert.equal(validate(batch), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
  }
})

test('a compressed section that does not inflate is CORRUPT_MESSAGE', () => {
  for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
    const batch = buildRecordBatch(sampleRecords(2))
    batch.writeInt16BE(codec, kAttributesOffset) // the plain section claims to be compressed
    updateBatchCrc(batch)
    assert.equal(validate(batch), ErrorCode.CORRUPT_MESSAGE, `codec ${codec}`)
  }
})

test('a compressed section inflating past maxDecompressedBytes is MESSAGE_TOO_LARGE, and counted', () => {
  const records = [{ key: null, value: Buffer.alloc(1 << 20) }]
  for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
    const batch = buildRecordBatch(records, { compression: codec })
    assert.ok(batch.length < 64 * 1024)
    const counted = counterValue('produce-batches-over-max-decompressed-bytes')
    assert.equal(validate(batch, { maxMessageBytes: 1 << 20, maxDecompressedBytes: 1 << 16 }), ErrorCode.MESSAGE_TOO_LARGE)
    assert.equal(counterValue('produce-batches-over-max-decompressed-bytes'), counted + 1)
    assert.equal(validate(batch, { maxMessageBytes: 1 << 20, maxDecompressedBytes: 2 << 20 }), ErrorCode.NONE)
  }
})

test('an idempotent batch without a base sequence is INVALID_RECORD', () => {
  const batch = buildRecordBatch(sampleRecords(2), { producerId: 42, producerEpoch: 0, baseSequence: -1 })
  assert.equal(validate(batch), ErrorCode.INVALID_RECORD)
  const idempotent = buildRecordBatch(sampleRecords(2), { producerId: 42, producerEpoch: 0, baseSequence: 0 })
  assert.equal(validate(idempotent), ErrorCode.NONE)
})

test('validation never throws on damaged batches, whatever the damage', () => {
  let seed = 12345
  const random = (limit: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % limit
  }
  for (const codec of kCodecs) {
    const batch = buildRecordBatch(sampleRecords(20), { compression: codec })
    for (let round = 0; round < 300; round++) {
      const damaged = Buffer.from(batch)
      for (let flips = 1 + random(4); flips > 0; flips--) {
        damaged[kAttributesOffset + 2 + random(damaged.length - kAttributesOffset - 2)] = random(256)
      }
      updateBatchCrc(damaged)
      const code = validate(damaged)
      assert.equal(typeof code, 'number')
    }
  }
})

test('assignOffsets with CreateTime rewrites only baseOffset and leaves the CRC bytes untouched', () => {
  for (const codec of kCodecs) {
    const batch = buildRecordBatch(sampleRecords(5), { compression: codec })
    const before = Buffer.from(batch)
    assignOffsets(batch, 2 ** 45 + 3, -1)
    assert.ok(batch.subarray(8).equals(before.subarray(8)), 'nothing after baseOffset changes')
    assert.equal(batch.readUInt32BE(kCrcOffset), computeBatchCrc(batch))
    assert.equal(validate(batch), ErrorCode.NONE)
    const parsed = parseRecords(batch)
    assert.deepEqual(parsed.map((r) => r.offset), [0, 1, 2, 3, 4].map((i) => 2 ** 45 + 3 + i))
    assert.deepEqual(parsed.map((r) => r.timestamp), sampleRecords(5).map((r) => r.timestamp))
  }
})

test('assignOffsets with LogAppendTime sets the timestamp type and maxTimestamp and keeps the CRC valid', () => {
  const appendTime = 1_800_000_000_123
  for (const codec of kCodecs) {
    const batch = buildRecordBatch(sampleRecords(5), { compression: codec, isTransactional: true, producerId: 7, producerEpoch: 1, baseSequence: 0 })
    assignOffsets(batch, 500, appendTime)
    const info = createBatchInfo()
    assert.equal(validateProducedRecords(batch, kLimits, info), ErrorCode.NONE)
    assert.equal(info.baseOffset, 500)
    assert.equal(info.timestampType, 1)
    assert.equal(info.isTransactional, true)
    assert.equal(info.compression, codec)
    assert.equal(info.maxTimestamp, appendTime)
    assert.equal(info.baseTimestamp, 1_700_000_000_000, 'baseTimestamp is kept, as Kafka keeps it')
    assert.equal(info.crc, computeBatchCrc(batch))
    assert.deepEqual(parseRecords(batch).map((r) => r.timestamp), [appendTime, appendTime, appendTime, appendTime, appendTime])
    // Again with the same time: nothing to change.
    const again = Buffer.from(batch)
    assignOffsets(again, 600, appendTime)
    assert.ok(again.subarray(8).equals(batch.subarray(8)))
  }
})

test('nextBatchEnd walks consecutive batches and stops at a partial or malformed one', () => {
  const batches = [buildRecordBatch(sampleRecords(1)), buildRecordBatch(sampleRecords(4), { compression: Compression.lz4 }), buildRecordBatch(sampleRecords(2))]
  const log = Buffer.concat([Buffer.alloc(3), ...batches])
  const ends: number[] = []
  for (let position = 3, next; position < log.length && (next = nextBatchEnd(log, position, log.length)) > 0; position = next) {
    ends.push(next)
  }
  assert.deepEqual(ends, [3 + batches[0].length, 3 + batches[0].length + batches[1].length, log.length])
  assert.equal(nextBatchEnd(log, 3, log.length - batches[2].length - batches[1].length + 1), 3 + batches[0].length)
  assert.equal(nextBatchEnd(log, 3, 3 + batches[0].length - 1), kIncompleteBatch)
  assert.equal(nextBatchEnd(log, 3, 3 + 11), kIncompleteBatch)
  assert.equal(nextBatchEnd(log, log.length, log.length), kIncompleteBatch)
  const malformed = Buffer.from(batches[0])
  malformed.writeInt32BE(0, kBatchLengthOffset)
  assert.equal(nextBatchEnd(malformed, 0, malformed.length), kCorruptBatch)
})

test('buildRecordBatch writes the control and transactional bits and the producer fields', () => {
  const batch = buildRecordBatch([{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], {
    isControl: true, isTransactional: true, producerId: 9, producerEpoch: 2, baseSequence: -1
  })
  const info = createBatchInfo()
  readBatchInfo(batch, 0, info)
  assert.equal(info.isControl, true)
  assert.equal(info.isTransactional, true)
  assert.equal(info.producerId, 9)
  assert.equal(info.producerEpoch, 2)
  assert.equal(info.crc, computeBatchCrc(batch))
})

test('batches encoded by kafkajs (uncompressed and gzip) validate and parse to the same records', async () => {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
    RecordBatch (options: object): Promise<{ buffer: Buffer }>
  }
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown
  const inputs = [
    { key: Buffer.from('alpha'), value: Buffer.from('one'), headers: { source: 'kafkajs' }, timestampDelta: 0 },
    { key: null, value: Buffer.from('two'.repeat(50)), headers: {}, timestampDelta: 15 },
    { key: Buffer.from('gamma'), value: null, headers: {}, timestampDelta: 20 }
  ]
  for (const compression of [Compression.none, Compression.gzip]) {
    const encoded = await RecordBatch({
      compression,
      firstTimestamp: 1_650_000_000_000,
      maxTimestamp: 1_650_000_000_020,
      lastOffsetDelta: inputs.length - 1,
      records: inputs.map((input, offsetDelta) => Record({ ...input, offsetDelta }))
    })
    const batch = encoded.buffer
    const info = createBatchInfo()
    assert.equal(validateProducedRecords(batch, kLimits, info), ErrorCode.NONE, `compression ${compression}`)
    assert.equal(info.compression, compression)
    const parsed = parseRecords(batch)
    assert.deepEqual(parsed.map((r) => r.key), inputs.map((input) => input.key))
    assert.deepEqual(parsed.map((r) => r.value), inputs.map((input) => input.value))
    assert.deepEqual(parsed.map((r) => r.timestamp), inputs.map((input) => 1_650_000_000_000 + input.timestampDelta))
    assert.deepEqual(parsed[0].headers, [{ key: 'source', value: Buffer.from('kafkajs') }])
  }
})

test('batches encoded by @platformatic/kafka with every codec validate and parse to the same records', async () => {
  const { createRecordsBatch } = await import('@platformatic/kafka') as unknown as {
    createRecordsBatch (messages: object[], options: object): { buffer: Buffer }
  }
  const names = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
  for (const codec of kCodecs) {
    const messages = []
    for (let i = 0; i < 30; i++) {
      messages.push({
        topic: 'golden',
        key: Buffer.from(`key-${i}`),
        value: Buffer.from(`value-${i}`.repeat(20)),
        headers: new Map([[Buffer.from('n'), Buffer.from(String(i))]]),
        timestamp: BigInt(1_700_000_000_000 + i)
      })
    }
    const batch = Buffer.from(createRecordsBatch(messages, { compression: names[codec], producerId: 3n, producerEpoch: 0 }).buffer)
    const info = createBatchInfo()
    assert.equal(validateProducedRecords(batch, kLimits, info), ErrorCode.NONE, names[codec])
    assert.equal(info.compression, codec)
    assert.equal(info.producerId, 3)
    const parsed = parseRecords(batch)
    assert.equal(parsed.length, 30)
    for (let i = 0; i < 30; i++) {
      assert.equal(parsed[i].key?.toString(), `key-${i}`)
      assert.equal(parsed[i].value?.toString(), `value-${i}`.repeat(20))
      assert.equal(parsed[i].timestamp, 1_700_000_000_000 + i)
      assert.deepEqual(parsed[i].headers, [{ key: 'n', value: Buffer.from(String(i)) }])
    }
  }
})
// Produce requests captured from kcat 1.7.1 (librdkafka 2.0.2) against a fake broker, one per codec: the records field of
// partition 0 as sent. Input: 'key<i>' -> 'value <i> ' x (3 + i % 5) for i < 20, then an empty key with
// 'null key record', then 'k-empty' with an empty value. librdkafka writes raw snappy (no xerial framing),
// LZ4F frames (FLG 0x60, 64 KiB blocks) and zstd frames without a content size.
const kLibrdkafkaBatches: Record<string, Buffer> = {
  none: Buffer.from(
    'AAAAAAAAAAAAAASTAAAAAAJx3Ff7AAAAAAAVAAABoglNDPYAAAGiCU0M9v//////////////////AAAAFkQAAAAIa2V5MDB2YWx1ZSAw' +
    'IHZhbHVlIDAgdmFsdWUgMCAAVAAAAghrZXkxQHZhbHVlIDEgdmFsdWUgMSB2YWx1ZSAxIHZhbHVlIDEgAGQAAAQIa2V5MlB2YWx1ZSAy' +
    'IHZhbHVlIDIgdmFsdWUgMiB2YWx1ZSAyIHZhbHVlIDIgAHQAAAYIa2V5M2B2YWx1ZSAzIHZhbHVlIDMgdmFsdWUgMyB2YWx1ZSAzIHZh' +
    'bHVlIDMgdmFsdWUgMyAAhAEAAAgIa2V5NHB2YWx1ZSA0IHZhbHVlIDQgdmFsdWUgNCB2YWx1ZSA0IHZhbHVlIDQgdmFsdWUgNCB2YWx1' +
    'ZSA0IABEAAAKCGtleTUwdmFsdWUgNSB2YWx1ZSA1IHZhbHVlIDUgAFQAAAwIa2V5NkB2YWx1ZSA2IHZhbHVlIDYgdmFsdWUgNiB2YWx1' +
    'ZSA2IABkAAAOCGtleTdQdmFsdWUgNyB2YWx1ZSA3IHZhbHVlIDcgdmFsdWUgNyB2YWx1ZSA3IAB0AAAQCGtleThgdmFsdWUgOCB2YWx1' +
    'ZSA4IHZhbHVlIDggdmFsdWUgOCB2YWx1ZSA4IHZhbHVlIDggAIQBAAASCGtleTlwdmFsdWUgOSB2YWx1ZSA5IHZhbHVlIDkgdmFsdWUg' +
    'OSB2YWx1ZSA5IHZhbHVlIDkgdmFsdWUgOSAATAAAFAprZXkxMDZ2YWx1ZSAxMCB2YWx1ZSAxMCB2YWx1ZSAxMCAAXgAAFgprZXkxMUh2' +
    'YWx1ZSAxMSB2YWx1ZSAxMSB2YWx1ZSAxMSB2YWx1ZSAxMSAAcAAAGAprZXkxMlp2YWx1ZSAxMiB2YWx1ZSAxMiB2YWx1ZSAxMiB2YWx1' +
    'ZSAxMiB2YWx1ZSAxMiAAggEAABoKa2V5MTNsdmFsdWUgMTMgdmFsdWUgMTMgdmFsdWUgMTMgdmFsdWUgMTMgdmFsdWUgMTMgdmFsdWUg' +
    'MTMgAJQBAAAcCmtleTE0fnZhbHVlIDE0IHZhbHVlIDE0IHZhbHVlIDE0IHZhbHVlIDE0IHZhbHVlIDE0IHZhbHVlIDE0IHZhbHVlIDE0' +
    'IABMAAAeCmtleTE1NnZhbHVlIDE1IHZhbHVlIDE1IHZhbHVlIDE1IABeAAAgCmtleTE2SHZhbHVlIDE2IHZhbHVlIDE2IHZhbHVlIDE2' +
    'IHZhbHVlIDE2IABwAAAiCmtleTE3WnZhbHVlIDE3IHZhbHVlIDE3IHZhbHVlIDE3IHZhbHVlIDE3IHZhbHVlIDE3IACCAQAAJAprZXkx' +
    'OGx2YWx1ZSAxOCB2YWx1ZSAxOCB2YWx1ZSAxOCB2YWx1ZSAxOCB2YWx1ZSAxOCB2YWx1ZSAxOCAAlAEAACYKa2V5MTl+dmFsdWUgMTkg' +
    'dmFsdWUgMTkgdmFsdWUgMTkgdmFsdWUgMTkgdmFsdWUgMTkgdmFsdWUgMTkgdmFsdWUgMTkgACoAACgAHm51bGwga2V5IHJlY29yZAAa' +
    'AAAqDmstZW1wdHkAAA==', 'base64'),
  gzip: Buffer.from(
    'AAAAAAAAAAAAAAFzAAAAAALqXK0jAAEAAAAVAAABoglNEboAAAGiCU0Ruv//////////////////AAAAFh+LCAAAAAAAAAOVUjtLA2EQ' +
    'HIOIBAkiIhJCWEREAsK9H51FCgsLCysLUcxVOfUIiZDGQvwJ/uDc7u1KCHncVTMMs8s3s98QwOE4mzvO12s+y8ihVcQj0GKLe1tJLm1C' +
    'jIB9tnoPleTRLsQUOOAR/6WSfKqL+N0r386zQVFpATVFDIE2rwg1f0iryPmP2BJp/og2IefvsDXW/DHtQs5/zCOJ5k+oLkr+E55NNX9K' +
    'TRH3wGmbj+tEekW7/DLBM3AmNvdOxf+rryMogHPxe08q2sm3E/yUmboy6eeq2sVrEvyVK3qyIvhW1Q7elHA9fVkVWj32MZYJ10Nii6we' +
    '+xRrCddzIf7Y6rEfsZ1IPZcymVg99iFqEqnnSlakVo/9h6YEA+Aa/Y9ZnlO5kCbZ2+dkhC4w6IxvsvdiOgcWDNvKXGIEAAA=', 'base64'),
  snappy: Buffer.from(
    'AAAAAAAAAAAAAAHEAAAAAAKIe7GaAAIAAAAVAAABoglNFoEAAAGiCU0Wgf//////////////////AAAAFuIIREQAAAAIa2V5MDB2YWx1' +
    'ZSAwID4IABAAVAAAAgEjBDFACRsAMQ0jRggAEABkAAAEASsEMlAJKwAyDStmCAAQAHQAAAYBMwQzYAkzADMNM4YIABQAhAEAAAgBPAQ0' +
    'cAk8ADQNPKYIABAARAAACgFDADUtAAA1DUMZCCEAAAwBIwA2LQAANg0jRggAIQAADgErADctAAA3DStmCAAhAAAQATMAOC0AADgNM4YI' +
    'ACUAABIBPAA5LQAAOQ08pggALABMAAAUCmtleTEwNilEADFRAi4JABAAXgAAFgUnBDFIDSc1/k4JABAAcAAAGAUwBDJaDTBRA3YJABQA' +
    'ggEAABoFOgQzbA06UQqaCQAUAJQBAAAcBUMENH4NQ1ERvgkAIR8AHgVLADUxH1EZLgkAIR8AIAUnADYxH1EdUgkAIR8AIgUwADcxH1Ei' +
    'dgkAJR8AJAU6ADgxH1EpmgkAFACUAQAAJgVDADkxH1EwvgkAkAAqAAAoAB5udWxsIGtleSByZWNvcmQAGgAAKg5rLWVtcHR5AAA=', 'base64'),
  lz4: Buffer.from(
    'AAAAAAAAAAAAAAHwAAAAAALpZNJSAAMAAAAVAAABoglNN0wAAAGiCU03TP//////////////////AAAAFgQiTRhgQIKwAQAA/ANEAAAA' +
    'CGtleTAwdmFsdWUgMCAIAFAAVAAAAiMAIjFAGwATMSMADggAUABkAAAEKwAiMlArABMyKwAPCAAHUAB0AAAGMwAiM2AzABMzMwAPCAAP' +
    'YACEAQAACDwAIjRwPAATNDwADwgAF1AARAAACkMAEzUAARM1QwAGCAAAAAEQDCMAEzYAARM2IwAOCAAAAAEQDisAEzcAARM3KwAPCAAH' +
    'AAABEBAzABM4AAETODMADwgADwEAARASPAATOQABEzk8AA8IABfCAEwAABQKa2V5MTA2RAEUMQICCAkAUQBeAAAWJwAjMUgnAAX+AQ8J' +
    'AAFRAHAAABgwACMyWjAABAMCDwkAC2EAggEAABo6ACMzbDoABAoCDwkAFGEAlAEAABxDACM0fkMABBECDwkAHQAfAREeSwAUNR8BBBkC' +
    'CAkAAB8BESAnABQ2HwEEHQIPCQACAB8BESIwABQ3HwEEIgIPCQALAR8BESQ6ABQ4HwEEKQIPCQAUAR8BESZDABQ5HwEEMAIPCQAd8BYA' +
    'KgAAKAAebnVsbCBrZXkgcmVjb3JkABoAACoOay1lbXB0eQAAAAAAAA==', 'base64'),
  zstd: Buffer.from(
    'AAAAAAAAAAAAAAFXAAAAAAIoQ3d4AAQAAAAVAAABoglNIBAAAAGiCU0gEP//////////////////AAAAFii1L/0AWO0IAMIMKigwj9MY' +
    'wABeiPP4Z2dZUnZQtOWgrht6E1pqZL97cPwFjcDoUM3iiFoKv5qLIhv0IXnImIzFRGbapjbL2lREZnjJVbVAUQqTZUr460iJ7S9LUYp8' +
    '5QgjQnhnY8iCIO9kDC3w4K8f5Rn85Rfd29Sn4CtXFQFFDUzTI0YBSdpU9vzk6Io2lbF3NIYioE1lAa8ZPsBNZQCP+Tm8TWWOh7i5lhtL' +
    '4sK5TWX/JE2oUWkX1aK4ZoCTVMMBEoBRSU5VYIwRTkABxVFEGQoMjQEUDhI7BWmK2EcGwewMfJmK1su9ThGqKobGS4ib3UeDejA7AVOm' +
    'fjSjCyT7B63p6bkfnJWZ9TITEq+PPg9Az9vdqe3cSdqyGoOuc0dNarhYBQ==', 'base64')
}

test('batches produced by librdkafka with every codec validate and parse to the records it was given', () => {
  const expected: Array<[string, string]> = []
  for (let i = 0; i < 20; i++) expected.push([`key${i}`, `value ${i} `.repeat(3 + (i % 5))])
  expected.push(['', 'null key record'], ['k-empty', ''])
  for (const [name, codec] of [['none', 0], ['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const) {
    const batch = kLibrdkafkaBatches[name]
    const info = createBatchInfo()
    assert.equal(validateProducedRecords(batch, kLimits, info), ErrorCode.NONE, name)
    assert.equal(info.compression, codec, name)
    assert.equal(info.recordCount, expected.length)
    const parsed = parseRecords(batch)
    assert.deepEqual(parsed.map((r) => [r.key?.toString(), r.value?.toString()]), expected, name)
    assert.deepEqual(parsed.map((r) => r.offset), expected.map((_, i) => i))
  }
  assert.equal(kLibrdkafkaBatches.snappy[kRecordsOffset], 0xe2, 'raw snappy: starts with the length varint, not the xerial magic')
  assert.equal(kLibrdkafkaBatches.lz4.readUInt32LE(kRecordsOffset), 0x184d2204)
})
