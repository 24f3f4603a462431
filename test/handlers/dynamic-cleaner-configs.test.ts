// The log cleaner's broker settings at run time (log.cleaner.io.max.bytes.per.second, log.cleaner.dedupe.buffer.size,
// log.cleaner.backoff.ms: cluster-wide in Kafka): IncrementalAlterConfigs sets them, DescribeConfigs reports their
// source, log.retention.check.interval.ms stays read-only (as in Kafka), and what a worker does with the effective
// values: applyCleanerSettings (per-broker over cluster-wide over the flag) and the cleaner's and scheduler's setters.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { temporaryDirectory } from '../log/helpers.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { ConfigSource, ConfigType, type DynamicBrokerConfigs } from '../../src/config/broker-configs.ts'
import { parseConfig } from '../../src/config/config.ts'
import { CompactionTask, kCleanDone, kCleanThrottled, LogCleaner } from '../../src/log/cleaner.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { LogMaintenance, type MaintainedPartitions } from '../../src/shard/log-maintenance.ts'
import { applyCleanerSettings } from '../../src/shard/shard.ts'
import { Logger } from '../../src/logger.ts'

const kBroker = 4
const kSet = 0
const kDelete = 1

type Config = { name: string, value: string | null, readOnly: boolean, configSource: number, synonyms: Array<{ name: string, value: string, source: number }>, configType: number }

async function describe (client: KafkaClient, resourceName: string, keys: string[] | null): Promise<Map<string, Config>> {
  const response = await client.request(32, 4, { resources: [{ resourceType: kBroker, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: true })
  return new Map((response.results[0].configs as Config[]).map((config) => [config.name, config]))
}

async function incremental (client: KafkaClient, resourceName: string, configs: Array<{ name: string, configOperation: number, value: string | null }>): Promise<{ errorCode: number, errorMessage: string | null }> {
  const response = await client.request(44, 1, { resources: [{ resourceType: kBroker, resourceName, configs }], validateOnly: false })
  return response.responses[0]
}

const kCleanerNames = ['log.cleaner.io.max.bytes.per.second', 'log.cleaner.dedupe.buffer.size', 'log.cleaner.backoff.ms', 'log.retention.check.interval.ms']

test('the cleaner settings change through IncrementalAlterConfigs and DescribeConfigs shows their source; the retention check stays read-only', async (t) => {
  const broker = await startBroker({ args: ['--log-cleaner-backoff-ms', '20000'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())

  const before = await describe(client, '1', kCleanerNames)
  assert.deepEqual([before.get('log.cleaner.backoff.ms')?.value, before.get('log.cleaner.backoff.ms')?.configSource, before.get('log.cleaner.backoff.ms')?.readOnly], ['20000', ConfigSource.STATIC_BROKER_CONFIG, false])
  assert.deepEqual([before.get('log.cleaner.io.max.bytes.per.second')?.value, before.get('log.cleaner.io.max.bytes.per.second')?.configSource], ['0', ConfigSource.DEFAULT_CONFIG])
  assert.equal(before.get('log.cleaner.io.max.bytes.per.second')?.configType, ConfigType.DOUBLE)
  assert.equal(before.get('log.cleaner.dedupe.buffer.size')?.configType, ConfigType.LONG)
  assert.equal(before.get('log.retention.check.interval.ms')?.readOnly, true)

  assert.equal((await incremental(client, '', [
    { name: 'log.cleaner.io.max.bytes.per.second', configOperation: kSet, value: '1048576' },
    { name: 'log.cleaner.backoff.ms', configOperation: kSet, value: '5000' }
  ])).errorCode, ErrorCode.NONE)
  assert.equal((await incremental(client, '1', [{ name: 'log.cleaner.dedupe.buffer.size', configOperation: kSet, value: '65536' }])).errorCode, ErrorCode.NONE)

  const after = await describe(client, '1', kCleanerNames)
  const io = after.get('log.cleaner.io.max.bytes.per.second')
  assert.deepEqual([io?.value, io?.configSource, io?.readOnly], ['1048576', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, false])
  const backoff = after.get('log.cleaner.backoff.ms')
  assert.deepEqual(backoff?.synonyms.slice(0, 2).map((s) => [s.value, s.source]), [['5000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG], ['20000', ConfigSource.STATIC_BROKER_CONFIG]])
  assert.deepEqual([backoff?.value, backoff?.configSource, backoff?.readOnly], ['5000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, false])
  const dedupe = after.get('log.cleaner.dedupe.buffer.size')
  assert.deepEqual([dedupe?.value, dedupe?.configSource, dedupe?.readOnly], ['65536', ConfigSource.DYNAMIC_BROKER_CONFIG, false])
  assert.deepEqual([...(await describe(client, '', null)).keys()].sort(), ['log.cleaner.backoff.ms', 'log.cleaner.io.max.bytes.per.second'])

  // Kafka's ranges and types: a refused value changes nothing.
  const refused = await incremental(client, '', [{ name: 'log.cleaner.dedupe.buffer.size', configOperation: kSet, value: '12' }])
  assert.deepEqual({ errorCode: refused.errorCode, errorMessage: refused.errorMessage }, { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Invalid value 12 for configuration log.cleaner.dedupe.buffer.size: Value must be at least 1024' })
  assert.equal((await incremental(client, '', [{ name: 'log.cleaner.io.max.bytes.per.second', configOperation: kSet, value: 'fast' }])).errorCode, ErrorCode.INVALID_CONFIG)
  assert.equal((await incremental(client, '', [{ name: 'log.cleaner.backoff.ms', configOperation: kSet, value: '1.5' }])).errorCode, ErrorCode.INVALID_CONFIG)
  const readOnly = await incremental(client, '', [{ name: 'log.retention.check.interval.ms', configOperation: kSet, value: '1000' }])
  assert.equal(readOnly.errorCode, ErrorCode.INVALID_REQUEST)
  assert.match(readOnly.errorMessage ?? '', /Cannot update these configs dynamically: Set\(log\.retention\.check\.interval\.ms\)/)

  // Deleting the cluster-wide value falls back to the flag.
  assert.equal((await incremental(client, '', [{ name: 'log.cleaner.backoff.ms', configOperation: kDelete, value: null }])).errorCode, ErrorCode.NONE)
  const reverted = (await describe(client, '1', ['log.cleaner.backoff.ms'])).get('log.cleaner.backoff.ms')
  assert.deepEqual([reverted?.value, reverted?.configSource], ['20000', ConfigSource.STATIC_BROKER_CONFIG])
})

const kNoPartitions: MaintainedPartitions = { localPartitions: () => [], partition: () => undefined }

test('a worker applies the effective cleaner settings: per broker over cluster-wide over the flag, 0 as unlimited', () => {
  const config = parseConfig(['--node-id', '1', '--log-cleaner-backoff-ms', '20000', '--log-cleaner-dedupe-buffer-size', '4096', '--log-cleaner-io-max-bytes-per-second', '500'])
  const task = new CompactionTask({ dedupeBufferBytes: 4096, ioMaxBytesPerSecond: 500 })
  const maintenance = new LogMaintenance({ partitions: kNoPartitions, logger: new Logger('error', 'test'), intervalMs: 20000, tasks: [task] })
  const settings = (): [number, number, number] => [task.cleaner.ioMaxBytesPerSecond, task.cleaner.dedupeBufferBytes, maintenance.intervalMs]

  applyCleanerSettings(maintenance, task, undefined, config)
  assert.deepEqual(settings(), [500, 4096, 20000])

  const dynamic: DynamicBrokerConfigs = {
    clusterDefault: { 'log.cleaner.io.max.bytes.per.second': '0', 'log.cleaner.backoff.ms': '3000' },
    perBroker: { 1: { 'log.cleaner.backoff.ms': '1000', 'log.cleaner.dedupe.buffer.size': '8192' }, 2: { 'log.cleaner.io.max.bytes.per.second': '7' } }
  }
  applyCleanerSettings(maintenance, task, dynamic, config)
  assert.deepEqual(settings(), [Infinity, 8192, 1000])

  applyCleanerSettings(maintenance, task, { clusterDefault: { 'log.cleaner.io.max.bytes.per.second': '2048.5' }, perBroker: {} }, config)
  assert.deepEqual(settings(), [2048.5, 4096, 20000])
})

function compactableLog (directory: string): PartitionLog {
  const log = PartitionLog.open(directory, { segmentBytes: 1024 * 1024, indexIntervalBytes: 0, segmentMs: 2 ** 40 })
  for (let round = 0; round < 20; round++) log.append(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from(`v${round}`), timestamp: 1_000_000 }]), -1)
  log.rollIfOlderThan(0)
  return log
}

const kCompact = { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0' }

async function cleanUntil (cleaner: LogCleaner, log: PartitionLog, wanted: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const state = cleaner.cleanSlice(log, 'compacted', kCompact, Date.now(), 20).state
    if (state === wanted) return
    assert.ok(Date.now() < deadline, `the cleaner reaches state ${wanted} (last ${state})`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

test('a lowered I/O rate throttles the clean in progress and a raised one lets it finish', async (t) => {
  const log = compactableLog(temporaryDirectory(t))
  t.after(() => log.close())
  // The limiter's clock stands still: only the rate decides, never elapsed time.
  const cleaner = new LogCleaner({ clock: () => 0 })
  cleaner.setIoMaxBytesPerSecond(1)
  await cleanUntil(cleaner, log, kCleanThrottled)
  assert.ok(cleaner.throttledForMs > 0)
  cleaner.setIoMaxBytesPerSecond(Infinity)
  assert.equal(cleaner.throttledForMs, 0)
  await cleanUntil(cleaner, log, kCleanDone)
})

test('a new dedupe buffer size applies from the next clean, not the one in progress', async (t) => {
  const log = compactableLog(temporaryDirectory(t))
  t.after(() => log.close())
  // A standing clock and a low rate hold the first clean in progress after its first slice.
  const cleaner = new LogCleaner({ dedupeBufferBytes: 4096, ioMaxBytesPerSecond: 1, clock: () => 0 })
  await cleanUntil(cleaner, log, kCleanThrottled)
  assert.notEqual(cleaner.cleaning, null)
  cleaner.setDedupeBufferBytes(8192)
  assert.deepEqual([cleaner.dedupeBufferBytes, cleaner.mapSlots], [8192, 256])
  cleaner.setIoMaxBytesPerSecond(Infinity)
  await cleanUntil(cleaner, log, kCleanDone)
  assert.equal(cleaner.mapSlots, 256)
  // The next clean (new dirty data) starts with a map of the new size.
  for (let round = 0; round < 5; round++) log.append(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from(`w${round}`), timestamp: 1_000_000 }]), -1)
  log.rollIfOlderThan(0)
  await cleanUntil(cleaner, log, kCleanDone)
  assert.equal(cleaner.mapSlots, 512)
})

test('a new interval applies from the pass scheduled after the pending one', async (t) => {
  // Not started: no pass is pending at the old interval (15 s). The scheduled-pass callback, called as its timer
  // would, runs a pass and schedules the next at the new interval; passes then follow without waiting 15 s.
  const maintenance = new LogMaintenance({ partitions: kNoPartitions, logger: new Logger('error', 'test'), intervalMs: 15000, tasks: [] })
  t.after(() => maintenance.stop())
  maintenance.setIntervalMs(5)
  assert.equal(maintenance.intervalMs, 5)
  maintenance.scheduledPass()
  const deadline = Date.now() + 10_000
  while (maintenance.passes < 3) {
    assert.ok(Date.now() < deadline, `${maintenance.passes} passes`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
})
