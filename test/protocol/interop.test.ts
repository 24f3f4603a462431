// Cross-checks the derived codecs against an independent implementation of the protocol: @platformatic/kafka
// (a devDependency) ships a hand-written encoder and decoder per API version (dist/apis/<group>/<api>-v<N>.js).
//   responses  our encoding of every sample response is parsed by its parseResponse: it must consume every byte
//              and read the same values (for the fields both sides name alike)
//   requests   its createRequest, given our sample's values, writes bytes our decoder must read back exactly
// Where the library shapes a version differently (its own names for nested fields, values it fixes itself)
// the mismatch is listed in kRequestShapeDifferences with the reason; nothing else is skipped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { kApis, type ApiEntry } from '../../src/protocol/apis.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { inVersions, type FieldDef, type MessageDef } from '../../src/protocol/schema.ts'
import { parseRecords } from '../../src/protocol/record-batch.ts'
import { buildSample, kVariants, structFieldsOf } from '../helpers/message-samples.ts'

let apisDir: string | null = null
try {
  // dist/index.js -> dist/apis
  apisDir = join(dirname(fileURLToPath(import.meta.resolve('@platformatic/kafka'))), 'apis')
  if (!existsSync(apisDir)) apisDir = null
} catch {
  apisDir = null
}
const groups = apisDir === null ? [] : readdirSync(apisDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)
const platformatic: any = apisDir === null ? null : await import('@platformatic/kafka')

const kPrimitive = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'uuid', 'string', 'bytes', 'records'])

/** Request versions whose createRequest the library shapes differently from Kafka's definition ([low, high]). */
const kRequestShapeDifferences: Record<string, { versions: [number, number], reason: string }> = {
  Fetch: { versions: [0, 17], reason: 'writes logStartOffset -1 itself, and forgotten topics by id even before v13' },
  Metadata: { versions: [10, 11], reason: 'writes a zero topic id itself' },
  ListGroups: { versions: [5, 5], reason: 'accepts only the group types it knows' },
  DeleteTopics: { versions: [6, 6], reason: 'accepts only dashed topic ids' },
  OffsetForLeaderEpoch: { versions: [0, 4], reason: 'names the topic and partition fields name and partitionIndex' },
  DeleteAcls: { versions: [0, 3], reason: 'names the filter fields after the ACL (resourceName, principal, host)' },
  DescribeLogDirs: { versions: [0, 4], reason: 'names the topic field name' },
  AlterClientQuotas: { versions: [0, 1], reason: 'names the entity array entities' }
}

function shapedDifferently (api: ApiEntry, version: number): boolean {
  const difference = kRequestShapeDifferences[api.name]
  return difference !== undefined && version >= difference.versions[0] && version <= difference.versions[1]
}

function kebab (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

async function platformaticModule (api: ApiEntry, version: number): Promise<any> {
  if (apisDir === null) return null
  const file = `${kebab(api.name)}-v${version}.js`
  const group = groups.find((g) => existsSync(join(apisDir!, g, file)))
  return group === undefined ? null : import(join(apisDir, group, file))
}

/** Our value in the library's form: int64 as bigint. */
function toPlatformatic (def: MessageDef, field: FieldDef, type: string, value: any): any {
  if (value === null || value === undefined) return value
  if (type === 'int64') return BigInt(value)
  if (type.startsWith('[]')) return value.map((e: unknown) => toPlatformatic(def, field, type.slice(2), e))
  if (kPrimitive.has(type)) return value
  const out: Record<string, unknown> = {}
  for (const f of structFieldsOf(def, field, type)) out[f.name] = toPlatformatic(def, f, f.type, value[f.name])
  return out
}

/** The library's parsed value in our form: bigint as number, dashed uuids as 32 hex characters. */
function fromPlatformatic (value: any): any {
  if (typeof value === 'bigint') return Number(value)
  if (Array.isArray(value)) return value.map(fromPlatformatic)
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, fromPlatformatic(v)]))
  if (Buffer.isBuffer(value)) return value
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromPlatformatic(v)]))
  if (typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) return value.replaceAll('-', '')
  return value
}

/**
 * Differences between the library's parse (`theirs`) and our expected value, walking our definition. Fields the
 * library does not return (it names them differently) are left out; the library reads a null string as '' and a
 * null array as [].
 */
function differences (def: MessageDef, fields: readonly FieldDef[], version: number, theirs: any, ours: any, path: string, out: string[]): void {
  for (const field of fields) {
    if (!inVersions(field.versions, version) || !(field.name in theirs)) continue
    compareValue(def, field, field.type, version, theirs[field.name], ours[field.name], `${path}.${field.name}`, out)
  }
}

function compareValue (def: MessageDef, field: FieldDef, type: string, version: number, theirs: any, ours: any, path: string, out: string[]): void {
  if (theirs === undefined) return
  if (type === 'records') {
    // The library parses record batches; compare the record values.
    const mine = ours === null || ours.length === 0 ? [] : parseRecords(ours).map((r) => r.value?.toString('utf8'))
    const read = (theirs ?? []).flatMap((batch: any) => batch.records.map((r: any) => r.value === undefined ? undefined : Buffer.from(r.value).toString('utf8')))
    if (JSON.stringify(read) !== JSON.stringify(mine)) out.push(`${path}: records ${JSON.stringify(read)}, expected ${JSON.stringify(mine)}`)
    return
  }
  if (type.startsWith('[]')) {
    if (theirs === ours || (ours === null && Array.isArray(theirs) && theirs.length === 0)) return
    if (!Array.isArray(theirs) || !Array.isArray(ours) || theirs.length !== ours.length) {
      out.push(`${path}: ${JSON.stringify(theirs)?.slice(0, 80)}, expected ${JSON.stringify(ours)?.slice(0, 80)}`)
      return
    }
    for (let i = 0; i < theirs.length; i++) compareValue(def, field, type.slice(2), version, theirs[i], ours[i], `${path}[${i}]`, out)
    return
  }
  if (!kPrimitive.has(type)) {
    if (theirs === null || ours === null) {
      if (theirs !== ours) out.push(`${path}: ${JSON.stringify(theirs)}, expected ${JSON.stringify(ours)}`)
      return
    }
    differences(def, structFieldsOf(def, field, type), version, theirs, ours, path, out)
    return
  }
  if (ours === null && theirs === '') return
  if (Buffer.isBuffer(theirs) && Buffer.isBuffer(ours) && theirs.equals(ours)) return
  if (!Object.is(theirs, ours) && !(theirs === 0 && ours === 0)) out.push(`${path}: ${JSON.stringify(theirs)}, expected ${JSON.stringify(ours)}`)
}

/** The library throws on error codes it does not know: set every error code of a sample to 0. */
function zeroErrorCodes (value: any): void {
  if (Array.isArray(value)) value.forEach(zeroErrorCodes)
  else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const key of Object.keys(value)) {
      if (/errorCode$/i.test(key)) value[key] = 0
      else zeroErrorCodes(value[key])
    }
  }
}

test('@platformatic/kafka parses every response version we encode, byte for byte', { skip: apisDir === null && '@platformatic/kafka not installed' }, async (t) => {
  let checked = 0
  const failures: string[] = []
  for (const api of kApis) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      const mod = await platformaticModule(api, version)
      if (mod === null || typeof mod.parseResponse !== 'function') continue
      for (const variant of kVariants) {
        const { input, expected } = buildSample(api.responseDef, version, variant)
        zeroErrorCodes(input)
        zeroErrorCodes(expected)
        const writer = new Writer()
        api.response(version).encode(writer, input)
        const bytes = Buffer.from(writer.toBuffer())
        const reader = platformatic.Reader.from(bytes)
        let parsed: unknown
        try {
          parsed = mod.parseResponse(0, api.key, version, reader)
        } catch (error) {
          // Its ResponseError carries the parsed response (thrown for error codes in the message).
          parsed = (error as { response?: unknown }).response
          if (parsed === undefined) {
            failures.push(`${api.name} v${version} ${variant}: ${(error as Error).message}`)
            continue
          }
        }
        const out: string[] = []
        if (reader.position !== bytes.length) out.push(`read ${reader.position} of ${bytes.length} bytes`)
        differences(api.responseDef, api.responseDef.fields, version, fromPlatformatic(parsed), expected, '', out)
        if (out.length > 0) failures.push(`${api.name} v${version} ${variant}: ${out.slice(0, 4).join('; ')}`)
        checked++
      }
    }
  }
  assert.deepEqual(failures, [])
  assert.ok(checked > 400, `only ${checked} responses checked`)
  t.diagnostic(`${checked} response samples parsed by @platformatic/kafka`)
})

test('we decode what @platformatic/kafka encodes for every request version it builds from the same fields', { skip: apisDir === null && '@platformatic/kafka not installed' }, async (t) => {
  let checked = 0
  const failures: string[] = []
  for (const api of kApis) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      if (shapedDifferently(api, version)) continue
      const mod = await platformaticModule(api, version)
      if (mod === null || typeof mod.createRequest !== 'function') continue
      // Its createRequest takes the top-level fields positionally, under Kafka's names ("_name": unused there).
      const params = /\(([^)]*)\)/.exec(mod.createRequest.toString())![1].split(',').map((p: string) => p.trim().split('=')[0].trim()).filter(Boolean)
      const fields = api.requestDef.fields.filter((f) => inVersions(f.versions, version))
      if (params.some((p: string) => !p.startsWith('_') && !fields.some((f) => f.name === p))) continue
      for (const variant of kVariants) {
        const { input, expected } = buildSample(api.requestDef, version, variant)
        const args = params.map((p: string) => {
          const field = fields.find((f) => f.name === p)
          return field === undefined ? undefined : toPlatformatic(api.requestDef, field, field.type, input[p])
        })
        let bytes: Buffer
        try {
          bytes = Buffer.from(mod.createRequest(...args).buffer)
        } catch (error) {
          failures.push(`${api.name} v${version} ${variant}: its encoder threw ${(error as Error).message}`)
          continue
        }
        try {
          const reader = new Reader(bytes)
          const decoded = api.request(version).decode(reader)
          assert.equal(reader.remaining, 0, 'bytes left over')
          for (const p of params) if (!p.startsWith('_')) assert.deepEqual(decoded[p], expected[p], p)
          checked++
        } catch (error) {
          failures.push(`${api.name} v${version} ${variant}: ${(error as Error).message.split('\n')[0]}`)
        }
      }
    }
  }
  assert.deepEqual(failures, [])
  assert.ok(checked > 300, `only ${checked} requests checked`)
  t.diagnostic(`${checked} request samples encoded by @platformatic/kafka`)
})
