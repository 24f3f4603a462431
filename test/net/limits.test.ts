// Connection-level limits against a real broker process: connections per IP (the acceptor), idle connections
// (the worker's idle scan) and the worker's memory budget for request bytes (--queued-max-request-bytes).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, KafkaClient, kFetchVersion, kProduceVersion, produce } from '../helpers/kafka-client.ts'
import { apiByKey, requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kApiVersionsBody = { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' }

async function apiVersionsWorks (client: KafkaClient): Promise<boolean> {
  return (await client.request(18, 3, kApiVersionsBody)).errorCode === ErrorCode.NONE
}

/** Resident set size of a process, in bytes (Linux). */
function rssOf (pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1]) * 1024
}

/** A Produce frame (size prefix included) of one batch to one partition, acks=1. */
function produceFrame (topic: string, partition: number, batch: Buffer, correlationId: number): Buffer {
  const api = apiByKey(0)!
  const writer = new Writer()
  writer.startFrame()
  codecFor(requestHeader, requestHeaderVersion(api, kProduceVersion)).encode(writer, { requestApiKey: 0, requestApiVersion: kProduceVersion, correlationId, clientId: 'raw' })
  api.request(kProduceVersion).encode(writer, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] })
  return Buffer.concat(writer.finishFrame())
}

/** A raw socket that writes what it is told and decodes Produce responses as they come. */
class RawProducer {
  readonly socket: Socket
  readonly answers: Array<{ correlationId: number, errorCode: number }> = []
  closed = false
  #buffer = Buffer.alloc(0)

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('error', () => {})
    socket.on('close', () => { this.closed = true })
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      while (this.#buffer.length >= 4 && this.#buffer.length >= 4 + this.#buffer.readInt32BE(0)) {
        const frame = this.#buffer.subarray(4, 4 + this.#buffer.readInt32BE(0))
        this.#buffer = this.#buffer.subarray(4 + frame.length)
        const api = apiByKey(0)!
        const reader = new Reader(frame, 4)
        if (responseHeaderVersion(api, kProduceVersion) === 1) {
          for (let tags = reader.unsignedVarint(); tags > 0; tags--) { reader.unsignedVarint(); reader.skip(reader.unsignedVarint()) }
        }
        const response = api.response(kProduceVersion).decode(reader)
        this.answers.push({ correlationId: frame.readInt32BE(0), errorCode: response.responses[0].partitionResponses[0].errorCode })
      }
    })
  }

  static to (broker: TestBroker): Promise<RawProducer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: broker.host, port: broker.port, noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => { socket.off('error', reject); resolve(new RawProducer(socket)) })
    })
  }
}

describe('--max-connections-per-ip', () => {
  let broker: TestBroker
  before(async () => { broker = await startBroker({ workers: 2, args: ['--max-connections-per-ip', '3'] }) })
  after(async () => { await broker?.stop() })

  test('the 4th connection from 127.0.0.1 is closed at once while the first 3 keep working', async () => {
    const clients = [await KafkaClient.to(broker.bootstrap), await KafkaClient.to(broker.bootstrap), await KafkaClient.to(broker.bootstrap)]
    for (const client of clients) assert.ok(await apiVersionsWorks(client))
    const extra = await KafkaClient.to(broker.bootstrap)
    await waitFor(() => extra.isClosed, 10_000, 'the broker to close the connection over the limit')
    await waitFor(() => /refusing connection from 127\.0\.0\.1:\d+: --max-connections-per-ip reached \(3\)/.test(broker.output()), 10_000, 'the refusal in the log')
    for (const client of clients) assert.ok(await apiVersionsWorks(client))

    // Once one closes (the worker tells the acceptor), a new connection gets its place.
    clients.pop()!.close()
    const replacement = await waitFor(async (): Promise<KafkaClient | false> => {
      const client = await KafkaClient.to(broker.bootstrap)
      try {
        if (await apiVersionsWorks(client)) return client
      } catch {}
      client.close()
      return false
    }, 10_000, 'a new connection to be admitted after one closed') as KafkaClient
    for (const client of [...clients, replacement]) assert.ok(await apiVersionsWorks(client))
    for (const client of [...clients, replacement]) client.close()
    assert.doesNotMatch(broker.output(), / ERROR /)
  })
})

describe('--connections-max-idle-ms', () => {
  let broker: TestBroker
  before(async () => { broker = await startBroker({ workers: 1, args: ['--connections-max-idle-ms', '500'] }) })
  after(async () => { await broker?.stop() })

  test('a silent connection is closed after the idle time; a busy one and a long-polling one are not', async () => {
    const admin = await KafkaClient.to(broker.bootstrap)
    await createTopic(admin, 'idle', 1)
    admin.close()
    const idle = await KafkaClient.to(broker.bootstrap)
    const busy = await KafkaClient.to(broker.bootstrap)
    const polling = await KafkaClient.to(broker.bootstrap)
    assert.ok(await apiVersionsWorks(idle))
    const silentSince = Date.now()
    // A fetch waiting 2 s for data that never comes: a request in flight is not idleness.
    const fetched = polling.request(1, 12, {
      replicaId: -1, maxWaitMs: 2000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'idle', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    await waitFor(async () => {
      assert.ok(await apiVersionsWorks(busy))
      return idle.isClosed
    }, 10_000, 'the idle connection to be closed')
    assert.ok(Date.now() - silentSince >= 500, 'not before the idle time')
    assert.equal(busy.isClosed, false)
    const response = await fetched
    assert.equal(response.responses[0].partitions[0].errorCode, ErrorCode.NONE, 'the long poll is answered')
    await waitFor(() => /closing connection .*: idle for more than 500 ms/.test(broker.output()), 10_000, 'the idle close in the log')
    busy.close()
    polling.close()
  })

  test('declared but unsent large frames hold neither memory nor the connection', async () => {
    const before = rssOf(broker.process.pid!)
    const sockets: RawProducer[] = []
    for (let i = 0; i < 10; i++) {
      const raw = await RawProducer.to(broker)
      const header = Buffer.alloc(1004, 1)
      header.writeInt32BE(60 * 1024 * 1024)
      raw.socket.write(header)
      sockets.push(raw)
    }
    // Four frames at a time reserve their 60 MiB of the 256 MiB budget and are closed once idle; the others
    // wait for the budget meanwhile, and get it then.
    let peak = 0
    await waitFor(() => {
      peak = Math.max(peak, rssOf(broker.process.pid!))
      return sockets.every((raw) => raw.closed)
    }, 20_000, 'every connection with a stalled frame to be closed as idle')
    assert.ok(peak - before < 100 * 1024 * 1024, `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB for 600 MiB declared`)
    const client = await KafkaClient.to(broker.bootstrap)
    assert.ok(await apiVersionsWorks(client))
    client.close()
    assert.doesNotMatch(broker.output(), / ERROR /)
  })
})

describe('--queued-max-request-bytes', () => {
  const kBudget = 1024 * 1024
  let broker: TestBroker
  before(async () => {
    broker = await startBroker({ workers: 1, args: ['--queued-max-request-bytes', String(kBudget), '--max-in-flight-requests-per-connection', '2'] })
    const admin = await KafkaClient.to(broker.bootstrap)
    await createTopic(admin, 'budget', 1)
    admin.close()
  })
  after(async () => { await broker?.stop() })

  const batch = buildRecordBatch([{ key: null, value: Buffer.alloc(600 * 1024, 'x') }])

  test('a frame that cannot get its bytes waits, without losing its request, until the bytes come back', async () => {
    // A half-sent frame reserves its size: the next large frame does not fit beside it.
    const stalled = await RawProducer.to(broker)
    const whole = produceFrame('budget', 0, batch, 1)
    stalled.socket.write(whole.subarray(0, whole.length >> 1))
    const waiting = await KafkaClient.to(broker.bootstrap)
    let answered = false
    const produced = produce(waiting, 'budget', 0, batch, { acks: 1 }).then((result) => { answered = true; return result })
    await waitFor(() => /worker memory budget full .*: connection .* stops reading/.test(broker.output()), 10_000, 'the pause in the log')
    assert.equal(answered, false, 'nothing can answer the waiting frame while the stalled one holds the budget')
    stalled.socket.write(whole.subarray(whole.length >> 1))
    await waitFor(() => stalled.answers.length === 1, 10_000, 'the stalled frame to be answered')
    assert.deepEqual(stalled.answers, [{ correlationId: 1, errorCode: ErrorCode.NONE }])
    assert.equal((await produced).errorCode, ErrorCode.NONE)
    stalled.socket.destroy()
    waiting.close()
  })

  test('several connections producing large frames at once pause, resume, and all get answered, with RSS bounded', async () => {
    const before = rssOf(broker.process.pid!)
    let peak = before
    const sampler = setInterval(() => { peak = Math.max(peak, rssOf(broker.process.pid!)) }, 20)
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => KafkaClient.to(broker.bootstrap)))
      const results = await Promise.all(clients.flatMap((client) => Array.from({ length: 5 }, () => produce(client, 'budget', 0, batch, { acks: 1 }))))
      assert.equal(results.length, 30)
      for (const result of results) assert.equal(result.errorCode, ErrorCode.NONE)
      for (const client of clients) client.close()
    } finally {
      clearInterval(sampler)
    }
    assert.ok(peak - before < 100 * 1024 * 1024, `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB`)
  })

  test('with 2 requests in flight at most, 40 pipelined requests of one connection are all answered in order', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    const order: number[] = []
    await Promise.all(Array.from({ length: 40 }, (_, i) => i % 4 === 0
      ? produce(client, 'budget', 0, ['pipelined']).then((result) => { assert.equal(result.errorCode, ErrorCode.NONE); order.push(i) })
      : apiVersionsWorks(client).then((ok) => { assert.ok(ok); order.push(i) })))
    assert.deepEqual(order, Array.from({ length: 40 }, (_, i) => i))
    client.close()
  })

  test('long-polling fetches hold no arena: more of them than the budget has arenas leave the worker reading', async () => {
    // The budget holds 4 arenas of 256 KiB; 12 fetches wait (maxWaitMs far beyond the test's timeout) on the
    // end of the partition, then one append answers them all.
    const end = (await produce((await KafkaClient.to(broker.bootstrap)), 'budget', 0, ['mark'], { acks: 1 })).baseOffset + 1
    const pollers = await Promise.all(Array.from({ length: 12 }, () => KafkaClient.to(broker.bootstrap)))
    const polls = pollers.map((client) => client.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 600_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'budget', partitions: [{ partition: 0, fetchOffset: end, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    }))
    const other = await KafkaClient.to(broker.bootstrap)
    assert.ok(await apiVersionsWorks(other), 'a new connection is served while the fetches wait')
    assert.equal((await produce(other, 'budget', 0, ['wake'], { acks: 1 })).errorCode, ErrorCode.NONE)
    for (const response of await Promise.all(polls)) {
      assert.equal(response.responses[0].partitions[0].errorCode, ErrorCode.NONE)
      assert.ok(response.responses[0].partitions[0].records.length > 0)
    }
    for (const client of [...pollers, other]) client.close()
  })

  test('a frame declaring more than the whole budget is closed as a framing error', async () => {
    const raw = await RawProducer.to(broker)
    const header = Buffer.alloc(8)
    header.writeInt32BE(kBudget)
    raw.socket.write(header)
    await waitFor(() => raw.closed, 10_000, 'the oversized frame to close its connection')
    await waitFor(() => /frame of 1048576 bytes exceeds --queued-max-request-bytes 1048576/.test(broker.output()), 10_000, 'the reason in the log')
    const client = await KafkaClient.to(broker.bootstrap)
    assert.ok(await apiVersionsWorks(client))
    client.close()
    assert.doesNotMatch(broker.output(), / ERROR /)
  })
})
