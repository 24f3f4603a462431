// The shape of a message definition. Every Kafka request and response is described once, in
// src/protocol/messages/<api-name>.ts, as a `MessageDef`; src/protocol/codec.ts derives a specialised
// encoder and decoder for each version from it. The facts (fields, types, versions) are Kafka's, taken from
// the apache/kafka message definitions (clients/src/main/resources/common/message/*.json); the format is ours.
//
// Version ranges are strings: "3+" (3 and later), "0-2" (0 to 2 inclusive), "5" (only 5), "none" (never).
//
// Field types:
//   bool, int8, int16, uint16, int32, uint32, int64, float64, uuid, string, bytes, records
//   "[]T"  an array of a primitive T above, or of a struct named T (then `fields` holds its fields, or T names one
//          of the message's `commonStructs`)
//   "T"    a single struct named T (with `fields`, or one of `commonStructs`)
//
// Values in JavaScript:
//   int8/int16/uint16/int32/uint32/float64 -> number; int64 -> number (every int64 Kafka sends us is an offset,
//   timestamp, id or duration within 2^53; the codec reads and writes them exactly in that range);
//   bool -> boolean; string -> string | null; bytes/records -> Buffer | null (decoded as views into the frame,
//   never copied; records may also be given to the encoder as Buffer[] so that fetched data is written as a vector);
//   uuid -> 32 lowercase hex characters; arrays -> T[] | null; structs -> plain objects keyed by field name.
// A field that the version being coded does not have is skipped on encode, and set to its default on decode.

export type Versions = string

export type PrimitiveType =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'uuid' | 'string' | 'bytes' | 'records'

export interface FieldDef {
  /** camelCase of Kafka's field name: `TransactionalId` -> `transactionalId`. */
  readonly name: string
  readonly type: string
  readonly versions: Versions
  readonly nullableVersions?: Versions
  /** With `tag`: the versions in which the field is a tagged field (always within flexible versions). */
  readonly taggedVersions?: Versions
  readonly tag?: number
  /** Default when absent: numbers as numbers ("-1" -> -1), booleans, strings, or null. */
  readonly default?: number | boolean | string | null
  /**
   * Strings and bytes only: the versions in which this field is compact, overriding the message's flexible
   * versions. Kafka uses it once: the request header's client id is never compact ("none").
   */
  readonly flexibleVersions?: Versions
  /** The fields of the struct when `type` is "T" or "[]T" and T is not a common struct. */
  readonly fields?: readonly FieldDef[]
}

export interface StructDef {
  readonly name: string
  readonly versions: Versions
  readonly fields: readonly FieldDef[]
}

export interface MessageDef {
  /** Kafka's name without the suffix: "Produce", "ApiVersions". */
  readonly name: string
  readonly apiKey: number
  readonly type: 'request' | 'response' | 'header'
  readonly validVersions: Versions
  readonly flexibleVersions: Versions
  readonly fields: readonly FieldDef[]
  readonly commonStructs?: readonly StructDef[]
}

/** Parses a version range into [low, high] inclusive; "none" is [1, 0] (empty). */
export function parseVersions (range: Versions): [number, number] {
  if (range === 'none') return [1, 0]
  if (range.endsWith('+')) return [Number(range.slice(0, -1)), 0x7fff]
  const dash = range.indexOf('-')
  if (dash === -1) {
    const v = Number(range)
    return [v, v]
  }
  return [Number(range.slice(0, dash)), Number(range.slice(dash + 1))]
}

export function inVersions (range: Versions | undefined, version: number): boolean {
  if (range === undefined) return false
  const [low, high] = parseVersions(range)
  return version >= low && version <= high
}
