// Topics whose compression.type names a codec: a real broker process rewrites what librdkafka (kcat) sends
// with another codec (or none) into the topic's codec, and kcat, kafkajs and confluent-kafka-python read the
// rewritten batches back. The stored batches' codec bits are read from the segment files. A compact topic
// refuses librdkafka's keyless records with INVALID_RECORD, one delivery error per record.
//
// confluent-kafka-python is driven by a short inline script (/usr/bin/python3, Debian's python3-confluent-kafka;
// PYTHON overrides it), as in confluent-kafka-python.test.ts: it prints JSON on stdout.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import kafkajs from '../helpers/kafkajs.ts'
import { run } from './processes.ts'
import { assertBrokerQuiet, assertStoredCodec, kCodecIds, type CodecName } from './records.ts'
import { compress, decompress } from '../../src/protocol/compression.ts'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = kafkajs
const kKcat = process.env.KCAT ?? 'kcat'
const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kRecords = 50

// kafkajs implements gzip only; the others decode with the broker's own codecs (as kafkajs.test.ts does).
for (const [codec, type] of [['snappy', CompressionTypes.Snappy], ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD]] as const) {
  const id = kCodecIds[codec]
  CompressionCodecs[type] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(id, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(id, buffer)
  })
}

/** [the topic's compression.type, the codec kcat produces with]: every target, each from another codec. */
const kCases: ReadonlyArray<readonly [string, CodecName]> = [
  ['gzip', 'lz4'], ['snappy', 'zstd'], ['lz4', 'none'], ['zstd', 'gzip'], ['uncompressed', 'snappy']
]

const topicFor = (type: string): string => `recompress-${type}-${process.pid}`
const storedCodecName = (type: string): CodecName => type === 'uncompressed' ? 'none' : type as CodecName
const expectedLines = (type: string): string[] =>
  Array.from({ length: kRecords }, (_, i) => `key-${i}|${type}-value-${i}-${'abcdefgh'.repeat(20)}`)

const kConsumeScript = `
import json, sys
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
bootstrap, topic, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'shoal-recompression-unused', 'enable.auto.commit': False,
                     'auto.offset.reset': 'earliest', 'fetch.wait.max.ms': 50})
consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
lines, misses = [], 0
while len(lines) < wanted and misses < 200:
    message = consumer.poll(0.2)
    if message is None:
        misses += 1
        continue
    if message.error() is not None:
        raise SystemExit(str(message.error()))
    lines.append(message.key().decode() + '|' + message.value().decode())
consumer.close()
print(json.dumps(lines))
`

const kKeylessScript = `
import json, sys
from confluent_kafka import Producer
bootstrap, topic = sys.argv[1], sys.argv[2]
errors = []
producer = Producer({'bootstrap.servers': bootstrap, 'linger.ms': 50, 'retries': 0, 'compression.type': 'lz4'})
def report(error, message):
    errors.append(None if error is None else {'code': error.name(), 'text': error.str()})
for i in range(3):
    producer.produce(topic, value=b'keyless-%d' % i, partition=0, on_delivery=report)
producer.flush(20)
print(json.dumps(errors))
`

describe('recompression through real clients', { timeout: 120_000 }, () => {
  let broker: TestBroker
  let kafka: InstanceType<typeof Kafka>

  before(async () => {
    broker = await startBroker({ workers: 2 })
    kafka = new Kafka({ clientId: 'shoal-recompression', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } })
    const admin = kafka.admin()
    await admin.connect()
    try {
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          ...kCases.map(([type]) => ({ topic: topicFor(type), numPartitions: 1, configEntries: [{ name: 'compression.type', value: type }] })),
          { topic: topicFor('compact'), numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }
        ]
      })
      assert.equal(created, true)
    } finally {
      await admin.disconnect()
    }
    for (const [type, source] of kCases) {
      await run(kKcat, ['-P', '-b', broker.bootstrap, '-t', topicFor(type), '-p', '0', '-K', '|', '-z', source, '-X', 'acks=all', '-X', 'linger.ms=20'],
        { input: expectedLines(type).join('\n') + '\n', timeoutMs: 30_000 })
    }
  })

  after(async () => { await broker?.stop() })

  test('Recompression to each codec read back by kcat, kafkajs and confluent-kafka-python', async () => {
    for (const [type] of kCases) {
      const topic = topicFor(type)
      const expected = expectedLines(type)
      // The segment files hold only batches in the topic's codec.
      assertStoredCodec(broker.dataDir, topic, 1, storedCodecName(type))

      const { stdout } = await run(kKcat, ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%k|%s\\n'], { timeoutMs: 30_000 })
      assert.deepEqual(stdout.split('\n').filter((line) => line !== ''), expected, `kcat ${type}`)

      const python = await run(kPython, ['-c', kConsumeScript, broker.bootstrap, topic, String(kRecords)], { timeoutMs: 60_000 })
      assert.deepEqual(JSON.parse(python.stdout), expected, `confluent-kafka-python ${type}`)
    }

    // kafkajs: one group member subscribed to every topic (one join, not one per topic).
    const read = new Map<string, string[]>(kCases.map(([type]) => [topicFor(type), []]))
    const consumer = kafka.consumer({ groupId: `recompression-${process.pid}`, maxWaitTimeInMs: 100 })
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [...read.keys()], fromBeginning: true })
      await consumer.run({ eachMessage: async ({ topic, message }) => { read.get(topic)?.push(`${message.key?.toString()}|${message.value?.toString()}`) } })
      await waitFor(() => [...read.values()].every((lines) => lines.length >= kRecords), 30_000, 'kafkajs reading every topic')
    } finally {
      await consumer.disconnect()
    }
    for (const [type] of kCases) assert.deepEqual(read.get(topicFor(type)), expectedLines(type), `kafkajs ${type}`)
  })

  test('librdkafka producing keyless records to a compact topic gets INVALID_RECORD for each of them', async () => {
    const { stdout } = await run(kPython, ['-c', kKeylessScript, broker.bootstrap, topicFor('compact')], { timeoutMs: 60_000 })
    const reports = JSON.parse(stdout) as Array<{ code: string, text: string } | null>
    // One batch or several (librdkafka's batching decides): each keyless record fails, none is stored.
    assert.deepEqual(reports.map((report) => report?.code ?? null), ['INVALID_RECORD', 'INVALID_RECORD', 'INVALID_RECORD'], JSON.stringify(reports))
    const { stdout: stored } = await run(kKcat, ['-C', '-b', broker.bootstrap, '-t', topicFor('compact'), '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], { timeoutMs: 30_000 })
    assert.equal(stored, '')
  })

  test('the broker logged no warning or error', () => {
    assertBrokerQuiet(broker.output())
  })
})
