// TLS next to plaintext: one Shoal with a PLAINTEXT, an SSL and a SASL_SSL (SCRAM-SHA-256) listener; on each,
// rdkafka_performance produces `--records` 1 KiB records (acks=1) to a fresh topic and then consumes them from
// the beginning. Prints msgs/s and MB/s per listener and the ratio to PLAINTEXT; the goal is TLS >= 0.6x.
//
//   node_modules/.bin/node bench/tls.ts [--records N] [--workers N] [--rdkafka-perf PATH]
//
// The certificates are made with openssl in a temp dir (test/net/tls-certificates.ts, shared with the tests).
// Short by design (about a second a run on a small machine): the numbers are for comparing the three listeners of
// one run, not for the baseline of bench/run.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { findRdkafka } from './lib/tools.ts'
import { runProcess, startServer, tail } from './lib/proc.ts'
import { parseRdkafkaPerformance, type RdkafkaResult } from './lib/parse-rdkafka.ts'
import { makeTestCertificates } from '../test/net/tls-certificates.ts'

const kRepoRoot = fileURLToPath(new URL('..', import.meta.url))
const kRecordBytes = 1024
const kGoal = 0.6
const kUser = 'bench'
const kPassword = 'bench-secret'

const { values } = parseArgs({ options: { records: { type: 'string' }, workers: { type: 'string' }, 'rdkafka-perf': { type: 'string' } } })
const records = Number(values.records ?? 60_000)
const workers = Number(values.workers ?? 2)

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

interface Row {
  readonly listener: string
  readonly produce: RdkafkaResult | null
  readonly consume: RdkafkaResult | null
  readonly error: string | null
}

async function main (): Promise<void> {
  const tool = findRdkafka(kRepoRoot, values['rdkafka-perf'] ?? null)
  if (!tool.available) {
    console.log(`rdkafka_performance: MISSING: ${tool.reason}`)
    process.exitCode = 1
    return
  }
  const certificates = makeTestCertificates()
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-bench-tls-'))
  const [sslPort, saslSslPort] = [await freePort(), await freePort()]
  const server = await startServer(process.execPath, [
    join(kRepoRoot, 'src', 'main.ts'), '--data-dir', dataDir, '--workers', String(workers), '--log-level', 'warn',
    '--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort}`,
    '--ssl-certificate-chain', certificates.serverChainAndKeyFile,
    '--scram-users', `SCRAM-SHA-256=[name=${kUser},password=${kPassword}]`
  ], /listening on (\S+)/, 30_000)
  const tlsArgs = ['-X', `ssl.ca.location=${certificates.caFile}`]
  const listeners: Array<{ name: string, bootstrap: string, args: string[] }> = [
    { name: 'PLAINTEXT', bootstrap: server.bootstrap, args: [] },
    { name: 'SSL', bootstrap: `127.0.0.1:${sslPort}`, args: ['-X', 'security.protocol=ssl', ...tlsArgs] },
    { name: 'SASL_SSL', bootstrap: `127.0.0.1:${saslSslPort}`, args: ['-X', 'security.protocol=sasl_ssl', ...tlsArgs, '-X', 'sasl.mechanisms=SCRAM-SHA-256', '-X', `sasl.username=${kUser}`, '-X', `sasl.password=${kPassword}`] }
  ]
  const [command, ...prefix] = [...tool.lineBuffered, tool.performance]
  const rows: Row[] = []
  try {
    for (const listener of listeners) {
      const topic = `bench-tls-${listener.name.toLowerCase()}`
      const base = ['-b', listener.bootstrap, '-t', topic, '-p', '0', '-u', ...listener.args]
      const produced = await runProcess(command, [...prefix, '-P', ...base, '-s', String(kRecordBytes), '-c', String(records), '-a', '1', '-X', 'linger.ms=5'], { timeoutMs: 60_000, stopSignal: 'SIGINT', graceMs: 5000 })
      const produce = parseRdkafkaPerformance(produced.stdout)
      const consumed = await runProcess(command, [...prefix, '-C', ...base, '-o', 'beginning', '-e', '-c', String(records)], { timeoutMs: 60_000, stopSignal: 'SIGINT', graceMs: 5000 })
      const consume = parseRdkafkaPerformance(consumed.stdout)
      const error = produce === null || consume === null ? tail(produced.stderr + consumed.stderr) : null
      rows.push({ listener: listener.name, produce, consume, error })
    }
  } finally {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
    certificates.remove()
  }
  report(rows)
}

function report (rows: readonly Row[]): void {
  const plain = rows[0]
  const ratio = (value: number | undefined, base: number | undefined): string => value === undefined || base === undefined || base === 0 ? '-' : `${(value / base).toFixed(2)}x`
  console.log(`produce and consume, ${records} records of ${kRecordBytes} B, acks=1, one partition, ${workers} worker(s)`)
  console.log('| listener | produce msgs/s | produce MB/s | vs PLAINTEXT | consume msgs/s | consume MB/s | vs PLAINTEXT |')
  console.log('|---|---|---|---|---|---|---|')
  let belowGoal = false
  for (const row of rows) {
    if (row.error !== null) {
      console.log(`| ${row.listener} | failed: ${row.error.replaceAll('\n', ' ')} |`)
      belowGoal = true
      continue
    }
    const produceRatio = ratio(row.produce?.msgsPerSec, plain.produce?.msgsPerSec)
    const consumeRatio = ratio(row.consume?.msgsPerSec, plain.consume?.msgsPerSec)
    if (row !== plain && ((row.produce!.msgsPerSec / plain.produce!.msgsPerSec) < kGoal || (row.consume!.msgsPerSec / plain.consume!.msgsPerSec) < kGoal)) belowGoal = true
    console.log(`| ${row.listener} | ${Math.round(row.produce!.msgsPerSec)} | ${(row.produce!.bytesPerSec / 1e6).toFixed(1)} | ${produceRatio} | ${Math.round(row.consume!.msgsPerSec)} | ${(row.consume!.bytesPerSec / 1e6).toFixed(1)} | ${consumeRatio} |`)
  }
  console.log(belowGoal ? `TLS below the goal of ${kGoal}x plaintext (or a run failed)` : `TLS at or above the goal of ${kGoal}x plaintext`)
}

await main()
