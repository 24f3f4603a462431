// Hostile input against a real broker process. Each attack runs on a connection of its own; the broker must
// close (or answer) that connection, name the reason in its log, and keep serving: two well-behaved clients,
// connected before the first attack (one per worker), produce and fetch in a loop the whole time, and each
// attack waits for both of them to complete more round trips after it.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { createTopic, fetchRecords, KafkaClient, kProduceVersion, produce } from '../helpers/kafka-client.ts'
import { apiByKey, kApis, requestHeaderVersion } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { Writer } from '../../src/protocol/writer.ts'

const kTopic = 'steady'
const kGarbageTopic = 'garbage'

/** Produces and fetches back in a loop, checking every round trip, until stopped. */
class SteadyClient {
  readonly client: KafkaClient
  readonly partition: number
  roundTrips = 0
  error: Error | null = null
  readonly acknowledged: Array<{ offset: number, value: string }> = []
  #stopped = false
  #done: Promise<void> | null = null

  constructor (client: KafkaClient, partition: number) {
    this.client = client
    this.partition = partition
  }

  start (): void {
    this.#done = this.#run().catch((error: Error) => { this.error = error })
  }

  async #run (): Promise<void> {
    for (let round = 0; !this.#stopped; round++) {
      const values = [`p${this.partition}-r${round}-a`, `p${this.partition}-r${round}-b`]
      const result = await produce(this.client, kTopic, this.partition, values)
      if (result.errorCode !== 0) throw new Error(`produce failed with ${result.errorCode}`)
      const fetched = await fetchRecords(this.client, kTopic, this.partition, result.baseOffset)
      assert.deepEqual(fetched.slice(0, 2), values.map((value, i) => ({ offset: result.baseOffset + i, value })))
      values.forEach((value, i) => this.acknowledged.push({ offset: result.baseOffset + i, value }))
      this.roundTrips++
    }
  }

  /** Waits until `count` more round trips than now have completed. */
  async advance (count: number): Promise<void> {
    const target = this.roundTrips + count
    await waitFor(() => {
      if (this.error !== null) throw this.error
      return this.roundTrips >= target
    }, 20_000, `partition ${this.partition} client to make progress`)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    await this.#done
    if (this.error !== null) throw this.error
  }
}

/** A request frame: size, header (for `apiKey`/`version`, in the header version the broker expects), body. */
function frame (apiKey: number, version: number, body: Buffer, correlationId = 7): Buffer {
  const api = apiByKey(apiKey)
  const writer = new Writer()
  writer.startFrame()
  if (api === undefined) {
    writer.int16(apiKey)
    writer.int16(version)
    writer.int32(correlationId)
    writer.nullableString('hostile')
  } else {
    codecFor(requestHeader, requestHeaderVersion(api, version)).encode(writer, { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'hostile' })
  }
  writer.raw(body)
  return Buffer.concat(writer.finishFrame())
}

function int32 (value: number): Buffer {
  const buffer = Buffer.alloc(4)
  buffer.writeInt32BE(value)
  return buffer
}

/** Deterministic pseudo-random bytes (mulberry32), so that a failure can be replayed. */
function pseudoRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomBytes (next: () => number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buffer[i] = Math.floor(next() * 256)
  return buffer
}

describe('hostile frames against a running broker', () => {
  let broker: TestBroker
  let steady: SteadyClient[]
  let logChecked = 0

  before(async () => {
    broker = await startBroker({ workers: 2 })
    const admin = await KafkaClient.to(broker.bootstrap)
    await createTopic(admin, kTopic, 2)
    await createTopic(admin, kGarbageTopic, 1)
    admin.close()
    // The acceptor hands connections to the worker with the fewest: these two land on different workers.
    steady = [new SteadyClient(await KafkaClient.to(broker.bootstrap), 0), new SteadyClient(await KafkaClient.to(broker.bootstrap), 1)]
    for (const client of steady) client.start()
    for (const client of steady) await client.advance(1)
  })

  after(async () => {
    try {
      await checkSteadyClients()
    } finally {
      await broker?.stop()
    }
    if (broker !== undefined) assert.doesNotMatch(broker.output(), / ERROR /, `the broker logged an error:\n${broker.output()}`)
  })

  async function checkSteadyClients (): Promise<void> {
    if (steady !== undefined) {
      for (const client of steady) await client.stop()
      // Every acknowledged record is still there, once, at its offset.
      const reader = await KafkaClient.to(broker.bootstrap)
      for (const client of steady) {
        const all = await fetchRecords(reader, kTopic, client.partition)
        assert.deepEqual(all.map((record) => record.offset), all.map((_, index) => index))
        for (const record of client.acknowledged) assert.deepEqual(all[record.offset], record)
        assert.equal(all.length, client.acknowledged.length)
        client.client.close()
      }
      reader.close()
    }
  }

  /**
   * Opens a fresh connection, writes `bytes` (then half-closes when `end`), and waits for the broker to close
   * it. Then checks that the log names `reason`, the broker is alive, and both steady clients progress.
   */
  async function attack (bytes: Buffer, reason: RegExp | null, options: { end?: boolean } = {}): Promise<void> {
    const client = await KafkaClient.to(broker.bootstrap)
    client.sendBytes(bytes)
    if (options.end === true) client.socket.end()
    await waitFor(() => client.isClosed, 10_000, 'the broker to close the hostile connection')
    await expectAlive(reason)
  }

  async function expectAlive (reason: RegExp | null): Promise<void> {
    if (reason !== null) {
      await waitFor(() => reason.test(broker.output().slice(logChecked)), 10_000, `a log line matching ${reason}`)
      logChecked = broker.output().length
    }
    assert.equal(broker.process.exitCode, null, `the broker exited:\n${broker.output()}`)
    for (const client of steady) await client.advance(2)
  }

  test('a frame size of 2^31 - 1 closes the connection', async () => {
    await attack(int32(0x7fffffff), /closing connection .*: bad frame size 2147483647/)
  })

  test('a frame size just above --max-frame-bytes closes the connection', async () => {
    await attack(int32(100 * 1024 * 1024 + 1), /bad frame size 104857601/)
  })

  test('a negative frame size closes the connection', async () => {
    await attack(int32(-1), /bad frame size -1 /)
    await attack(int32(-0x80000000), /bad frame size -2147483648/)
  })

  test('a frame size of 3 (smaller than any header) closes the connection', async () => {
    await attack(Buffer.concat([int32(3), Buffer.from([0, 18, 0])]), /bad frame size 3 /)
  })

  test('a size of 8 with a header cut before its client id closes the connection', async () => {
    const bytes = Buffer.concat([int32(8), Buffer.from([0, 18, 0, 0, 0, 0, 0, 1])])
    await attack(bytes, /undecodable ApiVersions v0 request/)
  })

  test('a truncated body followed by the client closing is dropped quietly', async () => {
    const whole = frame(3, 12, encodeBody(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }))
    await attack(whole.subarray(0, whole.length - 3), null, { end: true })
    // A size prefix announcing far more than is ever sent, then the end of the stream.
    await attack(Buffer.concat([int32(1 << 20), Buffer.alloc(1000, 1)]), null, { end: true })
  })

  /**
   * Sends `body` behind a valid header of `apiKey`/`version` on a fresh connection and expects the API's error
   * response with INVALID_REQUEST (the request could not be decoded), the connection still open, a warning
   * in the log naming the reason, and the broker alive.
   */
  async function expectInvalidRequest (apiKey: number, version: number, body: Buffer, reason: RegExp): Promise<void> {
    const client = await KafkaClient.to(broker.bootstrap)
    const response = await client.request(apiKey, version, body)
    const codes = JSON.stringify(response).match(/"errorCode":-?\d+/g) ?? []
    assert.ok(codes.length > 0 && codes.every((code) => code === `"errorCode":${ErrorCode.INVALID_REQUEST}`), JSON.stringify(response))
    // The connection goes on serving.
    assert.equal((await client.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })).errorCode, ErrorCode.NONE)
    client.close()
    await expectAlive(reason)
  }

  test('an array count of -5 in a Metadata request closes the connection (Metadata v8 has no error field to fill)', async () => {
    // Metadata v8 (not flexible): topics is an int32 count, then three booleans.
    await attack(frame(3, 8, Buffer.concat([int32(-5), Buffer.from([1, 0, 0])])), /invalid Metadata v8 request .*: negative array length -5/)
  })

  test('an array count of 2^30 in a Metadata request closes the connection before allocating', async () => {
    await attack(frame(3, 8, Buffer.concat([int32(1 << 30), Buffer.from([1, 0, 0])])), /invalid Metadata v8 request .*: array of 1073741824 in 3 bytes/)
    // The same in a flexible version: a compact (varint, count + 1) array length.
    const writer = new Writer()
    writer.unsignedVarint((1 << 30) + 1)
    writer.raw(Buffer.from([1, 0, 0]))
    await attack(frame(3, 12, writer.toBuffer()), /invalid Metadata v12 request .*: array of 1073741824 in 3 bytes/)
  })

  test('a Heartbeat whose group id runs past the frame is answered with INVALID_REQUEST', async () => {
    // Heartbeat v3 (not flexible): group id claims 30000 bytes.
    const body = Buffer.concat([Buffer.from([0x75, 0x30]), Buffer.from('short')])
    await expectInvalidRequest(12, 3, body, /invalid Heartbeat v3 request .*: need 30000 bytes/)
    // A compact (v4) group id of 40000 bytes: beyond Kafka's 32767-byte strings, refused at decode.
    const writer = new Writer()
    writer.unsignedVarint(40001)
    writer.raw(Buffer.alloc(40000, 0x61))
    writer.int32(1)
    writer.unsignedVarint(2)
    writer.raw(Buffer.from('m'))
    writer.unsignedVarint(0)
    writer.unsignedVarint(0)
    await expectInvalidRequest(12, 4, writer.toBuffer(), /invalid Heartbeat v4 request .*: string of 40000 bytes exceeds 32767/)
  })

  test('a string length past the end of a Metadata frame closes the connection', async () => {
    // One topic whose name claims 30000 bytes.
    const body = Buffer.concat([int32(1), Buffer.from([0x75, 0x30]), Buffer.from('short'), Buffer.from([1, 0, 0])])
    await attack(frame(3, 8, body), /invalid Metadata v8 request .*: need 30000 bytes/)
  })

  test('a truncated Produce body closes the connection (its acks, and so whether it has a response, are unknown)', async () => {
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('never appended') }])
    const body = encodeBody(0, kProduceVersion, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: kTopic, partitionData: [{ index: 0, records: batch }] }] })
    await attack(frame(0, kProduceVersion, body.subarray(0, body.length - 20)), new RegExp(`Produce v${kProduceVersion} failed with INVALID_REQUEST and has no response to carry it`))
  })

  test('a well-framed Produce whose record batch is garbage is answered with a partition error', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('corrupted in flight') }])
    batch[batch.length - 3] ^= 0xff // the CRC no longer matches
    const crc = await produce(client, kGarbageTopic, 0, batch)
    assert.equal(crc.errorCode, ErrorCode.CORRUPT_MESSAGE)
    const cut = await produce(client, kGarbageTopic, 0, batch.subarray(0, 40))
    assert.notEqual(cut.errorCode, ErrorCode.NONE)
    const noise = await produce(client, kGarbageTopic, 0, randomBytes(pseudoRandom(1), 200))
    assert.notEqual(noise.errorCode, ErrorCode.NONE)
    // The connection stays usable.
    assert.equal((await produce(client, kGarbageTopic, 0, ['after the garbage'])).errorCode, ErrorCode.NONE)
    client.close()
    await expectAlive(null)
  })

  test('well-formed requests with out-of-range values are answered with errors, not closed', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('v') }])
    assert.equal((await produce(client, kGarbageTopic, -1, batch)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    assert.equal((await produce(client, kGarbageTopic, 0x7fffffff, batch)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    assert.equal((await produce(client, 'no-such-topic', 0, batch)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    assert.equal((await produce(client, kGarbageTopic, 0, batch, { acks: 2 })).errorCode, ErrorCode.INVALID_REQUIRED_ACKS)
    // Produce v3+ takes exactly one batch per partition.
    assert.equal((await produce(client, kGarbageTopic, 0, Buffer.concat([batch, batch]))).errorCode, ErrorCode.INVALID_RECORD)
    assert.equal((await produce(client, kGarbageTopic, 0, buildRecordBatch([]))).errorCode, ErrorCode.INVALID_RECORD)
    const fetch = (partition: number, fetchOffset: number) => client.request(1, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: -1, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: kGarbageTopic, partitions: [{ partition, fetchOffset, partitionMaxBytes: -1, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    }).then((response) => response.responses[0].partitions[0].errorCode)
    assert.equal(await fetch(-1, 0), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    assert.equal(await fetch(0, -5), ErrorCode.OFFSET_OUT_OF_RANGE)
    assert.equal(await fetch(0, 2 ** 53), ErrorCode.OFFSET_OUT_OF_RANGE)
    assert.equal(await fetch(0, 0), ErrorCode.NONE)
    assert.equal(client.isClosed, false)
    client.close()
    await expectAlive(null)
  })

  test('an unknown API key closes the connection', async () => {
    await attack(frame(9999, 0, Buffer.alloc(0)), /unknown or unimplemented API key 9999/)
    await attack(frame(-1, 0, Buffer.alloc(0)), /unknown or unimplemented API key -1/)
  })

  test('a known but unimplemented API key closes the connection', async (t) => {
    // An API the project has message definitions for but this broker has no handler for (ApiVersions omits it).
    const client = await KafkaClient.to(broker.bootstrap)
    const advertised = new Set((await client.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })).apiKeys.map((k: any) => k.apiKey))
    client.close()
    const unimplemented = kApis.find((api) => !advertised.has(api.key))
    if (unimplemented === undefined) {
      t.skip('every API with message definitions has a handler')
      return
    }
    await attack(frame(unimplemented.key, unimplemented.minVersion, Buffer.alloc(16)), new RegExp(`unknown or unimplemented API key ${unimplemented.key}\\b`))
  })

  test('ApiVersions v99 is answered in v0 with UNSUPPORTED_VERSION and the key list, and the connection stays open', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    const response = await client.request(18, 99, Buffer.alloc(0), { responseVersion: 0 })
    assert.equal(response.errorCode, ErrorCode.UNSUPPORTED_VERSION)
    const apiVersions = response.apiKeys.find((k: any) => k.apiKey === 18)
    assert.deepEqual(apiVersions, { apiKey: 18, minVersion: 0, maxVersion: 4 })
    // A negative version is unsupported the same way.
    const negative = await client.request(18, -1, Buffer.alloc(0), { responseVersion: 0 })
    assert.equal(negative.errorCode, ErrorCode.UNSUPPORTED_VERSION)
    // The client retries with a version from the list, on the same connection, and gets the same list.
    const supported = await client.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })
    assert.equal(supported.errorCode, ErrorCode.NONE)
    assert.deepEqual(response.apiKeys, supported.apiKeys)
    assert.deepEqual(negative.apiKeys, supported.apiKeys)
    assert.equal(client.isClosed, false)
    client.close()
    await expectAlive(null)
  })

  test('Metadata v99 (a version the definitions do not know) closes the connection', async () => {
    await attack(frame(3, 99, Buffer.alloc(4)), /unsupported Metadata version 99/)
  })

  test('Metadata v1 (below the served range, no error field to fill) closes the connection', async () => {
    await attack(frame(3, 1, int32(-1)), /Metadata v1 failed with UNSUPPORTED_VERSION, which its response cannot carry/)
  })

  test('Heartbeat v99 (a version the definitions do not know) closes the connection', async () => {
    await attack(frame(12, 99, Buffer.alloc(4)), /unsupported Heartbeat version 99/)
  })

  test('random garbage closes the connection', async () => {
    const next = pseudoRandom(20260101)
    for (let round = 0; round < 12; round++) {
      const bytes = randomBytes(next, 1 + Math.floor(next() * 600))
      // Without the half close, a garbage size prefix that happens to be plausible would wait for more bytes.
      await attack(bytes, null, { end: true })
    }
  })

  test('random bodies behind valid headers of every served API are answered or closed', async () => {
    const next = pseudoRandom(77)
    const served = [0, 1, 2, 3, 18, 19, 20, 22, 37, 60]
    for (const apiKey of served) {
      const api = apiByKey(apiKey)!
      for (const version of [api.minVersion, api.maxVersion]) {
        const client = await KafkaClient.to(broker.bootstrap)
        let answered = false
        client.socket.once('data', () => { answered = true })
        client.sendBytes(frame(apiKey, version, randomBytes(next, 1 + Math.floor(next() * 200))))
        // Answered (a frame comes back) or closed: either way the broker must not hang on it.
        await waitFor(() => answered || client.isClosed, 5_000, `an answer to a random ${api.name} v${version}`)
        client.close()
      }
    }
    await expectAlive(null)
  })

  test('valid requests with a few bytes flipped are answered or close their connection', async () => {
    const next = pseudoRandom(4242)
    const batch = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('mutant') }, { key: null, value: Buffer.from('mutant 2') }])
    // Requests whose mutants cannot create or delete anything big (no CreateTopics, CreatePartitions, DeleteTopics)
    // or park on the connection (no Fetch: a mutated maxWaitMs long-polls).
    const seeds: Array<[number, number, object]> = [
      [0, 3, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: kGarbageTopic, partitionData: [{ index: 0, records: batch }] }] }],
      [0, 11, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: kGarbageTopic, partitionData: [{ index: 0, records: batch }] }] }],
      [3, 8, { topics: [{ name: kGarbageTopic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }],
      [3, 12, { topics: [{ topicId: '0'.repeat(32), name: kGarbageTopic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }],
      [2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: kGarbageTopic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }], timeoutMs: 1000 }],
      [18, 3, { clientSoftwareName: 'mutant', clientSoftwareVersion: '1.0' }],
      [22, 4, { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }]
    ]
    let answered = 0
    let closed = 0
    for (const [apiKey, version, body] of seeds) {
      const clean = encodeBody(apiKey, version, body)
      for (let round = 0; round < 8; round++) {
        const mutant = Buffer.from(clean)
        for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) mutant[Math.floor(next() * mutant.length)] = Math.floor(next() * 256)
        const client = await KafkaClient.to(broker.bootstrap)
        // The mutant's own answer may legitimately never come (a Produce turned into acks=0); a well-formed request
        // behind it must be answered, in order, unless the broker closed the connection.
        client.request(apiKey, version, mutant).catch(() => {})
        const probe: { answered: boolean | null } = { answered: null }
        client.request(18, 3, { clientSoftwareName: 'probe', clientSoftwareVersion: '1' }).then(() => { probe.answered = true }, () => { probe.answered = false })
        await waitFor(() => probe.answered !== null, 10_000, `an answer or a close after a mutated ${apiByKey(apiKey)!.name} v${version}`)
        if (probe.answered === true) answered++
        else closed++
        client.close()
      }
    }
    assert.equal(answered + closed, seeds.length * 8)
    // With this seed both outcomes occur (42 answered, 14 closed when written).
    assert.ok(answered > 0 && closed > 0, `answered ${answered}, closed ${closed}`)
    await expectAlive(null)
  })
})

function encodeBody (apiKey: number, version: number, body: object): Buffer {
  const writer = new Writer()
  apiByKey(apiKey)!.request(version).encode(writer, body)
  return writer.toBuffer()
}

describe('framing: a request stream cut at arbitrary bytes', () => {
  let broker: TestBroker

  before(async () => {
    broker = await startBroker({ workers: 1 })
  })

  after(async () => {
    await broker?.stop()
  })

  // The broker reads into 256 KiB arenas and hands frames on as views: frames cut anywhere, frames larger
  // than an arena and several frames in one read must all come out whole and be answered in order.
  test('produce frames from 3 B to 700 KiB written in pieces of 1 B to 200 KiB are all stored whole', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    await createTopic(client, 'framing', 1)
    const next = pseudoRandom(42)
    const recordsPerBatch = [1, 300, 1, 700, 5, 2, 260, 1]
    const batches = recordsPerBatch.map((count, batch) => Array.from({ length: count }, (_, i) =>
      `b${batch}-r${i}-`.padEnd(count === 1 ? 3 + batch : 1000, String.fromCharCode(97 + ((batch + i) % 26)))))

    // Encode every request through the client, but hold the bytes back to write them in pieces ourselves.
    const socket = client.socket
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean
    const held: Buffer[] = []
    socket.write = ((chunk: Buffer) => { held.push(Buffer.from(chunk)); return true }) as typeof socket.write
    const answers = batches.map((values) => produce(client, 'framing', 0, values, { acks: 1 }))
    socket.write = write as typeof socket.write
    const stream = Buffer.concat(held)
    assert.ok(stream.length > 1_000_000)

    // Cut inside every frame's size field and header, and at pseudo-random points between (1 B to 200 KiB apart).
    const cuts = new Set<number>()
    for (let start = 0; start < stream.length; start += 4 + stream.readInt32BE(start)) {
      for (const delta of [1, 3, 4, 5, 9]) cuts.add(start + delta)
    }
    for (let offset = 0; offset < stream.length;) {
      offset += 1 + Math.floor(next() * (next() < 0.5 ? 7 : 200 * 1024))
      cuts.add(offset)
    }
    const ordered = [...cuts].filter((cut) => cut < stream.length).sort((a, b) => a - b)
    ordered.push(stream.length)
    let offset = 0
    for (const cut of ordered) {
      const flushed = write(stream.subarray(offset, cut))
      offset = cut
      if (!flushed) await new Promise((resolve) => socket.once('drain', resolve))
      else await new Promise((resolve) => setImmediate(resolve))
    }

    const results = await Promise.all(answers)
    let expectedOffset = 0
    for (let i = 0; i < results.length; i++) {
      assert.equal(results[i].errorCode, 0, `batch ${i}: ${results[i].errorMessage}`)
      assert.equal(results[i].baseOffset, expectedOffset)
      expectedOffset += batches[i].length
    }
    const stored = await fetchRecords(client, 'framing', 0)
    assert.deepEqual(stored.map((record) => record.value), batches.flat())
    client.close()
    assert.doesNotMatch(broker.output(), / (WARN|ERROR) /)
  })

  test('a 12 MiB frame arriving in pieces is read whole (its arena grows) and answered; the connection goes on', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    await createTopic(client, 'huge', 1)
    const values = Array.from({ length: 12 * 1024 }, (_, i) => `h${i}-`.padEnd(1024, 'z'))
    const socket = client.socket
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean
    const held: Buffer[] = []
    socket.write = ((chunk: Buffer) => { held.push(Buffer.from(chunk)); return true }) as typeof socket.write
    const answer = produce(client, 'huge', 0, values, { acks: 1 })
    socket.write = write as typeof socket.write
    const stream = Buffer.concat(held)
    assert.ok(stream.length > 12 * 1024 * 1024)
    for (let offset = 0; offset < stream.length; offset += 300_000) {
      if (!write(stream.subarray(offset, offset + 300_000))) await new Promise((resolve) => socket.once('drain', resolve))
    }
    // Larger than message.max.bytes (1 MiB by default): refused, but only after the whole frame was read.
    assert.equal((await answer).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
    const after = await produce(client, 'huge', 0, ['still here'], { acks: 1 })
    assert.deepEqual([after.errorCode, after.baseOffset], [0, 0])
    client.close()
  })
})

describe('read arenas are reused only once their requests are answered', () => {
  let broker: TestBroker

  before(async () => {
    // The smallest rings: parts for the other worker queue behind a full ring as references to the arena.
    broker = await startBroker({ workers: 2, args: ['--ring-bytes', '4096'] })
  })

  after(async () => {
    await broker?.stop()
  })

  // Hundreds of produce requests in flight on one connection, acks=-1 (held until an fsync) and acks=1 mixed,
  // to partitions of both workers (one served in place, one through a ring too small to take them at once):
  // arenas fill and move on while requests framed in them still wait. An arena reused while still referenced
  // would send other bytes to the owner.
  test('every record of 300 pipelined produce requests is stored as sent', async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    await createTopic(client, 'reused', 2)
    const sent: string[][] = [[], []]
    const answers: Array<Promise<{ errorCode: number }>> = []
    for (let i = 0; i < 300; i++) {
      const partition = i % 2
      const values = Array.from({ length: 1 + (i % 7) * 40 }, (_, j) => `r${i}-${j}-`.padEnd(100 + (i % 5) * 300, String.fromCharCode(97 + (i % 26))))
      sent[partition].push(...values)
      answers.push(produce(client, 'reused', partition, values, { acks: i % 3 === 0 ? 1 : -1 }))
    }
    for (const answer of await Promise.all(answers)) assert.equal(answer.errorCode, 0)
    for (const partition of [0, 1]) {
      const stored = await fetchRecords(client, 'reused', partition)
      assert.equal(stored.length, sent[partition].length)
      assert.deepEqual(stored.map((record) => record.value), sent[partition])
    }
    client.close()
  })
})

