// recompressBatch and compressAsync: a batch rewritten with another codec keeps everything but its codec bits,
// length and CRC.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { codecOfCompressionType, recompressBatch } from '../../src/protocol/recompress.ts'
import { compressAsync, decompress } from '../../src/protocol/compression.ts'
import {
  buildRecordBatch, computeBatchCrc, createBatchInfo, parseRecords, readBatchInfo, takeInflatedSection, updateBatchCrc, validateProducedRecords
} from '../../src/protocol/record-batch.ts'
import { kAttributesOffset, kRecordsOffset, kTimestampTypeBit } from '../../src/protocol/record-batch-layout.ts'

const input = Array.from({ length: 20 }, (_, i) => ({
  key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
  value: Buffer.from(`value-${i}-`.repeat(50)),
  headers: [{ key: 'h', value: Buffer.from(String(i)) }],
  timestamp: 1_700_000_000_000 + i
}))

test('maps compression.type to codec ids; producer keeps the batch codec', () => {
  assert.deepEqual(['uncompressed', 'gzip', 'snappy', 'lz4', 'zstd', 'producer'].map(codecOfCompressionType), [0, 1, 2, 3, 4, -1])
})

test('rewrites a batch from every codec to every other, keeping its header, records and attributes', async () => {
  for (let from = 0; from <= 4; from++) {
    const original = buildRecordBatch(input, { compression: from, producerId: 99, producerEpoch: 3, baseSequence: 17, isTransactional: true, baseOffset: 5 })
    // A LogAppendTime batch as a broker would hand it on: the bit must survive too.
    original.writeUInt16BE(original.readUInt16BE(kAttributesOffset) | kTimestampTypeBit, kAttributesOffset)
    updateBatchCrc(original)
    const before = createBatchInfo()
    assert.equal(validateProducedRecords(original, { maxMessageBytes: 1 << 30, maxDecompressedBytes: 1 << 30 }, before), 0)
    const inflated = takeInflatedSection()
    assert.equal(inflated === null, from === 0)
    for (let to = 0; to <= 4; to++) {
      if (to === from) continue
      const section = inflated ?? original.subarray(kRecordsOffset)
      const rebuilt = await recompressBatch(original, section, false, to, to === 1 ? 9 : to === 4 ? 19 : 0)
      const after = createBatchInfo()
      readBatchInfo(rebuilt, 0, after)
      assert.equal(after.compression, to)
      assert.equal(after.crc, computeBatchCrc(rebuilt))
      assert.equal(after.batchLength, rebuilt.length - 12)
      for (const field of ['baseOffset', 'partitionLeaderEpoch', 'producerId', 'producerEpoch', 'baseSequence', 'recordCount', 'lastOffsetDelta',
        'baseTimestamp', 'maxTimestamp', 'isTransactional', 'timestampType'] as const) {
        assert.equal(after[field], before[field], `${from} -> ${to}: ${field}`)
      }
      assert.deepEqual(parseRecords(rebuilt).map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString(), r.headers[0].value?.toString()]),
        parseRecords(original).map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString(), r.headers[0].value?.toString()]))
    }
  }
})

test('the caller may reuse its buffers as soon as recompressBatch returns', async () => {
  const original = buildRecordBatch(input)
  const copy = Buffer.from(original)
  const pending = recompressBatch(original, original.subarray(kRecordsOffset), false, 4, 3)
  original.fill(0)
  const rebuilt = await pending
  assert.deepEqual(parseRecords(rebuilt).map((r) => r.value?.toString()), parseRecords(copy).map((r) => r.value?.toString()))
})

test('compressAsync honours gzip and zstd levels and its output decompresses', async () => {
  const data = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i % 97} ${i % 13}\n`).join(''))
  const fast = await compressAsync(1, data, 1)
  const best = await compressAsync(1, data, 9)
  assert.ok(best.length < fast.length)
  assert.deepEqual(decompress(1, best), data)
  const zstdLow = await compressAsync(4, data, -5)
  const zstdHigh = await compressAsync(4, data, 19)
  assert.ok(zstdHigh.length < zstdLow.length)
  assert.deepEqual(decompress(4, zstdHigh), data)
  for (const codec of [2, 3]) assert.deepEqual(decompress(codec, await compressAsync(codec, data, 0)), data)
  await assert.rejects(compressAsync(6, data, 0), { name: 'KafkaError' })
})
