// Idempotent producers retrying after a lost response get no duplicates.
//
// The interop tests put a TCP proxy between a real client and the broker. The proxy forwards everything but
// swallows the first Produce response it sees and cuts the client's connection, so the client cannot know
// whether its batch was appended and must send it again, with the same producer id and sequence, on a new
// connection. The broker is started with --advertised-listener pointing at the proxy, so that the connections
// the client opens after reading Metadata come back through it too. The direct tests use the project's own
// client to check the sequence rules one by one.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { ForwardingProxy } from './api-version-proxy.ts'
import { createTopic, fetchRecords, initProducerId, KafkaClient, produce, type FetchedRecord } from '../helpers/kafka-client.ts'
import { apiByKey, requestHeaderVersion } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { createBatchInfo, readBatchInfo } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kPython = '/usr/bin/python3'
const kProducerScript = fileURLToPath(new URL('./fixtures/idempotent-producer.py', import.meta.url))

/**
 * Forwards connections to the broker. While armed, the Produce response after `passBeforeDrop` more have gone
 * through is swallowed and both halves of that connection are destroyed. Records the idempotence fields of
 * every Produce batch sent.
 */
class DroppingProxy extends ForwardingProxy {
  armed = false
  passBeforeDrop = 0
  droppedResponses = 0
  connections = 0
  /** `producerId/epoch/baseSequence` of every batch of every Produce request forwarded, in order. */
  readonly producedBatches: string[] = []

  protected accept (client: Socket): void {
    this.connections++
    const { upstream, cut } = this.connectUpstream(client)
    const apiKeys = new Map<number, number>()
    // Requests: forwarded as they come; frames are parsed on the side to learn each correlation id's API.
    splitFrames(client, (frame) => {
      const apiKey = frame.readInt16BE(0)
      apiKeys.set(frame.readInt32BE(4), apiKey)
      if (apiKey === 0) this.#recordProduce(frame)
      upstream.write(lengthPrefixed(frame))
    })
    // Responses: forwarded frame by frame, so that one can be left out.
    splitFrames(upstream, (frame) => {
      const correlationId = frame.readInt32BE(0)
      const apiKey = apiKeys.get(correlationId)
      apiKeys.delete(correlationId)
      if (apiKey === 0 && this.armed && this.passBeforeDrop-- === 0) {
        this.armed = false
        this.droppedResponses++
        cut()
        return
      }
      client.write(lengthPrefixed(frame))
    })
  }

  #recordProduce (frame: Buffer): void {
    const api = apiByKey(0)!
    const version = frame.readInt16BE(2)
    const reader = new Reader(frame)
    codecFor(requestHeader, requestHeaderVersion(api, version)).decode(reader)
    const request = api.request(version).decode(reader)
    const info = createBatchInfo()
    for (const topic of request.topicData) {
      for (const partition of topic.partitionData) {
        readBatchInfo(partition.records, 0, info)
        this.producedBatches.push(`${info.producerId}/${info.producerEpoch}/${info.baseSequence}`)
      }
    }
  }
}

function splitFrames (socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buffered = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const size = buffered.readInt32BE(0)
      const frame = buffered.subarray(4, 4 + size)
      buffered = buffered.subarray(4 + size)
      onFrame(frame)
      if (socket.destroyed) return
    }
  })
}

function lengthPrefixed (frame: Buffer): Buffer {
  const size = Buffer.alloc(4)
  size.writeInt32BE(frame.length)
  return Buffer.concat([size, frame])
}

/** Retried batches: those sent more than once with the same producer id, epoch and sequence. */
function retried (batches: readonly string[]): string[] {
  const seen = new Set<string>()
  const again = new Set<string>()
  for (const batch of batches) {
    if (seen.has(batch)) again.add(batch)
    seen.add(batch)
  }
  return [...again]
}

/** Asserts that the log holds exactly `values`, each once, at contiguous offsets from 0. */
function assertExactlyOnce (log: FetchedRecord[], values: readonly string[]): void {
  assert.deepEqual(log.map((record) => record.offset), log.map((_, index) => index), 'offsets are contiguous from 0')
  const counts = new Map<string, number>()
  for (const record of log) counts.set(record.value ?? '', (counts.get(record.value ?? '') ?? 0) + 1)
  const duplicates = [...counts].filter(([, count]) => count > 1)
  assert.deepEqual(duplicates, [], 'no record is in the log twice')
  assert.deepEqual([...counts.keys()].sort(), [...values].sort(), 'every record is in the log')
}

describe('an idempotent producer whose Produce response is lost', () => {
  let proxy: DroppingProxy
  let broker: TestBroker
  let admin: KafkaClient

  before(async () => {
    proxy = new DroppingProxy()
    broker = await proxy.startBroker({ workers: 2 })
    admin = await KafkaClient.to(broker.bootstrap)
  })

  after(async () => {
    admin?.close()
    await proxy?.close()
    await broker?.stop()
  })

  test('confluent-kafka (librdkafka) retries the batch on a new connection and the log has every record once', { skip: existsSync(kPython) ? false : `${kPython} not installed` }, async () => {
    const topic = 'rdkafka-retry'
    await createTopic(admin, topic, 1)
    // Drop a response mid-stream (the eleventh), not the first one.
    proxy.armed = true
    proxy.passBeforeDrop = 10
    proxy.producedBatches.length = 0
    const count = 300
    const child = spawn(kPython, [kProducerScript, `127.0.0.1:${proxy.port}`, topic, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 0, `producer failed:\n${stdout}\n${stderr}`)
    assert.equal(proxy.droppedResponses, 1, 'the proxy swallowed one Produce response')
    assert.ok(retried(proxy.producedBatches).length > 0, `the client sent some batch twice: ${proxy.producedBatches.join(' ')}`)

    const reports = stdout.trim().split('\n').map((line) => JSON.parse(line) as { value: string, offset: number, error: string | null })
    assert.equal(reports.length, count)
    assert.deepEqual(reports.filter((r) => r.error !== null), [])
    const log = await fetchRecords(admin, topic, 0)
    assertExactlyOnce(log, reports.map((r) => r.value))
    // Every delivery report (including those of the retried batch) names the record's one offset.
    for (const report of reports) assert.equal(log[report.offset]?.value, report.value)
  })

  test('kafkajs retries the batch on a new connection and the log has every record once', async () => {
    const topic = 'kafkajs-retry'
    await createTopic(admin, topic, 1)
    proxy.armed = true
    proxy.passBeforeDrop = 3
    proxy.producedBatches.length = 0
    const kafka = new Kafka({ clientId: 'shoal-idempotent', brokers: [`127.0.0.1:${proxy.port}`], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 50, retries: 10 } })
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const values: string[] = []
    const offsets = new Map<string, number>()
    try {
      for (let send = 0; send < 30; send++) {
        const batch = Array.from({ length: 10 }, (_, i) => `kafkajs-${send}-${i}`)
        const [metadata] = await producer.send({ topic, acks: -1, messages: batch.map((value) => ({ value, partition: 0 })) })
        assert.equal(metadata.errorCode, 0)
        batch.forEach((value, i) => offsets.set(value, Number(metadata.baseOffset) + i))
        values.push(...batch)
      }
    } finally {
      await producer.disconnect()
    }
    assert.equal(proxy.droppedResponses, 2, 'the proxy swallowed one more Produce response')
    assert.ok(retried(proxy.producedBatches).length > 0, `the client sent some batch twice: ${proxy.producedBatches.join(' ')}`)
    const log = await fetchRecords(admin, topic, 0)
    assertExactlyOnce(log, values)
    for (const [value, offset] of offsets) assert.equal(log[offset]?.value, value)
  })
})

describe('idempotent produce, sequence by sequence', () => {
  let broker: TestBroker
  let client: KafkaClient

  before(async () => {
    broker = await startBroker({ workers: 2 })
    client = await KafkaClient.to(broker.bootstrap)
    await createTopic(client, 'sequences', 2)
  })

  after(async () => {
    client?.close()
    await broker?.stop()
  })

  test('the same batch sent twice is appended once and both answers carry its offset', async () => {
    const { producerId, producerEpoch } = await initProducerId(client)
    const batch = { producerId, producerEpoch, baseSequence: 0 }
    await produce(client, 'sequences', 1, ['before'])
    const first = await produce(client, 'sequences', 1, ['once-a', 'once-b'], { batch })
    const second = await produce(client, 'sequences', 1, ['once-a', 'once-b'], { batch })
    assert.deepEqual(first, { errorCode: ErrorCode.NONE, baseOffset: 1, errorMessage: null })
    assert.deepEqual(second, first)
    // Sent again on another connection (a client retrying after a reconnect).
    const other = await KafkaClient.to(broker.bootstrap)
    assert.deepEqual(await produce(other, 'sequences', 1, ['once-a', 'once-b'], { batch }), first)
    other.close()
    const next = await produce(client, 'sequences', 1, ['next'], { batch: { ...batch, baseSequence: 2 } })
    assert.equal(next.baseOffset, 3)
    assert.deepEqual(await fetchRecords(client, 'sequences', 1), [
      { offset: 0, value: 'before' }, { offset: 1, value: 'once-a' }, { offset: 2, value: 'once-b' }, { offset: 3, value: 'next' }
    ])
  })

  test('a retry of any of the last five batches gets its original offset; an older one is out of order', async () => {
    const topic = 'window'
    await createTopic(client, topic, 1)
    const { producerId, producerEpoch } = await initProducerId(client)
    const offsets: number[] = []
    for (let index = 0; index < 7; index++) {
      const result = await produce(client, topic, 0, [`w${index}`], { batch: { producerId, producerEpoch, baseSequence: index } })
      assert.equal(result.errorCode, ErrorCode.NONE)
      offsets.push(result.baseOffset)
    }
    for (const index of [2, 3, 4, 5, 6]) {
      const retry = await produce(client, topic, 0, [`w${index}`], { batch: { producerId, producerEpoch, baseSequence: index } })
      assert.deepEqual(retry, { errorCode: ErrorCode.NONE, baseOffset: offsets[index], errorMessage: null }, `retry of batch ${index}`)
    }
    for (const index of [0, 1]) {
      const retry = await produce(client, topic, 0, [`w${index}`], { batch: { producerId, producerEpoch, baseSequence: index } })
      assert.equal(retry.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `retry of batch ${index}, no longer retained`)
    }
    assert.deepEqual((await fetchRecords(client, topic, 0)).map((r) => r.value), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6'])
  })

  test('a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER and appends nothing', async () => {
    const topic = 'gap'
    await createTopic(client, topic, 1)
    const { producerId, producerEpoch } = await initProducerId(client)
    assert.equal((await produce(client, topic, 0, ['s0', 's1'], { batch: { producerId, producerEpoch, baseSequence: 0 } })).errorCode, ErrorCode.NONE)
    // Next expected is 2.
    const gap = await produce(client, topic, 0, ['s3'], { batch: { producerId, producerEpoch, baseSequence: 3 } })
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    assert.equal(gap.baseOffset, -1)
    // A batch overlapping the last one without being it is out of order too.
    assert.equal((await produce(client, topic, 0, ['s1'], { batch: { producerId, producerEpoch, baseSequence: 1 } })).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    // A producer this partition never saw must start at sequence 0.
    const stranger = await initProducerId(client)
    assert.equal((await produce(client, topic, 0, ['x'], { batch: { ...stranger, baseSequence: 5 } })).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    // The expected sequence still works, and nothing was appended by the refused batches.
    assert.deepEqual(await produce(client, topic, 0, ['s2'], { batch: { producerId, producerEpoch, baseSequence: 2 } }), { errorCode: ErrorCode.NONE, baseOffset: 2, errorMessage: null })
    assert.deepEqual((await fetchRecords(client, topic, 0)).map((r) => r.value), ['s0', 's1', 's2'])
  })

  test('a lower epoch is INVALID_PRODUCER_EPOCH; a higher one must restart at sequence 0', async () => {
    const topic = 'epochs'
    await createTopic(client, topic, 1)
    const { producerId } = await initProducerId(client)
    assert.equal((await produce(client, topic, 0, ['e0-0'], { batch: { producerId, producerEpoch: 0, baseSequence: 0 } })).errorCode, ErrorCode.NONE)
    assert.equal((await produce(client, topic, 0, ['e0-1'], { batch: { producerId, producerEpoch: 0, baseSequence: 1 } })).errorCode, ErrorCode.NONE)
    // A bumped epoch not starting at 0 is out of order; starting at 0 it is accepted.
    assert.equal((await produce(client, topic, 0, ['e1-5'], { batch: { producerId, producerEpoch: 1, baseSequence: 5 } })).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    assert.equal((await produce(client, topic, 0, ['e1-0'], { batch: { producerId, producerEpoch: 1, baseSequence: 0 } })).errorCode, ErrorCode.NONE)
    // The old epoch is fenced, for new sequences and for retries of its batches alike.
    assert.equal((await produce(client, topic, 0, ['e0-2'], { batch: { producerId, producerEpoch: 0, baseSequence: 2 } })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
    assert.equal((await produce(client, topic, 0, ['e0-1'], { batch: { producerId, producerEpoch: 0, baseSequence: 1 } })).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH)
    assert.deepEqual((await fetchRecords(client, topic, 0)).map((r) => r.value), ['e0-0', 'e0-1', 'e1-0'])
  })

  test('sequences are per partition', async () => {
    const { producerId, producerEpoch } = await initProducerId(client)
    const batch = { producerId, producerEpoch, baseSequence: 0 }
    const zero = await produce(client, 'sequences', 0, ['p0'], { batch })
    const one = await produce(client, 'sequences', 1, ['p1'], { batch })
    assert.equal(zero.errorCode, ErrorCode.NONE)
    assert.equal(one.errorCode, ErrorCode.NONE)
    assert.notDeepEqual((await fetchRecords(client, 'sequences', 0)).filter((r) => r.value === 'p0'), [])
    assert.equal((await fetchRecords(client, 'sequences', 1, one.baseOffset))[0].value, 'p1')
  })

  test('an InitProducerId never hands out the same producer id twice', async () => {
    const ids = new Set<number>()
    for (let i = 0; i < 20; i++) ids.add((await initProducerId(client)).producerId)
    assert.equal(ids.size, 20)
  })
})
