// OffsetForLeaderEpoch (KIP-320) against a real 2-worker broker: partitions 0 and 1 of a topic are owned by
// different workers, so the request is split. Every partition is led at epoch 0 (src/log/leader-epochs.ts),
// which Metadata, ListOffsets, Fetch and the batches themselves agree on, across a restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, kFetchVersion, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { kPartitionLeaderEpochOffset } from '../../src/protocol/record-batch-layout.ts'
import { nextBatchEnd } from '../../src/protocol/record-batch.ts'

interface Asked { topic: string, partition: number, leaderEpoch: number, currentLeaderEpoch?: number }

async function offsetsForEpochs (client: KafkaClient, version: number, asked: Asked[], replicaId = -1): Promise<Map<string, any>> {
  const topics = new Map<string, any[]>()
  for (const a of asked) {
    const list = topics.get(a.topic) ?? []
    list.push({ partition: a.partition, currentLeaderEpoch: a.currentLeaderEpoch ?? -1, leaderEpoch: a.leaderEpoch })
    topics.set(a.topic, list)
  }
  const response = await client.request(23, version, { replicaId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) })
  const byKey = new Map<string, any>()
  for (const topic of response.topics) for (const p of topic.partitions) byKey.set(`${topic.topic}/${p.partition}`, p)
  return byKey
}

async function fetchPartition (client: KafkaClient, topic: string, partition: number, currentLeaderEpoch: number): Promise<any> {
  const response = await client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  })
  return response.responses[0].partitions[0]
}

async function checkEpochs (broker: TestBroker, ends: [number, number]): Promise<void> {
  const client = await KafkaClient.connect(broker.host, broker.port)
  try {
    for (const version of [2, 3, 4]) {
      for (const replicaId of [-1, -2]) {
        const answers = await offsetsForEpochs(client, version, [
          { topic: 'epochs', partition: 0, leaderEpoch: 0 },
          { topic: 'epochs', partition: 1, leaderEpoch: 0, currentLeaderEpoch: 0 }
        ], replicaId)
        for (const partition of [0, 1]) {
          assert.deepEqual(answers.get(`epochs/${partition}`), { errorCode: ErrorCode.NONE, partition, leaderEpoch: 0, endOffset: ends[partition] }, `v${version} replica ${replicaId}`)
        }
      }
    }
    const answers = await offsetsForEpochs(client, 4, [
      { topic: 'epochs', partition: 0, leaderEpoch: -1 },
      { topic: 'epochs', partition: 1, leaderEpoch: 3 }
    ])
    assert.deepEqual(answers.get('epochs/0'), { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: -1, endOffset: -1 }, 'UNDEFINED_EPOCH asked')
    assert.deepEqual(answers.get('epochs/1'), { errorCode: ErrorCode.NONE, partition: 1, leaderEpoch: -1, endOffset: -1 }, 'an epoch newer than the leader\'s')
    // Fetched batches carry the epoch, whatever the producer wrote there (-1 from the test client).
    const fetched = await fetchPartition(client, 'epochs', 0, 0)
    assert.equal(fetched.errorCode, ErrorCode.NONE)
    let batches = 0
    for (let position = 0, end; (end = nextBatchEnd(fetched.records, position, fetched.records.length)) > 0; position = end, batches++) {
      assert.equal(fetched.records.readInt32BE(position + kPartitionLeaderEpochOffset), 0)
    }
    assert.equal(batches, 2)
  } finally {
    client.close()
  }
}

test('OffsetForLeaderEpoch answers each partition\'s end offset of epoch 0, across workers and a restart', async (t) => {
  const first = await startBroker({ workers: 2, cleanup: false })
  t.after(() => first.stop())
  const client = await KafkaClient.connect(first.host, first.port)
  t.after(() => client.close())
  await createTopic(client, 'epochs', 2)
  assert.deepEqual(await offsetsForEpochs(client, 4, [{ topic: 'epochs', partition: 0, leaderEpoch: 0 }]).then((m) => m.get('epochs/0')),
    { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 0 }, 'an empty partition: epoch 0 ends at the log end')
  for (const values of [['a', 'b'], ['c']]) assert.equal((await produce(client, 'epochs', 0, values)).errorCode, ErrorCode.NONE)
  assert.equal((await produce(client, 'epochs', 1, ['x', 'y', 'z', 'w'])).errorCode, ErrorCode.NONE)

  const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'epochs' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.deepEqual(metadata.topics[0].partitions.map((p: any) => p.leaderEpoch), [0, 0])
  await checkEpochs(first, [3, 4])

  client.close()
  await first.stop()
  const second = await startBroker({ workers: 2, dataDir: first.dataDir, cleanup: true })
  t.after(() => second.stop())
  await checkEpochs(second, [3, 4])
})

test('OffsetForLeaderEpoch, ListOffsets and Fetch check currentLeaderEpoch; unknown partitions answer errors', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'fenced', 2)
  assert.equal((await produce(client, 'fenced', 1, ['a'])).errorCode, ErrorCode.NONE)

  const answers = await offsetsForEpochs(client, 4, [
    { topic: 'fenced', partition: 0, leaderEpoch: 0, currentLeaderEpoch: 1 },
    { topic: 'fenced', partition: 1, leaderEpoch: 0, currentLeaderEpoch: 0 },
    { topic: 'fenced', partition: 9, leaderEpoch: 0 },
    { topic: 'missing', partition: 0, leaderEpoch: 0 }
  ])
  assert.deepEqual(answers.get('fenced/0'), { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 })
  assert.deepEqual(answers.get('fenced/1'), { errorCode: ErrorCode.NONE, partition: 1, leaderEpoch: 0, endOffset: 1 })
  assert.equal(answers.get('fenced/9').errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(answers.get('missing/0').errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)

  const listed = await client.request(2, 8, {
    replicaId: -1, isolationLevel: 0,
    topics: [{ name: 'fenced', partitions: [{ partitionIndex: 0, currentLeaderEpoch: 2, timestamp: -1 }, { partitionIndex: 1, currentLeaderEpoch: 0, timestamp: -1 }] }]
  })
  assert.deepEqual(listed.topics[0].partitions.map((p: any) => [p.partitionIndex, p.errorCode, p.offset, p.leaderEpoch]),
    [[0, ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1], [1, ErrorCode.NONE, 1, 0]])
  assert.equal((await fetchPartition(client, 'fenced', 1, 1)).errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH)
  assert.equal((await fetchPartition(client, 'fenced', 1, 0)).errorCode, ErrorCode.NONE)
  assert.equal((await fetchPartition(client, 'fenced', 1, -1)).errorCode, ErrorCode.NONE)

  const versions = await client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
  assert.deepEqual(versions.apiKeys.filter((k: any) => k.apiKey === 23 || k.apiKey === 35).map((k: any) => [k.apiKey, k.minVersion, k.maxVersion]), [[23, 2, 4], [35, 0, 4]])
})
