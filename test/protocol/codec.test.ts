import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kApis, apiByKey, requestHeaderVersion, responseHeaderVersion } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { Reader, ProtocolDecodeError } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { inVersions, type MessageDef } from '../../src/protocol/schema.ts'
import { requestHeader, responseHeader } from '../../src/protocol/messages/headers.ts'
import { buildSample, defaultsOf, kVariants, type Variant } from '../helpers/message-samples.ts'

function encode (def: MessageDef, version: number, value: unknown): Buffer {
  const writer = new Writer(64)
  codecFor(def, version).encode(writer, value)
  return Buffer.from(writer.toBuffer())
}

function decodeAll (def: MessageDef, version: number, bytes: Buffer): any {
  const reader = new Reader(bytes)
  const value = codecFor(def, version).decode(reader)
  assert.equal(reader.remaining, 0, `${def.name} ${def.type} v${version}: ${reader.remaining} bytes left after decoding`)
  return value
}

interface Case {
  readonly label: string
  readonly def: MessageDef
  readonly version: number
}

// Every (api, version, direction) of the targeted ranges.
const cases: Case[] = []
for (const api of kApis) {
  for (let version = api.minVersion; version <= api.maxVersion; version++) {
    for (const def of [api.requestDef, api.responseDef]) {
      cases.push({ label: `${api.name} ${def.type} v${version}`, def, version })
    }
  }
}

test('every targeted version of every API exists in both of its definitions', () => {
  assert.ok(kApis.length >= 45)
  for (const api of kApis) {
    assert.ok(api.minVersion <= api.maxVersion, api.name)
    assert.equal(api.requestDef.apiKey, api.key, api.name)
    assert.equal(api.responseDef.apiKey, api.key, api.name)
    assert.equal(api.requestDef.type, 'request')
    assert.equal(api.responseDef.type, 'response')
    assert.equal(apiByKey(api.key), api)
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      assert.ok(api.hasVersion(version), `${api.name} v${version}`)
    }
  }
  // Each case below is one (api, version, direction).
  assert.ok(cases.length > 400, `only ${cases.length} cases`)
})

function roundTrip (c: Case, variant: Variant): Buffer {
  const { input, expected } = buildSample(c.def, c.version, variant)
  let bytes: Buffer
  try {
    bytes = encode(c.def, c.version, input)
  } catch (error) {
    throw new Error(`${c.label} (${variant}): encode failed: ${(error as Error).message}`)
  }
  let decoded: unknown
  try {
    decoded = decodeAll(c.def, c.version, bytes)
  } catch (error) {
    throw new Error(`${c.label} (${variant}): decode failed: ${(error as Error).message}`)
  }
  assert.deepEqual(decoded, expected, `${c.label} (${variant}): decoded value differs`)
  const again = encode(c.def, c.version, decoded)
  assert.ok(again.equals(bytes), `${c.label} (${variant}): re-encoding the decoded value changed the bytes`)
  return bytes
}

for (const variant of kVariants) {
  test(`every API version round-trips a ${variant} sample: decoded fields match, absent fields take their default, re-encoding gives the same bytes`, () => {
    for (const c of cases) roundTrip(c, variant)
  })
}

test('an encoder given an empty object writes every field as its default', () => {
  for (const c of cases) {
    const bytes = encode(c.def, c.version, {})
    assert.deepEqual(decodeAll(c.def, c.version, bytes), defaultsOf(c.def), c.label)
  }
})

test('decoding a truncated message throws ProtocolDecodeError at every cut point', () => {
  let checked = 0
  for (const c of cases) {
    const bytes = encode(c.def, c.version, buildSample(c.def, c.version, 'full').input)
    const codec = codecFor(c.def, c.version)
    for (let cut = 0; cut < bytes.length; cut++) {
      // A copy of exactly `cut` bytes, so that nothing past the cut can be read even by mistake.
      const truncated = Buffer.from(bytes.subarray(0, cut))
      assert.throws(() => codec.decode(new Reader(truncated)), ProtocolDecodeError, `${c.label} cut at ${cut} of ${bytes.length}`)
      checked++
    }
  }
  assert.ok(checked > 10_000)
})

test('a Reader bounded before the end of its buffer never reads past that end', () => {
  const produce = apiByKey(0)!
  const bytes = encode(produce.requestDef, 9, buildSample(produce.requestDef, 9, 'full').input)
  const padded = Buffer.concat([bytes, Buffer.alloc(64, 0x7f)])
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => produce.request(9).decode(new Reader(padded, 0, cut)), ProtocolDecodeError)
  }
})

test('a negative array length other than -1 is rejected', () => {
  const produce = apiByKey(0)!
  for (const length of [-2, -1000, -2147483648]) {
    const w = new Writer()
    w.nullableString(null) // transactionalId
    w.int16(1) // acks
    w.int32(1000) // timeoutMs
    w.int32(length) // topicData count
    w.raw(Buffer.alloc(32))
    assert.throws(() => produce.request(3).decode(new Reader(w.toBuffer())), (error: Error) =>
      error instanceof ProtocolDecodeError && /negative array length/.test(error.message))
  }
})

test('a null (-1) array where the version is not nullable is rejected', () => {
  const produce = apiByKey(0)!
  const w = new Writer()
  w.nullableString(null)
  w.int16(1)
  w.int32(1000)
  w.int32(-1)
  assert.throws(() => produce.request(3).decode(new Reader(w.toBuffer())), ProtocolDecodeError)
  // Compact form: length 0 means null.
  const c = new Writer()
  c.compactNullableString(null)
  c.int16(1)
  c.int32(1000)
  c.unsignedVarint(0)
  c.unsignedVarint(0)
  assert.throws(() => produce.request(9).decode(new Reader(c.toBuffer())), ProtocolDecodeError)
})

test('an array count larger than the bytes remaining is rejected before anything is allocated', () => {
  const produce = apiByKey(0)!
  const metadata = apiByKey(3)!
  for (const count of [2147483647, 100_000_000, 9]) {
    const w = new Writer()
    w.nullableString(null)
    w.int16(1)
    w.int32(1000)
    w.int32(count)
    w.raw(Buffer.alloc(8))
    assert.throws(() => produce.request(3).decode(new Reader(w.toBuffer())), (error: Error) =>
      error instanceof ProtocolDecodeError && new RegExp(`array of ${count} in 8 bytes`).test(error.message))
  }
  // Compact (flexible) arrays: count + 1 as an unsigned varint, here 2^32 - 2 elements.
  const c = new Writer()
  c.unsignedVarint(0xffffffff)
  c.raw(Buffer.alloc(4))
  assert.throws(() => metadata.request(12).decode(new Reader(c.toBuffer())), (error: Error) =>
    error instanceof ProtocolDecodeError && /array of 4294967294 in 4 bytes/.test(error.message))
  // A primitive array ([]int32 replica nodes) too.
  const r = new Writer()
  r.int32(0) // throttle
  r.int32(0) // brokers
  r.nullableString(null) // cluster id
  r.int32(1) // controller
  r.int32(1) // topics
  r.int16(0)
  r.nullableString('t')
  r.bool(false)
  r.int32(1) // partitions
  r.int16(0)
  r.int32(0)
  r.int32(1)
  r.int32(0) // leader epoch
  r.int32(1_000_000) // replica nodes
  assert.throws(() => metadata.response(7).decode(new Reader(r.toBuffer())), /array of 1000000/)
})

test('negative string and bytes lengths other than -1 are rejected', () => {
  const w = new Writer()
  w.int16(-2)
  assert.throws(() => new Reader(w.toBuffer()).nullableString(), ProtocolDecodeError)
  const b = new Writer()
  b.int32(-7)
  assert.throws(() => new Reader(b.toBuffer()).nullableBytes(), ProtocolDecodeError)
})

test('unknown tagged fields are skipped at the top level of every flexible version', () => {
  let checked = 0
  for (const c of cases) {
    if (!inVersions(c.def.flexibleVersions, c.version)) continue
    // In the mixed sample no tagged field is set, so the message ends with the top level's tag count 0.
    const { input, expected } = buildSample(c.def, c.version, 'mixed')
    const bytes = encode(c.def, c.version, input)
    assert.equal(bytes[bytes.length - 1], 0, c.label)
    const tags = new Writer()
    tags.unsignedVarint(2)
    tags.unsignedVarint(9000) // unknown tag, 2-byte varint
    tags.unsignedVarint(5)
    tags.raw(Buffer.from([1, 2, 3, 4, 5]))
    tags.unsignedVarint(9001)
    tags.unsignedVarint(0)
    const withUnknown = Buffer.concat([bytes.subarray(0, -1), tags.toBuffer()])
    assert.deepEqual(decodeAll(c.def, c.version, withUnknown), expected, c.label)
    checked++
  }
  assert.ok(checked > 100)
})

test('unknown tagged fields inside nested structs are skipped, and known ones among them are read', () => {
  const apiVersions = apiByKey(18)!
  const w = new Writer()
  w.int16(0) // errorCode
  w.unsignedVarint(2) // apiKeys: 1 element
  w.int16(3)
  w.int16(4)
  w.int16(12)
  w.unsignedVarint(1) // the element's tagged fields: one unknown
  w.unsignedVarint(4)
  w.unsignedVarint(3)
  w.raw(Buffer.from('xyz'))
  w.int32(25) // throttleTimeMs
  w.unsignedVarint(3) // top level: unknown 7, finalizedFeaturesEpoch (1), unknown 130
  w.unsignedVarint(7)
  w.unsignedVarint(1)
  w.int8(9)
  w.unsignedVarint(1)
  w.unsignedVarint(8)
  w.int64(2 ** 40)
  w.unsignedVarint(130)
  w.unsignedVarint(200)
  w.raw(Buffer.alloc(200, 0xee))
  const decoded = decodeAll(apiVersions.responseDef, 3, w.toBuffer())
  assert.deepEqual(decoded.apiKeys, [{ apiKey: 3, minVersion: 4, maxVersion: 12 }])
  assert.equal(decoded.throttleTimeMs, 25)
  assert.equal(decoded.finalizedFeaturesEpoch, 2 ** 40)
  assert.deepEqual(decoded.supportedFeatures, [])
  assert.equal(decoded.zkMigrationReady, false)
})

test('a tagged field whose size runs past the message is rejected', () => {
  const apiVersions = apiByKey(18)!
  const w = new Writer()
  w.compactNullableString('a')
  w.compactNullableString('b')
  w.unsignedVarint(1)
  w.unsignedVarint(5)
  w.unsignedVarint(100)
  w.raw(Buffer.alloc(10))
  assert.throws(() => apiVersions.request(3).decode(new Reader(w.toBuffer())), ProtocolDecodeError)
})

test('tagged fields are written in tag order and only when they differ from their default', () => {
  const apiVersions = apiByKey(18)!
  const codec = apiVersions.response(3)
  const plain = encode(apiVersions.responseDef, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: -1, zkMigrationReady: false })
  assert.equal(plain.toString('hex'), '0000' + '01' + '00000000' + '00')
  const tagged = encode(apiVersions.responseDef, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, zkMigrationReady: true, finalizedFeaturesEpoch: 5 })
  assert.equal(tagged.toString('hex'), '0000' + '01' + '00000000' + '02' + '0108' + '0000000000000005' + '0301' + '01')
  assert.equal(codec.decode(new Reader(tagged)).zkMigrationReady, true)
})

test('records given as a vector of buffers are written as one field and decode as a view of the frame', () => {
  const produce = apiByKey(0)!
  const big = Buffer.alloc(3000, 0xab)
  const small = Buffer.from('tail')
  for (const version of [3, 9]) {
    const w = new Writer()
    produce.request(version).encode(w, { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 0, records: [big, small] }] }] })
    // The large buffer is referenced, not copied.
    assert.ok(w.chunks.includes(big))
    const frame = w.toBuffer()
    const decoded = produce.request(version).decode(new Reader(frame))
    const records: Buffer = decoded.topicData[0].partitionData[0].records
    assert.ok(records.equals(Buffer.concat([big, small])))
    assert.equal(records.buffer, frame.buffer, 'records are a view into the frame')
  }
})

test('a null in a non-nullable field is refused by the encoder', () => {
  const metadata = apiByKey(3)!
  assert.throws(() => encode(metadata.requestDef, 4, { topics: [{ name: null }] }), TypeError)
  // Metadata request topics are nullable from v1 only.
  assert.throws(() => encode(metadata.requestDef, 0, { topics: null }), TypeError)
  assert.equal(decodeAll(metadata.requestDef, 4, encode(metadata.requestDef, 4, { topics: null })).topics, null)
  // Nullable in 10+: a null topic name is written.
  const bytes = encode(metadata.requestDef, 10, { topics: [{ topicId: 'ab'.repeat(16), name: null }] })
  assert.equal(decodeAll(metadata.requestDef, 10, bytes).topics[0].name, null)
})

// ---- headers ------------------------------------------------------------------------------------------------

test('request header v1 writes a classic int16-length client id', () => {
  const bytes = encode(requestHeader, 1, { requestApiKey: 3, requestApiVersion: 9, correlationId: 7, clientId: 'kä' })
  assert.equal(bytes.toString('hex'), '0003' + '0009' + '00000007' + '0003' + Buffer.from('kä').toString('hex'))
  assert.deepEqual(decodeAll(requestHeader, 1, bytes), { requestApiKey: 3, requestApiVersion: 9, correlationId: 7, clientId: 'kä' })
  const nullId = encode(requestHeader, 1, { requestApiKey: 0, requestApiVersion: 3, correlationId: -1, clientId: null })
  assert.equal(nullId.toString('hex'), '0000' + '0003' + 'ffffffff' + 'ffff')
  assert.equal(decodeAll(requestHeader, 1, nullId).clientId, null)
})

test('request header v2 keeps the client id non-compact and adds a tagged-field section', () => {
  const bytes = encode(requestHeader, 2, { requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'rdkafka' })
  assert.equal(bytes.toString('hex'), '0012' + '0003' + '00000001' + '0007' + Buffer.from('rdkafka').toString('hex') + '00')
  assert.deepEqual(decodeAll(requestHeader, 2, bytes), { requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'rdkafka' })
  const nullId = encode(requestHeader, 2, { requestApiKey: 1, requestApiVersion: 12, correlationId: 2, clientId: null })
  assert.equal(nullId.toString('hex'), '0001' + '000c' + '00000002' + 'ffff' + '00')
  // A long client id keeps its int16 length (a compact length would be a varint).
  const long = 'c'.repeat(300)
  const longBytes = encode(requestHeader, 2, { requestApiKey: 1, requestApiVersion: 12, correlationId: 2, clientId: long })
  assert.equal(longBytes.readInt16BE(8), 300)
  assert.equal(longBytes.length, 8 + 2 + 300 + 1)
  // Unknown header tags are skipped.
  const withTags = Buffer.concat([bytes.subarray(0, -1), Buffer.from([1, 5, 2, 0xaa, 0xbb])])
  assert.equal(decodeAll(requestHeader, 2, withTags).clientId, 'rdkafka')
})

test('request header v0 has no client id', () => {
  const bytes = encode(requestHeader, 0, { requestApiKey: 7, requestApiVersion: 0, correlationId: 3, clientId: 'ignored' })
  assert.equal(bytes.toString('hex'), '0007000000000003')
  assert.equal(decodeAll(requestHeader, 0, bytes).clientId, '')
})

test('response header v0 is the correlation id; v1 adds a tagged-field section', () => {
  assert.equal(encode(responseHeader, 0, { correlationId: 0x01020304 }).toString('hex'), '01020304')
  assert.equal(encode(responseHeader, 1, { correlationId: -2 }).toString('hex'), 'fffffffe00')
  assert.deepEqual(decodeAll(responseHeader, 1, Buffer.from('0000002a00', 'hex')), { correlationId: 42 })
  assert.deepEqual(decodeAll(responseHeader, 1, Buffer.from('0000002a0103020102', 'hex')), { correlationId: 42 })
})

test('a truncated request or response header throws ProtocolDecodeError at every cut point', () => {
  const headers: Array<[MessageDef, number, object]> = [
    [requestHeader, 0, { requestApiKey: 1, requestApiVersion: 4, correlationId: 9 }],
    [requestHeader, 1, { requestApiKey: 1, requestApiVersion: 4, correlationId: 9, clientId: 'cliënt' }],
    [requestHeader, 2, { requestApiKey: 1, requestApiVersion: 12, correlationId: 9, clientId: 'cliënt' }],
    [responseHeader, 0, { correlationId: 9 }],
    [responseHeader, 1, { correlationId: 9 }]
  ]
  for (const [def, version, value] of headers) {
    const bytes = encode(def, version, value)
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => codecFor(def, version).decode(new Reader(Buffer.from(bytes.subarray(0, cut)))), ProtocolDecodeError, `${def.name} v${version} cut at ${cut}`)
    }
  }
})

test('header versions follow each API version\'s flexibility, and ApiVersions always answers with header v0', () => {
  const produce = apiByKey(0)!
  assert.equal(requestHeaderVersion(produce, 8), 1)
  assert.equal(requestHeaderVersion(produce, 9), 2)
  assert.equal(responseHeaderVersion(produce, 8), 0)
  assert.equal(responseHeaderVersion(produce, 9), 1)
  const apiVersions = apiByKey(18)!
  assert.equal(requestHeaderVersion(apiVersions, 2), 1)
  assert.equal(requestHeaderVersion(apiVersions, 3), 2)
  assert.equal(responseHeaderVersion(apiVersions, 3), 0)
  assert.equal(responseHeaderVersion(apiVersions, 4), 0)
  for (const api of kApis) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      const flexible = inVersions(api.requestDef.flexibleVersions, version)
      assert.equal(requestHeaderVersion(api, version), flexible ? 2 : 1, `${api.name} v${version}`)
    }
  }
})
