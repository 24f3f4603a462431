// RemoteReader (src/storage/remote-reader.ts): whole batches of evicted offsets from S3 ranges, byte-identical to
// what the log held, for every codec; maxBytes and KIP-74; the LRU cache, single flight, read-ahead; retries.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { counterValue } from '../../src/counters.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ObjectStoreError } from '../../src/storage/object-store.ts'
import { RemoteReader } from '../../src/storage/remote-reader.ts'
import { temporaryDirectory } from '../log/helpers.ts'
import { TestTier } from './test-tier.ts'

const kTopicId = 'AAAAAAAAAAAAAAAAAAAAAA'
const kCodecs = [['none', 0], ['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const

function batchOf (index: number, codec = 0, records = 4): Buffer {
  const inputs = []
  for (let record = 0; record < records; record++) {
    inputs.push({ key: Buffer.from(`k${index}`), value: Buffer.from(`value ${index}.${record} `.repeat(8)), timestamp: 1_000_000 + index * 1000 + record })
  }
  return buildRecordBatch(inputs, { compression: codec })
}

/** A log of `batches` batches, uploaded to the tier in ranges of `perRange` batches. */
function uploadedLog (t: TestContext, batches: number, perRange: number, codec = 0): { log: PartitionLog, tier: TestTier } {
  const log = PartitionLog.open(temporaryDirectory(t), { segmentBytes: 1024 * 1024, indexIntervalBytes: 128 })
  t.after(() => log.close())
  const tier = new TestTier()
  for (let index = 0; index < batches; index++) {
    log.append(batchOf(index, codec), -1)
    if ((index + 1) % perRange === 0) tier.upload(log, kTopicId, 0)
  }
  tier.upload(log, kTopicId, 0)
  return { log, tier }
}

for (const [name, codec] of kCodecs) {
  test(`reads ${name} batches byte-identical to the log, across ranges`, async (t) => {
    const { log, tier } = uploadedLog(t, 12, 3, codec)
    const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 0 })
    const remote = await reader.read(kTopicId, 0, 0, 1 << 20, true)
    const local = log.read(0, 1 << 20, true).records
    assert.ok(remote !== null && local !== null)
    assert.ok(remote.equals(local))
  })
}

test('starts with the batch holding a fetch offset inside a range', async (t) => {
  const { log, tier } = uploadedLog(t, 6, 6)
  const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 0 })
  const remote = await reader.read(kTopicId, 0, 9, 1 << 20, true) // batch 2 holds offsets 8..11
  assert.ok(remote !== null)
  assert.ok(remote.equals(log.read(9, 1 << 20, true).records!))
  assert.equal(remote.readBigInt64BE(0), 8n)
})

test('returns whole batches up to maxBytes, and one larger batch only with minOneBatch (KIP-74)', async (t) => {
  const { tier } = uploadedLog(t, 6, 2)
  const size = batchOf(0).length
  const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 0 })
  const three = await reader.read(kTopicId, 0, 0, size * 3 + size / 2, false)
  assert.equal(three?.length, size * 3)
  assert.equal(await reader.read(kTopicId, 0, 0, 10, false), null)
  assert.equal((await reader.read(kTopicId, 0, 0, 10, true))?.length, size)
  const notFound = (error: unknown): boolean => error instanceof ObjectStoreError && error.kind === 'not-found'
  await assert.rejects(reader.read(kTopicId, 0, 24, 1 << 20, true), notFound, 'beyond what S3 holds')
  await assert.rejects(reader.read('other', 0, 0, 1 << 20, true), notFound, 'a partition S3 holds nothing of')
})

test('shares one GET between concurrent misses and serves hits from the cache', async (t) => {
  const { tier } = uploadedLog(t, 4, 4)
  const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 0 })
  const hits = counterValue('s3-cache-hits')
  const [a, b] = await Promise.all([reader.read(kTopicId, 0, 0, 1 << 20, true), reader.read(kTopicId, 0, 5, 1 << 20, true)])
  assert.equal(tier.store.requests.get, 1)
  assert.ok(a !== null && b !== null)
  await reader.read(kTopicId, 0, 0, 1 << 20, true)
  assert.equal(tier.store.requests.get, 1)
  assert.ok(counterValue('s3-cache-hits') > hits)
})

test('keeps at most cacheBytes, dropping the least recently used range', async (t) => {
  const { tier } = uploadedLog(t, 8, 2)
  const rangeBytes = tier.index(kTopicId, 0)!.ranges[0].length
  const reader = new RemoteReader(tier, { cacheBytes: rangeBytes * 2, readAheadBytes: 0 })
  await reader.read(kTopicId, 0, 0, 1, true) // range 0
  await reader.read(kTopicId, 0, 8, 1, true) // range 1
  await reader.read(kTopicId, 0, 0, 1, true) // range 0 again: a hit, now the most recent
  await reader.read(kTopicId, 0, 16, 1, true) // range 2: drops range 1
  assert.ok(reader.cachedBytes <= rangeBytes * 2)
  const gets = tier.store.requests.get
  await reader.read(kTopicId, 0, 0, 1, true)
  assert.equal(tier.store.requests.get, gets, 'range 0 was kept')
  await reader.read(kTopicId, 0, 8, 1, true)
  assert.equal(tier.store.requests.get, gets + 1, 'range 1 was dropped')
})

test('reads ahead the ranges after a miss', async (t) => {
  const { tier } = uploadedLog(t, 8, 2)
  const rangeBytes = tier.index(kTopicId, 0)!.ranges[0].length
  const reader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: rangeBytes * 2 })
  await reader.read(kTopicId, 0, 0, 1, true)
  const deadline = Date.now() + 5000
  while (reader.cachedBytes < rangeBytes * 3 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(tier.store.requests.get, 3)
  await reader.read(kTopicId, 0, 8, 1, true)
  await reader.read(kTopicId, 0, 16, 1, true)
  assert.equal(tier.store.requests.get, 3, 'ranges 1 and 2 came from the read-ahead')
})

test('retries retriable S3 errors, and rejects once they persist or for a missing object', async (t) => {
  const { log, tier } = uploadedLog(t, 4, 4)
  const reader = new RemoteReader(tier, { cacheBytes: 0, readAheadBytes: 0 })
  tier.store.failNext = 2
  const remote = await reader.read(kTopicId, 0, 0, 1 << 20, true)
  assert.ok(remote?.equals(log.read(0, 1 << 20, true).records!))
  tier.store.down = true
  await assert.rejects(reader.read(kTopicId, 0, 0, 1 << 20, true), (error: unknown) => error instanceof ObjectStoreError && error.retriable)
  tier.store.down = false
  tier.store.objects.clear()
  await assert.rejects(reader.read(kTopicId, 0, 0, 1 << 20, true), (error: unknown) => error instanceof ObjectStoreError && error.kind === 'not-found')
})
