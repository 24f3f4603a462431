// A real broker whose --data-dir is a small tmpfs that fills up: Produce answers KAFKA_STORAGE_ERROR once space
// runs out, fetches of what was acknowledged keep working (CRC-32C intact), an OffsetCommit fails cleanly
// (NOT_COORDINATOR, as Kafka answers a failed offsets write) and the broker keeps serving; once a filler file on
// the same tmpfs is deleted, produce and commit work again without a restart; after kill -9 and a restart every
// acknowledged record and the commit are there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statfsSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { createTopic, fetchRecords, KafkaClient, kFetchVersion, produce } from '../helpers/kafka-client.ts'
import { mountTmpfs } from '../log/helpers.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { nextBatchEnd } from '../../src/protocol/record-batch.ts'
import { kOffsetsTopicPartitions, offsetsPartitionFor } from '../../src/group/offset-store.ts'

const kTmpfsBytes = 8 * 1024 * 1024
const kTopic = 'full'
const kGroup = 'full-disk-group'

async function commit (client: KafkaClient, offset: number, groupId = kGroup): Promise<number> {
  const response = await client.request(8, 8, {
    groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: kTopic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }]
  })
  return response.topics[0].partitions[0].errorCode
}

async function committed (client: KafkaClient): Promise<number> {
  const response = await client.request(9, 8, { groups: [{ groupId: kGroup, topics: [{ name: kTopic, partitionIndexes: [0] }] }], requireStable: false })
  return Number(response.groups[0].topics[0].partitions[0].committedOffset)
}

/** Every batch of the partition, fetched raw, has a valid CRC-32C; returns how many were checked. */
async function checkCrcs (client: KafkaClient): Promise<number> {
  let offset = 0
  let checked = 0
  for (;;) {
    const response = await client.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: kTopic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 16 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    const data = response.responses[0].partitions[0]
    assert.equal(data.errorCode, ErrorCode.NONE)
    const records: Buffer | null = data.records
    if (records === null || records.length === 0) return checked
    for (let position = 0; ;) {
      const end = nextBatchEnd(records, position, records.length)
      if (end < 0) break
      const batch = records.subarray(position, end)
      assert.equal(batch.readUInt32BE(17), crc32c(batch.subarray(21)), `CRC of the batch at ${batch.readBigInt64BE(0)}`)
      offset = Number(batch.readBigInt64BE(0)) + batch.readInt32BE(23) + 1
      checked++
      position = end
    }
    if (offset >= Number(data.highWatermark)) return checked
  }
}

test('a full data dir: produce fails with KAFKA_STORAGE_ERROR, reads and the broker keep working, freeing space brings produce back', async t => {
  const mount = mountTmpfs(t, kTmpfsBytes)
  if ('skipped' in mount) {
    t.skip(mount.skipped)
    return
  }
  const dataDir = join(mount.path, 'data')
  let broker: TestBroker = await startBroker({ workers: 1, dataDir, cleanup: false })
  t.after(() => broker.kill())
  let client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, kTopic, 1)
  // Group commits go to __consumer_offsets: make it exist (and its partitions' files) while there is room,
  // through a group on another of its partitions, so that kGroup's partition file stays empty: its first commit
  // then needs a fresh page, which the full disk does not have.
  const other = Array.from({ length: 100 }, (_, i) => `other-${i}`)
    .find((name) => offsetsPartitionFor(name, kOffsetsTopicPartitions) !== offsetsPartitionFor(kGroup, kOffsetsTopicPartitions))!
  assert.equal(await commit(client, 0, other), ErrorCode.NONE)

  // Leave about 1 MiB free, then produce until it runs out: big batches, then smaller ones to the last page.
  const filler = join(mount.path, 'filler')
  const free = (): number => { const s = statfsSync(mount.path); return s.bavail * s.bsize }
  writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1024 * 1024)))
  const acked: string[] = []
  let sequence = 0
  for (const size of [64 * 1024, 4096, 200]) {
    for (;;) {
      const value = `v${sequence++}-`.padEnd(size, 'x')
      const result = await produce(client, kTopic, 0, [value], { acks: -1 })
      if (result.errorCode !== ErrorCode.NONE) {
        assert.equal(result.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, `produce failed with ${result.errorCode}`)
        break
      }
      assert.equal(result.baseOffset, acked.length, 'offsets stay contiguous')
      acked.push(value)
    }
  }
  assert.ok(acked.length > 10, `only ${acked.length} records fit`)

  // Reads of what was acknowledged keep working, intact.
  assert.deepEqual((await fetchRecords(client, kTopic, 0)).map((record) => record.value), acked)
  assert.equal(await checkCrcs(client), acked.length)
  // A group commit cannot be written: it fails cleanly, retriably, and the broker keeps serving.
  assert.equal(await commit(client, 5), ErrorCode.NOT_COORDINATOR)
  assert.equal(await committed(client), -1, 'the failed commit changed nothing')
  const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.ok(metadata.topics.some((topic: { name: string }) => topic.name === kTopic))

  // Space back: produce and commit work again on the same broker process.
  unlinkSync(filler)
  for (let index = 0; index < 5; index++) {
    const value = `after-${index}`.padEnd(64 * 1024, 'y')
    const result = await produce(client, kTopic, 0, [value], { acks: -1 })
    assert.equal(result.errorCode, ErrorCode.NONE)
    assert.equal(result.baseOffset, acked.length)
    acked.push(value)
  }
  assert.equal(await commit(client, acked.length), ErrorCode.NONE)
  assert.equal(broker.process.exitCode, null, broker.output())

  // kill -9 and a restart on the same data dir: everything acknowledged, and the commit, are there.
  client.close()
  await broker.kill()
  broker = await startBroker({ workers: 1, dataDir, cleanup: false })
  client = await KafkaClient.to(broker.bootstrap)
  assert.deepEqual((await fetchRecords(client, kTopic, 0)).map((record) => record.value), acked)
  assert.equal(await checkCrcs(client), acked.length)
  assert.equal(await committed(client), acked.length)
  const next = await produce(client, kTopic, 0, ['last'], { acks: -1 })
  assert.equal(next.baseOffset, acked.length)
  client.close()
  await broker.stop()
})
