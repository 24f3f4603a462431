// The worker-side uploader against an in-memory store and real partition logs: one object per flush whatever
// the partition count, ranges recorded only once the PUT succeeded, --durability s3 flushes waiting for S3,
// retries with back-off while the store is down, the backlog's throttle and refusal, the merge, and deletes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { Uploader, createdMsOfKey } from '../../src/storage/uploader.ts'
import { decodeHeader, dataPrefix } from '../../src/storage/object-format.ts'
import { buildRemoteState } from '../../src/storage/remote-index.ts'
import { Logger } from '../../src/logger.ts'
import type { S3Config } from '../../src/config/config.ts'
import { buildBatch, temporaryDirectory } from '../log/helpers.ts'

const logger = new Logger('error', 'test')

function s3Config (overrides: Partial<S3Config> = {}): S3Config {
  return {
    bucket: 'b', prefix: 'p/', region: 'us-east-1', endpoint: null, flushIntervalMs: 60_000, flushBytes: 1 << 30,
    backlogMaxBytes: 1 << 31, leaseMs: 15000, requestTimeoutMs: 10000, mergeIntervalMs: 3_600_000, mergeBytes: 1 << 20,
    cacheBytes: 1 << 20, readAheadBytes: 0, ...overrides
  }
}

async function until (what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function openLogs (t: Parameters<typeof temporaryDirectory>[0], count: number): PartitionLog[] {
  const directory = temporaryDirectory(t)
  const logs: PartitionLog[] = []
  for (let p = 0; p < count; p++) logs.push(PartitionLog.open(join(directory, `t-${p}`)))
  t.after(() => { for (const log of logs) if (!log.isClosed) log.close() })
  return logs
}

async function headersOf (store: MemoryObjectStore): Promise<Map<string, ReturnType<typeof decodeHeader>>> {
  const headers = new Map<string, ReturnType<typeof decodeHeader>>()
  for (const object of await store.list(dataPrefix('p/'))) headers.set(object.key, decodeHeader(await store.get(object.key), object.key))
  return headers
}

test('writes to 50 partitions travel in one object, and the index built from it finds every batch', async (t) => {
  const store = new MemoryObjectStore()
  const logs = openLogs(t, 50)
  const uploader = new Uploader({ store, config: s3Config({ flushIntervalMs: 20 }), durability: 'local', worker: 0, instance: 'abcdef0123456789', logger })
  t.after(() => uploader.close())
  logs.forEach((log, p) => uploader.attach({ topicId: 'a'.repeat(32), topicName: 't', partition: p, log }))
  for (const [p, log] of logs.entries()) log.append(buildBatch({ values: [`v${p}-0`, `v${p}-1`] }), -1)
  uploader.start()
  await until('the upload', () => store.requests.put >= 1 && uploader.backlogBytes === 0)
  assert.equal(store.requests.put, 1)
  const headers = await headersOf(store)
  const [header] = headers.values()
  assert.equal(header.ranges.length, 50)
  const state = buildRemoteState(headers)
  for (const [p, log] of logs.entries()) {
    const index = state.partitions.get(`${'a'.repeat(32)}:${p}`)
    assert.ok(index !== undefined)
    assert.equal(index.endOffset, 2)
    const range = index.find(1)
    assert.ok(range !== undefined)
    const bytes = await store.get(range.key, { start: range.position, end: range.position + range.length })
    assert.deepEqual(bytes, log.read(0, 1 << 20, true).records)
    assert.equal(uploader.uploadedOffset('a'.repeat(32), p), 2)
  }
  // Nothing new: no further PUT however many intervals pass.
  const puts = store.requests.put
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(store.requests.put, puts)
})

test('--durability s3: a flush resolves only once its data is in S3; while the store is down it waits and the backlog grows', async (t) => {
  const store = new MemoryObjectStore()
  const [log] = openLogs(t, 1)
  const uploader = new Uploader({ store, config: s3Config({ backlogMaxBytes: 4 << 20, flushBytes: 1 << 20 }), durability: 's3', worker: 1, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  uploader.attach({ topicId: 'b'.repeat(32), topicName: 'u', partition: 0, log })
  store.down = true
  log.append(buildBatch({ values: ['x'.repeat(1000)] }), -1)
  let flushed = false
  const flush = log.flush().then(() => { flushed = true })
  await until('failed attempts', () => uploader.stats.failures >= 2)
  assert.equal(flushed, false)
  assert.ok(uploader.backlogBytes > 1000)
  assert.equal(uploader.refusesProduce, false)
  store.down = false
  await flush
  assert.equal(uploader.backlogBytes, 0)
  assert.equal(uploader.uploadedOffset('b'.repeat(32), 0), 1)
  // A flush of what is already there answers at once, with no PUT.
  const puts = store.requests.put
  await log.flush()
  assert.equal(store.requests.put, puts)
})

test('the backlog throttles produce past half of --s3-backlog-max-bytes and refuses it at the bound', async (t) => {
  const store = new MemoryObjectStore()
  store.down = true
  const [log] = openLogs(t, 1)
  const uploader = new Uploader({ store, config: s3Config({ backlogMaxBytes: 1 << 20, flushBytes: 64 * 1024 }), durability: 'local', worker: 0, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  uploader.attach({ topicId: 'c'.repeat(32), topicName: 'v', partition: 0, log })
  const value = 'y'.repeat(10_000)
  while (uploader.backlogBytes < 600 * 1024) log.append(buildBatch({ values: [value] }), -1)
  assert.ok(uploader.produceThrottleMs() > 0)
  assert.equal(uploader.refusesProduce, false)
  while (uploader.backlogBytes < 1 << 20) log.append(buildBatch({ values: [value] }), -1)
  assert.equal(uploader.refusesProduce, true)
  assert.match(uploader.refusalReason, /--s3-backlog-max-bytes/)
  store.down = false
  await until('the backlog to drain', () => uploader.backlogBytes === 0)
  assert.equal(uploader.refusesProduce, false)
  assert.equal(uploader.produceThrottleMs(), 0)
  assert.equal(uploader.uploadedOffset('c'.repeat(32), 0), log.nextOffset)
})

test('the merge rewrites a partition\'s small ranges into one object and deletes the flush objects nothing needs', async (t) => {
  const store = new MemoryObjectStore()
  const logs = openLogs(t, 2)
  const uploader = new Uploader({ store, config: s3Config({ mergeIntervalMs: 50, mergeBytes: 2000 }), durability: 's3', worker: 0, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  logs.forEach((log, p) => uploader.attach({ topicId: 'd'.repeat(32), topicName: 'w', partition: p, log }))
  for (let round = 0; round < 6; round++) {
    // Partition 0 gets enough to merge; partition 1 only a little each time.
    logs[0].append(buildBatch({ values: ['z'.repeat(500)] }), -1)
    logs[1].append(buildBatch({ values: ['q'] }), -1)
    await Promise.all(logs.map((log) => log.flush()))
  }
  assert.equal(store.requests.put, 6)
  uploader.start()
  await until('a merge', () => uploader.stats.merges >= 1)
  const index = uploader.index('d'.repeat(32), 0)
  assert.ok(index !== undefined)
  assert.ok(index.ranges.length < 6)
  assert.match(index.ranges[0].key, /-m0-/)
  // Every offset still reads back as the log holds it.
  for (let offset = 0; offset < 6; offset++) {
    const range = index.find(offset)
    assert.ok(range !== undefined)
  }
  const merged = index.ranges[0]
  const bytes = await store.get(merged.key, { start: merged.position, end: merged.position + merged.length })
  assert.deepEqual(bytes, logs[0].read(0, merged.length, true).records)
  // Partition 1 still refers to every flush object, so none was deleted.
  assert.equal(store.requests.delete, 0)
  assert.ok(createdMsOfKey(merged.key) > 0)
})

test('a log start moved past ranges forgets them, deletes the objects only they held, and reports the start in the next object', async (t) => {
  const store = new MemoryObjectStore()
  const [log] = openLogs(t, 1)
  const uploader = new Uploader({ store, config: s3Config(), durability: 's3', worker: 0, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  uploader.attach({ topicId: 'e'.repeat(32), topicName: 'x', partition: 0, log })
  for (let i = 0; i < 3; i++) {
    log.append(buildBatch({ values: [`r${i}`] }), -1)
    await log.flush()
  }
  assert.equal(store.objects.size, 3)
  log.deleteRecordsBefore(2)
  uploader.advanceStart('e'.repeat(32), 0, 2)
  await until('the deletes', () => store.objects.size <= 2 && store.requests.put >= 4)
  await log.flush()
  const state = buildRemoteState(await headersOf(store))
  const index = state.partitions.get(`${'e'.repeat(32)}:0`)
  assert.equal(index?.logStartOffset, 2)
  assert.equal(index?.endOffset, 3)
})

test('an old run is merged whatever its size, each flush object is read once, and flush objects nothing needs are deleted', async (t) => {
  const store = new MemoryObjectStore()
  const logs = openLogs(t, 20)
  let now = Date.now()
  const uploader = new Uploader({ store, config: s3Config({ mergeIntervalMs: 20, mergeBytes: 1 << 20 }), durability: 's3', worker: 0, instance: '0123456789abcdef', logger, now: () => now })
  t.after(() => uploader.close())
  logs.forEach((log, p) => uploader.attach({ topicId: 'f'.repeat(32), topicName: 'y', partition: p, log }))
  for (let round = 0; round < 3; round++) {
    for (const [p, log] of logs.entries()) log.append(buildBatch({ values: [`p${p}-r${round}`] }), -1)
    await Promise.all(logs.map((log) => log.flush()))
  }
  assert.equal(store.requests.put, 3)
  const before = logs.map((log) => log.read(0, 1 << 20, true).records)
  // Sixty merge intervals later every run is old enough.
  now += 20 * 61
  const gets = store.requests.get
  uploader.start()
  await until('the merges', () => uploader.stats.merges >= 20 && store.requests.delete >= 1)
  assert.equal(store.requests.get - gets, 3, 'one GET per flush object')
  assert.equal(store.requests.put, 3 + 20, 'one merged object per partition')
  await until('the flush objects to go', () => [...store.objects.keys()].every((key) => /-m0-/.test(key)))
  for (const [p] of logs.entries()) {
    const index = uploader.index('f'.repeat(32), p)
    assert.equal(index?.ranges.length, 1)
    const range = index!.ranges[0]
    assert.deepEqual(await store.get(range.key, { start: range.position, end: range.position + range.length }), before[p])
  }
})

test('a compacted partition\'s S3 copy is rewritten from the cleaned log once S3 holds more than twice as much, and the old objects go', async (t) => {
  const { LogCleaner, kCleanWorking, kCleanWaitingForDisk, kCleanThrottled, kCleanWaitingForCodec } = await import('../../src/log/cleaner.ts')
  const { buildRecordBatch } = await import('../../src/protocol/record-batch.ts')
  const store = new MemoryObjectStore()
  const directory = temporaryDirectory(t)
  const log = PartitionLog.open(join(directory, 'compacted-0'), { segmentBytes: 4096, indexIntervalBytes: 128 })
  t.after(() => { if (!log.isClosed) log.close() })
  const uploader = new Uploader({ store, config: s3Config({ mergeIntervalMs: 20, mergeBytes: 8 * 1024 }), durability: 's3', worker: 0, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  const topicId = '9'.repeat(32)
  uploader.attach({ topicId, topicName: 'compacted', partition: 0, log, compacted: () => true })
  // 40 rounds over the same 10 keys: the cleaner keeps one record per key of the sealed segments.
  for (let round = 0; round < 40; round++) {
    log.append(buildRecordBatch(Array.from({ length: 10 }, (_, k) => ({ key: Buffer.from(`k${k}`), value: Buffer.from(`r${round}-${'v'.repeat(40)}`) }))), -1)
    await log.flush()
  }
  const cleaner = new LogCleaner()
  for (;;) {
    const progress = cleaner.cleanSlice(log, 'compacted', { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0' }, Date.now(), 20)
    if (progress.state !== kCleanWorking && progress.state !== kCleanWaitingForDisk && progress.state !== kCleanThrottled && progress.state !== kCleanWaitingForCodec) break
    await new Promise((resolve) => setImmediate(resolve))
  }
  const before = uploader.index(topicId, 0)!.sizeBytes
  assert.ok(before > 2 * log.sizeBytes, `S3 ${before} bytes, the cleaned log ${log.sizeBytes}`)
  uploader.start()
  await until('the rewrite', () => uploader.index(topicId, 0)!.ranges.length === 1 && store.objects.size === 1)
  const index = uploader.index(topicId, 0)!
  assert.ok(index.sizeBytes < before / 2)
  assert.equal(index.endOffset, 400)
  // What S3 holds now is the cleaned log, byte for byte.
  const range = index.ranges[0]
  const bytes = await store.get(range.key, { start: range.position, end: range.position + range.length })
  assert.deepEqual(bytes, log.read(log.logStartOffset, 1 << 20, true).records)
  // A restore of it onto an empty disk: the cleaned batches, and the log goes on at S3's end.
  const { restorePartition } = await import('../../src/storage/restore.ts')
  const restored = PartitionLog.open(join(directory, 'restored-0'), { segmentBytes: 4096, indexIntervalBytes: 128 })
  t.after(() => { if (!restored.isClosed) restored.close() })
  await restorePartition(restored, buildRemoteState(await headersOf(store)).partitions.get(`${topicId}:0`)!, store)
  assert.equal(restored.nextOffset, 400)
  assert.deepEqual(restored.read(restored.logStartOffset, 1 << 20, true).records, bytes)
})

test('pieces and rounds in flight complete out of order and fail: the index stays contiguous, waiters answer in order, a retry reads again', async (t) => {
  // A store whose PUTs the test settles one by one, in any order.
  const inner = new MemoryObjectStore()
  const puts: Array<{ key: string, body: Buffer, settle: (ok: boolean) => void }> = []
  const store = {
    put: (key: string, body: Buffer) => new Promise<void>((resolve, reject) => {
      const copy = Buffer.from(body)
      puts.push({ key, body: copy, settle: (ok) => { if (ok) inner.put(key, copy).then(resolve, reject); else reject(new Error('SlowDown')) } })
    }),
    get: inner.get.bind(inner),
    list: inner.list.bind(inner),
    delete: inner.delete.bind(inner)
  }
  const logs = openLogs(t, 3)
  // 1 MiB pieces (the smallest): 3 x 700 KiB make two pieces, partition 1's batches across both.
  const uploader = new Uploader({ store, config: s3Config({ flushBytes: 1 << 20 }), durability: 's3', worker: 0, instance: '0123456789abcdef', logger })
  t.after(() => uploader.close())
  logs.forEach((log, p) => uploader.attach({ topicId: 'a1'.repeat(16), topicName: 'z', partition: p, log }))
  const value = 'w'.repeat(100 * 1024)
  for (const log of logs) for (let i = 0; i < 7; i++) log.append(buildBatch({ values: [value] }), -1)
  const answered: number[] = []
  const first = logs.map((log, p) => log.flush().then(() => answered.push(p)))
  await until('the first round\'s pieces', () => puts.length >= 2)
  const round1 = puts.length
  assert.equal(round1, 2)
  // A second round while the first is in flight.
  for (const log of logs) log.append(buildBatch({ values: ['late'] }), -1)
  const second = logs.map((log) => log.flush())
  await until('the second round', () => puts.length > round1)
  // The second round finishes first; nothing is confirmed until the first is.
  for (const put of puts.slice(round1)) put.settle(true)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(answered.length, 0)
  assert.equal(uploader.index('a1'.repeat(16), 0), undefined)
  // The first round: one piece fails, is read again and sent again; the rest succeed.
  puts[0].settle(false)
  for (const put of puts.slice(1, round1)) put.settle(true)
  const sent = puts.length
  await until('the retried PUT', () => puts.length > sent)
  const retry = puts[puts.length - 1]
  assert.notEqual(retry.key, puts[0].key)
  retry.settle(true)
  await Promise.all([...first, ...second])
  assert.equal(answered.length, 3)
  for (const [p, log] of logs.entries()) {
    const index = uploader.index('a1'.repeat(16), p)!
    for (let i = 1; i < index.ranges.length; i++) assert.equal(index.ranges[i].baseOffset, index.ranges[i - 1].endOffset)
    assert.equal(index.endOffset, 8)
    const bytes = Buffer.concat(await Promise.all(index.ranges.map((range) => inner.get(range.key, { start: range.position, end: range.position + range.length }))))
    assert.deepEqual(bytes, log.read(0, 8 << 20, true).records)
  }
})
