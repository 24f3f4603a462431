// Derives a specialised encoder and decoder for each version of a message from its one definition
// (src/protocol/messages/*.ts). For a given (message, version) we generate straight-line JavaScript with
// `new Function`: only the fields that version has, in wire order, each read or written by the primitive that
// version uses (compact or not, nullable or not). The hot path therefore has no per-field version checks and
// builds each decoded struct with one object literal (one hidden class per struct and version).
//
// Generated code only ever calls Reader/Writer methods and the helpers passed in below; it embeds no wire data.
// Decoded objects carry every field of the definition: fields the version lacks hold their default. Encoders
// accept objects that leave out fields: a missing (undefined) field is written as its default.

import { Reader, ProtocolDecodeError } from './reader.ts'
import { Writer } from './writer.ts'
import { inVersions, type FieldDef, type MessageDef } from './schema.ts'

export interface VersionCodec<T = any> {
  readonly version: number
  readonly flexible: boolean
  decode (reader: Reader): T
  encode (writer: Writer, value: T): void
}

const kNumericTypes = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64'])
const kPrimitiveTypes = new Set([...kNumericTypes, 'bool', 'uuid', 'string', 'bytes', 'records'])
const kZeroUuid = '0'.repeat(32)
const kEmptyBuffer = Buffer.alloc(0)

interface Generation {
  readonly def: MessageDef
  readonly version: number
  readonly flexible: boolean
  readonly functions: string[]
  counter: number
}

function structFields (gen: Generation, field: FieldDef, typeName: string): readonly FieldDef[] {
  if (field.fields !== undefined) return field.fields
  const common = gen.def.commonStructs?.find((s) => s.name === typeName)
  if (common === undefined) throw new Error(`${gen.def.name}: unknown struct type ${typeName} of ${field.name}`)
  return common.fields
}

function isCompact (gen: Generation, field: FieldDef): boolean {
  if (!gen.flexible) return false
  return field.flexibleVersions === undefined || inVersions(field.flexibleVersions, gen.version)
}

function isNullable (gen: Generation, field: FieldDef): boolean {
  return inVersions(field.nullableVersions, gen.version)
}

function isTagged (gen: Generation, field: FieldDef): boolean {
  return field.tag !== undefined && inVersions(field.taggedVersions, gen.version)
}

/** A JavaScript expression for the field's default value (a fresh array for arrays). */
function defaultExpression (field: FieldDef): string {
  if (field.default !== undefined) {
    if (field.default === null) return 'null'
    if (typeof field.default === 'string' && kNumericTypes.has(field.type)) return String(Number(field.default))
    return JSON.stringify(field.default)
  }
  if (field.type.startsWith('[]')) return '[]'
  if (kNumericTypes.has(field.type)) return '0'
  switch (field.type) {
    case 'bool': return 'false'
    case 'string': return "''"
    case 'uuid': return 'ZERO_UUID'
    case 'bytes': case 'records': return 'EMPTY'
    default: return 'null'
  }
}

// ---- decoding ----------------------------------------------------------------------------------------------

function readExpression (gen: Generation, field: FieldDef, type: string, nullable: boolean): string {
  const compact = isCompact(gen, field)
  switch (type) {
    case 'bool': case 'int8': case 'int16': case 'uint16': case 'int32': case 'uint32': case 'int64':
    case 'float64': case 'uuid':
      return `r.${type}()`
    case 'string':
      return compact
        ? (nullable ? 'r.compactNullableString()' : 'r.compactString()')
        : (nullable ? 'r.nullableString()' : 'r.string()')
    case 'bytes': case 'records':
      return compact
        ? (nullable ? 'r.compactNullableBytes()' : 'r.compactBytes()')
        : (nullable ? 'r.nullableBytes()' : 'r.bytes()')
  }
  if (type.startsWith('[]')) {
    const elementType = type.slice(2)
    const elementExpression = kPrimitiveTypes.has(elementType)
      ? readExpression(gen, field, elementType, false)
      : `${generateStructDecoder(gen, structFields(gen, field, elementType))}(r)`
    const name = `da${gen.counter++}`
    gen.functions.push(`function ${name} (r) {
  const n = r.${compact ? 'compactArrayLength' : 'arrayLength'}()
  if (n < 0) ${nullable ? 'return null' : `throw new DecodeError('null in non-nullable array ${field.name}')`}
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = ${elementExpression}
  return out
}`)
    return `${name}(r)`
  }
  const decoder = generateStructDecoder(gen, structFields(gen, field, type))
  // A nullable struct is preceded by an int8: -1 for null, 1 for present.
  return nullable ? `(r.int8() < 0 ? null : ${decoder}(r))` : `${decoder}(r)`
}

function generateStructDecoder (gen: Generation, fields: readonly FieldDef[]): string {
  const name = `d${gen.counter++}`
  const properties: string[] = []
  const tagCases: string[] = []
  for (const field of fields) {
    const key = JSON.stringify(field.name)
    if (!inVersions(field.versions, gen.version)) {
      properties.push(`${key}: ${defaultExpression(field)}`)
    } else if (isTagged(gen, field)) {
      properties.push(`${key}: ${defaultExpression(field)}`)
      tagCases.push(`case ${field.tag}: o[${key}] = ${readExpression(gen, field, field.type, isNullable(gen, field))}; break`)
    } else {
      properties.push(`${key}: ${readExpression(gen, field, field.type, isNullable(gen, field))}`)
    }
  }
  let body = `  const o = { ${properties.join(', ')} }\n`
  if (gen.flexible) {
    // Tagged fields: count, then (tag, size, value) each; unknown tags are skipped by size.
    body += `  for (let t = r.unsignedVarint(); t > 0; t--) {
    const tag = r.unsignedVarint()
    const size = r.unsignedVarint()
    const start = r.position
    r.skip(size)
    r.position = start
    switch (tag) {
      ${tagCases.join('\n      ')}
    }
    r.position = start + size
  }\n`
  }
  gen.functions.push(`function ${name} (r) {\n${body}  return o\n}`)
  return name
}

// ---- encoding ----------------------------------------------------------------------------------------------

function writeStatements (gen: Generation, field: FieldDef, type: string, nullable: boolean, value: string, writer: string): string {
  const compact = isCompact(gen, field)
  const nullCheck = nullable
    ? ''
    : `if (${value} === null) throw new TypeError('null in non-nullable field ${gen.def.name}.${field.name}'); `
  switch (type) {
    case 'bool': case 'int8': case 'int16': case 'uint16': case 'int32': case 'uint32': case 'int64':
    case 'float64': case 'uuid':
      return `${writer}.${type}(${value})`
    case 'string':
      return `${nullCheck}${writer}.${compact ? 'compactNullableString' : 'nullableString'}(${value})`
    case 'bytes': case 'records':
      return `${nullCheck}${writer}.nullableBytes(${value}, ${compact})`
  }
  if (type.startsWith('[]')) {
    const elementType = type.slice(2)
    const element = `e${gen.counter++}`
    const elementWrite = kPrimitiveTypes.has(elementType)
      ? writeStatements(gen, field, elementType, false, element, writer)
      : `${generateStructEncoder(gen, structFields(gen, field, elementType))}(${writer}, ${element})`
    const array = `a${gen.counter++}`
    return `{ const ${array} = ${value}
    if (${array} === null) { ${nullable ? `${writer}.arrayLength(-1, ${compact})` : `throw new TypeError('null in non-nullable array ${gen.def.name}.${field.name}')`} } else {
      ${writer}.arrayLength(${array}.length, ${compact})
      for (let i = 0; i < ${array}.length; i++) { const ${element} = ${array}[i]; ${elementWrite} }
    } }`
  }
  const encoder = generateStructEncoder(gen, structFields(gen, field, type))
  if (nullable) return `if (${value} === null) ${writer}.int8(-1); else { ${writer}.int8(1); ${encoder}(${writer}, ${value}) }`
  return `${nullCheck}${encoder}(${writer}, ${value})`
}

/** True when a tagged field's value should be written: anything but its default (or an empty array). */
function taggedPresentExpression (field: FieldDef, value: string): string {
  if (field.type.startsWith('[]')) return `(${value} !== undefined && (${value} === null ? ${field.default !== null} : ${value}.length > 0))`
  if (field.type === 'bytes' || field.type === 'records') return `(${value} !== undefined && (${value} === null ? ${field.default !== null} : true))`
  return `(${value} !== undefined && ${value} !== ${defaultExpression(field)})`
}

function generateStructEncoder (gen: Generation, fields: readonly FieldDef[]): string {
  const name = `en${gen.counter++}`
  const lines: string[] = []
  const tagged: FieldDef[] = []
  for (const field of fields) {
    if (!inVersions(field.versions, gen.version)) continue
    if (isTagged(gen, field)) {
      tagged.push(field)
      continue
    }
    const value = `v${gen.counter++}`
    lines.push(`const ${value} = o[${JSON.stringify(field.name)}] === undefined ? ${defaultExpression(field)} : o[${JSON.stringify(field.name)}]`)
    lines.push(writeStatements(gen, field, field.type, isNullable(gen, field), value, 'w'))
  }
  if (gen.flexible) {
    if (tagged.length === 0) {
      lines.push('w.unsignedVarint(0)')
    } else {
      tagged.sort((a, b) => (a.tag as number) - (b.tag as number))
      const flags = tagged.map((field) => {
        const flag = `p${gen.counter++}`
        lines.push(`const ${flag} = ${taggedPresentExpression(field, `o[${JSON.stringify(field.name)}]`)}`)
        return flag
      })
      lines.push(`w.unsignedVarint(${flags.map((flag) => `(${flag} ? 1 : 0)`).join(' + ')})`)
      tagged.forEach((field, i) => {
        const value = `o[${JSON.stringify(field.name)}]`
        lines.push(`if (${flags[i]}) { const tw = new Writer(64); ${writeStatements(gen, field, field.type, isNullable(gen, field), value, 'tw')}; const tb = tw.toBuffer(); w.unsignedVarint(${field.tag}); w.unsignedVarint(tb.length); w.raw(tb) }`)
      })
    }
  }
  gen.functions.push(`function ${name} (w, o) {\n  ${lines.join('\n  ')}\n}`)
  return name
}

// ---- derivation --------------------------------------------------------------------------------------------

const cache = new WeakMap<MessageDef, Map<number, VersionCodec>>()

/** The codec of one version of a message; derived once, then cached. */
export function codecFor<T = any> (def: MessageDef, version: number): VersionCodec<T> {
  let byVersion = cache.get(def)
  if (byVersion === undefined) {
    byVersion = new Map()
    cache.set(def, byVersion)
  }
  let codec = byVersion.get(version)
  if (codec === undefined) {
    codec = deriveCodec(def, version)
    byVersion.set(version, codec)
  }
  return codec
}

function deriveCodec (def: MessageDef, version: number): VersionCodec {
  if (!inVersions(def.validVersions, version)) {
    throw new RangeError(`${def.name} ${def.type} has no version ${version} (valid: ${def.validVersions})`)
  }
  const gen: Generation = { def, version, flexible: inVersions(def.flexibleVersions, version), functions: [], counter: 0 }
  const decoder = generateStructDecoder(gen, def.fields)
  const encoder = generateStructEncoder(gen, def.fields)
  const source = `'use strict'\n${gen.functions.join('\n')}\nreturn { decode: ${decoder}, encode: ${encoder} }`
  // eslint-disable-next-line no-new-func
  const build = new Function('Writer', 'DecodeError', 'ZERO_UUID', 'EMPTY', source)
  const { decode, encode } = build(Writer, ProtocolDecodeError, kZeroUuid, kEmptyBuffer)
  return { version, flexible: gen.flexible, decode, encode }
}

/** The generated source of one version's codec, for debugging (`scripts/print-codec.ts`). */
export function codecSource (def: MessageDef, version: number): string {
  const gen: Generation = { def, version, flexible: inVersions(def.flexibleVersions, version), functions: [], counter: 0 }
  generateStructDecoder(gen, def.fields)
  generateStructEncoder(gen, def.fields)
  return gen.functions.join('\n\n')
}
