// What one acks=-1 request costs, in the Java producer's request shape: one connection sending Produce requests
// that each carry one idempotent batch of `--batch-bytes` (16 KiB, Java's batch.size) to one partition, with
// `--in-flight` requests outstanding (Java keeps five), against a Shoal this script starts. For each (acks,
// in-flight) pair it prints the throughput, the client's request round trip (p50, p99), and from the broker's
// /metrics over the same seconds: fsync rounds per second, requests per round, the mean round (the fdatasync
// and the hand-off to libuv's pool and back), and broker CPU per request. A producer's throughput in this shape is
// in-flight x batch / round trip, so these columns say where the round trip goes.
//
//   node_modules/.bin/node bench/request-timeline.ts [--workers N] [--seconds S] [--batch-bytes B]
//     [--record-bytes R] [--data-dir DIR]
//
// The client is test/helpers/kafka-client.ts (the project's own codecs) in this process: it shares the machine's
// cores with the broker, as the Java tools do. Not part of `npm run bench`: a diagnostic whose numbers go into
// bench/README.md ("Java-shaped requests").
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startServer } from './lib/proc.ts'
import { createTopic, initProducerId, KafkaClient } from '../test/helpers/kafka-client.ts'
import { buildRecordBatch } from '../src/protocol/record-batch.ts'

const kRepoRoot = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({
  options: {
    workers: { type: 'string' }, seconds: { type: 'string' }, 'batch-bytes': { type: 'string' },
    'record-bytes': { type: 'string' }, 'data-dir': { type: 'string' }
  }
})
const workers = Number(values.workers ?? 2)
const seconds = Number(values.seconds ?? 4)
const batchBytes = Number(values['batch-bytes'] ?? 16_384)
const recordBytes = Number(values['record-bytes'] ?? 1024)
// Java fills a batch up to batch.size with the records' framing included (about 10 bytes each at these sizes).
const recordsPerBatch = Math.max(1, Math.floor(batchBytes / (recordBytes + 10)))

interface BrokerSample { fsyncRounds: number, fsyncSeconds: number, cpuSeconds: number }

async function sampleMetrics (address: string): Promise<BrokerSample> {
  const text = await (await fetch(`http://${address}/metrics`)).text()
  const value = (name: string): number => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
    return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
  }
  return {
    fsyncRounds: value('kafka_log_logflushstats_logflushtime_seconds_count'),
    fsyncSeconds: value('kafka_log_logflushstats_logflushtime_seconds_sum'),
    cpuSeconds: value('process_cpu_seconds_total')
  }
}

interface LoadResult { requests: number, elapsedSec: number, rttMs: number[] }

/** `inFlight` loops on one connection, each sending its next request when its previous one is answered. */
async function load (port: number, topic: string, acks: number, inFlight: number): Promise<LoadResult> {
  const client = await KafkaClient.connect('127.0.0.1', port)
  try {
    await createTopic(client, topic, 1)
    const { producerId, producerEpoch } = await initProducerId(client)
    const value = Buffer.alloc(recordBytes, 0x61)
    const records = Array.from({ length: recordsPerBatch }, () => ({ key: null, value }))
    let sequence = 0
    let requests = 0
    const rttMs: number[] = []
    const started = performance.now()
    const end = started + seconds * 1000
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        const batch = buildRecordBatch(records, { producerId, producerEpoch, baseSequence: sequence })
        sequence += recordsPerBatch
        const sent = performance.now()
        const response = await client.request(0, 9, {
          transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }]
        })
        const code = response.responses[0].partitionResponses[0].errorCode
        if (code !== 0) throw new Error(`Produce answered error ${code}`)
        rttMs.push(performance.now() - sent)
        requests++
      }
    }
    await Promise.all(Array.from({ length: inFlight }, loop))
    return { requests, elapsedSec: (performance.now() - started) / 1000, rttMs }
  } finally {
    client.close()
  }
}

function percentile (sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]
}

const dataDir = mkdtempSync(join(values['data-dir'] ?? tmpdir(), 'shoal-timeline-'))
const server = await startServer(process.execPath, [join(kRepoRoot, 'src', 'main.ts'), '--listen', '127.0.0.1:0', '--data-dir', dataDir,
  '--workers', String(workers), '--log-level', 'warn', '--metrics-listen', '127.0.0.1:0'], /listening on (\S+)/, 30_000)
try {
  const deadline = Date.now() + 10_000
  let metricsAddress: string | undefined
  while ((metricsAddress = /metrics on (\S+)/.exec(server.output())?.[1]) === undefined) {
    if (Date.now() > deadline) throw new Error(`no 'metrics on' line: ${server.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const port = Number(server.bootstrap.split(':').at(-1))
  console.log(`shoal --workers ${workers}; ${recordsPerBatch} records of ${recordBytes} B per request (batch.size ${batchBytes}), ${seconds} s per row`)
  console.log('acks  in-flight    MB/s  requests/s  rtt p50 / p99 ms  fsync rounds/s  requests/round  round ms  broker CPU us/request')
  let row = 0
  for (const acks of [1, -1]) {
    for (const inFlight of [1, 5]) {
      const before = await sampleMetrics(metricsAddress)
      const result = await load(port, `timeline-${row++}`, acks, inFlight)
      const after = await sampleMetrics(metricsAddress)
      const sorted = result.rttMs.sort((a, b) => a - b)
      const rounds = after.fsyncRounds - before.fsyncRounds
      const perSecond = result.requests / result.elapsedSec
      const cells = [
        String(acks).padEnd(4), String(inFlight).padStart(9),
        (perSecond * recordsPerBatch * recordBytes / 1e6).toFixed(1).padStart(7),
        perSecond.toFixed(0).padStart(11),
        `${percentile(sorted, 0.5).toFixed(2)} / ${percentile(sorted, 0.99).toFixed(2)}`.padStart(17),
        (rounds / result.elapsedSec).toFixed(0).padStart(15),
        (rounds > 0 ? (result.requests / rounds).toFixed(2) : '-').padStart(15),
        (rounds > 0 ? ((after.fsyncSeconds - before.fsyncSeconds) / rounds * 1000).toFixed(3) : '-').padStart(9),
        ((after.cpuSeconds - before.cpuSeconds) / result.requests * 1e6).toFixed(0).padStart(22)
      ]
      console.log(cells.join('  '))
    }
  }
} finally {
  await server.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
