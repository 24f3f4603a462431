// /readyz against a broker that is recovering: it answers 503 until every worker has opened its partitions, and
// the first 200 comes with every partition recovered in the shoal_recovery_* gauges (which the workers write into
// their slabs while they cannot answer anything). 400 partitions make the start long enough to watch.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kRepoRoot, startBroker, waitFor } from '../helpers/broker.ts'
import { createTopic, KafkaClient } from '../helpers/kafka-client.ts'
import { parsePrometheus, sampleSum } from './prometheus.ts'

const kPartitions = 400

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

test('/readyz answers 503 while the workers recover and 200 only once every partition is recovered', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-readyz-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const first = await startBroker({ dataDir, workers: 2, cleanup: false })
  const client = await KafkaClient.connect(first.host, first.port)
  await createTopic(client, 'recovering', kPartitions)
  client.close()
  await first.stop()

  const port = await freePort()
  const child = spawn(process.execPath, [join(kRepoRoot, 'src', 'main.ts'), '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', '2',
    '--log-level', 'warn', '--metrics-listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })

  const base = `http://127.0.0.1:${port}`
  const statuses: number[] = []
  await waitFor(async () => {
    try {
      const status = (await fetch(`${base}/readyz`)).status
      statuses.push(status)
      return status === 200
    } catch {
      return false // not listening yet
    }
  }, 60_000, `/readyz 200:\n${output}`)
  assert.ok(statuses.includes(503), `503 before 200 while recovering: ${statuses.join(' ')}`)

  const samples = parsePrometheus(await (await fetch(`${base}/metrics`)).text())
  const toRecover = sampleSum(samples, 'shoal_recovery_partitions')
  assert.ok(toRecover >= kPartitions, `partitions to recover: ${toRecover}`)
  assert.equal(sampleSum(samples, 'shoal_recovery_partitions_recovered'), toRecover)
  assert.ok(sampleSum(samples, 'shoal_recovery_bytes') >= 0)
  assert.equal(sampleSum(samples, 'shoal_ready'), 1)
})
