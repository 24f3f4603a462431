// confluent-kafka-python (librdkafka) against a real broker process: AdminClient.create_topics and
// list_topics, a Producer for every codec and acks value and an idempotent one, and a Consumer that reads
// with assign(). The client side is test/interop/fixtures/confluent_roundtrip.py (it documents its input
// and output); this file feeds it the shared record set and compares what it read back, byte for byte.
//
// It runs /usr/bin/python3 (Debian's python3-confluent-kafka), not the `python3` on PATH, which may be
// another interpreter without the module; PYTHON overrides it.
//
// A confluent-kafka Consumer cannot be made without group.id. With group.id set, librdkafka 2.0.2 looks up
// the group coordinator (FindCoordinator v2) even when it only uses assign() and never commits; it does not
// join the group or fetch or commit offsets. The test checks that from librdkafka's protocol debug log.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { run } from './processes.ts'
import {
  assertBrokerQuiet, assertSameRecords, assertStoredCodec, kAcks, kCodecs, makeRecordSet, topicName,
  type CodecName, type ReadRecord, type TestRecord
} from './records.ts'

const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kScript = fileURLToPath(new URL('fixtures/confluent_roundtrip.py', import.meta.url))
const kPartitions = 4
/** What a consumer that only uses assign() has no business sending. */
const kGroupMembershipApis = ['JoinGroup', 'SyncGroup', 'Heartbeat', 'LeaveGroup', 'OffsetCommit', 'OffsetFetch']

async function requireConfluentKafka (): Promise<void> {
  const { stdout } = await run(kPython, ['-c', 'import confluent_kafka; print(confluent_kafka.version()[0], confluent_kafka.libversion()[0])'], { timeoutMs: 20_000 })
    .catch((error: Error) => {
      throw new Error(`${kPython} with confluent_kafka is required by the interop tests (Debian/Ubuntu: apt-get install python3-confluent-kafka): ${error.message}`)
    })
  assert.match(stdout, /^\d+\.\d+\S* \d+\.\d+/, `confluent_kafka version and librdkafka version: ${stdout}`)
}

interface ScriptRecord { offset: number, key: string | null, value: string | null, headers: Array<[string, string | null]> }
interface ScriptOutput {
  created: boolean
  metadata: null | {
    brokers: Array<{ id: number, host: string, port: number }>
    controller: number
    error: string | null
    partitions: Array<{ id: number, leader: number, replicas: number[], isrs: number[], error: string | null }>
  }
  delivered: Array<{ partition: number, offset: number, error: string | null }>
  watermarks: Array<[number, number]>
  consumed: ScriptRecord[][]
  logs: string[]
}

function encodeInput (set: TestRecord[][]): string {
  return JSON.stringify({
    partitions: set.map((records) => records.map((record) => ({
      key: record.key === null ? null : record.key.toString('base64'),
      value: record.value.toString('base64'),
      headers: record.headers.map(([name, value]) => [name, value.toString('base64')])
    })))
  })
}

function decodeRead (consumed: ScriptRecord[][]): ReadRecord[][] {
  const bytes = (text: string | null): Buffer | null => text === null ? null : Buffer.from(text, 'base64')
  return consumed.map((records) => records.map((record) => ({
    offset: record.offset,
    key: bytes(record.key),
    // librdkafka gives an empty value as b'' and a null one as None; the record set has no null values.
    value: bytes(record.value) ?? Buffer.alloc(0),
    headers: record.headers.map(([name, value]) => [name, bytes(value) ?? Buffer.alloc(0)])
  })))
}

async function roundTrip (broker: TestBroker, topic: string, set: TestRecord[][], codec: CodecName, acks: number | 'all', flags: string[] = []): Promise<ScriptOutput> {
  const { stdout } = await run(kPython, [kScript, broker.bootstrap, topic, codec, String(acks), '--timeout', '40', ...flags], { input: encodeInput(set), timeoutMs: 50_000 })
  return JSON.parse(stdout) as ScriptOutput
}

/** The requests the consumer sent, by API name, from librdkafka's `debug=protocol` log lines. */
function consumerRequests (logs: string[]): Set<string> {
  const apis = new Set<string>()
  for (const line of logs) {
    const match = /rdkafka#consumer-\d+.*Sent (\w+)Request/.exec(line)
    if (match !== null) apis.add(match[1])
  }
  return apis
}

function checkMetadata (output: ScriptOutput, broker: TestBroker, partitions: number): void {
  assert.equal(output.created, true)
  const metadata = output.metadata
  assert.ok(metadata !== null)
  assert.deepEqual(metadata.brokers.map((b) => [b.host, b.port]), [[broker.host, broker.port]])
  const id = metadata.brokers[0].id
  assert.equal(metadata.controller, id)
  assert.equal(metadata.error, null)
  assert.deepEqual(metadata.partitions, Array.from({ length: partitions }, (_, p) => ({ id: p, leader: id, replicas: [id], isrs: [id], error: null })))
}

/** Delivery reports: no errors, and (acks != 0) offsets `from[p]`, `from[p]`+1, … in each partition. */
function checkDelivered (output: ScriptOutput, set: TestRecord[][], acks: number | 'all', from: number[] = set.map(() => 0)): void {
  assert.equal(output.delivered.length, set.reduce((sum, records) => sum + records.length, 0), 'delivery reports')
  assert.deepEqual(output.delivered.filter((d) => d.error !== null), [], 'delivery errors')
  if (acks === 0) return // librdkafka reports no offsets without acknowledgements
  for (let partition = 0; partition < set.length; partition++) {
    const offsets = output.delivered.filter((d) => d.partition === partition).map((d) => d.offset).sort((a, b) => a - b)
    assert.deepEqual(offsets, set[partition].map((_, index) => from[partition] + index), `delivered offsets of partition ${partition}`)
  }
}

function checkConsumerApis (output: ScriptOutput): void {
  const apis = consumerRequests(output.logs)
  assert.ok(apis.has('Fetch'), `the consumer fetched (requests seen: ${[...apis].join(', ')})`)
  for (const api of kGroupMembershipApis) assert.ok(!apis.has(api), `an assign()-only consumer sent ${api} (requests seen: ${[...apis].join(', ')})`)
}

describe('confluent-kafka-python against a 2-worker broker', () => {
  let broker: TestBroker

  before(async () => {
    await requireConfluentKafka()
    broker = await startBroker({ workers: 2 })
  })

  after(async () => {
    await broker?.stop()
  })

  for (const codec of kCodecs) {
    for (const acks of kAcks) {
      test(`records produced with ${codec} and acks=${acks} consume back byte-identical at offsets from 0`, async () => {
        const topic = topicName('python', codec, acks)
        const set = makeRecordSet({ partitions: kPartitions, tag: topic })
        const output = await roundTrip(broker, topic, set, codec, acks)
        checkMetadata(output, broker, kPartitions)
        checkDelivered(output, set, acks)
        assert.deepEqual(output.watermarks, set.map((records) => [0, records.length]), 'watermarks')
        assertSameRecords(set, decodeRead(output.consumed), `confluent-kafka-python ${codec} acks=${acks}`)
        assertStoredCodec(broker.dataDir, topic, kPartitions, codec, true)
        checkConsumerApis(output)
      })
    }
  }

  test('two idempotent producers in turn append every record once, at contiguous offsets', async () => {
    const topic = topicName('python', 'idempotent', 'all')
    const first = makeRecordSet({ partitions: kPartitions, tag: `${topic}-1` })
    const second = makeRecordSet({ partitions: kPartitions, tag: `${topic}-2` })
    const one = await roundTrip(broker, topic, first, 'zstd', 'all', ['--idempotent'])
    checkDelivered(one, first, 'all')
    assertSameRecords(first, decodeRead(one.consumed), 'first idempotent run')
    const two = await roundTrip(broker, topic, second, 'lz4', 'all', ['--idempotent', '--no-create'])
    checkDelivered(two, second, 'all', first.map((records) => records.length))
    const expected = first.map((records, p) => [...records, ...second[p]])
    assert.deepEqual(two.watermarks, expected.map((records) => [0, records.length]), 'watermarks')
    assertSameRecords(expected, decodeRead(two.consumed), 'second idempotent run')
    checkConsumerApis(two)
  })

  test('the broker closed no librdkafka connection and logged no error', () => {
    assertBrokerQuiet(broker.output())
  })
})

describe('confluent-kafka-python against a 3-worker broker', () => {
  test('records spread over six partitions on three workers consume back byte-identical', async () => {
    await requireConfluentKafka()
    const broker = await startBroker({ workers: 3 })
    try {
      const topic = topicName('python', 'gzip', 'all', '-w3')
      const set = makeRecordSet({ partitions: 6, tag: topic })
      const output = await roundTrip(broker, topic, set, 'gzip', 'all')
      checkMetadata(output, broker, 6)
      checkDelivered(output, set, 'all')
      assertSameRecords(set, decodeRead(output.consumed), 'confluent-kafka-python 3 workers')
      assertStoredCodec(broker.dataDir, topic, 6, 'gzip', true)
      assertBrokerQuiet(broker.output())
    } finally {
      await broker.stop()
    }
  })
})
