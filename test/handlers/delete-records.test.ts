// DeleteRecords against a real broker with partitions on both workers: the log start moves, reads below it are
// out of range, ListOffsets earliest follows, and -1 means "everything up to the high watermark".
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce, kFetchVersion } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

test('deletes records before an offset on every partition, wherever its owner is', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'trimmed', 4)
  for (let p = 0; p < 4; p++) {
    for (let i = 0; i < 5; i++) assert.equal((await produce(client, 'trimmed', p, [`r${i}`])).errorCode, ErrorCode.NONE)
  }
  const response = await client.request(21, 2, {
    topics: [
      { name: 'trimmed', partitions: [{ partitionIndex: 0, offset: 3 }, { partitionIndex: 1, offset: -1 }, { partitionIndex: 2, offset: 9 }, { partitionIndex: 3, offset: 2 }] },
      { name: 'absent', partitions: [{ partitionIndex: 0, offset: 1 }] }
    ],
    timeoutMs: 1000
  })
  const results = new Map(response.topics.flatMap((topic: any) => topic.partitions.map((p: any) => [`${topic.name}-${p.partitionIndex}`, [p.lowWatermark, p.errorCode]])))
  assert.deepEqual(results.get('trimmed-0'), [3, ErrorCode.NONE])
  assert.deepEqual(results.get('trimmed-1'), [5, ErrorCode.NONE])
  assert.deepEqual(results.get('trimmed-2'), [0, ErrorCode.OFFSET_OUT_OF_RANGE])
  assert.deepEqual(results.get('trimmed-3'), [2, ErrorCode.NONE])
  assert.deepEqual(results.get('absent-0'), [-1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])

  const earliest = await client.request(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'trimmed', partitions: [0, 1, 2, 3].map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -2 })) }] })
  assert.deepEqual(earliest.topics[0].partitions.map((p: any) => [p.partitionIndex, p.offset]).sort(), [[0, 3], [1, 5], [2, 0], [3, 2]])
  const below = await client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'trimmed', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  })
  assert.equal(below.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  assert.equal(below.responses[0].partitions[0].logStartOffset, 3)
})
