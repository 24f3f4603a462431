// Transactional offsets (TxnOffsetCommit): pending in the group's `__consumer_offsets` partition until the
// producer's marker commits or aborts them, unseen by OffsetFetch meanwhile (UNSTABLE_OFFSET_COMMIT with
// require_stable). Unit level against a GroupCoordinator over real partition logs, markers written with
// PartitionLog.appendMarker and then handed to completeTransaction as the marker writer does; restarts are a fresh
// coordinator replaying the same logs. The last test runs the whole flow (InitProducerId, AddOffsetsToTxn,
// TxnOffsetCommit, OffsetFetch, EndTxn) against a real broker, and restarts it on its data dir.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { offsetKey } from '../../src/group/coordinator.ts'
import { offsetsPartitionFor } from '../../src/group/offset-store.ts'
import { coordinatorHarness, kHarnessOffsetsPartitions, withDir as withTempDir } from './coordinator-harness.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'

const kPartitions = kHarnessOffsetsPartitions

function setup (dir: string) {
  const { coordinator, partitions, close } = coordinatorHarness(dir)
  /** Writes a COMMIT/ABORT marker into the group's offsets partition and settles it, as the marker writer does. */
  const marker = async (groupId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<void> => {
    const local = partitions[offsetsPartitionFor(groupId, kPartitions)]
    local.log.appendMarker(producerId, producerEpoch, commit, 0)
    await local.log.flush()
    coordinator.completeTransaction(local.index, producerId, producerEpoch, commit)
  }
  return {
    coordinator,
    partitions,
    marker,
    committed (groupId: string, partition: number, topic = 'orders'): number | undefined {
      const group = coordinator.consumerGroup(groupId) ?? coordinator.group(groupId)
      return group?.offsets.get(offsetKey(topic, partition))?.offset
    },
    close
  }
}

const withDir = (run: (dir: string) => Promise<void>) => withTempDir('shoal-txn-offsets-', run)

const value = (offset: number) => ({ offset, leaderEpoch: 3, metadata: 'meta', commitTimestamp: Date.now() })
const entry = (partition: number, offset: number, topic = 'orders') => ({ topic, partition, value: value(offset) })

test('transactional offsets stay pending until a COMMIT marker, which makes them the committed ones', withDir(async (dir) => {
  const s = setup(dir)
  try {
    const group = s.coordinator.group('g', true)!
    assert.deepEqual(await s.coordinator.commitOffsets(group, [entry(0, 5)]), [ErrorCode.NONE])
    const codes = await s.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10), entry(1, 20), entry(9, 1), entry(0, 1, 'nope')])
    assert.deepEqual(codes, [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
    assert.equal(s.committed('g', 0), 5, 'the committed offset is unchanged while the transaction is open')
    assert.equal(s.committed('g', 1), undefined)
    assert.ok(s.coordinator.hasPendingOffset('g', 'orders', 0))
    assert.ok(s.coordinator.hasPendingOffset('g', 'orders', 1))
    assert.ok(!s.coordinator.hasPendingOffset('g', 'orders', 2))
    const local = s.partitions[offsetsPartitionFor('g', kPartitions)]
    assert.equal(local.log.lastStableOffset, 1, 'the batch (after the plain commit at 0) is an open transaction of the offsets partition')

    await s.marker('g', 1000, 0, true)
    assert.equal(s.committed('g', 0), 10)
    assert.equal(s.committed('g', 1), 20)
    assert.ok(!s.coordinator.hasPendingOffset('g', 'orders', 0))
    assert.equal(s.coordinator.pendingOffsets('g', 1000).size, 0)
    assert.equal(local.log.lastStableOffset, local.log.nextOffset)
  } finally {
    s.close()
  }
}))

test('an ABORT marker drops the pending offsets and leaves the committed ones', withDir(async (dir) => {
  const s = setup(dir)
  try {
    const group = s.coordinator.group('g', true)!
    await s.coordinator.commitOffsets(group, [entry(0, 5)])
    await s.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10), entry(1, 20)])
    await s.marker('g', 1000, 0, false)
    assert.equal(s.committed('g', 0), 5)
    assert.equal(s.committed('g', 1), undefined)
    assert.ok(!s.coordinator.hasPendingOffset('g', 'orders', 0))
    // A marker of another producer settles nothing of this one's.
    await s.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 11)])
    await s.marker('g', 2000, 0, true)
    assert.ok(s.coordinator.hasPendingOffset('g', 'orders', 0))
    assert.equal(s.committed('g', 0), 5)
  } finally {
    s.close()
  }
}))

test('a restart replays pending offsets as pending and settled ones as settled; a later marker settles the replayed ones', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('g', true)!
  await first.coordinator.commitOffsets(group, [entry(0, 5)])
  await first.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10)])
  await first.marker('g', 1000, 0, true)
  await first.coordinator.txnCommitOffsets(group, 1001, 0, [entry(1, 30)])
  await first.marker('g', 1001, 0, false)
  await first.coordinator.txnCommitOffsets(group, 1002, 4, [entry(2, 40), entry(0, 41)])
  first.close()

  const second = setup(dir)
  try {
    assert.equal(second.committed('g', 0), 10, 'the committed transaction')
    assert.equal(second.committed('g', 1), undefined, 'the aborted transaction')
    assert.equal(second.committed('g', 2), undefined, 'the open transaction')
    assert.ok(second.coordinator.hasPendingOffset('g', 'orders', 2))
    assert.ok(second.coordinator.hasPendingOffset('g', 'orders', 0))
    assert.ok(!second.coordinator.hasPendingOffset('g', 'orders', 1))
    assert.deepEqual([...second.coordinator.pendingOffsets('g', 1002).keys()].sort(), [offsetKey('orders', 0), offsetKey('orders', 2)])
    await second.marker('g', 1002, 4, true)
    assert.equal(second.committed('g', 0), 41)
    assert.equal(second.committed('g', 2), 40)
  } finally {
    second.close()
  }
  const third = setup(dir)
  try {
    assert.equal(third.committed('g', 0), 41)
    assert.equal(third.committed('g', 2), 40)
    assert.ok(!third.coordinator.hasPendingOffset('g', 'orders', 0))
  } finally {
    third.close()
  }
}))

test('a non-transactional commit after a pending one wins when the transaction commits, before and after a restart', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('g', true)!
  await first.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10), entry(1, 11)])
  await first.coordinator.commitOffsets(group, [entry(0, 7)])
  assert.ok(first.coordinator.hasPendingOffset('g', 'orders', 0), 'still pending for require_stable')
  first.close()

  const replayed = setup(dir)
  try {
    await replayed.marker('g', 1000, 0, true)
    assert.equal(replayed.committed('g', 0), 7, 'the later plain commit wins')
    assert.equal(replayed.committed('g', 1), 11)
  } finally {
    replayed.close()
  }
  const live = setup(dir)
  try {
    assert.equal(live.committed('g', 0), 7)
    const again = live.coordinator.group('g')!
    await live.coordinator.txnCommitOffsets(again, 1000, 0, [entry(0, 20)])
    await live.coordinator.commitOffsets(again, [entry(0, 8)])
    await live.marker('g', 1000, 0, true)
    assert.equal(live.committed('g', 0), 8)
  } finally {
    live.close()
  }
}))

test('a producer epoch older than the offsets partition has seen is INVALID_PRODUCER_EPOCH', withDir(async (dir) => {
  const s = setup(dir)
  try {
    const group = s.coordinator.group('g', true)!
    await s.coordinator.txnCommitOffsets(group, 1000, 3, [entry(0, 10)])
    // The coordinator bumped the epoch and aborted the transaction with it (as InitProducerId does).
    await s.marker('g', 1000, 4, false)
    const codes = await s.coordinator.txnCommitOffsets(group, 1000, 3, [entry(0, 11), entry(7, 1)])
    assert.deepEqual(codes, [ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
    assert.ok(!s.coordinator.hasPendingOffset('g', 'orders', 0))
    assert.deepEqual(await s.coordinator.txnCommitOffsets(group, 1000, 4, [entry(0, 12)]), [ErrorCode.NONE])
  } finally {
    s.close()
  }
}))

test('deleting a group drops its pending offsets: a later COMMIT marker resurrects nothing, after a restart too', withDir(async (dir) => {
  const first = setup(dir)
  const group = first.coordinator.group('g', true)!
  await first.coordinator.commitOffsets(group, [entry(0, 5)])
  await first.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10), entry(1, 11)])
  assert.equal(await first.coordinator.deleteGroup('g'), ErrorCode.NONE)
  assert.ok(!first.coordinator.hasPendingOffset('g', 'orders', 1))
  await first.marker('g', 1000, 0, true)
  assert.equal(first.coordinator.group('g'), undefined)
  first.close()

  const second = setup(dir)
  try {
    assert.equal(second.coordinator.group('g'), undefined)
    assert.ok(!second.coordinator.hasPendingOffset('g', 'orders', 1))
  } finally {
    second.close()
  }
}))

test('offsets with pending transactional ones do not expire; the others do', withDir(async (dir) => {
  const s = setup(dir)
  try {
    const group = s.coordinator.group('g', true)!
    await s.coordinator.commitOffsets(group, [entry(0, 5), entry(1, 6)])
    await s.coordinator.txnCommitOffsets(group, 1000, 0, [entry(0, 10)])
    s.coordinator.expireOffsets(Date.now() + 365 * 24 * 3600_000)
    await waitFor(() => s.committed('g', 1) === undefined, 10_000, 'the offset without a pending one to expire')
    assert.equal(s.committed('g', 0), 5)
    await s.marker('g', 1000, 0, true)
    assert.equal(s.committed('g', 0), 10)
  } finally {
    s.close()
  }
}))

test('a checkpoint keeps pending offsets pending, and their marker still settles them after a restart', withDir(async (dir) => {
  const first = setup(dir)
  const busy = first.coordinator.group('busy', true)!
  const local = first.partitions[offsetsPartitionFor('busy', kPartitions)]
  // Superseded (then committed over), and open, transactional offsets of two producers.
  await first.coordinator.txnCommitOffsets(busy, 1000, 0, [entry(0, 1), entry(1, 2)])
  await first.coordinator.commitOffsets(busy, [entry(0, 3)])
  await first.coordinator.txnCommitOffsets(busy, 2000, 1, [entry(2, 4)])
  for (let round = 1; round <= 3; round++) {
    const entries = Array.from({ length: 5000 }, (_, p) => entry(p, round * 100 + p, 'wide'))
    const codes = await first.coordinator.commitOffsets(busy, entries)
    assert.ok(codes.every((code) => code === ErrorCode.NONE))
  }
  await waitFor(() => local.log.logStartOffset > 0, 10_000, 'the checkpoint')
  assert.ok(first.coordinator.hasPendingOffset('busy', 'orders', 0))
  assert.ok(first.coordinator.hasPendingOffset('busy', 'orders', 2))
  first.close()

  const second = setup(dir)
  try {
    assert.equal(second.committed('busy', 0), 3)
    assert.equal(second.committed('busy', 4999, 'wide'), 300 + 4999)
    assert.ok(second.coordinator.hasPendingOffset('busy', 'orders', 0), 'the superseded pending offset survived')
    assert.ok(second.coordinator.hasPendingOffset('busy', 'orders', 1))
    assert.ok(second.coordinator.hasPendingOffset('busy', 'orders', 2))
    await second.marker('busy', 1000, 0, true)
    await second.marker('busy', 2000, 1, false)
    assert.equal(second.committed('busy', 0), 3, 'the plain commit after it still wins')
    assert.equal(second.committed('busy', 1), 2)
    assert.equal(second.committed('busy', 2), undefined)
    assert.ok(!second.coordinator.hasPendingOffset('busy', 'orders', 0))
  } finally {
    second.close()
  }
}))

test('TxnOffsetCommit and OffsetFetch require_stable against a broker, across EndTxn and a restart', async () => {
  let broker = await startBroker({ workers: 2, cleanup: false })
  const dataDir = broker.dataDir
  let client: KafkaClient | null = null
  try {
    client = await KafkaClient.connect(broker.host, broker.port)
    await createTopic(client, 'events', 2)
    const c = client
    const loading = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.CONCURRENT_TRANSACTIONS])
    const retrying = async (key: number, version: number, body: object, codeOf: (r: any) => number = (r) => r.errorCode): Promise<any> => {
      let last: any
      await waitFor(async () => {
        last = await c.request(key, version, body)
        return !loading.has(codeOf(last))
      }, 20_000, `API ${key} to answer`)
      return last
    }
    const fetchOffsets = (requireStable: boolean): Promise<any> => c.request(9, 7, { groupId: 'txn-group', topics: [{ name: 'events', partitionIndexes: [0, 1] }], requireStable })
    const init = await retrying(22, 4, { transactionalId: 'txn-offsets', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
    assert.equal(init.errorCode, ErrorCode.NONE)
    const { producerId, producerEpoch } = init
    const txnCommit = async (offset: number): Promise<void> => {
      const added = await retrying(25, 3, { transactionalId: 'txn-offsets', producerId, producerEpoch, groupId: 'txn-group' })
      assert.equal(added.errorCode, ErrorCode.NONE)
      const body = { transactionalId: 'txn-offsets', groupId: 'txn-group', producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'm' }] }] }
      const committed = await retrying(28, 3, body, (r) => r.topics[0].partitions[0].errorCode)
      assert.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.NONE)
    }

    await txnCommit(42)
    const unstable = await fetchOffsets(true)
    assert.equal(unstable.topics[0].partitions[0].errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT)
    assert.equal(unstable.topics[0].partitions[0].committedOffset, -1)
    assert.equal(unstable.topics[0].partitions[1].errorCode, ErrorCode.NONE, 'only the partition with a pending offset is unstable')
    const plain = await fetchOffsets(false)
    assert.equal(plain.topics[0].partitions[0].errorCode, ErrorCode.NONE)
    assert.equal(plain.topics[0].partitions[0].committedOffset, -1, 'the pending offset is not visible')

    // v3 checks the member against the group: this one does not know it.
    const stranger = await c.request(28, 3, { transactionalId: 'txn-offsets', groupId: 'txn-group', producerId, producerEpoch, generationId: 1, memberId: 'nobody', groupInstanceId: null, topics: [{ name: 'events', partitions: [{ partitionIndex: 1, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] })
    assert.equal(stranger.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID)

    assert.equal((await retrying(26, 3, { transactionalId: 'txn-offsets', producerId, producerEpoch, committed: true })).errorCode, ErrorCode.NONE)
    await waitFor(async () => (await fetchOffsets(true)).topics[0].partitions[0].errorCode === ErrorCode.NONE, 20_000, 'the COMMIT marker')
    assert.equal((await fetchOffsets(true)).topics[0].partitions[0].committedOffset, 42)

    await txnCommit(50)
    assert.equal((await retrying(26, 3, { transactionalId: 'txn-offsets', producerId, producerEpoch, committed: false })).errorCode, ErrorCode.NONE)
    await waitFor(async () => (await fetchOffsets(true)).topics[0].partitions[0].errorCode === ErrorCode.NONE, 20_000, 'the ABORT marker')
    assert.equal((await fetchOffsets(true)).topics[0].partitions[0].committedOffset, 42, 'the aborted offset is dropped')

    await txnCommit(60)
    client.close()
    client = null
    await broker.stop()
    broker = await startBroker({ workers: 2, dataDir, cleanup: false })
    client = await KafkaClient.connect(broker.host, broker.port)
    const after = client
    const answer = await waitFor(async () => {
      const response = await after.request(9, 7, { groupId: 'txn-group', topics: [{ name: 'events', partitionIndexes: [0] }], requireStable: false })
      return response.errorCode === ErrorCode.NONE && response.topics[0].partitions[0].errorCode === ErrorCode.NONE ? response : null
    }, 20_000, 'the restarted coordinator')
    assert.equal(answer.topics[0].partitions[0].committedOffset, 42, 'the open transaction is still pending after the restart')
    const stable = await after.request(9, 7, { groupId: 'txn-group', topics: [{ name: 'events', partitionIndexes: [0] }], requireStable: true })
    assert.equal(stable.topics[0].partitions[0].errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT)
  } finally {
    client?.close()
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
})
