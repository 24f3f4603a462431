// Request generation from the project's own message definitions (src/protocol/messages/*.ts): for any API and
// any version of its request definition, a random value object is built by walking the fields the way the codec
// does (nulls only where nullableVersions allow them, arrays from empty to large within a byte budget, numbers
// at their type's extremes, strings empty, unicode, long, names drawn from small pools so that requests meet
// existing topics and groups), then encoded by the project's codec behind a request header.
//
// Two kinds of frame come out of `generateFrame`:
//   well-formed  encoded by codecFor(def, version) exactly; the project's decoder accepts every one
//                (test/scripts/fuzz-generator.test.ts checks it for every API and version)
//   loose        the same values through a LooseWriter, which writes what the real Writer refuses (strings over
//                32767 bytes) and makes one length prefix or count lie (0x7fffffff, -2, a huge varint), and/or
//                unknown tagged fields in the flexible body. The broker must refuse these without harm.
// Bit-level damage (truncation, flips, lying frame sizes) is the mutator's job (mutator.ts).
import { kApis, requestHeaderVersion, type ApiEntry } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { inVersions, parseVersions, type FieldDef, type MessageDef } from '../../src/protocol/schema.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { invalidBatch, validBatch } from './records.ts'
import type { Prng } from './prng.ts'

export const kTopicPool = ['fuzz-a', 'fuzz-b', 'fuzz-c', 'fuzz-d', 'fuzz-e', 'fuzz-f', '__consumer_offsets']
export const kGroupPool = ['fuzz-group-0', 'fuzz-group-1', 'fuzz-group-2', 'fuzz-group-3']
const kConfigNames = [
  'cleanup.policy', 'retention.ms', 'retention.bytes', 'segment.bytes', 'segment.ms', 'max.message.bytes',
  'message.timestamp.type', 'compression.type', 'min.insync.replicas', 'unknown.config', ''
]
const kConfigValues = ['1', '0', '-1', '14', '1048576', '9223372036854775807', '-9223372036854775808', 'delete',
  'compact', 'LogAppendTime', 'zstd', 'abc', '', '1e3', ' 12 ']
const kUnicode = ['ω', 'ключ', '日本語', '🐟', '\u0000', '\uffff', 'é']

const kInt: Record<string, readonly number[]> = {
  int8: [-128, 127, -1, 0, 1],
  int16: [-32768, 32767, -1, 0, 1],
  uint16: [0, 65535, 1],
  int32: [-(2 ** 31), 2 ** 31 - 1, -1, 0, 1, -2],
  uint32: [0, 2 ** 32 - 1, 2 ** 31],
  // 2^63 and beyond are written as the int64 bounds by the Writer.
  int64: [-1, 0, 1, -2, -3, -4, 2 ** 31 - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 2 ** 62, 2 ** 63, -(2 ** 63), Number.MAX_SAFE_INTEGER],
  float64: [Number.NaN, Infinity, -Infinity, -0, 1e308, 5e-324]
}
const kIntRange: Record<string, [number, number]> = {
  int8: [-128, 127], int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1]
}

/** Fields whose values would make the broker wait (legitimately) or fill memory and disk: kept tame. */
const kTameInts: Record<string, readonly number[]> = {
  maxWaitMs: [0, 0, 1, 50, 200, -1, -(2 ** 31)],
  rebalanceTimeoutMs: [-1, 0, 100, 1000, 3000],
  sessionTimeoutMs: [-1, 0, 100, 1000, 3000, 5000, 2 ** 31 - 1],
  numPartitions: [-1, 1, 1, 2, 3, 4],
  count: [-1, 1, 2, 3, 4, 8],
  replicationFactor: [-1, 1, 1, 0, 2],
  acks: [-1, 1, 1, -1, 0, 2, -2],
  partitionIndex: [0, 0, 1, 2, 3],
  partition: [0, 0, 1, 2, 3],
  index: [0, 0, 1, 2, 3],
  producerId: [-1, -1, 0, 1, 2 ** 40],
  transactionTimeoutMs: [-1, 0, 60_000, 2 ** 31 - 1]
}
/** Extremes the tame fields still see, rarely (the broker must refuse them). */
const kTameExtremes: Record<string, readonly number[]> = {
  numPartitions: [0, -2, 2 ** 31 - 1, -(2 ** 31), 20000, 100000],
  count: [0, -2, 2 ** 31 - 1, -(2 ** 31), 20000, 100000],
  replicationFactor: [32767, -32768],
  acks: [32767, -32768]
}

export interface GenerateOptions {
  /** Approximate bytes one request may take (arrays and strings stop growing past it). */
  budget: number
  /** Produce a loose frame (lies the codec would refuse); well-formed otherwise. */
  loose: boolean
}

export interface GeneratedFrame {
  /** The whole frame: int32 size, header, body. */
  readonly bytes: Buffer
  readonly apiKey: number
  readonly version: number
  readonly correlationId: number
  /** False for Produce with acks=0 (the broker sends nothing back). */
  readonly expectsResponse: boolean
  /** 'valid' or what the loose writer did ('string 40001 bytes', 'count lie 0x7fffffff at #3', ...). */
  readonly what: string
}

interface Walk {
  readonly rng: Prng
  readonly def: MessageDef
  readonly version: number
  readonly flexible: boolean
  readonly loose: boolean
  spent: number
  readonly budget: number
  /** Loose only: strings longer than 32767 bytes put in. */
  oversize: number
}

function structFields (walk: Walk, field: FieldDef, typeName: string): readonly FieldDef[] {
  if (field.fields !== undefined) return field.fields
  const common = walk.def.commonStructs?.find((s) => s.name === typeName)
  if (common === undefined) throw new Error(`${walk.def.name}: unknown struct ${typeName}`)
  return common.fields
}

function randomInt (walk: Walk, type: string, name: string): number {
  const rng = walk.rng
  const tame = kTameInts[name]
  if (tame !== undefined) {
    const extremes = kTameExtremes[name]
    if (extremes !== undefined && rng.chance(0.05)) return rng.pick(extremes)
    return rng.pick(tame)
  }
  if (rng.chance(0.4)) return rng.pick(kInt[type])
  if (type === 'float64') return (rng.next() - 0.5) * 1e6
  if (type === 'int64') return rng.chance(0.5) ? rng.int(-10, 1000) : rng.int(0, 2 ** 31) * rng.int(1, 2 ** 21)
  const [low, high] = kIntRange[type]
  return rng.chance(0.6) ? Math.min(high, Math.max(low, rng.int(-5, 100))) : rng.int(low, high)
}

function randomText (walk: Walk, length: number): string {
  const rng = walk.rng
  if (rng.chance(0.5)) return 'x'.repeat(length)
  let out = ''
  while (Buffer.byteLength(out) < length) out += rng.chance(0.3) ? rng.pick(kUnicode) : String.fromCharCode(rng.int(0x20, 0x7e))
  return out
}

/** A string: pools for names that reach state, else empty, short, unicode or long (up to 32767 bytes; loose: 40k). */
function randomString (walk: Walk, field: FieldDef, structName: string): string {
  const rng = walk.rng
  const name = field.name
  const pooled = rng.chance(0.85)
  if (pooled) {
    if (/config/i.test(structName) && name === 'name') return rng.pick(kConfigNames)
    if (/config/i.test(structName) && name === 'value') return rng.pick(kConfigValues)
    if (/^(name|topic|topicName)$/.test(name) && !/group|member|broker|listener|feature/i.test(structName)) return rng.chance(0.97) ? rng.pick(kTopicPool) : `fuzz-r${rng.int(0, 31)}`
    if (/^(groupId|groupIds|key|keys|coordinatorKeys)$/.test(name)) return rng.chance(0.9) ? rng.pick(kGroupPool) : `fuzz-group-r${rng.int(0, 63)}`
    if (name === 'memberId') return rng.chance(0.6) ? '' : `member-${rng.int(0, 9)}`
    if (name === 'resourceName') return rng.chance(0.7) ? rng.pick(kTopicPool) : rng.pick(['1', ''])
  }
  const choice = rng.int(0, 9)
  if (choice <= 2) return ''
  if (choice <= 6) return randomText(walk, rng.int(1, 24))
  // Long strings count against the budget.
  if (walk.loose && rng.chance(0.5)) {
    const length = rng.int(32768, 40_000)
    walk.spent += length
    walk.oversize++
    return 'y'.repeat(length)
  }
  const length = Math.max(0, Math.min(rng.pick([255, 256, 1000, 16_383, 16_384, 32_767]), walk.budget - walk.spent))
  walk.spent += length
  const prefix = randomText(walk, Math.min(length, 40))
  return prefix + 'z'.repeat(Math.max(0, length - Buffer.byteLength(prefix)))
}

function randomUuid (walk: Walk): string {
  const rng = walk.rng
  if (rng.chance(0.3)) return '0'.repeat(32)
  if (rng.chance(0.1)) return 'f'.repeat(32)
  return rng.bytes(16).toString('hex')
}

function randomPrimitive (walk: Walk, field: FieldDef, type: string, nullable: boolean, structName: string): unknown {
  const rng = walk.rng
  switch (type) {
    case 'bool': return rng.chance(0.5)
    case 'uuid': return randomUuid(walk)
    case 'string':
      if (nullable && rng.chance(0.2)) return null
      return randomString(walk, field, structName)
    case 'bytes': {
      if (nullable && rng.chance(0.2)) return null
      const length = rng.pick([0, 1, 8, 100, 1000, 16_384])
      walk.spent += length
      return rng.bytes(Math.min(length, Math.max(0, walk.budget - walk.spent)))
    }
    case 'records': {
      if (nullable && rng.chance(0.1)) return null
      if (rng.chance(0.05)) return Buffer.alloc(0)
      const batch = rng.chance(0.6) ? validBatch(rng) : invalidBatch(rng).batch
      walk.spent += batch.length
      return batch
    }
    default: return randomInt(walk, type, field.name)
  }
}

function arrayLength (walk: Walk): number {
  const rng = walk.rng
  if (walk.spent >= walk.budget) return 0
  const roll = rng.next()
  if (roll < 0.25) return 0
  if (roll < 0.6) return 1
  if (roll < 0.95) return rng.int(2, 4)
  return rng.int(100, 3000)
}

function randomField (walk: Walk, field: FieldDef, structName: string): unknown {
  const nullable = inVersions(field.nullableVersions, walk.version)
  const type = field.type
  if (type.startsWith('[]')) {
    if (nullable && walk.rng.chance(0.15)) return null
    const elementType = type.slice(2)
    const count = arrayLength(walk)
    const out: unknown[] = []
    if (kPrimitives.has(elementType)) {
      for (let i = 0; i < count && walk.spent < walk.budget; i++) {
        walk.spent += 4
        out.push(randomPrimitive(walk, field, elementType, false, structName))
      }
      return out
    }
    const fields = structFields(walk, field, elementType)
    for (let i = 0; i < count && walk.spent < walk.budget; i++) {
      walk.spent += 8
      out.push(randomStruct(walk, fields, elementType))
    }
    return out
  }
  if (kPrimitives.has(type)) return randomPrimitive(walk, field, type, nullable, structName)
  if (nullable && walk.rng.chance(0.2)) return null
  return randomStruct(walk, structFields(walk, field, type), type)
}

const kPrimitives = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'uuid', 'string', 'bytes', 'records'])

function randomStruct (walk: Walk, fields: readonly FieldDef[], structName: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of fields) {
    if (!inVersions(field.versions, walk.version)) continue
    // Tagged fields: present or left out (the codec writes those that differ from their default).
    if (field.tag !== undefined && inVersions(field.taggedVersions, walk.version) && walk.rng.chance(0.5)) continue
    out[field.name] = randomField(walk, field, structName)
  }
  return out
}

/** A random request value of `def` at `version`. */
export function randomValue (rng: Prng, def: MessageDef, version: number, options: GenerateOptions): { value: Record<string, unknown>, oversize: number } {
  const walk: Walk = { rng, def, version, flexible: inVersions(def.flexibleVersions, version), loose: options.loose, spent: 0, budget: options.budget, oversize: 0 }
  const value = randomStruct(walk, def.fields, def.name)
  return { value, oversize: walk.oversize }
}

// ---- loose writing -----------------------------------------------------------------------------------------

/**
 * A Writer that writes strings of any length (compact ones with their real length, classic ones with an int16
 * length that wraps) and makes the `lieAt`-th length prefix or count it writes a lie.
 */
class LooseWriter extends Writer {
  prefixes = 0
  lieAt: number
  lie: number
  lied = ''

  constructor (lieAt: number, lie: number) {
    super()
    this.lieAt = lieAt
    this.lie = lie
  }

  #maybeLie (compact: boolean): boolean {
    if (this.prefixes++ !== this.lieAt) return false
    if (compact) {
      // A huge varint, or a count of 2^31-1 + 1.
      this.unsignedVarint(this.lie === -2 ? 0xffffffff : (this.lie >>> 0) % 0x100000000)
    } else {
      this.int32(this.lie)
    }
    this.lied = `prefix lie ${this.lie} at #${this.lieAt}`
    return true
  }

  override arrayLength (count: number, compact: boolean): void {
    if (!this.#maybeLie(compact)) super.arrayLength(count, compact)
  }

  override nullableString (value: string | null): void {
    if (value === null || Buffer.byteLength(value) <= 0x7fff) {
      super.nullableString(value)
      return
    }
    const bytes = Buffer.from(value)
    this.int16((bytes.length << 16) >> 16)
    this.raw(bytes)
  }

  override compactNullableString (value: string | null): void {
    if (value === null || Buffer.byteLength(value) <= 0x7fff) {
      super.compactNullableString(value)
      return
    }
    const bytes = Buffer.from(value)
    this.unsignedVarint(bytes.length + 1)
    this.raw(bytes)
  }

  override nullableBytes (value: Buffer | Buffer[] | null, compact: boolean): void {
    if (!this.#maybeLie(compact)) super.nullableBytes(value, compact)
  }
}

/** Unknown tagged fields: count, then (tag, size, bytes) with tags that no definition uses. */
function unknownTags (rng: Prng): Buffer {
  const w = new Writer(64)
  const count = rng.int(1, 4)
  w.unsignedVarint(count)
  for (let i = 0; i < count; i++) {
    w.unsignedVarint(rng.pick([1000, 5000, 2 ** 31, 0xfffffffe, rng.int(20, 200)]))
    const size = rng.pick([0, 1, 4, 64])
    w.unsignedVarint(size)
    w.raw(rng.bytes(size))
  }
  return w.toBuffer()
}

function encodeHeader (rng: Prng, writer: Writer, api: ApiEntry, version: number, correlationId: number): void {
  const clientId = rng.chance(0.8) ? 'fuzz' : rng.pick([null, '', 'ключ-🐟', 'c'.repeat(1000)])
  codecFor(requestHeader, requestHeaderVersion(api, version)).encode(writer, {
    requestApiKey: api.key, requestApiVersion: version, correlationId, clientId
  })
}

/** Every (API, version) of the request definitions, for tests and for `--apis` filtering. */
export function allApiVersions (): Array<{ api: ApiEntry, version: number }> {
  const out: Array<{ api: ApiEntry, version: number }> = []
  for (const api of kApis) {
    const [low, high] = parseVersions(api.requestDef.validVersions)
    for (let version = low; version <= high; version++) if (api.hasVersion(version)) out.push({ api, version })
  }
  return out
}

function isProduceWithoutAnswer (api: ApiEntry, value: Record<string, unknown>): boolean {
  return api.key === 0 && value.acks === 0
}

/**
 * One frame for `api` at `version`. Well-formed frames are encoded by the project's codec; when it refuses a
 * value (it should not: the walk respects its limits), the frame is regenerated with a smaller budget.
 */
export function generateFrame (rng: Prng, api: ApiEntry, version: number, correlationId: number, options: GenerateOptions): GeneratedFrame {
  for (let attempt = 0; ; attempt++) {
    // A refused value (a long string in a tagged field, which the codec writes with a plain Writer) is tried
    // again smaller, and in the end well-formed.
    const budget = attempt === 0 ? options.budget : 256
    const loose = options.loose && attempt < 2
    const { value, oversize } = randomValue(rng, api.requestDef, version, { loose, budget })
    const flexible = inVersions(api.requestDef.flexibleVersions, version)
    const lying = loose && (oversize === 0 || rng.chance(0.3))
    const writer = loose
      ? new LooseWriter(lying ? rng.int(0, 6) : -1, rng.pick([0x7fffffff, -2, 0x7ffffffe, -0x80000000, 1000, 0x10000]))
      : new Writer()
    try {
      writer.startFrame()
      encodeHeader(rng, writer, api, version, correlationId)
      api.request(version).encode(writer, value)
    } catch (error) {
      if (attempt < 3) continue
      throw error
    }
    let bytes = Buffer.concat(writer.finishFrame())
    let what = 'valid'
    if (writer instanceof LooseWriter) {
      const parts: string[] = []
      if (oversize > 0) parts.push(`${oversize} string(s) > 32767 bytes`)
      if (writer.lied !== '') parts.push(writer.lied)
      // Unknown tagged fields at the end of a flexible body whose own tagged section is empty.
      if (flexible && bytes[bytes.length - 1] === 0 && rng.chance(0.5)) {
        bytes = Buffer.concat([bytes.subarray(0, bytes.length - 1), unknownTags(rng)])
        bytes.writeInt32BE(bytes.length - 4, 0)
        parts.push('unknown tagged fields')
      }
      what = parts.length > 0 ? parts.join(', ') : 'loose (nothing lied)'
    }
    return { bytes, apiKey: api.key, version, correlationId, expectsResponse: !isProduceWithoutAnswer(api, value), what }
  }
}
