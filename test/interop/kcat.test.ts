// kcat (librdkafka) against a real broker process: metadata (-L), produce (-P) with every codec and acks value,
// consume (-C -e) of every partition, and offset queries (-Q), checked byte for byte.
//
// kcat reads delimited text and prints JSON strings, so the record set is printable ASCII (no '|' or newline):
// each input line is `key|value` (-K '|'), a line without '|' has a null key. -H sets the headers of every
// record of one kcat run, so each partition's records share that partition's headers. kcat cannot create
// topics; the broker runs with --default-partitions so that kcat's first metadata request auto-creates the
// topic with several partitions (librdkafka producers ask for auto-creation).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { run } from './processes.ts'
import {
  assertBrokerQuiet, assertSameRecords, assertStoredCodec, kAcks, kCodecs, makeRecordSet, topicName,
  type CodecName, type ReadRecord, type TestRecord
} from './records.ts'

const kKcat = process.env.KCAT ?? 'kcat'
const kPartitions = 4

async function requireKcat (): Promise<void> {
  const { stdout, stderr } = await run(kKcat, ['-V'], { allowFailure: true, timeoutMs: 10_000 }).catch((error: Error) => {
    throw new Error(`kcat is required by the interop tests (Debian/Ubuntu: apt-get install kcat): ${error.message}`)
  })
  assert.match(stdout + stderr, /librdkafka/, 'kcat -V names its librdkafka')
}

/** The headers kcat gives every record of partition `partition` (-H applies to a whole run). */
function partitionHeaders (tag: string, partition: number): Array<[string, Buffer]> {
  return [['trace', Buffer.from(tag)], ['dup', Buffer.from('first')], ['dup', Buffer.from('second')], ['partition', Buffer.from(String(partition))], ['empty', Buffer.alloc(0)]]
}

function textRecordSet (tag: string, partitions: number): TestRecord[][] {
  return makeRecordSet({ partitions, tag, text: true }).map((records, partition) =>
    records.map((record) => ({ ...record, headers: partitionHeaders(tag, partition) })))
}

async function produce (broker: TestBroker, topic: string, partition: number, records: TestRecord[], codec: string, acks: number): Promise<void> {
  const lines = records.map((record) => {
    const value = record.value.toString('latin1')
    assert.ok(!value.includes('|') && !value.includes('\n'))
    return record.key === null ? value : `${record.key.toString('latin1')}|${value}`
  })
  const headers = records[0].headers.flatMap(([name, value]) => ['-H', `${name}=${value.toString('latin1')}`])
  await run(kKcat, [
    '-P', '-b', broker.bootstrap, '-t', topic, '-p', String(partition), '-K', '|', '-z', codec,
    '-X', `acks=${acks}`, ...headers
  ], { input: lines.join('\n') + '\n' })
}

/** Next offsets of every partition, from `kcat -Q` (ListOffsets with timestamp -1). */
async function endOffsets (broker: TestBroker, topic: string, partitions: number): Promise<number[]> {
  const args = ['-Q', '-J', '-b', broker.bootstrap]
  for (let partition = 0; partition < partitions; partition++) args.push('-t', `${topic}:${partition}:-1`)
  const { stdout } = await run(kKcat, args)
  const result = JSON.parse(stdout) as Record<string, Record<string, { partition: number, offset: number, err?: string }>>
  const entries = result[topic]
  assert.ok(entries, `kcat -Q printed no entry for ${topic}: ${stdout}`)
  return Array.from({ length: partitions }, (_, partition) => {
    const entry = entries[String(partition)]
    assert.ok(entry !== undefined && entry.err === undefined, `kcat -Q ${topic}:${partition}: ${JSON.stringify(entry)}`)
    return entry.offset
  })
}

interface KcatMessage { partition: number, offset: number, key: string | null, payload: string | null, headers?: string[] }

/** Consumes every partition from the beginning to its end with `kcat -C -e -J` (assign, no group). */
async function consumeAll (broker: TestBroker, topic: string, partitions: number): Promise<ReadRecord[][]> {
  const { stdout } = await run(kKcat, ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-J', '-q'], { timeoutMs: 30_000 })
  const result: ReadRecord[][] = Array.from({ length: partitions }, () => [])
  for (const line of stdout.split('\n')) {
    if (line === '') continue
    const message = JSON.parse(line) as KcatMessage
    const headers = message.headers ?? []
    const pairs: Array<[string, Buffer]> = []
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], Buffer.from(headers[i + 1] ?? '', 'latin1')])
    assert.ok(message.partition < partitions, `record from partition ${message.partition}`)
    result[message.partition].push({
      offset: message.offset,
      key: message.key === null ? null : Buffer.from(message.key, 'latin1'),
      value: Buffer.from(message.payload ?? '', 'latin1'),
      headers: pairs
    })
  }
  return result
}

async function roundTrip (broker: TestBroker, topic: string, partitions: number, codec: CodecName, acks: number): Promise<void> {
  const set = textRecordSet(topic, partitions)
  // The first run auto-creates the topic; the other partitions are produced in parallel.
  await produce(broker, topic, 0, set[0], codec, acks)
  await Promise.all(set.slice(1).map((records, index) => produce(broker, topic, index + 1, records, codec, acks)))
  const counts = set.map((records) => records.length)
  if (acks === 0) {
    await waitFor(async () => (await endOffsets(broker, topic, partitions)).every((offset, p) => offset === counts[p]), 20_000, 'all acks=0 records')
  }
  assert.deepEqual(await endOffsets(broker, topic, partitions), counts, 'end offsets')
  assertSameRecords(set, await consumeAll(broker, topic, partitions), `kcat ${codec} acks=${acks}`)
  // librdkafka sends a batch uncompressed when compression would not shrink it (a lone small record that
  // was read before the rest of stdin), so only "at least one batch per partition" is certain.
  assertStoredCodec(broker.dataDir, topic, partitions, codec, true)
}

describe('kcat against a 2-worker broker', () => {
  let broker: TestBroker

  before(async () => {
    await requireKcat()
    broker = await startBroker({ workers: 2, args: ['--default-partitions', String(kPartitions)] })
  })

  after(async () => {
    await broker?.stop()
  })

  test('kcat -L lists the broker, and a topic with its partitions and leaders', async () => {
    const topic = topicName('kcat', 'metadata', 'na')
    await produce(broker, topic, 0, textRecordSet(topic, 1)[0].slice(0, 1), 'none', -1)
    const { stdout } = await run(kKcat, ['-L', '-J', '-b', broker.bootstrap, '-t', topic])
    const metadata = JSON.parse(stdout) as {
      controllerid: number
      brokers: Array<{ id: number, name: string }>
      topics: Array<{ topic: string, error?: string, partitions: Array<{ partition: number, leader: number, replicas: Array<{ id: number }>, isrs: Array<{ id: number }> }> }>
    }
    assert.equal(metadata.brokers.length, 1)
    assert.equal(metadata.brokers[0].name, broker.bootstrap)
    assert.equal(metadata.controllerid, metadata.brokers[0].id)
    assert.equal(metadata.topics.length, 1)
    assert.equal(metadata.topics[0].topic, topic)
    assert.equal(metadata.topics[0].error, undefined)
    const partitions = [...metadata.topics[0].partitions].sort((a, b) => a.partition - b.partition)
    assert.deepEqual(partitions.map((p) => p.partition), [0, 1, 2, 3])
    for (const partition of partitions) {
      assert.equal(partition.leader, metadata.brokers[0].id)
      assert.deepEqual(partition.replicas, [{ id: metadata.brokers[0].id }])
      assert.deepEqual(partition.isrs, [{ id: metadata.brokers[0].id }])
    }
  })

  for (const codec of kCodecs) {
    for (const acks of kAcks) {
      test(`records produced with ${codec} and acks=${acks} consume back byte-identical at offsets from 0`, async () => {
        await roundTrip(broker, topicName('kcat', codec, acks), kPartitions, codec, acks)
      })
    }
  }

  test('an idempotent librdkafka producer appends every record once', async () => {
    const topic = topicName('kcat', 'idempotent', -1)
    const set = textRecordSet(topic, 1)
    const lines = set[0].map((record) => record.key === null ? record.value.toString('latin1') : `${record.key.toString('latin1')}|${record.value.toString('latin1')}`)
    const headers = set[0][0].headers.flatMap(([name, value]) => ['-H', `${name}=${value.toString('latin1')}`])
    await run(kKcat, ['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-K', '|', '-z', 'zstd', '-X', 'enable.idempotence=true', ...headers], { input: lines.join('\n') + '\n' })
    const all = await consumeAll(broker, topic, kPartitions)
    assertSameRecords(set, all.slice(0, 1), 'kcat idempotent')
    assert.deepEqual(all.slice(1).map((records) => records.length), [0, 0, 0])
  })

  test('the broker closed no kcat connection and logged no error', () => {
    assertBrokerQuiet(broker.output())
  })
})

describe('kcat against a 3-worker broker', () => {
  test('records spread over six partitions on three workers consume back byte-identical', async () => {
    await requireKcat()
    const broker = await startBroker({ workers: 3, args: ['--default-partitions', '6'] })
    try {
      await roundTrip(broker, topicName('kcat', 'snappy', -1, '-w3'), 6, 'snappy', -1)
      assertBrokerQuiet(broker.output())
    } finally {
      await broker.stop()
    }
  })
})
