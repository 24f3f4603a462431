// Micro-benchmarks of the broker's hot parts, measured with mitata's measure() (inputs built before timing):
//   decode     Produce v9 request bodies through the derived codec (apiByKey(0).request(9).decode)
//   validate   validateProducedRecords: header checks, CRC-32C over the batch, record walk (inflating compressed ones)
//   ring       RingWriter.send + RingReader.receive (a copy) or receiveView (in place) on one SharedArrayBuffer, in one thread
//   append     PartitionLog.append of a 16 KiB batch to a real segment in a temp directory
//   compress / decompress   the four codecs on a 16 KiB records section
// Each case reports the median time per operation; the stored baseline (bench/baseline/micro.json) gives the
// comparison column: median now / median then (above 1: slower). `--update-baseline` rewrites it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { measure } from 'mitata'
import { apiByKey } from '../src/protocol/apis.ts'
import { compress, decompress } from '../src/protocol/compression.ts'
import { Reader } from '../src/protocol/reader.ts'
import { Compression } from '../src/protocol/record-batch-layout.ts'
import { buildRecordBatch, createBatchInfo, validateProducedRecords, type RecordInput } from '../src/protocol/record-batch.ts'
import { Writer } from '../src/protocol/writer.ts'
import { PartitionLog } from '../src/log/partition-log.ts'
import { createRingBuffer, RingReader, RingWriter } from '../src/shard/ring.ts'
import type { BenchOptions } from './lib/args.ts'
import { gitInfo, machineInfo, type GitInfo, type MachineInfo } from './lib/machine.ts'
import { defaultResultPath, writeResultFile } from './lib/report.ts'
import { formatDuration, formatFixed, formatInteger, ratio, renderTable } from './lib/stats.ts'

export const kMicroSchema = 'shoal-bench/micro/1'

export interface MicroStats {
  /** Nanoseconds per operation. */
  medianNs: number
  avgNs: number
  p99Ns: number
  minNs: number
  /** Operations timed. */
  ops: number
  /** Bytes processed per operation, when the case has a size. */
  bytesPerOp: number | null
}

export interface MicroFile {
  schema: string
  date: string
  git: GitInfo
  machine: MachineInfo
  /** Free text kept with a baseline (how it was taken). */
  note?: string
  results: Record<string, MicroStats>
}

interface Timing {
  /** mitata options for cases whose operations have side effects that grow (disk). */
  batchSamples?: number
  maxSamples?: number
}

export interface MicroCase {
  name: string
  bytesPerOp: number | null
  timing?: Timing
  /** Builds the inputs (not timed) and returns the operation, and what to clean up afterwards. */
  setup (): { run: () => unknown, teardown?: () => void }
}

/** Deterministic, mildly compressible payloads: JSON-ish events with varying numbers. */
export function makeRecords (count: number, valueBytes: number, seed = 1): RecordInput[] {
  let state = seed
  const next = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state
  }
  const records: RecordInput[] = []
  const timestamp = 1_700_000_000_000
  for (let index = 0; index < count; index++) {
    let text = ''
    while (text.length < valueBytes) {
      text += `{"id":${next() % 100000},"user":"user-${next() % 5000}","event":"${['view', 'click', 'buy'][next() % 3]}","amount":${(next() % 100000) / 100}}`
    }
    records.push({ key: Buffer.from(`key-${index % 64}`), value: Buffer.from(text.slice(0, valueBytes)), timestamp: timestamp + index })
  }
  return records
}

function produceRequest (partitions: number, records: number, valueBytes: number): Buffer {
  const api = apiByKey(0)!
  const partitionData = []
  for (let index = 0; index < partitions; index++) {
    partitionData.push({ index, records: buildRecordBatch(makeRecords(records, valueBytes, index + 1)) })
  }
  const writer = new Writer()
  api.request(9).encode(writer, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: 'bench-topic', partitionData }] })
  return writer.toBuffer()
}

const kLimits = { maxMessageBytes: 64 * 1024 * 1024, maxDecompressedBytes: 128 * 1024 * 1024 }
const kCodecs = [['lz4', Compression.lz4], ['zstd', Compression.zstd], ['snappy', Compression.snappy], ['gzip', Compression.gzip]] as const

export function microCases (): MicroCase[] {
  const cases: MicroCase[] = []
  for (const [partitions, records, size] of [[1, 100, 100], [8, 16, 1024]] as const) {
    const label = `decode/produce-v9-${partitions}p-${records}x${size}B`
    cases.push({
      name: label,
      bytesPerOp: null,
      setup () {
        const body = produceRequest(partitions, records, size)
        const codec = apiByKey(0)!.request(9)
        this.bytesPerOp = body.length
        return { run: () => codec.decode(new Reader(body)) }
      }
    })
  }
  for (const [records, size, codecName, codec] of [[100, 100, 'none', Compression.none], [16, 1024, 'none', Compression.none],
    [100, 100, 'lz4', Compression.lz4], [100, 100, 'zstd', Compression.zstd]] as const) {
    cases.push({
      name: `validate/${records}x${size}B-${codecName}`,
      bytesPerOp: null,
      setup () {
        const batch = buildRecordBatch(makeRecords(records, size), { compression: codec })
        const info = createBatchInfo()
        this.bytesPerOp = batch.length
        return {
          run: () => {
            const code = validateProducedRecords(batch, kLimits, info)
            if (code !== 0) throw new Error(`validateProducedRecords returned ${code}`)
          }
        }
      }
    })
  }
  // receive copies the message out (what every op but Produce gets); receiveView hands Produce parts a view.
  for (const [mode, inPlace] of [['handoff', false], ['handoff-view', true]] as const) {
    for (const size of [1024, 64 * 1024]) {
      cases.push({
        name: `ring/${mode}-${size / 1024}KiB`,
        bytesPerOp: size,
        setup () {
          const buffer = createRingBuffer(1 << 20)
          const writer = new RingWriter(buffer)
          const reader = new RingReader(buffer)
          const message = Buffer.alloc(size, 7)
          return {
            run: () => {
              writer.send(message)
              const received = inPlace ? reader.receiveView() : reader.receive()
              if (received === null) throw new Error('ring lost a message')
              // Touch the payload as a handler would (a view is only valid until the next receive).
              return received[received.length - 1]
            }
          }
        }
      })
    }
  }
  cases.push({
    name: 'append/segment-16x1KiB',
    bytesPerOp: null,
    // Each operation writes a batch to disk: bounded to a few thousand appends.
    timing: { batchSamples: 32, maxSamples: 120 },
    setup () {
      const directory = mkdtempSync(join(tmpdir(), 'shoal-micro-append-'))
      const log = PartitionLog.open(directory)
      const batch = buildRecordBatch(makeRecords(16, 1024))
      this.bytesPerOp = batch.length
      return {
        run: () => log.append(batch, -1),
        teardown: () => {
          log.close()
          rmSync(directory, { recursive: true, force: true })
        }
      }
    }
  })
  const section = buildRecordBatch(makeRecords(128, 100)).subarray(61)
  for (const [name, codec] of kCodecs) {
    cases.push({
      name: `compress/${name}-${Math.round(section.length / 1024)}KiB`,
      bytesPerOp: section.length,
      setup: () => ({ run: () => compress(codec, section) })
    })
    cases.push({
      name: `decompress/${name}-${Math.round(section.length / 1024)}KiB`,
      bytesPerOp: section.length,
      setup () {
        const compressed = compress(codec, section)
        return { run: () => decompress(codec, compressed) }
      }
    })
  }
  return cases
}

export async function measureCase (microCase: MicroCase, timeMs: number): Promise<MicroStats> {
  const { run, teardown } = microCase.setup()
  try {
    run() // fail fast, outside the timing, if the case is broken
    const stats = await measure(run, {
      min_cpu_time: timeMs * 1e6,
      ...(microCase.timing?.batchSamples === undefined ? {} : { batch_samples: microCase.timing.batchSamples }),
      ...(microCase.timing?.maxSamples === undefined ? {} : { max_samples: microCase.timing.maxSamples })
    })
    return { medianNs: stats.p50, avgNs: stats.avg, p99Ns: stats.p99, minNs: stats.min, ops: stats.ticks, bytesPerOp: microCase.bytesPerOp }
  } finally {
    teardown?.()
  }
}

export function readBaseline (path: string): MicroFile | null {
  if (!existsSync(path)) return null
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as MicroFile
    return parsed.schema === kMicroSchema ? parsed : null
  } catch {
    return null
  }
}

/** "1.08x slower", "0.91x faster", "~same" within 3 %. */
export function describeChange (value: number | null): string {
  if (value === null) return '-'
  if (Math.abs(value - 1) < 0.03) return `${value.toFixed(2)}x ~same`
  return `${value.toFixed(2)}x ${value > 1 ? 'slower' : 'faster'}`
}

export function renderMicroTable (results: Record<string, MicroStats>, baseline: MicroFile | null): string {
  const header = ['case', 'median/op', 'ops/s', 'MiB/s', 'p99/op', 'baseline median', 'vs baseline (time)']
  const rows = Object.entries(results).map(([name, stats]) => {
    const before = baseline?.results[name]
    return [
      name,
      formatDuration(stats.medianNs),
      formatInteger(stats.medianNs > 0 ? 1e9 / stats.medianNs : null),
      stats.bytesPerOp === null ? '-' : formatFixed(stats.bytesPerOp / (stats.medianNs / 1e9) / (1024 * 1024), 1),
      formatDuration(stats.p99Ns),
      formatDuration(before?.medianNs),
      describeChange(ratio(stats.medianNs, before?.medianNs))
    ]
  })
  return renderTable(header, rows, new Set([1, 2, 3, 4, 5]))
}

export async function runMicro (options: BenchOptions, repoRoot: string): Promise<void> {
  const baselinePath = resolve(repoRoot, options.baseline)
  const baseline = readBaseline(baselinePath)
  const cases = microCases().filter((microCase) => options.microFilter.length === 0 || options.microFilter.some((part) => microCase.name.includes(part)))
  const machine = machineInfo()
  const git = gitInfo(repoRoot)
  process.stderr.write(`micro-benchmarks: ${cases.length} cases, ~${options.microTimeMs} ms each; ${machine.cores} cores, ${machine.cpuModel ?? 'unknown CPU'}, Node ${machine.node}\n`)
  const results: Record<string, MicroStats> = {}
  for (const [index, microCase] of cases.entries()) {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[${index + 1}/${cases.length}] ${microCase.name}`)
    results[microCase.name] = await measureCase(microCase, options.microTimeMs)
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
  process.stdout.write(renderMicroTable(results, baseline) + '\n')
  if (baseline !== null) {
    process.stdout.write(`\nbaseline: ${options.baseline} (${baseline.date}, commit ${baseline.git.commit?.slice(0, 7) ?? '?'}, ` +
      `${baseline.machine.cores} cores, ${baseline.machine.cpuModel ?? '?'}, Node ${baseline.machine.node}); compare only on the same machine\n`)
    if (baseline.note !== undefined) process.stdout.write(`baseline note: ${baseline.note}\n`)
  } else {
    process.stdout.write(`\nno baseline at ${options.baseline}: run with --update-baseline to store one\n`)
  }
  const date = new Date()
  const file: MicroFile = { schema: kMicroSchema, date: date.toISOString(), git, machine, results }
  const out = options.out ?? defaultResultPath(repoRoot, date, git.commit, 'micro')
  writeResultFile(out, { ...file, baseline: baseline === null ? null : { path: options.baseline, date: baseline.date, commit: baseline.git.commit } })
  process.stdout.write(`result: ${out}\n`)
  if (options.updateBaseline) {
    writeResultFile(baselinePath, file)
    process.stdout.write(`baseline updated: ${options.baseline}\n`)
  }
}
