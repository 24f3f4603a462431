// Builds sample values of a message definition (src/protocol/schema.ts) for one version, for codec tests.
//
// `buildSample(def, version, variant)` walks the definition the way the wire format does and returns:
//   input     what is given to the encoder: every field of the definition, including the ones the version does
//             not have (set to non-default garbage, which the encoder must skip); tagged fields are set to
//             non-default values (so that they are written) or, in the `mixed` variant, left out
//   expected  what the decoder must return: the same values for the fields the version has, and the field's
//             default (worked out here from the definition, not by the codec) for the rest
// Variants:
//   full    arrays of 2 elements, no nulls, every tagged field set
//   sparse  arrays of 1 element, null in every nullable field, every tagged field set
//   mixed   array lengths cycle 0, 1, 2; every other nullable field null; tagged fields left out
// Values are deterministic: numbers cycle through each type's extremes (negatives, int64 beyond 2^32 up to
// ±2^53), strings carry non-ASCII characters (and one long enough to need a 2-byte compact length), uuids are
// never the zero uuid, bytes are Buffers of arbitrary bytes, records are empty or a valid v2 record batch.
import { inVersions, type FieldDef, type MessageDef } from '../../src/protocol/schema.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'

export type Variant = 'full' | 'sparse' | 'mixed'
export const kVariants: readonly Variant[] = ['full', 'sparse', 'mixed']

const kNumeric = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64'])
const kPrimitive = new Set([...kNumeric, 'bool', 'uuid', 'string', 'bytes', 'records'])
export const kZeroUuid = '0'.repeat(32)

const kNumbers: Record<string, readonly number[]> = {
  int8: [-128, 127, -1, 0, 42],
  int16: [-32768, 32767, -1, 300, 0],
  uint16: [65535, 0, 1234],
  int32: [-2147483648, 2147483647, -1, 70000, 0, 128],
  uint32: [4294967295, 0, 2147483648, 99],
  int64: [2 ** 53, -(2 ** 53), 2 ** 32 + 7, -(2 ** 32) - 9, 1700000000123, -1, 0, 2 ** 40 + 1, 9007199254740991],
  float64: [1.5, -0.25, 1e300, -0, 0.1, Number.MAX_VALUE, -Infinity]
}

const kStrings = ['tópico-Ω', 'ключ-🐟', '日本語のトピック', '', 'é'.repeat(70), 'plain-ascii', '\u0000nul']

export interface Sample {
  input: Record<string, unknown>
  expected: Record<string, unknown>
}

/** A field's default when the version lacks it, from the definition (schema.ts "Default when absent"). */
export function defaultValue (field: FieldDef): unknown {
  if (field.default !== undefined) {
    if (field.default === null) return null
    if (typeof field.default === 'string' && kNumeric.has(field.type)) return Number(field.default)
    return field.default
  }
  if (field.type.startsWith('[]')) return []
  if (kNumeric.has(field.type)) return 0
  switch (field.type) {
    case 'bool': return false
    case 'string': return ''
    case 'uuid': return kZeroUuid
    case 'bytes': case 'records': return Buffer.alloc(0)
    default: return null
  }
}

export function structFieldsOf (def: MessageDef, field: FieldDef, typeName: string): readonly FieldDef[] {
  if (field.fields !== undefined) return field.fields
  const common = def.commonStructs?.find((s) => s.name === typeName)
  if (common === undefined) throw new Error(`${def.name}: no struct ${typeName}`)
  return common.fields
}

class Builder {
  readonly def: MessageDef
  readonly version: number
  readonly variant: Variant
  counter = 0
  nullableSeen = 0
  arraysSeen = 0

  constructor (def: MessageDef, version: number, variant: Variant) {
    this.def = def
    this.version = version
    this.variant = variant
  }

  next (): number {
    return this.counter++
  }

  arrayLength (mustBeNonEmpty: boolean): number {
    let n: number
    if (this.variant === 'full') n = 2
    else if (this.variant === 'sparse') n = 1
    else n = this.arraysSeen++ % 3
    return mustBeNonEmpty && n === 0 ? 1 : n
  }

  wantsNull (): boolean {
    if (this.variant === 'full') return false
    if (this.variant === 'sparse') return true
    return this.nullableSeen++ % 2 === 1
  }

  /** A primitive value, different from `avoid` (the default of a tagged field, which would not be written). */
  primitive (type: string, avoid?: unknown): unknown {
    for (let attempt = 0; ; attempt++) {
      const value = this.primitiveOnce(type)
      if (avoid === undefined || !sameValue(value, avoid)) return value
      if (attempt > 20) throw new Error(`cannot avoid ${String(avoid)} for ${type}`)
    }
  }

  primitiveOnce (type: string): unknown {
    const i = this.next()
    if (kNumeric.has(type)) {
      const values = kNumbers[type]
      return values[i % values.length]
    }
    switch (type) {
      case 'bool': return i % 2 === 0
      case 'string': return kStrings[i % kStrings.length]
      case 'uuid': return (i + 1).toString(16).padStart(8, '0') + 'a1b2c3d4e5f60718' + (0xfedc0000 + i).toString(16).slice(-8)
      case 'records': {
        // A real v2 batch (so that other implementations can parse it), or no records at all.
        const count = [1, 0, 2][i % 3]
        if (count === 0) return Buffer.alloc(0)
        const records = Array.from({ length: count }, (_, r) => ({ key: r === 0 ? null : Buffer.from(`k${i}`), value: Buffer.from(`välue ${i}.${r}`), timestamp: 1700000000000 + i }))
        return buildRecordBatch(records, { baseOffset: i * 10 })
      }
      case 'bytes': {
        const length = [3, 17, 0, 130][i % 4]
        const out = Buffer.alloc(length)
        for (let b = 0; b < length; b++) out[b] = (b * 31 + i) & 0xff
        return out
      }
    }
    throw new Error(`not a primitive: ${type}`)
  }

  /** [input, expected] of a value of `type` that the version has. */
  value (field: FieldDef, type: string, nonDefault: boolean): [unknown, unknown] {
    if (type.startsWith('[]')) {
      const elementType = type.slice(2)
      const n = this.arrayLength(nonDefault)
      const input: unknown[] = []
      const expected: unknown[] = []
      for (let k = 0; k < n; k++) {
        const [i, e] = kPrimitive.has(elementType)
          ? this.primitivePair(elementType)
          : this.struct(structFieldsOf(this.def, field, elementType))
        input.push(i)
        expected.push(e)
      }
      return [input, expected]
    }
    if (kPrimitive.has(type)) {
      const v = this.primitive(type, nonDefault ? defaultValue(field) : undefined)
      return [v, v]
    }
    return this.struct(structFieldsOf(this.def, field, type))
  }

  primitivePair (type: string): [unknown, unknown] {
    const v = this.primitive(type)
    return [v, v]
  }

  struct (fields: readonly FieldDef[]): [Record<string, unknown>, Record<string, unknown>] {
    const input: Record<string, unknown> = {}
    const expected: Record<string, unknown> = {}
    for (const field of fields) {
      if (!inVersions(field.versions, this.version)) {
        // Garbage the encoder must not write: a value of the field's type the version would otherwise carry.
        input[field.name] = this.absentGarbage(field)
        expected[field.name] = defaultValue(field)
        continue
      }
      const tagged = field.tag !== undefined && inVersions(field.taggedVersions, this.version)
      const nullable = inVersions(field.nullableVersions, this.version)
      if (tagged) {
        if (this.variant === 'mixed') {
          expected[field.name] = defaultValue(field)
        } else {
          const [i, e] = this.value(field, field.type, true)
          input[field.name] = i
          expected[field.name] = e
        }
        continue
      }
      if (nullable && this.wantsNull()) {
        input[field.name] = null
        expected[field.name] = null
        continue
      }
      const [i, e] = this.value(field, field.type, false)
      input[field.name] = i
      expected[field.name] = e
    }
    return [input, expected]
  }

  absentGarbage (field: FieldDef): unknown {
    if (field.type.startsWith('[]') || !kPrimitive.has(field.type)) return [{ garbage: true }]
    switch (field.type) {
      case 'bool': return !(defaultValue(field) as boolean)
      case 'string': return 'absent-field'
      case 'uuid': return 'f'.repeat(32)
      case 'bytes': case 'records': return Buffer.from('absent')
      default: return 77
    }
  }
}

function sameValue (a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b)
  return Object.is(a, b) || (a === 0 && b === 0)
}

export function buildSample (def: MessageDef, version: number, variant: Variant): Sample {
  const builder = new Builder(def, version, variant)
  const [input, expected] = builder.struct(def.fields)
  return { input, expected }
}

/** The value every field takes when nothing is written: the decoded form of an encoded `{}`. */
export function defaultsOf (def: MessageDef, fields: readonly FieldDef[] = def.fields): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of fields) out[field.name] = defaultValue(field)
  return out
}
