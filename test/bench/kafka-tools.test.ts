// The `kafka` tool's rows without a Kafka installation: stand-in kafka-producer-perf-test.sh and
// kafka-consumer-perf-test.sh (shell scripts in a temp KAFKA_HOME/bin that record their arguments and print what
// Kafka 3.x's tools print) run through findKafkaPerf and runKafka as `npm run bench` runs them. Checks the
// Java-shaped rows' producer settings, the producer's own latency percentiles, and the consume row's fetch rate.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultOptions } from '../../bench/lib/args.ts'
import { runKafka, type LoadContext } from '../../bench/lib/loads.ts'
import { Progress } from '../../bench/lib/progress.ts'
import { javaShapedScenarios, type Scenario } from '../../bench/lib/scenarios.ts'
import { findKafkaPerf, type KafkaTool } from '../../bench/lib/tools.ts'

const kProducerOutput = [
  '30000 records sent, 6000.0 records/sec (5.86 MB/sec), 40.1 ms avg latency, 120.0 ms max latency.',
  '60000 records sent, 52000.123 records/sec (50.78 MB/sec), 30.50 ms avg latency, 150.00 ms max latency, 28 ms 50th, 60 ms 95th, 90 ms 99th, 140 ms 99.9th.'
]
const kConsumerOutput = [
  'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
  '2026-12-04 10:00:00:000, 2026-12-04 10:00:03:300, 58.5938, 17.7557, 60000, 18181.8182, 3050, 250, 234.3750, 240000.0000'
]

function fakeKafkaHome (): { home: string, argsFile: (tool: string) => string } {
  const home = mkdtempSync(join(tmpdir(), 'shoal-fake-kafka-'))
  mkdirSync(join(home, 'bin'))
  const script = (name: string, lines: string[]): void => {
    const path = join(home, 'bin', name)
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(home, name)}.args"\n${lines.map((line) => `echo '${line}'`).join('\n')}\n`)
    chmodSync(path, 0o755)
  }
  script('kafka-producer-perf-test.sh', kProducerOutput)
  script('kafka-consumer-perf-test.sh', kConsumerOutput)
  script('kafka-topics.sh', ['3.8.0 (Commit:stand-in)'])
  return { home, argsFile: (tool) => join(home, `${tool}.args`) }
}

function contextFor (scenario: Scenario, records: number): LoadContext {
  return {
    bootstrap: '127.0.0.1:9', targetKind: 'shoal', topic: 'fake-topic', scenario, records, run: 1,
    options: { ...defaultOptions(), durationSec: 30 }, workDir: tmpdir(), progress: new Progress(process.stderr, 60_000),
    measureStart () {}, measureEnd () {}
  }
}

test('the kafka tool runs the Java-shaped rows with batch.size, reports its percentiles and the consumer\'s fetch rate', async (t) => {
  const { home, argsFile } = fakeKafkaHome()
  t.after(() => rmSync(home, { recursive: true, force: true }))
  const tool = findKafkaPerf(home, {})
  assert.equal(tool.available, true)
  assert.equal((tool as KafkaTool).version, '3.8.0')
  const [shaped16k, shaped256k] = javaShapedScenarios()

  const produced = await runKafka(tool as KafkaTool, contextFor(shaped16k, 60_000))
  assert.equal(produced.status, 'ok', produced.reason ?? '')
  const producerArgs = readFileSync(argsFile('kafka-producer-perf-test.sh'), 'utf8').trim().split('\n')
  for (const expected of ['acks=all', 'batch.size=16384', 'linger.ms=5', 'compression.type=none']) assert.ok(producerArgs.includes(expected), `${expected} not in ${producerArgs.join(' ')}`)
  // Java's other defaults are the shape: the bench does not override them.
  assert.ok(!producerArgs.some((arg) => arg.startsWith('max.in.flight') || arg.startsWith('enable.idempotence')))
  assert.equal(produced.metrics?.msgsPerSec, 52000.123)
  assert.deepEqual([produced.metrics?.latP50Ms, produced.metrics?.latP99Ms], [28, 90])

  await runKafka(tool as KafkaTool, contextFor(shaped256k, 60_000))
  assert.ok(readFileSync(argsFile('kafka-producer-perf-test.sh'), 'utf8').split('\n').includes('batch.size=262144'))

  const consumeRow = javaShapedScenarios().find((scenario) => scenario.kind === 'consume')!
  const consumed = await runKafka(tool as KafkaTool, contextFor(consumeRow, 60_000))
  assert.equal(consumed.status, 'ok', consumed.reason ?? '')
  // The fetch rate, the 3 s group join left out (the overall rate would be 18k msg/s).
  assert.equal(consumed.metrics?.msgsPerSec, 240000)
  assert.match(consumed.note ?? '', /fetch rate .*3050 ms.*18182 msg\/s/)
  const consumerArgs = readFileSync(argsFile('kafka-consumer-perf-test.sh'), 'utf8').trim().split('\n')
  assert.deepEqual(consumerArgs.slice(0, 4), ['--bootstrap-server', '127.0.0.1:9', '--topic', 'fake-topic'])
})
