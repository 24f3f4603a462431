// The fuzzer's generator and mutator (scripts/fuzz/): deterministic for a seed, and every well-formed frame, for
// every API and version of the message definitions, is one the project's own decoder accepts whole.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { apiByKey, requestHeaderVersion } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { allApiVersions, generateFrame } from '../../scripts/fuzz/generator.ts'
import { mutate } from '../../scripts/fuzz/mutator.ts'
import { invalidBatch, validBatch } from '../../scripts/fuzz/records.ts'
import { Prng } from '../../scripts/fuzz/prng.ts'
import { validateProducedRecords, createBatchInfo } from '../../src/protocol/record-batch.ts'

function decodeFrame (bytes: Buffer): { header: any, body: any } {
  assert.equal(bytes.readInt32BE(0), bytes.length - 4, 'size prefix')
  const reader = new Reader(bytes, 4)
  const apiKey = bytes.readInt16BE(4)
  const version = bytes.readInt16BE(6)
  const api = apiByKey(apiKey)!
  const header = codecFor(requestHeader, requestHeaderVersion(api, version)).decode(reader)
  const body = api.request(version).decode(reader)
  assert.equal(reader.remaining, 0, 'bytes left after the body')
  return { header, body }
}

test('the PRNG is deterministic for a seed', () => {
  const a = new Prng(42)
  const b = new Prng(42)
  const c = new Prng(43)
  const run = (rng: Prng): number[] => Array.from({ length: 20 }, () => rng.u32())
  const first = run(a)
  assert.deepEqual(first, run(b))
  assert.notDeepEqual(first, run(c))
  const d = new Prng(1)
  for (let i = 0; i < 1000; i++) {
    const n = d.int(-3, 3)
    assert.ok(n >= -3 && n <= 3 && Number.isInteger(n))
  }
})

test('every API and version yields well-formed frames that the project decoder accepts whole', () => {
  const rng = new Prng(7)
  const all = allApiVersions()
  assert.ok(all.length > 200, `only ${all.length} API versions`)
  let correlationId = 1
  for (const { api, version } of all) {
    for (let i = 0; i < 8; i++) {
      const frame = generateFrame(rng, api, version, correlationId, { budget: 16 * 1024, loose: false })
      assert.equal(frame.what, 'valid')
      let decoded
      try {
        decoded = decodeFrame(frame.bytes)
      } catch (error) {
        assert.fail(`${api.name} v${version} frame ${i}: ${(error as Error).message}`)
      }
      assert.equal(decoded.header.requestApiKey, api.key)
      assert.equal(decoded.header.requestApiVersion, version)
      assert.equal(decoded.header.correlationId, correlationId)
      correlationId++
    }
  }
})

test('generation is deterministic for a seed', () => {
  const produce = apiByKey(0)!
  const metadata = apiByKey(3)!
  const run = (seed: number): string[] => {
    const rng = new Prng(seed)
    const out: string[] = []
    for (let i = 0; i < 50; i++) {
      const api = i % 2 === 0 ? produce : metadata
      const frame = generateFrame(rng, api, api.key === 0 ? 9 : 12, i, { budget: 4096, loose: i % 5 === 0 })
      out.push(frame.bytes.toString('hex').replace(/(.{122})(.{16})/, '$1')) // batch timestamps (Date.now) aside
      if (i % 3 === 0) out.push(mutate(rng, frame.bytes).what)
    }
    return out
  }
  const a = run(3)
  assert.equal(a.length, run(3).length)
  assert.deepEqual(a.filter((s) => !/^[0-9a-f]+$/.test(s)), run(3).filter((s) => !/^[0-9a-f]+$/.test(s)))
})

test('loose frames include strings over 32767 bytes and lying prefixes, which the decoder refuses', () => {
  const rng = new Prng(11)
  const all = allApiVersions()
  let oversize = 0
  let lies = 0
  let refused = 0
  for (let i = 0; i < 3000; i++) {
    const { api, version } = all[i % all.length]
    const frame = generateFrame(rng, api, version, i, { budget: 64 * 1024, loose: true })
    if (frame.what.includes('> 32767')) oversize++
    if (frame.what.includes('prefix lie')) lies++
    try {
      decodeFrame(frame.bytes)
    } catch {
      refused++
    }
  }
  assert.ok(oversize > 10, `${oversize} frames with long strings`)
  assert.ok(lies > 100, `${lies} frames with lying prefixes`)
  assert.ok(refused > 500, `${refused} loose frames refused`)
})

test('mutations keep the size prefix true unless they say the frame desynchronises', () => {
  const rng = new Prng(5)
  const api = apiByKey(3)!
  for (let i = 0; i < 2000; i++) {
    const frame = generateFrame(rng, api, 12, i, { budget: 1024, loose: false })
    const mutation = mutate(rng, frame.bytes)
    if (!mutation.desync) assert.equal(mutation.bytes.readInt32BE(0), mutation.bytes.length - 4, mutation.what)
    else assert.notEqual(mutation.bytes.readInt32BE(0), mutation.bytes.length - 4, mutation.what)
  }
})

test('valid batches pass the produce validation; invalid ones and bombs are refused without inflating them', () => {
  const rng = new Prng(9)
  const limits = { maxMessageBytes: 1048588, maxDecompressedBytes: 128 * 1024 * 1024 }
  const info = createBatchInfo()
  for (let i = 0; i < 200; i++) assert.equal(validateProducedRecords(validBatch(rng), limits, info), 0)
  const seen = new Set<string>()
  for (let i = 0; i < 250; i++) {
    const { batch, what } = invalidBatch(rng)
    seen.add(what.startsWith('bomb') ? what : what.split(' (')[0])
    const before = process.memoryUsage().rss
    const code = validateProducedRecords(batch, limits, info)
    // 'two batches' of which the first is valid, or a truncation to the whole batch, are still refused.
    assert.notEqual(code, 0, what)
    assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, `${what} inflated`)
  }
  assert.ok([...seen].some((what) => what.startsWith('bomb: zstd 1 GiB')), [...seen].join(', '))
  assert.ok(seen.has('recordCount 2^31-1'))
})
