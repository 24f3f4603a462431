// Tiered reads at the handler level, on a real (one-worker) Shard whose partition has segments evicted to S3
// (a TestTier over a MemoryObjectStore stands in for the uploader): Fetch of evicted offsets is byte-identical to
// what the log held, for every codec, and fails the partition (not the request) when S3 does; ListOffsets and
// DeleteRecords see both tiers; the retention task evicts by local.retention.* and retains across tiers.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { MessageChannel } from 'node:worker_threads'
import { parseConfig } from '../../src/config/config.ts'
import { Doorbells } from '../../src/shard/ring.ts'
import { Logger } from '../../src/logger.ts'
import { Shard } from '../../src/shard/shard.ts'
import { RetentionTask } from '../../src/shard/log-maintenance.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { fetchHandler } from '../../src/handlers/fetch.ts'
import { listOffsetsHandler } from '../../src/handlers/list-offsets.ts'
import { deleteRecordsHandler } from '../../src/handlers/delete-records.ts'
import { RemoteReader } from '../../src/storage/remote-reader.ts'
import type { RequestContext } from '../../src/net/connection.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { temporaryDirectory } from '../log/helpers.ts'
import { TestTier } from '../storage/test-tier.ts'

const logger = new Logger('error', 'test')
const kTopic = 'tiered'
const kTopicId = 'ab'.repeat(16)
const kBaseTimestamp = 1_700_000_000_000

interface Setup { shard: Shard, log: PartitionLog, tier: TestTier, context: (apiKey: number, apiVersion: number) => RequestContext }

/** A one-worker Shard with topic `tiered` (1 partition, 1 KiB segments), its tier and reader set. */
function setup (t: TestContext, configs: Record<string, string> = {}): Setup {
  const config = parseConfig(['--data-dir', temporaryDirectory(t), '--workers', '1', '--log-level', 'error', '--log-retention-check-interval-ms', '600000'])
  const channel = new MessageChannel()
  t.after(() => { channel.port1.close(); channel.port2.close() })
  const shard = new Shard({
    index: 0,
    config,
    logger,
    port: channel.port1,
    outgoing: [null],
    incoming: [null],
    doorbells: Doorbells.create(1),
    metadata: { version: 1, clusterId: 'c', topics: [{ name: kTopic, id: kTopicId, partitions: 1, configs }] },
    advertised: { host: '127.0.0.1', port: 9092 },
    handlers: new Map(),
    remoteServers: new Map()
  })
  t.after(() => shard.stop())
  const log = shard.partition(shard.table.topic(kTopic)!, 0)!.log
  log.updateSegmentConfig(1024, undefined)
  const tier = new TestTier()
  shard.tier = tier
  shard.remoteReader = new RemoteReader(tier, { cacheBytes: 1 << 20, readAheadBytes: 64 * 1024 })
  const context = (apiKey: number, apiVersion: number): RequestContext => ({ shard, apiKey, apiVersion, correlationId: 1, clientId: 'test', requestBytes: 0, connection: { noteRequestOwners: () => {} } as unknown as RequestContext['connection'] })
  return { shard, log, tier, context }
}

/** Appends `batches` batches of 3 records (batch i at kBaseTimestamp + i * 1000), uploading every 3 batches. */
function fill (log: PartitionLog, tier: TestTier, batches: number, codec = 0): void {
  for (let index = 0; index < batches; index++) {
    const records = [0, 1, 2].map((record) => ({ key: Buffer.from(`key-${index}`), value: Buffer.from(`value ${index}.${record} `.repeat(10)), timestamp: kBaseTimestamp + index * 1000 + record }))
    log.append(buildRecordBatch(records, { compression: codec }), -1)
    if (index % 3 === 2) tier.upload(log, kTopicId, 0)
  }
  tier.upload(log, kTopicId, 0)
}

function evictAll (log: PartitionLog): void {
  while (log.segmentCount > 1) log.evictOldestSegment()
}

async function fetch (setup: Setup, fetchOffset: number, maxBytes = 1 << 20, isolationLevel = 0): Promise<any> {
  const request = {
    replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes, isolationLevel, sessionId: 0, sessionEpoch: -1, rackId: '',
    topics: [{ topic: kTopic, topicId: kTopicId, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: maxBytes, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: []
  }
  const response: any = await fetchHandler.handle(setup.context(1, 12), request)
  return response.responses[0].partitions[0]
}

async function listOffset (setup: Setup, timestamp: number): Promise<any> {
  const request = { replicaId: -1, isolationLevel: 0, topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] }
  const response: any = await listOffsetsHandler.handle(setup.context(2, 8), request)
  return response.topics[0].partitions[0]
}

for (const [name, codec] of [['none', 0], ['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const) {
  test(`Fetch of evicted ${name} batches is byte-identical to what the log held, then continues locally`, async (t) => {
    const s = setup(t)
    fill(s.log, s.tier, 24, codec)
    const whole = s.log.read(0, 1 << 22, true).records!
    evictAll(s.log)
    assert.ok(s.log.localStartOffset > 0)
    let offset = 0
    const fetched: Buffer[] = []
    while (offset < s.log.nextOffset) {
      const p = await fetch(s, offset, 700)
      assert.equal(p.errorCode, ErrorCode.NONE)
      assert.equal(p.logStartOffset, 0)
      assert.ok(p.records.length > 0)
      fetched.push(Buffer.from(p.records))
      let at = 0
      while (at < p.records.length) {
        offset = Number(p.records.readBigInt64BE(at)) + p.records.readInt32BE(at + 23) + 1
        at += 12 + p.records.readInt32BE(at + 8)
      }
    }
    assert.ok(Buffer.concat(fetched).equals(whole))
  })
}

test('a failing S3 read answers the partition KAFKA_STORAGE_ERROR; below the log start is OFFSET_OUT_OF_RANGE', async (t) => {
  const s = setup(t)
  fill(s.log, s.tier, 12)
  evictAll(s.log)
  s.tier.store.down = true
  const failed = await fetch(s, 0)
  assert.equal(failed.errorCode, ErrorCode.KAFKA_STORAGE_ERROR)
  assert.equal(failed.records.length, 0)
  s.tier.store.down = false
  assert.equal((await fetch(s, 0)).errorCode, ErrorCode.NONE)
  s.log.deleteRecordsBefore(3)
  assert.equal((await fetch(s, 0)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
})

test('ListOffsets: earliest stays, earliest local moves, by timestamp and max timestamp across tiers', async (t) => {
  const s = setup(t)
  fill(s.log, s.tier, 12)
  const expected = s.log.offsetForTimestamp(kBaseTimestamp + 1001)!
  const maxBefore = s.log.maxTimestampOffset()
  evictAll(s.log)
  assert.equal((await listOffset(s, -2)).offset, 0)
  assert.equal((await listOffset(s, -4)).offset, s.log.localStartOffset)
  assert.equal((await listOffset(s, -1)).offset, s.log.nextOffset)
  const byTime = await listOffset(s, kBaseTimestamp + 1001)
  assert.deepEqual({ offset: byTime.offset, timestamp: byTime.timestamp }, expected)
  assert.equal(expected.offset, 4)
  const max = await listOffset(s, -3)
  assert.deepEqual({ offset: max.offset, timestamp: max.timestamp }, maxBefore)
  assert.equal((await listOffset(s, kBaseTimestamp + 1e9)).offset, -1)
})

test('DeleteRecords into the evicted part moves the log start and tells S3', async (t) => {
  const s = setup(t)
  fill(s.log, s.tier, 12)
  evictAll(s.log)
  const localStart = s.log.localStartOffset
  const request = { topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, offset: 7 }] }], timeoutMs: 1000 }
  const response: any = await deleteRecordsHandler.handle(s.context(21, 2), request)
  assert.deepEqual(response.topics[0].partitions[0], { partitionIndex: 0, lowWatermark: 7, errorCode: ErrorCode.NONE })
  assert.equal(s.log.localStartOffset, localStart)
  assert.deepEqual(s.tier.advanced.at(-1), { topicId: kTopicId, partition: 0, offset: 7 })
  assert.equal(s.tier.index(kTopicId, 0)!.logStartOffset, 7)
  assert.equal((await listOffset(s, -2)).offset, 7)
  const p = await fetch(s, 7)
  assert.equal(p.errorCode, ErrorCode.NONE)
  assert.equal(Number(p.records.readBigInt64BE(0)), 6, 'the batch holding offset 7')
})

test('the retention task evicts by local.retention.bytes, then retains across tiers by retention.bytes', (t) => {
  const s = setup(t, { 'local.retention.bytes': '0', 'retention.ms': '-1' })
  fill(s.log, s.tier, 24)
  const task = new RetentionTask(logger, s.shard)
  const local = s.shard.partition(s.shard.table.topic(kTopic)!, 0)!
  while (task.step(local, Date.now()));
  assert.equal(s.log.segmentCount, 1)
  assert.equal(s.log.logStartOffset, 0)
  assert.ok(s.log.localStartOffset > 0)
  // retention.bytes now: whole ranges go from S3, the log start moving past them.
  const s3Bytes = s.tier.index(kTopicId, 0)!.sizeBytes
  s.shard.applyMetadata({ version: 2, clusterId: 'c', topics: [{ name: kTopic, id: kTopicId, partitions: 1, configs: { 'local.retention.bytes': '0', 'retention.ms': '-1', 'retention.bytes': String(s.log.sizeBytes) } }] })
  const again = s.shard.partition(s.shard.table.topic(kTopic)!, 0)!
  while (task.step(again, Date.now()));
  assert.equal(s.log.logStartOffset, s.log.localStartOffset)
  assert.ok(s.tier.index(kTopicId, 0)!.sizeBytes < s3Bytes)
  assert.equal(s.tier.advanced.at(-1)?.offset, s.log.logStartOffset)
})

test('a compacted topic is never evicted', (t) => {
  const s = setup(t, { 'local.retention.bytes': '0', 'retention.ms': '-1', 'cleanup.policy': 'compact,delete' })
  fill(s.log, s.tier, 12)
  const task = new RetentionTask(logger, s.shard)
  const local = s.shard.partition(s.shard.table.topic(kTopic)!, 0)!
  while (task.step(local, Date.now()));
  assert.equal(s.log.localStartOffset, s.log.logStartOffset)
  assert.ok(s.log.segmentCount > 1)
})

test('a read_committed Fetch of evicted offsets returns the same batches, with their aborted transactions', async (t) => {
  const s = setup(t)
  fill(s.log, s.tier, 12)
  const local = s.log.read(0, 2048, true, 1)
  evictAll(s.log)
  const p = await fetch(s, 0, 2048, 1)
  assert.equal(p.errorCode, ErrorCode.NONE)
  assert.ok(p.records.equals(local.records!))
  assert.deepEqual(p.abortedTransactions, [])
})
