import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  bucketOf, createMetricsSlab, errorCodeAt, errorIndex, kBucketBounds, kBuckets, kErrorSlot, kFsyncHistogramSlot, kHistogramSlots,
  kLatencySlot, kMaxApiKeys, kMaxErrorCodes, kMaxVersions, kRequestCountSlot, kSlabSlots, observe, recordErrorInto, recordRequestInto,
  sumHistograms, sumSlot
} from '../../src/metrics/layout.ts'

test('the slab regions follow one another without overlapping', () => {
  assert.equal(kRequestCountSlot, kFsyncHistogramSlot + kHistogramSlots)
  assert.equal(kLatencySlot, kRequestCountSlot + kMaxApiKeys * kMaxVersions)
  assert.equal(kErrorSlot, kLatencySlot + kMaxApiKeys * kHistogramSlots)
  assert.equal(kSlabSlots, kErrorSlot + kMaxApiKeys * kMaxErrorCodes)
  assert.equal(createMetricsSlab().byteLength, kSlabSlots * 8)
})

test('a value goes to the first bucket whose bound is not below it, beyond the last to +Inf', () => {
  assert.equal(bucketOf(0), 0)
  assert.equal(bucketOf(kBucketBounds[0]), 0)
  assert.equal(bucketOf(kBucketBounds[0] * 1.01), 1)
  assert.equal(bucketOf(0.003), kBucketBounds.indexOf(0.005))
  assert.equal(bucketOf(1e6), kBuckets - 1)
})

test('requests count per API key and version, and their latency goes into that API key\'s histogram', () => {
  const slab = new Float64Array(kSlabSlots)
  recordRequestInto(slab, 0, 9, 0.002)
  recordRequestInto(slab, 0, 9, 0.02)
  recordRequestInto(slab, 0, 11, 0.002)
  recordRequestInto(slab, 1, 12, 0.0001)
  assert.equal(slab[kRequestCountSlot + 0 * kMaxVersions + 9], 2)
  assert.equal(slab[kRequestCountSlot + 0 * kMaxVersions + 11], 1)
  assert.equal(slab[kRequestCountSlot + 1 * kMaxVersions + 12], 1)
  const produce = sumHistograms([slab], kLatencySlot)
  assert.equal(produce.count, 3)
  assert.ok(Math.abs(produce.sum - 0.024) < 1e-12)
  assert.equal(produce.cumulative[kBucketBounds.indexOf(0.0025)], 2)
  assert.equal(produce.cumulative[kBucketBounds.indexOf(0.025)], 3)
  assert.equal(sumHistograms([slab], kLatencySlot + kHistogramSlots).count, 1)
})

test('API keys and versions outside the slab are not counted, and touch no other slot', () => {
  const slab = new Float64Array(kSlabSlots)
  recordRequestInto(slab, kMaxApiKeys, 0, 1)
  recordRequestInto(slab, 0, kMaxVersions, 1)
  recordRequestInto(slab, -1, 0, 1)
  recordErrorInto(slab, 0, kMaxErrorCodes)
  recordErrorInto(slab, 0, 0)
  assert.ok(slab.every((value) => value === 0))
})

test('error code -1 (UNKNOWN_SERVER_ERROR) has slot 0, other codes their own', () => {
  assert.equal(errorIndex(-1), 0)
  assert.equal(errorIndex(0), -1)
  assert.equal(errorIndex(6), 6)
  assert.equal(errorCodeAt(errorIndex(-1)), -1)
  assert.equal(errorCodeAt(errorIndex(87)), 87)
  const slab = new Float64Array(kSlabSlots)
  recordErrorInto(slab, 1, 1)
  recordErrorInto(slab, 1, 1)
  recordErrorInto(slab, 1, -1)
  assert.equal(slab[kErrorSlot + 1 * kMaxErrorCodes + 1], 2)
  assert.equal(slab[kErrorSlot + 1 * kMaxErrorCodes + 0], 1)
})

test('histograms and slots sum over the slabs of every worker, buckets made cumulative', () => {
  const slabs = [new Float64Array(createMetricsSlab()), new Float64Array(createMetricsSlab())]
  observe(slabs[0], kFsyncHistogramSlot, 0.0004)
  observe(slabs[1], kFsyncHistogramSlot, 0.0004)
  observe(slabs[1], kFsyncHistogramSlot, 100)
  const sum = sumHistograms(slabs, kFsyncHistogramSlot)
  assert.equal(sum.count, 3)
  assert.equal(sum.cumulative[kBucketBounds.indexOf(0.0005)], 2)
  assert.equal(sum.cumulative[kBucketBounds.length - 1], 2)
  assert.equal(sum.cumulative[kBuckets - 1], 3)
  for (let i = 1; i < kBuckets; i++) assert.ok(sum.cumulative[i] >= sum.cumulative[i - 1])
  assert.equal(sumSlot(slabs, kFsyncHistogramSlot + kBuckets - 1), 1)
})
