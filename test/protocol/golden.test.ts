// Frames captured from real clients (kafkajs, @platformatic/kafka, kcat / librdkafka, confluent-kafka-python) and
// from Shoal's answers to them, by scripts/capture-golden.ts. Each must decode with the codec of its API and
// version, consume exactly all of its bytes, carry what the capture sent, and re-encode to the same bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { apiByKey, requestHeaderVersion, responseHeaderVersion, type ApiEntry } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader, responseHeader } from '../../src/protocol/messages/headers.ts'
import { Reader, ProtocolDecodeError } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { createBatchInfo, parseRecords, validateProducedRecords } from '../../src/protocol/record-batch.ts'

const kDir = fileURLToPath(new URL('../fixtures/golden/', import.meta.url))
const kLimits = { maxMessageBytes: 1048588, maxDecompressedBytes: 64 * 1024 * 1024 }

interface Fixture {
  readonly file: string
  readonly client: string
  readonly api: ApiEntry
  readonly version: number
  readonly direction: 'request' | 'response'
  readonly headerVersion: number
  readonly frame: Buffer
}

function kebab (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

function loadFixture (file: string): Fixture {
  const meta = new Map<string, string>()
  let hex = ''
  for (const line of readFileSync(join(kDir, file), 'utf8').split('\n')) {
    const comment = /^#\s*([a-z-]+):\s*(.*)$/.exec(line)
    if (comment !== null) meta.set(comment[1], comment[2])
    else if (!line.startsWith('#')) hex += line.trim()
  }
  assert.match(hex, /^([0-9a-f]{2})+$/, `${file}: not hex`)
  const api = apiByKey(Number(meta.get('api-key')))
  assert.ok(api !== undefined, `${file}: unknown api-key ${meta.get('api-key')}`)
  const version = Number(meta.get('api-version'))
  const direction = meta.get('direction') as 'request' | 'response'
  assert.ok(direction === 'request' || direction === 'response', `${file}: direction ${direction}`)
  const client = (meta.get('client') ?? '').split(' ')[0]
  // The file name repeats the metadata: <client>-<api>-v<version>[-response].hex
  assert.equal(file, `${client}-${kebab(api.name)}-v${version}${direction === 'response' ? '-response' : ''}.hex`)
  const headerVersion = direction === 'request' ? requestHeaderVersion(api, version) : responseHeaderVersion(api, version)
  assert.equal(Number(meta.get('header-version')), headerVersion, `${file}: header version`)
  return { file, client, api, version, direction, headerVersion, frame: Buffer.from(hex, 'hex') }
}

const fixtures = readdirSync(kDir).filter((file) => file.endsWith('.hex')).sort().map(loadFixture)

/** Decodes header and body, checking every byte is consumed; returns both. */
function decodeFixture (f: Fixture): { header: any, body: any } {
  const reader = new Reader(f.frame)
  const header = codecFor(f.direction === 'request' ? requestHeader : responseHeader, f.headerVersion).decode(reader)
  const body = (f.direction === 'request' ? f.api.request(f.version) : f.api.response(f.version)).decode(reader)
  assert.equal(reader.remaining, 0, `${f.file}: ${reader.remaining} bytes left undecoded`)
  return { header, body }
}

function reencode (f: Fixture, header: unknown, body: unknown): Buffer {
  const w = new Writer()
  codecFor(f.direction === 'request' ? requestHeader : responseHeader, f.headerVersion).encode(w, header)
  ;(f.direction === 'request' ? f.api.request(f.version) : f.api.response(f.version)).encode(w, body)
  return Buffer.from(w.toBuffer())
}

const kClientIds: Record<string, string> = {
  kafkajs: 'golden-kafkajs',
  platformatic: 'golden-platformatic',
  kcat: 'rdkafka',
  'confluent-python': 'golden-confluent-python'
}
/** The codec each client's Produce batches were written with (kafkajs gzip, kcat -z lz4). */
const kCompression: Record<string, number> = { kafkajs: 1, platformatic: 0, kcat: 3, 'confluent-python': 0 }
/** How many records each client produced in its one Produce request. */
const kRecordCounts: Record<string, number> = { kafkajs: 3, platformatic: 2, kcat: 3, 'confluent-python': 3 }

function isGoldenTopic (name: unknown): boolean {
  return typeof name === 'string' && name.startsWith('golden-')
}

function checkRecords (f: Fixture, records: Buffer, what: string): string[] {
  const values = parseRecords(records).map((r) => r.value?.toString('utf8') ?? '')
  assert.equal(values.length, kRecordCounts[f.client], `${f.file}: ${what} record count`)
  assert.ok(values.some((v) => v.includes('välue')), `${f.file}: ${what} values ${JSON.stringify(values)}`)
  return values
}

/** What the capture sent and what Shoal answered, per API. */
function spotCheck (f: Fixture, body: any): void {
  const request = f.direction === 'request'
  switch (f.api.key) {
    case 0: // Produce
      if (request) {
        assert.ok(body.acks === -1 || body.acks === 1, `${f.file}: acks ${body.acks}`)
        assert.ok(body.timeoutMs > 0)
        assert.ok(body.topicData.length > 0)
        for (const topic of body.topicData) {
          assert.ok(isGoldenTopic(topic.name), `${f.file}: topic ${topic.name}`)
          for (const partition of topic.partitionData) {
            const info = createBatchInfo()
            assert.equal(validateProducedRecords(partition.records, kLimits, info), ErrorCode.NONE, `${f.file}: batch does not validate`)
            assert.equal(info.compression, kCompression[f.client], `${f.file}: compression`)
            checkRecords(f, partition.records, 'produced')
          }
        }
      } else {
        for (const topic of body.responses) {
          assert.ok(isGoldenTopic(topic.name))
          for (const p of topic.partitionResponses) {
            assert.equal(p.errorCode, 0)
            assert.ok(p.baseOffset >= 0)
          }
        }
      }
      break
    case 1: // Fetch
      if (request) {
        assert.ok(body.topics.length > 0)
        for (const topic of body.topics) {
          if (f.version <= 12) assert.ok(isGoldenTopic(topic.topic), `${f.file}: topic ${topic.topic}`)
          else assert.notEqual(topic.topicId, '0'.repeat(32))
          for (const p of topic.partitions) assert.ok(p.fetchOffset >= 0 && p.partitionMaxBytes > 0)
        }
      } else {
        assert.equal(body.errorCode, 0)
        let fetched = 0
        for (const topic of body.responses) {
          for (const p of topic.partitions) {
            assert.equal(p.errorCode, 0)
            if (p.records !== null && p.records.length > 0) {
              checkRecords(f, p.records, 'fetched')
              fetched++
            }
          }
        }
        assert.ok(fetched > 0, `${f.file}: no records`)
      }
      break
    case 2: // ListOffsets
      for (const topic of body.topics) {
        assert.ok(isGoldenTopic(topic.name), `${f.file}: topic ${topic.name}`)
        for (const p of topic.partitions) {
          if (request) assert.ok(p.timestamp === -1 || p.timestamp === -2, `${f.file}: timestamp ${p.timestamp}`)
          else assert.equal(p.errorCode, 0)
        }
      }
      break
    case 3: // Metadata
      if (request) {
        assert.ok(body.topics === null || body.topics.every((t: any) => isGoldenTopic(t.name) || t.name === null))
      } else {
        assert.equal(body.brokers.length, 1)
        assert.equal(body.brokers[0].host, '127.0.0.1')
        assert.ok(body.topics.length > 0)
        for (const topic of body.topics) {
          assert.equal(topic.errorCode, 0, `${f.file}: ${topic.name}`)
          assert.ok(isGoldenTopic(topic.name))
          assert.ok(topic.partitions.length > 0)
        }
      }
      break
    case 18: // ApiVersions (answered by the capture proxy, so only requests are kept)
      assert.ok(request)
      if (f.version >= 3) {
        assert.ok(body.clientSoftwareName.length > 0)
        assert.ok(body.clientSoftwareVersion.length > 0)
      }
      break
    case 19: // CreateTopics
      for (const topic of body.topics) {
        assert.ok(isGoldenTopic(topic.name))
        if (request) assert.ok(topic.numPartitions === -1 || topic.numPartitions >= 1)
        else assert.equal(topic.errorCode, 0)
      }
      break
    case 20: { // DeleteTopics
      const names = request ? (f.version >= 6 ? body.topics.map((t: any) => t.name) : body.topicNames) : body.responses.map((t: any) => t.name)
      assert.ok(names.length > 0 && names.every((n: string) => n.endsWith('-deleted')), `${f.file}: ${names}`)
      if (!request) assert.ok(body.responses.every((t: any) => t.errorCode === 0))
      break
    }
    case 22: // InitProducerId
      if (request) assert.equal(body.transactionalId, null)
      else {
        assert.equal(body.errorCode, 0)
        assert.ok(body.producerId >= 0)
      }
      break
    case 37: // CreatePartitions
      if (request) assert.deepEqual(body.topics.map((t: any) => [t.name, t.count]), [['golden-platformatic-deleted', 3]])
      else assert.ok(body.results.every((r: any) => r.errorCode === 0))
      break
    default:
      assert.fail(`${f.file}: no spot check for API ${f.api.key}`)
  }
}

test('golden fixtures exist for every client, requests and responses', () => {
  for (const client of Object.keys(kClientIds)) {
    const mine = fixtures.filter((f) => f.client === client)
    assert.ok(mine.some((f) => f.direction === 'request' && f.api.key === 0), `${client}: no Produce request`)
    assert.ok(mine.some((f) => f.direction === 'request' && f.api.key === 18), `${client}: no ApiVersions request`)
    assert.ok(mine.some((f) => f.direction === 'response'), `${client}: no response`)
  }
  assert.ok(fixtures.some((f) => f.api.key === 1 && f.direction === 'response'), 'no Fetch response')
})

for (const f of fixtures) {
  test(`${f.file} decodes exactly, carries what was sent and re-encodes to the same bytes`, () => {
    const { header, body } = decodeFixture(f)
    if (f.direction === 'request') {
      assert.equal(header.requestApiKey, f.api.key)
      assert.equal(header.requestApiVersion, f.version)
      assert.equal(header.clientId, kClientIds[f.client])
    } else {
      assert.ok(header.correlationId >= 0)
    }
    spotCheck(f, body)
    const again = reencode(f, header, body)
    assert.equal(again.toString('hex'), f.frame.toString('hex'))
  })
}

test('every golden frame cut short anywhere throws ProtocolDecodeError', () => {
  for (const f of fixtures) {
    const headerCodec = codecFor(f.direction === 'request' ? requestHeader : responseHeader, f.headerVersion)
    const bodyCodec = f.direction === 'request' ? f.api.request(f.version) : f.api.response(f.version)
    for (let cut = 0; cut < f.frame.length; cut++) {
      const reader = new Reader(Buffer.from(f.frame.subarray(0, cut)))
      assert.throws(() => {
        headerCodec.decode(reader)
        bodyCodec.decode(reader)
      }, ProtocolDecodeError, `${f.file} cut at ${cut}`)
    }
  }
})
