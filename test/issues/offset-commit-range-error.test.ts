// The issue reported OffsetCommit v0-3 throwing RangeError in its handler. The likely inputs are int64s at the
// edge of the range (the wire's 0x7fffffffffffffff reads as the number 2^63) in committedOffset,
// commitTimestamp (v1) or retentionTimeMs (v2-3), reaching the int64 writer when the commit is forwarded to the
// group's coordinator or written to __consumer_offsets. `npm run fuzz -- --apis 0,2,3,8` did not raise it at
// 53e1555 or since; this test pins those inputs down: answered per partition, the connection kept, and
// OffsetFetch returning what was stored.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { bodyWith, kEdges, kMarker } from '../helpers/int64-edges.ts'
import { Writer } from '../../src/protocol/writer.ts'

let broker: TestBroker
before(async () => {
  broker = await startBroker({ workers: 2 })
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'commits', 2)
  client.close()
})
after(() => broker.stop())

for (const version of [0, 1, 2, 3]) {
  test(`OffsetCommit v${version} with int64s at the edges is answered and the offsets can be fetched`, async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    // Several groups, so that their coordinators are on both workers.
    for (const [i, raw] of kEdges.entries()) {
      for (const groupId of [`edge-group-${version}-${i}-a`, `edge-group-${version}-${i}-b`, `edge-group-${version}-${i}-c`]) {
        const body = bodyWith(8, version, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          retentionTimeMs: kMarker,
          topics: [{ name: 'commits', partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, committedOffset: kMarker, commitTimestamp: kMarker, committedMetadata: '' })) }]
        }, raw)
        const response = await client.request(8, version, body)
        const partitions = response.topics[0].partitions
        assert.deepEqual(partitions.map((p: { partitionIndex: number }) => p.partitionIndex), [0, 1])
        const fetched = await client.request(9, 1, { groupId, topics: [{ name: 'commits', partitionIndexes: [0, 1] }] })
        assert.equal(fetched.topics[0].partitions.length, 2)
        for (const [index, p] of partitions.entries()) {
          if (p.errorCode !== 0) continue
          // What was accepted is what is fetched: the edge as read (saturating at the int64 bounds on the way out).
          const expected = Number(raw) >= 2 ** 63 ? 2 ** 63 : Number(raw) <= -(2 ** 63) ? -(2 ** 63) : Number(raw)
          assert.equal(fetched.topics[0].partitions[index].committedOffset, expected)
        }
      }
    }
    assert.equal(client.isClosed, false)
    client.close()
    assert.equal(broker.process.exitCode, null, broker.output())
  })
}
