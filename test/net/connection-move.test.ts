// Moving a connection (src/net/connection.ts): a connection whose Produce requests all go to another worker's
// partition moves to that worker, mid-stream, without a request lost, answered twice or out of order. Frames
// are written in odd-sized slices so that the move lands inside a frame (its first bytes read by one worker,
// the rest by the other). Two connections to one partition on a 2-worker broker land on different workers
// (least connections), so exactly one of them is remote and moves, once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, fetchRecords, KafkaClient, kProduceVersion } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { parsePrometheus, sampleSum } from '../metrics/prometheus.ts'

const kRequests = 300
const kRecordsPerRequest = 3
const kSliceBytes = 777

let broker: TestBroker
let counter: (name: string) => Promise<number>

before(async () => {
  broker = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0', '--connection-move-after-requests', '8'] })
  const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
  counter = async (name: string) => sampleSum(parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text()), name)
})
after(() => broker.stop())

/** Pipelines kRequests acks=-1 produce requests on `client`, written in slices; returns their base offsets, in answer order. */
async function pipelinedProduce (client: KafkaClient, topic: string, label: string, round: number): Promise<number[]> {
  const prepared = []
  for (let i = 0; i < kRequests; i++) {
    const values = Array.from({ length: kRecordsPerRequest }, (_, j) => ({ key: null, value: Buffer.from(`${label}-${round}-${i}-${j}`) }))
    prepared.push(client.prepare(0, kProduceVersion, {
      transactionalId: null, acks: -1, timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch(values) }] }]
    }))
  }
  const answerOrder: number[] = []
  const answers = prepared.map((request, i) => request.response.then((response) => {
    answerOrder.push(i)
    const partition = response.responses[0].partitionResponses[0]
    assert.equal(partition.errorCode, 0, `${label} request ${i}: ${partition.errorMessage}`)
    return partition.baseOffset as number
  }))
  const stream = Buffer.concat(prepared.map((request) => request.bytes))
  for (let offset = 0; offset < stream.length; offset += kSliceBytes) {
    client.sendBytes(stream.subarray(offset, offset + kSliceBytes))
    await nextTurn()
  }
  const offsets = await Promise.all(answers)
  assert.deepEqual(answerOrder, offsets.map((_, i) => i), `${label}: answers in request order`)
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] > offsets[i - 1], `${label}: offsets grow (${offsets[i - 1]}, ${offsets[i]})`)
  return offsets
}

test('a producer on the other worker moves to the partition\'s worker mid-stream, and nothing is lost, doubled or reordered', async () => {
  const first = await KafkaClient.to(broker.bootstrap, 'move-a')
  const second = await KafkaClient.to(broker.bootstrap, 'move-b')
  try {
    await createTopic(first, 'moves', 1)
    for (let round = 0; round < 2; round++) {
      await Promise.all([pipelinedProduce(first, 'moves', 'a', round), pipelinedProduce(second, 'moves', 'b', round)])
      // One of the two was remote: it moved in the first round, and stays put after (it is local now).
      assert.equal(await counter('shoal_connections_moved_in_total'), 1, `round ${round}`)
      assert.equal(await counter('shoal_connections_moved_out_total'), 1)
      assert.equal(await counter('shoal_connection_moves_total'), 1)
    }
    assert.equal(first.isClosed || second.isClosed, false)
  } finally {
    first.close()
    second.close()
  }
  const reader = await KafkaClient.to(broker.bootstrap)
  try {
    const records = await fetchRecords(reader, 'moves', 0)
    assert.equal(records.length, 2 * 2 * kRequests * kRecordsPerRequest)
    for (const label of ['a', 'b']) {
      const values = records.map((record) => record.value!).filter((value) => value.startsWith(`${label}-`))
      const expected: string[] = []
      for (let round = 0; round < 2; round++) for (let i = 0; i < kRequests; i++) for (let j = 0; j < kRecordsPerRequest; j++) expected.push(`${label}-${round}-${i}-${j}`)
      assert.deepEqual(values, expected, `${label}: every record once, in order`)
    }
  } finally {
    reader.close()
  }
  assert.doesNotMatch(broker.output(), /ERROR|cannot move/)
})

test('with --connection-move-after-requests 0 nothing moves', async () => {
  const still = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0', '--connection-move-after-requests', '0'] })
  try {
    const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(still.output()), 10_000, 'the metrics address line'))!
    const first = await KafkaClient.to(still.bootstrap, 'still-a')
    const second = await KafkaClient.to(still.bootstrap, 'still-b')
    try {
      await createTopic(first, 'still', 1)
      await Promise.all([pipelinedProduce(first, 'still', 'a', 0), pipelinedProduce(second, 'still', 'b', 0)])
    } finally {
      first.close()
      second.close()
    }
    const metrics = parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text())
    assert.equal(sampleSum(metrics, 'shoal_connection_moves_started_total'), 0)
  } finally {
    await still.stop()
  }
})
