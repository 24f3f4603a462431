// An int64 outside the signed 64-bit range reached a response encoder and its throw ended the process: int64s
// are JavaScript numbers, so 2^63 - 1 sent by a client reads as 2^63, and echoing it (or anything computed
// from it) overflowed. The writer now writes numbers beyond the int64 range as its bounds.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
before(async () => {
  broker = await startBroker({ workers: 2 })
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'wide', 2)
  await produce(client, 'wide', 0, ['a', 'b'])
  client.close()
})
after(() => broker.stop())

test('the writer saturates int64s beyond the range; ±2^53 stay exact', () => {
  const writer = new Writer()
  for (const value of [2 ** 63, 2 ** 64, Infinity, -(2 ** 63), -(2 ** 70), -Infinity, 2 ** 53, -(2 ** 53)]) writer.int64(value)
  const bytes = Buffer.from(writer.toBuffer())
  assert.deepEqual([0, 8, 16, 24, 32, 40, 48, 56].map((at) => bytes.readBigInt64BE(at)), [
    2n ** 63n - 1n, 2n ** 63n - 1n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n), -(2n ** 63n), 2n ** 53n, -(2n ** 53n)
  ])
  assert.throws(() => new Writer().int64(Number.NaN), RangeError)
  assert.equal(new Reader(bytes).int64(), 2 ** 63)
})

test('int64 extremes in ListOffsets, Fetch, DeleteRecords and OffsetCommit are answered; the broker keeps serving', async () => {
  const client = await KafkaClient.to(broker.bootstrap)
  for (const value of [2 ** 63, -(2 ** 63), 2 ** 62]) {
    const listed = await client.request(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'wide', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: value }] }] })
    assert.equal(listed.topics[0].partitions.length, 1)
    const fetched = await client.request(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: -1, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'wide', partitions: [{ partition: 0, fetchOffset: value, partitionMaxBytes: -1, currentLeaderEpoch: -1, logStartOffset: value, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    assert.equal(fetched.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
    const deleted = await client.request(21, 2, { topics: [{ name: 'wide', partitions: [{ partitionIndex: 1, offset: value }] }], timeoutMs: 1000 })
    assert.equal(deleted.topics[0].partitions.length, 1)
    const committed = await client.request(8, 8, { groupId: 'wide-group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'wide', partitions: [{ partitionIndex: 0, committedOffset: value, committedLeaderEpoch: -1, committedMetadata: null }] }] })
    assert.equal(committed.topics[0].partitions.length, 1)
  }
  assert.equal(client.isClosed, false)
  client.close()
  assert.equal(broker.process.exitCode, null, broker.output())
})
