// The coordinator's durable side: offsets and groups written to a real `__consumer_offsets` partition log,
// replayed by a fresh coordinator (a restart), deleted, and expired after offsets.retention.minutes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { offsetKey } from '../../src/group/coordinator.ts'
import { offsetsPartitionFor } from '../../src/group/offset-store.ts'
import { coordinatorHarness, kHarnessOffsetsPartitions, withDir as withTempDir } from './coordinator-harness.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kPartitions = kHarnessOffsetsPartitions

function setup (dir: string, retentionMinutes = 1) {
  return coordinatorHarness(dir, ['--offsets-retention-minutes', String(retentionMinutes)])
}

const withDir = (run: (dir: string) => Promise<void>) => withTempDir('shoal-coordinator-', run)

const value = (offset: number) => ({ offset, leaderEpoch: 3, metadata: 'meta', commitTimestamp: Date.now() })

test('committed offsets and their metadata survive a restart of the coordinator', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('g1', true)!
  const codes = await first.coordinator.commitOffsets(group, [
    { topic: 'orders', partition: 0, value: value(10) },
    { topic: 'orders', partition: 2, value: value(20) },
    { topic: 'orders', partition: 9, value: value(1) },
    { topic: 'nope', partition: 0, value: value(1) },
    { topic: 'orders', partition: 1, value: { ...value(5), metadata: 'x'.repeat(5000) } }
  ])
  assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_METADATA_TOO_LARGE])
  await first.coordinator.commitOffsets(group, [{ topic: 'orders', partition: 0, value: value(11) }])
  first.close()

  const second = setup(dir)
  try {
    const restored = second.coordinator.group('g1')
    assert.ok(restored)
    assert.equal(restored.offsets.get(offsetKey('orders', 0))?.offset, 11)
    assert.equal(restored.offsets.get(offsetKey('orders', 0))?.leaderEpoch, 3)
    assert.equal(restored.offsets.get(offsetKey('orders', 0))?.metadata, 'meta')
    assert.equal(restored.offsets.get(offsetKey('orders', 2))?.offset, 20)
    assert.equal(restored.offsets.size, 2)
  } finally {
    second.close()
  }
}))

test('a deleted group stays deleted after a restart; unknown groups answer GROUP_ID_NOT_FOUND', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('doomed', true)!
  await first.coordinator.commitOffsets(group, [{ topic: 'orders', partition: 1, value: value(7) }])
  assert.equal(await first.coordinator.deleteGroup('doomed'), ErrorCode.NONE)
  assert.equal(await first.coordinator.deleteGroup('never'), ErrorCode.GROUP_ID_NOT_FOUND)
  first.close()
  const second = setup(dir)
  try {
    assert.equal(second.coordinator.group('doomed'), undefined)
  } finally {
    second.close()
  }
}))

test('offsets of a group that stays empty past offsets.retention.minutes expire, durably', withDir(async (dir) => {
  const first = setup(dir, 1)
  const group = first.coordinator.group('idle', true)!
  await first.coordinator.commitOffsets(group, [{ topic: 'orders', partition: 0, value: value(3) }])
  first.coordinator.expireOffsets(Date.now() + 30_000)
  assert.equal(group.offsets.size, 1, 'not yet: retention is one minute')
  first.coordinator.expireOffsets(Date.now() + 61_000)
  const deadline = Date.now() + 5_000
  while (group.offsets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(group.offsets.size, 0)
  first.close()
  const second = setup(dir, 1)
  try {
    assert.equal(second.coordinator.group('idle')?.offsets.size ?? 0, 0)
  } finally {
    second.close()
  }
}))

test('groups are placed on offsets partitions by Java String.hashCode, as Kafka places them', () => {
  // Java: "my-group".hashCode() == -1906497762, "console-consumer-12345".hashCode() == 158455506.
  assert.equal(offsetsPartitionFor('my-group', 50), 12)
  assert.equal(offsetsPartitionFor('console-consumer-12345', 50), 6)
  assert.equal(offsetsPartitionFor('', 50), 0)
})

test('an offsets partition is checkpointed: the log start moves past superseded commits, and state survives', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('busy', true)!
  const local = first.partitions[offsetsPartitionFor('busy', kPartitions)]
  for (let round = 1; round <= 3; round++) {
    const entries = Array.from({ length: 5000 }, (_, p) => ({ topic: 'wide', partition: p, value: value(round * 100 + p) }))
    const codes = await first.coordinator.commitOffsets(group, entries)
    assert.ok(codes.every((code) => code === ErrorCode.NONE))
  }
  const deadline = Date.now() + 10_000
  while (local.log.logStartOffset === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(local.log.logStartOffset, 15_000, 'the log now starts at the checkpoint')
  assert.equal(local.log.nextOffset, 20_000, '5000 live offsets were written once more')
  first.close()

  const second = setup(dir)
  try {
    const restored = second.coordinator.group('busy')!
    assert.equal(restored.offsets.size, 5000)
    assert.equal(restored.offsets.get(offsetKey('wide', 0))?.offset, 300)
    assert.equal(restored.offsets.get(offsetKey('wide', 4999))?.offset, 300 + 4999)
  } finally {
    second.close()
  }
}))
