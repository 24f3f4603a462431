// src/main.ts's shutdown on SIGTERM/SIGINT, against real broker processes: a graceful one answers what is in
// flight (acks=-1 produces once fsynced, long polls with what they have), writes every log's clean-shutdown
// marker and exits 0 within --shutdown-timeout-ms; past the timeout it exits 1 naming what was pending; and a
// second signal exits at once (143 for SIGTERM) even while the shutdown is stuck.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { kRepoRoot, startBroker, waitFor, type TestBroker } from './helpers/broker.ts'
import { Kafka, logLevel } from './helpers/kafkajs.ts'
import { createTopic, fetchRecords, kFetchVersion, KafkaClient, produce } from './helpers/kafka-client.ts'
import { kCleanShutdownFile } from '../src/log/partition-log.ts'

const kShutdownTimeoutMs = 20_000

function dataDirectory (t: { after (fn: () => unknown): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-shutdown-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  return dataDir
}

/** Resolves with the exit code once the broker process has exited, failing past `timeoutMs`. */
async function exitCode (broker: TestBroker, timeoutMs: number): Promise<number | string> {
  await waitFor(() => broker.process.exitCode !== null || broker.process.signalCode !== null, timeoutMs, `broker exit:\n${broker.output()}`)
  return broker.process.exitCode ?? (broker.process.signalCode as string)
}

function fetchRequest (topic: string, partition: number, options: { maxWaitMs: number, minBytes: number, maxBytes: number }): object {
  return {
    replicaId: -1, maxWaitMs: options.maxWaitMs, minBytes: options.minBytes, maxBytes: options.maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: options.maxBytes, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  }
}

test('SIGTERM under acks=-1 load: every acknowledged record survives, the logs are closed clean, exit 0', { timeout: 120_000 }, async (t) => {
  const dataDir = dataDirectory(t)
  const topic = 'shutdown-under-load'
  const partitions = 4
  const broker = await startBroker({ dataDir, workers: 2, args: ['--shutdown-timeout-ms', String(kShutdownTimeoutMs), '--log-level', 'info'] })
  t.after(() => broker.kill())
  const kafka = new Kafka({
    clientId: 'shutdown-test',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    // The broker goes away for good: give up soon rather than retry for half a minute.
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 300 }
  })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] })
  await admin.disconnect()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()

  // Several lanes, each sending acks=-1 batches across all partitions (the partitions span both workers, so
  // each request has parts on the other worker) until a send fails.
  const acknowledged: string[] = []
  let failed = 0
  const lane = async (name: number): Promise<void> => {
    for (let sequence = 0; ; sequence++) {
      const values = Array.from({ length: partitions }, (_, p) => `lane${name}-${sequence}-p${p}`)
      try {
        await producer.send({ topic, acks: -1, messages: values.map((value, partition) => ({ value, partition })) })
      } catch {
        failed++
        return
      }
      acknowledged.push(...values)
    }
  }
  const lanes = [0, 1, 2, 3].map(lane)
  await waitFor(() => acknowledged.length >= 400, 30_000, 'acknowledged records before the SIGTERM')
  const before = acknowledged.length
  broker.process.kill('SIGTERM')
  // Exit 0 says the shutdown finished within --shutdown-timeout-ms (past it, the process exits 1).
  assert.equal(await exitCode(broker, kShutdownTimeoutMs + 10_000), 0, broker.output())
  await Promise.all(lanes)
  await producer.disconnect().catch(() => {})
  assert.ok(acknowledged.length >= before)
  assert.equal(failed, 4, 'every lane ended with a failed send')
  assert.match(broker.output(), /SIGTERM: shutting down/)
  assert.match(broker.output(), /shut down cleanly/)
  assert.doesNotMatch(broker.output(), /ERROR/)
  for (let p = 0; p < partitions; p++) {
    assert.ok(existsSync(join(dataDir, `${topic}-${p}`, kCleanShutdownFile)), `${topic}-${p} has its clean-shutdown marker`)
  }

  const restarted = await startBroker({ dataDir, workers: 2 })
  t.after(() => restarted.stop())
  const client = await KafkaClient.to(restarted.bootstrap)
  t.after(() => client.close())
  const stored = new Set<string>()
  for (let p = 0; p < partitions; p++) {
    for (const record of await fetchRecords(client, topic, p)) if (record.value !== null) stored.add(record.value)
  }
  const lost = acknowledged.filter((value) => !stored.has(value))
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged records missing after the restart`)
})

test('a long poll in flight is answered at SIGTERM and does not hold the shutdown', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--shutdown-timeout-ms', String(kShutdownTimeoutMs)] })
  t.after(() => broker.kill())
  const producer = await KafkaClient.to(broker.bootstrap)
  t.after(() => producer.close())
  // Three partitions: partition 1 on one worker, 0 and 2 on the other.
  await createTopic(producer, 'long-poll', 3)
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  const poll = (partitions: Array<{ partition: number, fetchOffset: number }>): Promise<any> => client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 600_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'long-poll', partitions: partitions.map((p) => ({ ...p, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 })) }],
    forgottenTopicsData: [], rackId: ''
  })
  // Two polls in one write (one segment, read by the broker at once): the first, on partition 2, is answered by
  // a produce there, which shows that the broker has read both; the second, on partitions 0 and 1 (a part on
  // each worker), stays parked for ten minutes.
  client.socket.cork()
  const first = poll([{ partition: 2, fetchOffset: 0 }])
  const second = poll([{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 0 }])
  client.socket.uncork()
  assert.equal((await produce(producer, 'long-poll', 2, ['wakes the first poll'])).errorCode, 0)
  const woken = await first
  assert.equal(woken.responses[0].partitions[0].highWatermark, 1)
  broker.process.kill('SIGTERM')
  const answered = await second
  assert.equal(answered.errorCode, 0)
  for (const partition of answered.responses[0].partitions) {
    assert.equal(partition.errorCode, 0)
    assert.equal(partition.records === null ? 0 : partition.records.length, 0)
  }
  assert.equal(await exitCode(broker, kShutdownTimeoutMs + 10_000), 0, broker.output())
})

/**
 * A client that asks for ~48 MB and never reads: the response cannot be delivered, so the shutdown waits on it
 * (a response is not thrown away while the client may still take it) until --shutdown-timeout-ms.
 */
async function stuckShutdown (t: { after (fn: () => unknown): void }, timeoutMs: number): Promise<TestBroker> {
  const broker = await startBroker({ workers: 1, args: ['--shutdown-timeout-ms', String(timeoutMs), '--log-level', 'info'] })
  t.after(() => broker.kill())
  const producer = await KafkaClient.to(broker.bootstrap)
  t.after(() => producer.close())
  await createTopic(producer, 'stuck', 1)
  const value = 'x'.repeat(1_000_000)
  for (let i = 0; i < 48; i++) assert.equal((await produce(producer, 'stuck', 0, [value], { acks: 1 })).errorCode, 0)
  const reader = await KafkaClient.to(broker.bootstrap)
  t.after(() => reader.close())
  // The first bytes of the response show that the broker has answered (its whole response is queued on the
  // socket at once); from then on the client reads nothing more.
  const answering = new Promise<void>((resolve) => reader.socket.once('data', () => { reader.socket.pause(); resolve() }))
  reader.request(1, kFetchVersion, fetchRequest('stuck', 0, { maxWaitMs: 0, minBytes: 1, maxBytes: 64 << 20 })).catch(() => {})
  await answering
  broker.process.kill('SIGTERM')
  await waitFor(() => /SIGTERM: shutting down/.test(broker.output()), 20_000, 'the shutdown to start')
  return broker
}

test('past --shutdown-timeout-ms the broker exits 1 with a line saying what was pending', { timeout: 90_000 }, async (t) => {
  const broker = await stuckShutdown(t, 3000)
  assert.equal(await exitCode(broker, 30_000), 1, broker.output())
  assert.match(broker.output(), /shutdown did not finish within 3000 ms \(--shutdown-timeout-ms\), exiting unclean; still pending: worker 0: draining, 0 request\(s\) in flight on 1 connection\(s\), \d+ response bytes not yet taken by clients/)
})

test('a second SIGTERM exits at once (143) while the shutdown is stuck', { timeout: 90_000 }, async (t) => {
  // A timeout far beyond the wait below: only the second signal can end the process in time.
  const broker = await stuckShutdown(t, 600_000)
  broker.process.kill('SIGTERM')
  assert.equal(await exitCode(broker, 20_000), 143, broker.output())
  assert.match(broker.output(), /SIGTERM again: exiting now, without finishing the shutdown/)
})

test('a SIGTERM while the broker is still starting shuts it down cleanly once it is up', { timeout: 90_000 }, async (t) => {
  const dataDir = dataDirectory(t)
  // 400 partitions to recover make the start long enough (well over a second) for the signal to come during it.
  const first = await startBroker({ dataDir, workers: 2, cleanup: false })
  const client = await KafkaClient.connect(first.host, first.port)
  await createTopic(client, 'slow-start', 400)
  client.close()
  await first.stop()
  const child = spawn(process.execPath, [join(kRepoRoot, 'src', 'main.ts'), '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', '2', '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { output += text })
  // The open-file line is logged after the start-up signal handler is in place, before the workers start.
  await waitFor(() => /open file limit/.test(output), 20_000, `the open-file line:\n${output}`)
  assert.doesNotMatch(output, /listening on/, 'the broker is not up yet')
  child.kill('SIGTERM')
  await waitFor(() => child.exitCode !== null || child.signalCode !== null, 30_000, `broker exit:\n${output}`)
  assert.equal(child.exitCode, 0, output)
  assert.match(output, /SIGTERM while starting: shutting down once started/)
  assert.match(output, /listening on/)
  assert.match(output, /shut down cleanly/)
})
