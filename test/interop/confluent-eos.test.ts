// Exactly-once with confluent-kafka-python (librdkafka) across kill -9: a consume-transform-produce loop
// (fixtures/eos-transform.py) copies 100,000 records from a 4-partition input topic to an output topic in
// transactions of about 500, committing its consumer offsets inside each transaction, while the broker is killed
// (SIGKILL) and restarted on the same data directory twice. A concurrent read_committed reader
// (fixtures/read-committed.py) follows the output all along. Both must end with exactly the input, transformed:
// no record lost, none twice, each partition in its input order; the reader never sees aborted or open data
// (that would show as a duplicate or a record out of order).
//
// The clients reach the broker through a RestartProxy (test/interop/api-version-proxy.ts) that holds their
// connections while the broker is between processes, as a stable address would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { RestartProxy } from './api-version-proxy.ts'

const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kTransform = fileURLToPath(new URL('fixtures/eos-transform.py', import.meta.url))
const kReader = fileURLToPath(new URL('fixtures/read-committed.py', import.meta.url))
const kPartitions = 4
const kRecords = 100_000
const kPerBatch = 1000
const kArgs = ['--group-initial-rebalance-delay-ms', '0']

interface Transform {
  child: ChildProcess
  exited: Promise<number | null>
}

function startTransform (bootstrap: string, progress: { committed: number, aborted: number, done: boolean, lines: string[] }): Transform {
  const child = spawn(kPython, [kTransform, bootstrap, 'eos-input', 'eos-output', 'eos-group', 'eos-app', '500'], { stdio: ['ignore', 'pipe', 'pipe'] })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    progress.lines.push(line)
    if (progress.lines.length > 200) progress.lines.shift()
    try {
      const event = JSON.parse(line)
      if (typeof event.committed === 'number') progress.committed += event.committed
      if (typeof event.aborted === 'number') progress.aborted += event.aborted
      if (event.done === true) progress.done = true
    } catch {}
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    progress.lines.push(`stderr: ${chunk.toString().slice(0, 500)}`)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited }
}

test('confluent-kafka-python exactly-once copy of 100,000 records survives two kill -9 restarts', { timeout: 600_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-eos-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const proxy = new RestartProxy()
  let broker: TestBroker = await proxy.startBroker({ workers: 2, dataDir, args: kArgs, cleanup: false })
  t.after(async () => {
    await broker.stop()
    await proxy.close()
  })

  // The input: kRecords plain records, round-robin over the partitions, in batches of kPerBatch.
  const client = await KafkaClient.connect(broker.host, broker.port)
  const input: string[][] = Array.from({ length: kPartitions }, () => [])
  try {
    await createTopic(client, 'eos-input', kPartitions)
    await createTopic(client, 'eos-output', kPartitions)
    for (let partition = 0; partition < kPartitions; partition++) {
      for (let start = 0; start < kRecords / kPartitions; start += kPerBatch) {
        const values = Array.from({ length: kPerBatch }, (_, i) => `p${partition}-${start + i}`)
        input[partition].push(...values)
        const response = await client.request(0, 9, {
          transactionalId: null, acks: -1, timeoutMs: 30_000,
          topicData: [{ name: 'eos-input', partitionData: [{ index: partition, records: buildRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) }))) }] }]
        })
        assert.equal(response.responses[0].partitionResponses[0].errorCode, 0)
      }
    }
  } finally {
    client.close()
  }

  const reader = spawn(kPython, [kReader, proxy.bootstrap, 'eos-output', String(kRecords)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let readerOut = ''
  let readerErr = ''
  reader.stdout!.on('data', (chunk: Buffer) => { readerOut += chunk.toString() })
  reader.stderr!.on('data', (chunk: Buffer) => { readerErr = (readerErr + chunk.toString()).slice(-4000) })
  const readerExited = new Promise<number | null>((resolve) => reader.once('exit', (code) => resolve(code)))
  t.after(() => { reader.kill('SIGKILL') })

  const progress = { committed: 0, aborted: 0, done: false, lines: [] as string[] }
  let transform = startTransform(proxy.bootstrap, progress)
  t.after(() => { transform.child.kill('SIGKILL') })
  let restarts = 0
  const restartTransformIfFatal = (): void => {
    // A fatal error ends the loop (exit 3): a new instance takes over with the same transactional id.
    transform.exited.then((code) => {
      if (code === 3 && !progress.done && restarts < 5) {
        restarts++
        transform = startTransform(proxy.bootstrap, progress)
        restartTransformIfFatal()
      }
    })
  }
  restartTransformIfFatal()

  const why = (): string => `committed ${progress.committed}, aborted ${progress.aborted}, loop restarts ${restarts}\n${progress.lines.slice(-30).join('\n')}\nbroker:\n${broker.output().slice(-3000)}`
  for (const at of [0.3, 0.65]) {
    await waitFor(() => progress.committed >= kRecords * at, 240_000, `${at * 100}% copied (${why()})`)
    proxy.hold()
    await broker.kill()
    broker = await startBroker({ workers: 2, dataDir, cleanup: false, args: [...kArgs, '--advertised-listener', proxy.bootstrap] })
    proxy.target(broker.port)
  }
  await waitFor(() => progress.done, 300_000, `the loop to finish (${why()})`)
  assert.equal(await transform.exited, 0, why())
  t.diagnostic(`records committed by the loop (re-done after aborts included): ${progress.committed}, aborted: ${progress.aborted}, loop restarts: ${restarts}`)

  const readerCode = await readerExited
  assert.equal(readerCode, 0, `reader: ${readerErr}`)
  const seen = JSON.parse(readerOut).partitions as Record<string, string[]>
  for (let partition = 0; partition < kPartitions; partition++) {
    const expected = input[partition].map((value) => `out-${value}`)
    const got = seen[String(partition)]
    assert.equal(got.length, expected.length, `partition ${partition}: ${got.length} records read committed, ${expected.length} expected (${why()})`)
    assert.deepEqual(got, expected, `partition ${partition}: exactly the input, in order`)
  }
})
