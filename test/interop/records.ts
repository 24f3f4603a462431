// Shared by the interop tests (test/interop/*.test.ts): the record sets every client produces, a normal form
// for what a client reads back, and one comparison that reports the first difference briefly (values go up to
// ~100 KiB, so a plain deepStrictEqual diff would be unreadable).
//
// Not a test file: `node --test test/interop/` only runs `*.test.ts`.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const kCodecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type CodecName = typeof kCodecs[number]
export const kAcks = [0, 1, -1] as const
export type Acks = typeof kAcks[number]

/** Kafka's codec ids (record batch attributes bits 0-2). */
export const kCodecIds: Record<CodecName, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }

export const kLargeValueBytes = 100 * 1024

export interface TestRecord {
  key: Buffer | null
  value: Buffer
  /** In wire order; a repeated key appears in adjacent entries (kafkajs groups repeated keys). */
  headers: Array<[string, Buffer]>
}

/** What a client read back from one partition, in the order it returned it. */
export interface ReadRecord extends TestRecord {
  offset: number
}

export interface RecordSetOptions {
  partitions: number
  /** Distinguishes runs (it ends up in a header and in keys). */
  tag: string
  /**
   * Printable ASCII only ([A-Za-z0-9 _.:-]): for kcat, whose input is delimited text and whose JSON output
   * holds strings. Otherwise keys, values and header values are arbitrary bytes.
   */
  text?: boolean
}

/** A deterministic pseudo-random generator (mulberry32), so a failing run can be reproduced. */
function generator (seedText: string): () => number {
  let seed = 0
  for (const char of seedText) seed = (Math.imul(seed, 31) + char.charCodeAt(0)) | 0
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const kAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.:-'

function bytes (random: () => number, length: number, text: boolean): Buffer {
  const out = Buffer.allocUnsafe(length)
  // Runs of a repeated unit make the data compressible (so codecs really compress) without being trivial.
  let index = 0
  while (index < length) {
    const run = 1 + Math.floor(random() * 24)
    const unit = text ? kAlphabet.charCodeAt(Math.floor(random() * kAlphabet.length)) : Math.floor(random() * 256)
    const end = Math.min(length, index + (random() < 0.5 ? run : 1))
    for (; index < end; index++) out[index] = unit
  }
  return out
}

/**
 * One list of records per partition. Every partition gets: a keyed record with several headers (one header
 * key repeated), one with an empty value and an empty header value, a 1 KiB value, a ~100 KiB value, one
 * with a null key and a few of assorted small sizes.
 */
export function makeRecordSet (options: RecordSetOptions): TestRecord[][] {
  const text = options.text ?? false
  const random = generator(options.tag)
  const partitions: TestRecord[][] = []
  for (let partition = 0; partition < options.partitions; partition++) {
    const ascii = (value: string): Buffer => Buffer.from(value, 'latin1')
    const key = (index: number): Buffer => text ? ascii(`key-${partition}-${index}`) : Buffer.concat([ascii(`k${partition}.${index}`), bytes(random, 6, false)])
    const sizes = [17, 0, 1024, kLargeValueBytes, 1, 300, 4000, 65]
    const records: TestRecord[] = sizes.map((size, index) => ({
      key: index === 4 ? null : key(index),
      value: bytes(random, size, text),
      headers: []
    }))
    records[0].headers = [['trace', ascii(options.tag)], ['dup', ascii('first')], ['dup', ascii('second')], ['bin', bytes(random, 40, text)]]
    records[1].headers = [['empty', Buffer.alloc(0)]]
    records[3].headers = [['size', ascii(String(kLargeValueBytes))]]
    records[6].headers = [['h', bytes(random, 200, text)]]
    partitions.push(records)
  }
  return partitions
}

export function recordCount (set: TestRecord[][]): number {
  return set.reduce((sum, records) => sum + records.length, 0)
}

function describeBytes (value: Buffer | null): string {
  if (value === null) return 'null'
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 12)
  return `${value.length} bytes (sha256 ${digest}…, starts ${value.subarray(0, 16).toString('hex')})`
}

function sameBytes (a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b
  return a.equals(b)
}

/**
 * Asserts that `actual[p]` holds exactly the records of `expected[p]` in order, byte for byte (keys, values,
 * headers), at offsets 0, 1, 2, … of partition p. Messages name the partition, index and field.
 */
export function assertSameRecords (expected: TestRecord[][], actual: ReadRecord[][], where: string): void {
  assert.equal(actual.length, expected.length, `${where}: partition count`)
  for (let partition = 0; partition < expected.length; partition++) {
    const want = expected[partition]
    const got = actual[partition]
    const at = `${where}, partition ${partition}`
    assert.deepEqual(got.map((record) => record.offset), want.map((_, index) => index), `${at}: offsets must be contiguous from 0`)
    for (let index = 0; index < want.length; index++) {
      const w = want[index]
      const g = got[index]
      const here = `${at}, offset ${index}`
      assert.ok(sameBytes(w.key, g.key), `${here}: key is ${describeBytes(g.key)}, expected ${describeBytes(w.key)}`)
      assert.ok(sameBytes(w.value, g.value), `${here}: value is ${describeBytes(g.value)}, expected ${describeBytes(w.value)}`)
      assert.deepEqual(
        g.headers.map(([name, value]) => [name, value.toString('hex')]),
        w.headers.map(([name, value]) => [name, value.toString('hex')]),
        `${here}: headers`
      )
    }
  }
}

/** A topic name unique to this process and case (the tests share nothing, but names show up in broker logs). */
export function topicName (client: string, codec: string, acks: number | string, suffix = ''): string {
  return `interop-${client}-${codec}-acks${String(acks).replace('-', 'm')}${suffix}-${process.pid}`
}

/**
 * The codec (attributes bits 0-2) of every record batch the broker stored for `topic`, per partition, read
 * from its segment files (`DATA_DIR/TOPIC-PARTITION/*.log`, as in src/shard/shard.ts partitionDir). Proves
 * that a client really compressed with the codec asked for, and that the broker kept the batch as sent.
 */
export function storedCodecs (dataDir: string, topic: string, partitions: number): number[][] {
  const result: number[][] = []
  for (let partition = 0; partition < partitions; partition++) {
    const directory = join(dataDir, `${topic}-${partition}`)
    const codecs: number[] = []
    for (const name of readdirSync(directory).filter((file) => file.endsWith('.log')).sort()) {
      const data = readFileSync(join(directory, name))
      // Batch header: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8, crc int32,
      // attributes int16 (byte 21).
      for (let at = 0; at + 23 <= data.length; at += 12 + data.readInt32BE(at + 8)) {
        if (data.readInt32BE(at + 8) === 0) break // preallocated tail, if any
        codecs.push(data.readInt16BE(at + 21) & 0x07)
      }
    }
    result.push(codecs)
  }
  return result
}

/**
 * Asserts that the stored batches of every partition of `topic` use `codec`. With `allowUncompressed`, some
 * batches may be uncompressed: librdkafka sends a batch uncompressed when compressing does not make it smaller
 * (a batch of one small record, say); at least one batch per partition must still use `codec`.
 */
export function assertStoredCodec (dataDir: string, topic: string, partitions: number, codec: CodecName, allowUncompressed = false): void {
  const stored = storedCodecs(dataDir, topic, partitions)
  const id = kCodecIds[codec]
  for (let partition = 0; partition < partitions; partition++) {
    const codecs = stored[partition]
    const shown = `${topic}[${partition}]: codecs of the stored batches ${JSON.stringify(codecs)}, expected ${id}`
    assert.ok(codecs.includes(id), shown)
    assert.ok(codecs.every((one) => one === id || (allowUncompressed && one === 0)), shown)
  }
}

/**
 * Asserts that the broker (started with --log-level warn by test/helpers/broker.ts) logged no warning or
 * error: every connection it closes on its own (an undecodable request, an API or version it refused, a
 * handler that threw) is logged at warn, and such a close is otherwise easy to miss behind client retries.
 */
export function assertBrokerQuiet (output: string): void {
  const lines = output.split('\n').filter((line) => /^\S+ (WARN|ERROR) /.test(line))
  assert.deepEqual(lines, [], 'the broker logged warnings or errors')
}
