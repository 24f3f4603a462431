// The error response of any request, derived from the API's message definitions (as its codec is), so that a
// request the broker cannot serve is still answered, in order, with the API's own error fields.
//
// Kafka asks each request class for its error response (AbstractRequest.getErrorResponse: the error code in
// every topic, partition, group or resource the request named). We derive the same from the two definitions:
// walking the response definition at the request's version,
//   - every error code field (`errorCode`, or a name ending in `ErrorCode`: AddPartitionsToTxn's
//     `partitionErrorCode`) gets the code and every `errorMessage` field the message;
//   - an array of structs is paired with the request's array of the same name,
//     else with the first array of structs, else the first array of names, ids or indexes that the request struct
//     has at that level (Produce `topicData` -> `responses`, `partitionData` -> `partitionResponses`, Fetch
//     `topics` -> `responses`, DeleteGroups `groupsNames` -> `results`), and one response entry is made per
//     request entry;
//   - a scalar field takes the request's field of the same name or of a known alias (`partition`,
//     `partitionIndex` and `index` are one; so are `name`, `topic` and `topicName`), when its type and
//     nullability at this version fit; an entry made from a bare string or int32 (a name, a group id, a
//     partition index) puts it into the struct's first field of that type;
//   - everything else keeps its default.
// The request may be null (it could not be decoded): then every array is empty and only top-level error
// fields carry the code. Values are checked against what the response version can encode (types, nulls), so
// the result always encodes, whatever the client sent.

import { inVersions, type FieldDef, type MessageDef } from './schema.ts'
import type { ApiEntry } from './apis.ts'

const kAliases: ReadonlyArray<readonly string[]> = [
  ['partitionIndex', 'partition', 'index', 'partitionId'],
  ['name', 'topic', 'topicName'],
  ['groupId', 'key']
]
const kAliasOf = new Map<string, readonly string[]>()
for (const group of kAliases) for (const name of group) kAliasOf.set(name, group)

/** Request arrays of bare values that name the entries of a response array. */
const kNamingArray = /(Names|Ids|Keys|Indexes|^partitions|^groups)$/

const kNumeric = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64'])
const kMaxInt = { int8: 0x7f, int16: 0x7fff, uint16: 0xffff, int32: 0x7fffffff, uint32: 0xffffffff } as Record<string, number>
const kMinInt = { int8: -0x80, int16: -0x8000, uint16: 0, int32: -0x80000000, uint32: 0 } as Record<string, number>

type Value = Record<string, unknown>

function present (field: FieldDef, version: number): boolean {
  return inVersions(field.versions, version) && !(field.tag !== undefined && inVersions(field.taggedVersions, version))
}

function structFieldsOf (def: MessageDef, field: FieldDef, typeName: string): readonly FieldDef[] | null {
  if (field.fields !== undefined) return field.fields
  return def.commonStructs?.find((s) => s.name === typeName)?.fields ?? null
}

/** Whether `value` can be written as `field` at `version`. */
function fits (field: FieldDef, version: number, value: unknown): boolean {
  if (value === null) return inVersions(field.nullableVersions, version)
  const type = field.type
  if (kNumeric.has(type)) {
    if (typeof value !== 'number' || Number.isNaN(value)) return false
    if (type === 'int64' || type === 'float64') return true
    return Number.isInteger(value) && value >= kMinInt[type] && value <= kMaxInt[type]
  }
  switch (type) {
    case 'bool': return typeof value === 'boolean'
    case 'uuid': return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value)
    case 'string': return typeof value === 'string' && Buffer.byteLength(value) <= 0x7fff
    default: return false
  }
}

interface Side {
  readonly def: MessageDef
  readonly fields: readonly FieldDef[]
}

function requestValueFor (request: Value, requestFields: readonly FieldDef[], requestVersion: number, name: string): unknown {
  if (request[name] !== undefined && requestFields.some((f) => f.name === name && inVersions(f.versions, requestVersion))) return request[name]
  const aliases = kAliasOf.get(name)
  if (aliases === undefined) return undefined
  for (const alias of aliases) {
    if (alias !== name && request[alias] !== undefined && requestFields.some((f) => f.name === alias && inVersions(f.versions, requestVersion))) return request[alias]
  }
  return undefined
}

/** The request array a response array of structs is made from, or null. */
function pairedArray (response: FieldDef, request: Value, requestFields: readonly FieldDef[], version: number): unknown[] | null {
  const arrays = requestFields.filter((f) => f.type.startsWith('[]') && present(f, version))
  const chosen = arrays.find((f) => f.name === response.name) ??
    arrays.find((f) => !isPrimitive(f.type.slice(2))) ??
    arrays.find((f) => kNamingArray.test(f.name))
  if (chosen === undefined) return null
  const value = request[chosen.name]
  return Array.isArray(value) ? value : null
}

function isPrimitive (type: string): boolean {
  return kNumeric.has(type) || type === 'bool' || type === 'uuid' || type === 'string' || type === 'bytes' || type === 'records'
}

function fill (
  response: Side, request: Side | null, value: unknown, version: number, errorCode: number, errorMessage: string | null
): Value {
  const out: Value = {}
  const requestValue = request !== null && value !== null && typeof value === 'object' ? value as Value : null
  let bareUsed = request === null || (requestValue !== null) || value === null || value === undefined
  for (const field of response.fields) {
    if (!present(field, version)) continue
    const type = field.type
    if (isErrorCodeField(field.name) && type === 'int16') {
      out[field.name] = errorCode
      continue
    }
    if (field.name === 'errorMessage' && type === 'string') {
      out.errorMessage = errorMessage === null && !inVersions(field.nullableVersions, version) ? '' : errorMessage
      continue
    }
    if (type.startsWith('[]')) {
      const elementType = type.slice(2)
      if (isPrimitive(elementType) || requestValue === null || request === null) continue
      const elementFields = structFieldsOf(response.def, field, elementType)
      const source = pairedArray(field, requestValue, request.fields, version)
      if (elementFields === null || source === null) continue
      const requestField = request.fields.find((f) => f.type.startsWith('[]') && present(f, version) && requestValue[f.name] === source)
      const requestElementFields = requestField === undefined ? null : structFieldsOf(request.def, requestField, requestField.type.slice(2))
      out[field.name] = source.map((element) => fill(
        { def: response.def, fields: elementFields },
        { def: request.def, fields: requestElementFields ?? [] },
        element, version, errorCode, errorMessage
      ))
      continue
    }
    if (!isPrimitive(type)) continue
    if (requestValue !== null && request !== null) {
      const candidate = requestValueFor(requestValue, request.fields, version, field.name)
      if (candidate !== undefined && fits(field, version, candidate)) out[field.name] = candidate
    } else if (!bareUsed && fits(field, version, value)) {
      // An entry made from a bare name or index: the first field that can hold it.
      out[field.name] = value
      bareUsed = true
    }
  }
  return out
}

/**
 * The response to `request` (as decoded at `version`, or null when it could not be) in which every entry the
 * request named carries `errorCode`. Always encodable at `version`.
 */
/** Whether a field named `name` holds an error code: `errorCode`, or a qualified one like `partitionErrorCode`. */
export function isErrorCodeField (name: string): boolean {
  return name === 'errorCode' || name.endsWith('ErrorCode')
}

export function deriveErrorResponse (api: ApiEntry, version: number, request: unknown, errorCode: number, errorMessage: string | null = null): object {
  const requestSide: Side | null = request === null || request === undefined ? null : { def: api.requestDef, fields: api.requestDef.fields }
  return fill({ def: api.responseDef, fields: api.responseDef.fields }, requestSide, request ?? null, version, errorCode, errorMessage)
}
