// kill -9 during acks=-1 produce. A broker on a kept data dir takes a continuous stream of acks=-1 batches from
// several concurrent producers (pipelined requests on the project's own client, plus kafkajs) to a
// multi-partition topic, with small segments so that rolls happen mid-stream; every acknowledged
// (partition, offset, payload) is recorded. The broker is SIGKILLed mid-stream and restarted on the same data
// dir: every acknowledged record must be readable at exactly its offset, the log must be contiguous with no
// payload twice, and new produces must land strictly after everything already there (no offset reused).
// Several kill rounds run against the same data dir.
//
// Idempotent producers across kill -9: the producer state rebuilt on restart (from a snapshot plus a replay, or
// from the whole log) answers retries of acknowledged and in-flight batches as duplicates with their original
// offsets, still refuses gaps, and producer ids are never handed out twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, fetchRecords, initProducerId, KafkaClient, produce, type FetchedRecord } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

interface Ack {
  partition: number
  offset: number
  value: string
}

const kPartitions = 4
const kRounds = 4
// Small segments: several rolls per partition and round, so kills land around rolls too.
const kBrokerArgs = ['--segment-bytes', String(16 * 1024)]

function dataDirectory (t: { after (fn: () => unknown): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-crash-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  return dataDir
}

/**
 * Produces acks=-1 batches over one connection, `pipeline` requests in flight at a time, until the connection
 * dies (the kill). Any error code is a failure; a closed connection just ends the loop.
 */
/** Requests cut off by a kill (sent, never answered); the kills must happen with requests in flight. */
let interrupted = 0

async function ownProducer (bootstrap: string, topic: string, name: string, pipeline: number, acks: Ack[]): Promise<void> {
  const client = await KafkaClient.to(bootstrap)
  let next = 0
  const lane = async (): Promise<void> => {
    while (!client.isClosed) {
      const sequence = next++
      const partition = sequence % kPartitions
      const values = Array.from({ length: 1 + (sequence % 5) }, (_, i) => `${name}-${sequence}-${i}-${'x'.repeat(sequence % 200)}`)
      let result
      try {
        result = await produce(client, topic, partition, values, { acks: -1 })
      } catch {
        interrupted++
        return // the broker went away; this batch is unacknowledged
      }
      assert.equal(result.errorCode, ErrorCode.NONE, `${name} produce to ${partition} failed: ${result.errorMessage}`)
      values.forEach((value, i) => acks.push({ partition, offset: result.baseOffset + i, value }))
    }
  }
  try {
    await Promise.all(Array.from({ length: pipeline }, lane))
  } finally {
    client.close()
  }
}

/** kafkajs, acks=-1, no retries: it stops at the first failure (the kill). */
async function kafkajsProducer (bootstrap: string, topic: string, name: string, acks: Ack[]): Promise<void> {
  const kafka = new Kafka({ clientId: name, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000 })
  const producer = kafka.producer({ retry: { retries: 0 } })
  await producer.connect()
  try {
    for (let sequence = 0; ; sequence++) {
      const partition = sequence % kPartitions
      const values = Array.from({ length: 3 }, (_, i) => `${name}-${sequence}-${i}`)
      let metadata
      try {
        [metadata] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition })) })
      } catch {
        return
      }
      assert.equal(metadata.errorCode, 0)
      values.forEach((value, i) => acks.push({ partition, offset: Number(metadata.baseOffset) + i, value }))
    }
  } finally {
    await producer.disconnect().catch(() => {})
  }
}

/** Checks the whole topic against every acknowledgement so far; returns each partition's log end offset. */
async function verify (broker: TestBroker, topic: string, acks: readonly Ack[]): Promise<number[]> {
  const client = await KafkaClient.to(broker.bootstrap)
  const ends: number[] = []
  try {
    for (let partition = 0; partition < kPartitions; partition++) {
      const log: FetchedRecord[] = await fetchRecords(client, topic, partition)
      assert.deepEqual(log.map((r) => r.offset), log.map((_, i) => i), `partition ${partition} is contiguous from 0`)
      const values = new Set(log.map((r) => r.value))
      assert.equal(values.size, log.length, `partition ${partition} has no payload twice`)
      const mine = acks.filter((ack) => ack.partition === partition)
      const lost = mine.filter((ack) => log[ack.offset]?.value !== ack.value)
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${mine.length} acknowledged records of partition ${partition} are not at their offset`)
      ends.push(log.length)
    }
  } finally {
    client.close()
  }
  return ends
}

test('acknowledged acks=-1 records survive kill -9 at their offsets, round after round, and offsets are never reused', async (t) => {
  const dataDir = dataDirectory(t)
  const topic = 'crash'
  const acks: Ack[] = []
  let broker = await startBroker({ workers: 2, dataDir, cleanup: false, args: kBrokerArgs })
  t.after(() => broker.kill())
  const admin = await KafkaClient.to(broker.bootstrap)
  await createTopic(admin, topic, kPartitions)
  admin.close()
  for (let round = 0; round < kRounds; round++) {
    const before = acks.length
    const producers = [
      ownProducer(broker.bootstrap, topic, `r${round}-own0`, 4, acks),
      ownProducer(broker.bootstrap, topic, `r${round}-own1`, 4, acks),
      ownProducer(broker.bootstrap, topic, `r${round}-own2`, 2, acks),
      kafkajsProducer(broker.bootstrap, topic, `r${round}-kafkajs`, acks)
    ]
    // Kill once the stream is well under way, with requests in flight on every connection.
    let kafkajsAcked = false
    await waitFor(() => {
      kafkajsAcked ||= acks.some((ack, i) => i >= before && ack.value.startsWith(`r${round}-kafkajs`))
      return kafkajsAcked && acks.length - before >= 1500
    }, 30_000, `round ${round}: acknowledgements, from kafkajs too`)
    const interruptedBefore = interrupted
    await broker.kill()
    await Promise.all(producers)
    assert.ok(interrupted > interruptedBefore, 'the kill cut off requests in flight')
    const acknowledged = acks.length
    broker = await startBroker({ workers: 2, dataDir, cleanup: false, args: kBrokerArgs })
    const ends = await verify(broker, topic, acks)
    // New produces go after everything in the log, acknowledged or not: no offset is handed out twice.
    const client = await KafkaClient.to(broker.bootstrap)
    for (let partition = 0; partition < kPartitions; partition++) {
      const highest = Math.max(-1, ...acks.filter((ack) => ack.partition === partition).map((ack) => ack.offset))
      const value = `after-kill-${round}-${partition}`
      const result = await produce(client, topic, partition, [value])
      assert.equal(result.errorCode, ErrorCode.NONE)
      assert.equal(result.baseOffset, ends[partition], `partition ${partition}: the first offset after the restart is the log end`)
      assert.ok(result.baseOffset > highest, `partition ${partition}: ${result.baseOffset} is after the highest acknowledged offset ${highest}`)
      acks.push({ partition, offset: result.baseOffset, value })
    }
    client.close()
    assert.equal(acks.length, acknowledged + kPartitions)
  }
  await verify(broker, topic, acks)
  await broker.stop()
})

for (const [how, segmentBytes] of [['from a producer snapshot plus a replay', 4096], ['by replaying the whole log', 1 << 30]] as const) {
  test(`an idempotent producer's state survives kill -9 (rebuilt ${how}): retries after the restart are answered as duplicates`, (t) => idempotentCrash(t, segmentBytes))
}

async function idempotentCrash (t: { after (fn: () => unknown): void }, segmentBytes: number): Promise<void> {
  const dataDir = dataDirectory(t)
  const topic = 'idempotent-crash'
  // With small segments, rolls write producer snapshots and recovery starts from the newest one.
  const args = ['--segment-bytes', String(segmentBytes)]
  let broker = await startBroker({ workers: 2, dataDir, cleanup: false, args })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, topic, 2)

  interface Batch { baseSequence: number, values: string[], baseOffset: number }
  interface Stream { producerId: number, producerEpoch: number, partition: number, nextSequence: number, acked: Batch[], inFlight: Batch | null }
  const streams: Stream[] = []
  for (let producer = 0; producer < 2; producer++) {
    const { producerId, producerEpoch } = await initProducerId(client)
    for (let partition = 0; partition < 2; partition++) streams.push({ producerId, producerEpoch, partition, nextSequence: 0, acked: [], inFlight: null })
  }
  /** The stream's next batch: 1 to 3 records, its base sequence the count of records before it. */
  const nextBatch = (stream: Stream): Batch => {
    const count = 1 + (stream.acked.length % 3)
    const values = Array.from({ length: count }, (_, i) => `pid${stream.producerId}-p${stream.partition}-s${stream.nextSequence + i}-${'y'.repeat(50)}`)
    const batch = { baseSequence: stream.nextSequence, values, baseOffset: -1 }
    stream.nextSequence += count
    return batch
  }
  const send = (connection: KafkaClient, stream: Stream, batch: Batch, baseSequence = batch.baseSequence) => produce(connection, topic, stream.partition, batch.values,
    { acks: -1, batch: { producerId: stream.producerId, producerEpoch: stream.producerEpoch, baseSequence } })
  // Each stream sends one batch at a time (as a producer with one request in flight per partition would).
  const run = async (stream: Stream): Promise<void> => {
    while (!client.isClosed) {
      const batch = nextBatch(stream)
      stream.inFlight = batch
      let result
      try {
        result = await send(client, stream, batch)
      } catch {
        return
      }
      assert.equal(result.errorCode, ErrorCode.NONE)
      batch.baseOffset = result.baseOffset
      stream.acked.push(batch)
      stream.inFlight = null
    }
  }
  const running = streams.map(run)
  await waitFor(() => streams.every((stream) => stream.acked.length >= 40), 30_000, 'idempotent batches to be acknowledged')
  await broker.kill()
  await Promise.all(running)
  const snapshots = readdirSync(join(dataDir, `${topic}-0`)).filter((name) => name.endsWith('.snapshot'))
  assert.equal(snapshots.length > 0, segmentBytes < 1 << 20, `snapshots: ${snapshots.join(' ')}`)

  broker = await startBroker({ workers: 2, dataDir, cleanup: false, args })
  const again = await KafkaClient.to(broker.bootstrap)
  try {
    for (const stream of streams) {
      // The last acknowledged batch, retried: a duplicate, answered with its original offset.
      const last = stream.acked.at(-1)!
      assert.deepEqual(await send(again, stream, last), { errorCode: ErrorCode.NONE, baseOffset: last.baseOffset, errorMessage: null },
        `retry of the last acknowledged batch of producer ${stream.producerId} on partition ${stream.partition}`)
      // The batch in flight at the kill, retried: appended then (and now a duplicate) or appended now; once either way.
      if (stream.inFlight !== null) {
        const retry = await send(again, stream, stream.inFlight)
        assert.equal(retry.errorCode, ErrorCode.NONE)
        assert.ok(retry.baseOffset > last.baseOffset)
        stream.inFlight.baseOffset = retry.baseOffset
        stream.acked.push(stream.inFlight)
      }
      // A gap is still refused, and the producer carries on with its next sequence.
      const next = nextBatch(stream)
      const gap = await send(again, stream, next, next.baseSequence + 1)
      assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
      const result = await send(again, stream, next)
      assert.equal(result.errorCode, ErrorCode.NONE)
      next.baseOffset = result.baseOffset
      stream.acked.push(next)
    }
    // Every batch is in the log once, at the offset its acknowledgement gave.
    for (let partition = 0; partition < 2; partition++) {
      const log = await fetchRecords(again, topic, partition)
      const expected = streams.filter((s) => s.partition === partition).flatMap((s) => s.acked.flatMap((b) => b.values.map((value, i) => ({ offset: b.baseOffset + i, value }))))
      assert.equal(log.length, expected.length, `partition ${partition} holds exactly the acknowledged records`)
      for (const record of expected) assert.deepEqual(log[record.offset], record)
    }
    // Producer ids are reserved durably: none is handed out again after the crash.
    const fresh = await initProducerId(again)
    assert.ok(streams.every((stream) => stream.producerId !== fresh.producerId), `producer id ${fresh.producerId} was reused`)
  } finally {
    again.close()
  }
  await broker.stop()
}

test('an idempotent producer with five batches in flight at the kill retries them all after the restart and each is in the log once', async (t) => {
  const dataDir = dataDirectory(t)
  const args = ['--segment-bytes', '2048']
  let broker = await startBroker({ workers: 2, dataDir, cleanup: false, args })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'pipelined', 1)
  const { producerId, producerEpoch } = await initProducerId(client)
  interface Batch { baseSequence: number, values: string[], baseOffset: number | null }
  const sent: Batch[] = []
  let nextSequence = 0
  const send = (connection: KafkaClient, batch: Batch) =>
    produce(connection, 'pipelined', 0, batch.values, { acks: -1, batch: { producerId, producerEpoch, baseSequence: batch.baseSequence } })
  // Five lanes on one connection: five requests in flight, sent (and answered) in sequence order.
  const lane = async (): Promise<void> => {
    while (!client.isClosed) {
      const batch: Batch = { baseSequence: nextSequence, values: [`s${nextSequence}`, `s${nextSequence + 1}`], baseOffset: null }
      nextSequence += 2
      sent.push(batch)
      let result
      try {
        result = await send(client, batch)
      } catch {
        return
      }
      assert.equal(result.errorCode, ErrorCode.NONE)
      batch.baseOffset = result.baseOffset
    }
  }
  const lanes = Array.from({ length: 5 }, lane)
  await waitFor(() => sent.filter((batch) => batch.baseOffset !== null).length >= 200, 30_000, 'acknowledged batches')
  await broker.kill()
  await Promise.all(lanes)
  const unacknowledged = sent.filter((batch) => batch.baseOffset === null)
  assert.ok(unacknowledged.length > 0 && unacknowledged.length <= 5, `${unacknowledged.length} batches in flight at the kill`)

  broker = await startBroker({ workers: 2, dataDir, cleanup: false, args })
  const again = await KafkaClient.to(broker.bootstrap)
  // The client retries everything unacknowledged, in order: each is a duplicate (appended before the kill, answered
  // with that offset) or appended now.
  for (const batch of unacknowledged) {
    const result = await send(again, batch)
    assert.equal(result.errorCode, ErrorCode.NONE, `retry of sequence ${batch.baseSequence}`)
    batch.baseOffset = result.baseOffset
  }
  const log = await fetchRecords(again, 'pipelined', 0)
  const expected = sent.flatMap((batch) => batch.values.map((value, i) => ({ offset: (batch.baseOffset as number) + i, value })))
  assert.equal(log.length, expected.length, 'each batch is in the log once')
  for (const record of expected) assert.deepEqual(log[record.offset], record)
  again.close()
  await broker.stop()
})
