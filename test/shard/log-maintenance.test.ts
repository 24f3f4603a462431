// The per-worker log maintenance scheduler (src/shard/log-maintenance.ts): passes walk the partitions in bounded
// slices that yield to the event loop, skip partitions gone since the pass began, contain a failing task, and
// the retention task deletes by the topic's configs (skipping compact-only and internal topics); a task's wake
// steps a partition again at once (compaction's fsyncs), without waiting for the next pass.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { MessageChannel } from 'node:worker_threads'
import { counterValue } from '../../src/counters.ts'
import { parseConfig } from '../../src/config/config.ts'
import { Doorbells } from '../../src/shard/ring.ts'
import { Logger } from '../../src/logger.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { TopicEntry } from '../../src/shard/shard-table.ts'
import { LocalPartition, Shard } from '../../src/shard/shard.ts'
import {
  hasDeletePolicy, LogMaintenance, RetentionTask, type MaintainedPartitions, type PartitionMaintenanceTask, type PartitionWaker
} from '../../src/shard/log-maintenance.ts'
import { CompactionTask, readCleanerCheckpoint } from '../../src/log/cleaner.ts'
import { buildRecordBatch, type RecordInput } from '../../src/protocol/record-batch.ts'
import { buildBatch, standardValues, temporaryDirectory } from '../log/helpers.ts'

const logger = new Logger('error', 'test')
let topicIds = 0

function topicEntry (name: string, partitions: number, configs: Record<string, string> = {}, internal = false): TopicEntry {
  const id = (++topicIds).toString(16).padStart(32, '0')
  return new TopicEntry({ name, id, partitions, configs, internal }, 1)
}

/** A fake worker: partitions by topic id, removable. */
class FakePartitions implements MaintainedPartitions {
  readonly map = new Map<string, LocalPartition>()
  add (local: LocalPartition): void { this.map.set(`${local.topic.id}:${local.index}`, local) }
  remove (local: LocalPartition): void { this.map.delete(`${local.topic.id}:${local.index}`) }
  localPartitions (): Iterable<LocalPartition> { return [...this.map.values()] }
  partition (topic: TopicEntry, index: number): LocalPartition | undefined { return this.map.get(`${topic.id}:${index}`) }
}

/** A LocalPartition over a log that is never touched (for tasks that do not use it). */
function fakeLocal (topic: TopicEntry, index: number): LocalPartition {
  return new LocalPartition(topic, index, null as unknown as PartitionLog)
}

function busyFor (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* a step that costs `ms` of CPU */ }
}

test('a pass runs every step of every task on every partition, yielding to the event loop between slices', async () => {
  const partitions = new FakePartitions()
  const topic = topicEntry('t', 4)
  for (let p = 0; p < 4; p++) partitions.add(fakeLocal(topic, p))
  const steps = new Map<number, number>()
  const slow: PartitionMaintenanceTask = {
    name: 'slow',
    step (local) {
      busyFor(1)
      const done = (steps.get(local.index) ?? 0) + 1
      steps.set(local.index, done)
      return done < 10
    }
  }
  let passesDone = 0
  const other: PartitionMaintenanceTask = { name: 'other', step: () => false, passDone: () => { passesDone++ } }
  const maintenance = new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [slow, other], sliceBudgetMs: 5 })
  let turns = 0
  let ticking = true
  const tick = (): void => { turns++; if (ticking) setImmediate(tick) }
  setImmediate(tick)
  await maintenance.runPass()
  ticking = false
  assert.deepEqual([...steps.entries()].sort((a, b) => a[0] - b[0]), [[0, 10], [1, 10], [2, 10], [3, 10]])
  assert.equal(passesDone, 1)
  assert.equal(maintenance.passes, 1)
  // 40 steps of 1 ms in slices of 5 ms: the event loop ran in between.
  assert.ok(turns >= 3, `the event loop got ${turns} turn(s) during the pass`)
})

test('a partition removed during a pass is skipped, and a task that throws is counted and the pass goes on', async () => {
  const partitions = new FakePartitions()
  const topic = topicEntry('t', 3)
  const locals = [0, 1, 2].map((p) => fakeLocal(topic, p))
  for (const local of locals) partitions.add(local)
  const seen: number[] = []
  const task: PartitionMaintenanceTask = {
    name: 'flaky',
    step (local) {
      seen.push(local.index)
      if (local.index === 0) partitions.remove(locals[1])
      if (local.index === 2) throw new Error('a bug in a task')
      return false
    }
  }
  const errorsBefore = counterValue('log-maintenance-errors')
  await new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [task] }).runPass()
  assert.deepEqual(seen, [0, 2])
  assert.equal(counterValue('log-maintenance-errors') - errorsBefore, 1)
})

test('start() runs passes every intervalMs until stop()', async () => {
  const partitions = new FakePartitions()
  partitions.add(fakeLocal(topicEntry('t', 1), 0))
  let steps = 0
  const maintenance = new LogMaintenance({ partitions, logger, intervalMs: 5, tasks: [{ name: 'count', step: () => { steps++; return false } }] })
  maintenance.start()
  // The timer is unref'd: keep the loop alive while polling.
  const deadline = Date.now() + 10_000
  while (maintenance.passes < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  maintenance.stop()
  assert.ok(maintenance.passes >= 3, `${maintenance.passes} passes`)
  const passes = maintenance.passes
  assert.equal(steps, passes)
})

test('cleanup.policy: delete applies with delete or compact,delete, not with compact alone', () => {
  assert.equal(hasDeletePolicy('delete'), true)
  assert.equal(hasDeletePolicy('compact,delete'), true)
  assert.equal(hasDeletePolicy('delete,compact'), true)
  assert.equal(hasDeletePolicy('compact'), false)
})

function filledLog (t: { after: (fn: () => void) => void }, batches: number): PartitionLog {
  const log = PartitionLog.open(temporaryDirectory(t), { segmentBytes: 1024, indexIntervalBytes: 128 })
  for (let index = 0; index < batches; index++) log.append(buildBatch({ values: standardValues(index) }), -1)
  t.after(() => log.close())
  return log
}

test('the retention task deletes by the topic\'s retention.bytes, and skips compact-only and internal topics', async (t) => {
  const partitions = new FakePartitions()
  const deleting = new LocalPartition(topicEntry('logs', 1, { 'retention.bytes': '0', 'file.delete.delay.ms': '0' }), 0, filledLog(t, 40))
  const compacted = new LocalPartition(topicEntry('table', 1, { 'retention.bytes': '0', 'cleanup.policy': 'compact' }), 0, filledLog(t, 40))
  const internal = new LocalPartition(topicEntry('__consumer_offsets', 1, { 'retention.bytes': '0', 'cleanup.policy': 'delete' }, true), 0, filledLog(t, 40))
  const forever = new LocalPartition(topicEntry('kept', 1, { 'retention.ms': '-1' }), 0, filledLog(t, 40))
  for (const local of [deleting, compacted, internal, forever]) partitions.add(local)
  const segmentsBefore = [compacted, internal, forever].map((local) => local.log.segmentCount)
  const deletedBefore = counterValue('retention-segments-deleted')
  const expected = deleting.log.segmentCount - 1
  await new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [new RetentionTask(logger)] }).runPass()
  assert.equal(deleting.log.segmentCount, 1)
  assert.ok(deleting.log.logStartOffset > 0)
  assert.equal(counterValue('retention-segments-deleted') - deletedBefore, expected)
  assert.deepEqual([compacted, internal, forever].map((local) => local.log.segmentCount), segmentsBefore)
})

test('the retention task rolls an active segment past segment.ms so that retention.ms can delete it', async (t) => {
  const partitions = new FakePartitions()
  const log = PartitionLog.open(temporaryDirectory(t), { segmentBytes: 1 << 20, indexIntervalBytes: 128, segmentMs: 1 })
  t.after(() => log.close())
  // Timestamps far in the past: expired by retention.ms as soon as they are in a sealed segment.
  log.append(buildBatch({ values: ['old'], baseTimestamp: 1000 }), -1)
  partitions.add(new LocalPartition(topicEntry('quiet', 1, { 'segment.ms': '1', 'retention.ms': '1000', 'file.delete.delay.ms': '0' }), 0, log))
  const rolledBefore = counterValue('segments-rolled-segment-ms')
  const maintenance = new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [new RetentionTask(logger)] })
  // segment.ms = 1: once a millisecond has passed since the append, the pass rolls and then deletes.
  const deadline = Date.now() + 10_000
  while (log.logStartOffset === 0 && Date.now() < deadline) await maintenance.runPass()
  assert.equal(log.logStartOffset, 1)
  assert.equal(log.nextOffset, 1)
  assert.equal(log.sizeBytes, 0)
  assert.ok(counterValue('segments-rolled-segment-ms') - rolledBefore >= 1)
})

test('a Shard gives its open logs a topic\'s changed segment.bytes and segment.ms, and runs the retention task', (t) => {
  const dataDir = temporaryDirectory(t)
  const config = parseConfig(['--data-dir', dataDir, '--workers', '1', '--log-level', 'error', '--log-retention-check-interval-ms', '60000'])
  const channel = new MessageChannel()
  t.after(() => { channel.port1.close(); channel.port2.close() })
  const topic = { name: 'altered', id: 'ab'.repeat(16), partitions: 1, configs: {} }
  const shard = new Shard({
    index: 0,
    config,
    logger,
    port: channel.port1,
    outgoing: [null],
    incoming: [null],
    doorbells: Doorbells.create(1),
    metadata: { version: 1, clusterId: 'c', topics: [topic] },
    advertised: { host: '127.0.0.1', port: 9092 },
    handlers: new Map(),
    remoteServers: new Map()
  })
  t.after(() => shard.stop())
  const log = shard.partition(shard.table.topic('altered')!, 0)!.log
  assert.equal(log.config.segmentMs, 604800000)
  shard.applyMetadata({ version: 2, clusterId: 'c', topics: [{ ...topic, configs: { 'segment.bytes': String(2 * 1024 * 1024), 'segment.ms': '5000' } }] })
  const local = shard.partition(shard.table.topic('altered')!, 0)!
  assert.equal(local.log, log)
  assert.equal(log.config.segmentBytes, 2 * 1024 * 1024)
  assert.equal(log.config.segmentMs, 5000)
  assert.equal(shard.maintenance.tasks[0].name, 'retention')
})

test('a woken partition is stepped again on the next turn, in a pass of its own or appended to the running one', async () => {
  const partitions = new FakePartitions()
  const topic = topicEntry('t', 3)
  const locals = [0, 1, 2].map((p) => fakeLocal(topic, p))
  for (const local of locals) partitions.add(local)
  const stepped: number[] = []
  // A task whose work on partition 1 finishes asynchronously three times: it wakes the partition each time.
  let asyncLeft = 3
  let waker: PartitionWaker | null = null
  const task: PartitionMaintenanceTask = {
    name: 'async',
    bindWake (bound) { waker = bound },
    step (local) {
      stepped.push(local.index)
      if (local.index === 1 && asyncLeft > 0) {
        asyncLeft--
        setImmediate(() => waker!.wake(local))
      }
      return false
    }
  }
  const maintenance = new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [task] })
  assert.notEqual(waker, null, 'the scheduler binds itself to its tasks')
  await maintenance.runPass()
  const deadline = Date.now() + 10_000
  while (asyncLeft > 0 || stepped.filter((index) => index === 1).length < 4) {
    assert.ok(Date.now() < deadline, 'the wakes are served')
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.deepEqual(stepped.filter((index) => index !== 1), [0, 2], 'a wake steps only its partition')
  assert.equal(stepped.filter((index) => index === 1).length, 4)
  assert.equal(maintenance.passes, 1, 'woken steps are not full passes')
  assert.equal(maintenance.wakes, 3)
  // A full pass asked for while a wake's pass runs walks every partition.
  stepped.length = 0
  maintenance.wake(locals[2])
  await maintenance.runPass()
  assert.deepEqual(stepped, [2, 0, 1, 2])
  assert.equal(maintenance.passes, 2)
  maintenance.stop()
  maintenance.wake(locals[0])
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(stepped, [2, 0, 1, 2], 'no wake after stop()')
})

/** A log of 12 rounds of 40 keys (one sealed segment each, one group each), cleaned by `task` from one pass. */
async function cleanFromOnePass (t: TestContext, task: CompactionTask): Promise<{ maintenance: LogMaintenance, segments: number }> {
  const log = PartitionLog.open(temporaryDirectory(t), { segmentBytes: 2048, indexIntervalBytes: 256, segmentMs: 2 ** 40 })
  t.after(() => log.close())
  // 12 rounds of 40 keys, one sealed segment each (more than half of segment.bytes: one group each).
  for (let round = 0; round < 12; round++) {
    for (let first = 0; first < 40; first += 4) {
      const records: RecordInput[] = []
      for (let key = first; key < first + 4; key++) records.push({ key: Buffer.from(`k${key}`), value: Buffer.from(`${round}-${key}`), timestamp: 1_000_000 })
      log.append(buildRecordBatch(records), -1)
    }
    log.rollIfOlderThan(0)
  }
  const segments = log.sealedSegments().length
  assert.ok(segments >= 12, `${segments} sealed segments`)
  const partitions = new FakePartitions()
  partitions.add(new LocalPartition(topicEntry('table', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0' }), 0, log))
  const maintenance = new LogMaintenance({ partitions, logger, intervalMs: 1_000_000, tasks: [task] })
  t.after(() => maintenance.stop())
  const cleansBefore = counterValue('log-cleaner-cleans')
  await maintenance.runPass()
  const deadline = Date.now() + 30_000
  while (counterValue('log-cleaner-cleans') === cleansBefore) {
    assert.ok(Date.now() < deadline, 'the clean finishes')
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  assert.equal(task.cleaner.cleaning, null)
  assert.equal(readCleanerCheckpoint(log.directory), log.sealedSegments().at(-1)!.nextOffset)
  assert.equal(maintenance.passes, 1, 'one pass (log.cleaner.backoff.ms never came)')
  return { maintenance, segments }
}

test('a clean of many segments finishes within one pass: each fsync done wakes the partition', async (t) => {
  const { maintenance, segments } = await cleanFromOnePass(t, new CompactionTask())
  // Each group waits three times (its files' fsyncs, the commit's and the swap's directory fsync).
  assert.ok(maintenance.wakes >= 3 * segments, `${maintenance.wakes} wakes for ${segments} groups`)
})

test('a throttled clean is woken when the I/O rate allows more, not at the next pass', async (t) => {
  const waitsBefore = counterValue('log-cleaner-throttle-waits')
  // About 120 KB of reads and writes at 400 KB/s: throttled several times on the way.
  await cleanFromOnePass(t, new CompactionTask({ ioMaxBytesPerSecond: 400_000 }))
  assert.ok(counterValue('log-cleaner-throttle-waits') > waitsBefore, 'the clean was throttled')
})
