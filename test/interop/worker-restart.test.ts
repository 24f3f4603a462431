// Worker supervision: one worker thread of a running broker dies under load (the test hook: SIGUSR2 with
// SHOAL_TEST_HOOKS=1 terminates worker 1, as abruptly as a crash of that thread) and the process goes on. While
// an idempotent kafkajs producer writes to every partition of a topic spread over both workers, and a probe
// keeps producing to a partition of worker 0, worker 1 is killed. Then:
//   - the broker process is still alive and its log says that worker 1 died and was restarted;
//   - the probe's requests to worker 0's partition kept being answered without error throughout (a probe
//     connection that lived on worker 1 dies with it and reconnects; that is not an answer);
//   - worker 1's partitions serve again within a deadline;
//   - connections that send worker 1's partitions through worker 0 (pipelined produces, long-polling fetches of
//     an idle topic) are answered throughout: NOT_LEADER_OR_FOLLOWER for worker 1's partitions while it
//     restarts, never a hang and never another error (the acceptor spreads these connections over both workers,
//     so some sit on worker 0 with calls to worker 1 in flight, and some on worker 1 with long polls parked on
//     worker 0);
//   - reading every partition from the beginning, every acknowledged record is there exactly once, and no
//     record of the idempotent producer is there twice (retries across the restart were deduplicated).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { createTopic, fetchRecords, kFetchVersion, KafkaClient, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kPartitions = 8
const kTopic = 'worker-restart'
/** A topic nobody writes to: fetches of it long-poll. */
const kIdleTopic = 'worker-restart-idle'
const kLongPollMs = 3000
/** How long worker 1's partitions may take to serve again after the kill. */
const kRecoveryDeadlineMs = 15_000

/** The owner worker of each partition, from the topic id the controller persisted (see shard-table.ts). */
function owners (dataDir: string, topic: string, workers: number): number[] {
  const state = JSON.parse(readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8')) as { topics: Array<{ name: string, id: string }> }
  const entry = state.topics.find((t) => t.name === topic)
  assert.ok(entry, `${topic} in cluster.json`)
  const seed = parseInt(entry.id.slice(0, 8), 16)
  return Array.from({ length: kPartitions }, (_, p) => (seed + p) % workers)
}

/** Open file descriptors of process `pid` on files under `under` (Linux; -1 elsewhere). */
function openFds (pid: number | undefined, under: string): number {
  const dir = `/proc/${pid}/fd`
  if (pid === undefined || !existsSync(dir)) return -1
  let n = 0
  for (const fd of readdirSync(dir)) {
    try {
      if (readlinkSync(join(dir, fd)).startsWith(under)) n++
    } catch {} // closed meanwhile
  }
  return n
}

interface ProbeAnswer {
  at: number
  errorCode: number
}

/**
 * Produces (acks -1) one record at a time to `partition` until `stop`, reconnecting when its connection dies;
 * every answer is recorded with its time, and the values of acknowledged records are added to `acked`.
 */
async function probe (bootstrap: string, partition: number, name: string, answers: ProbeAnswer[], acked: Set<string>, sent: Set<string>, stop: { done: boolean }): Promise<number> {
  let reconnects = 0
  let client = await KafkaClient.to(bootstrap)
  try {
    for (let i = 0; !stop.done; i++) {
      if (client.isClosed) {
        reconnects++
        client = await waitFor(() => KafkaClient.to(bootstrap), 10_000, `${name} reconnecting`)
      }
      const value = `${name}-${i}`
      sent.add(value)
      let result
      try {
        result = await produce(client, kTopic, partition, [value], { acks: -1 })
      } catch {
        continue // the connection died with the request in flight: unacknowledged
      }
      answers.push({ at: Date.now(), errorCode: result.errorCode })
      if (result.errorCode === ErrorCode.NONE) acked.add(value)
    }
  } finally {
    client.close()
  }
  return reconnects
}

/**
 * Several connections, each with `lanes` requests in flight, producing to `partition` (of worker 1) until
 * `stop`; a connection that dies with worker 1 is not reopened. Returns the error codes answered.
 */
async function crossProbes (bootstrap: string, partition: number, connections: number, acked: Set<string>, sent: Set<string>, stop: { done: boolean }): Promise<number[]> {
  const codes: number[] = []
  const clients = await Promise.all(Array.from({ length: connections }, () => KafkaClient.to(bootstrap)))
  await Promise.all(clients.map((client, c) => Promise.all(Array.from({ length: 4 }, async (_, lane) => {
    for (let i = 0; !stop.done && !client.isClosed; i++) {
      const value = `cross-${c}-${lane}-${i}`
      sent.add(value)
      try {
        const result = await produce(client, kTopic, partition, [value], { acks: -1 })
        codes.push(result.errorCode)
        if (result.errorCode === ErrorCode.NONE) acked.add(value)
      } catch {
        return // died with worker 1
      }
    }
  }))))
  for (const client of clients) client.close()
  return codes
}

/**
 * Several connections long-polling every partition of the idle topic until `stop`; returns, per answer, its
 * latency and error codes. A connection that dies with worker 1 is not reopened.
 */
async function fetchProbes (bootstrap: string, connections: number, stop: { done: boolean }): Promise<Array<{ ms: number, codes: number[] }>> {
  const answers: Array<{ ms: number, codes: number[] }> = []
  const clients = await Promise.all(Array.from({ length: connections }, () => KafkaClient.to(bootstrap)))
  await Promise.all(clients.map(async (client) => {
    while (!stop.done && !client.isClosed) {
      const started = Date.now()
      let response
      try {
        response = await client.request(1, kFetchVersion, {
          replicaId: -1, maxWaitMs: kLongPollMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: kIdleTopic, partitions: [0, 1, 2, 3].map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 })) }],
          forgottenTopicsData: [], rackId: ''
        })
      } catch {
        return // died with worker 1
      }
      answers.push({ ms: Date.now() - started, codes: response.responses.flatMap((t: any) => t.partitions.map((p: any) => p.errorCode)) })
    }
  }))
  for (const client of clients) client.close()
  return answers
}

test('a worker thread that dies under load is restarted; the other keeps serving; nothing acknowledged is lost or duplicated', async (t) => {
  const broker = await startBroker({ workers: 2, env: { SHOAL_TEST_HOOKS: '1' } })
  t.after(() => broker.stop())
  const admin = await KafkaClient.to(broker.bootstrap)
  t.after(() => admin.close())
  await createTopic(admin, kTopic, kPartitions)
  await createTopic(admin, kIdleTopic, 4)
  const idleOwners = owners(broker.dataDir, kIdleTopic, 2).slice(0, 4)
  assert.ok(idleOwners.includes(0) && idleOwners.includes(1), `both workers own idle partitions: ${idleOwners}`)
  const owner = owners(broker.dataDir, kTopic, 2)
  const survivorPartition = owner.indexOf(0)
  const restartedPartition = owner.indexOf(1)
  assert.ok(survivorPartition >= 0 && restartedPartition >= 0, `both workers own partitions: ${owner}`)

  const kafka = new Kafka({ clientId: 'worker-restart', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 2000, retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 500 } })
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 500 } })
  await producer.connect()
  t.after(() => producer.disconnect())

  const stop = { done: false }
  const acked = new Set<string>()
  const sent = new Set<string>()
  const failures: string[] = []
  // The idempotent producer: one record to every partition per send, sends one after another.
  const load = (async () => {
    for (let n = 0; !stop.done; n++) {
      const messages = Array.from({ length: kPartitions }, (_, p) => ({ partition: p, key: `k-${n}-${p}`, value: `kjs-${n}-${p}` }))
      for (const m of messages) sent.add(m.value)
      try {
        await producer.send({ topic: kTopic, acks: -1, messages })
        for (const m of messages) acked.add(m.value)
      } catch (error) {
        failures.push(`send ${n}: ${(error as Error).message}`)
      }
    }
  })()
  const survivorAnswers: ProbeAnswer[] = []
  const survivorProbe = probe(broker.bootstrap, survivorPartition, 'probe-0', survivorAnswers, acked, sent, stop)
  const cross = crossProbes(broker.bootstrap, restartedPartition, 4, acked, sent, stop)
  const fetches = fetchProbes(broker.bootstrap, 4, stop)

  // Load first, then the kill.
  await waitFor(() => acked.size >= 20 * kPartitions && survivorAnswers.length >= 20, 20_000, 'load before the kill')
  const fdsBefore = openFds(broker.process.pid, broker.dataDir)
  const killedAt = Date.now()
  assert.ok(broker.process.kill('SIGUSR2'))
  await waitFor(() => /worker 1 died/.test(broker.output()), 10_000, 'the broker to see worker 1 die')

  // Worker 1's partitions: a fresh connection produces to one until it is answered without error.
  const restartedAt = await waitFor(async () => {
    const client = await KafkaClient.to(broker.bootstrap)
    try {
      const result = await produce(client, kTopic, restartedPartition, [`after-restart-${Date.now()}`], { acks: -1 })
      return result.errorCode === ErrorCode.NONE ? Date.now() : 0
    } finally {
      client.close()
    }
  }, kRecoveryDeadlineMs, `worker 1's partition ${restartedPartition} to serve again`)
  assert.ok(restartedAt - killedAt < kRecoveryDeadlineMs)

  // Some more load after the restart, then stop everything.
  const ackedAtRestart = acked.size
  await waitFor(() => acked.size >= ackedAtRestart + 10 * kPartitions, 20_000, 'load after the restart')
  stop.done = true
  await load
  const reconnects = await survivorProbe
  const crossCodes = await cross
  const fetchAnswers = await fetches

  assert.equal(broker.process.exitCode, null, 'the broker process is alive')
  assert.equal(broker.process.signalCode, null, 'the broker process is alive')
  assert.match(broker.output(), /worker 1 died/)
  assert.match(broker.output(), /worker 1 restarted/)
  assert.deepEqual(failures, [], 'the idempotent producer retried through the restart')

  // The survivor's partition answered throughout: no error, and answers before, during and after the restart.
  assert.deepEqual(survivorAnswers.filter((a) => a.errorCode !== ErrorCode.NONE), [], 'worker 0 answered without error')
  assert.ok(survivorAnswers.some((a) => a.at > restartedAt), 'worker 0 answered after the restart')
  const during = survivorAnswers.filter((a) => a.at >= killedAt && a.at <= restartedAt).length
  const gaps = survivorAnswers.map((a, i) => i === 0 ? 0 : a.at - survivorAnswers[i - 1].at)
  const longestGap = Math.max(...gaps)
  t.diagnostic(`restart took ${restartedAt - killedAt} ms; worker 0 answered ${during} time(s) meanwhile; longest gap ${longestGap} ms; probe reconnects ${reconnects}`)
  // Files the dead thread opened: Node closes the fds a worker opened through node:fs when it exits, terminated
  // or not (checked on Node 26), so the restarted worker's reopening leaks nothing. Reported, not asserted
  // (flushes open index and directory fds for a moment).
  t.diagnostic(`open fds of the broker on its data dir: ${fdsBefore} before the kill, ${openFds(broker.process.pid, broker.dataDir)} after the restart`)
  for (const line of broker.output().split('\n')) if (/died|restarted|is down|test hook/.test(line)) t.diagnostic(line)
  assert.ok(longestGap < 5000, `worker 0 kept answering (longest gap between answers ${longestGap} ms)`)

  // Calls through worker 0 to worker 1: answered, with NOT_LEADER_OR_FOLLOWER at worst.
  assert.deepEqual(crossCodes.filter((code) => code !== ErrorCode.NONE && code !== ErrorCode.NOT_LEADER_OR_FOLLOWER), [])
  assert.ok(crossCodes.filter((code) => code === ErrorCode.NONE).length > 0)
  const fetchCodes = fetchAnswers.flatMap((a) => a.codes)
  assert.deepEqual(fetchCodes.filter((code) => code !== ErrorCode.NONE && code !== ErrorCode.NOT_LEADER_OR_FOLLOWER), [])
  const slowest = Math.max(...fetchAnswers.map((a) => a.ms))
  t.diagnostic(`cross produces: ${crossCodes.length} answers, ${crossCodes.filter((c) => c !== 0).length} NOT_LEADER_OR_FOLLOWER; long polls: ${fetchAnswers.length} answers, ${fetchCodes.filter((c) => c !== 0).length} partition errors, slowest ${slowest} ms`)
  assert.ok(slowest < kLongPollMs + 2000, `no long poll hung (slowest ${slowest} ms)`)

  // Everything acknowledged is there exactly once; nothing is there twice.
  const reader = await KafkaClient.to(broker.bootstrap)
  const seen = new Map<string, number>()
  try {
    for (let p = 0; p < kPartitions; p++) {
      for (const record of await fetchRecords(reader, kTopic, p)) {
        if (record.value !== null) seen.set(record.value, (seen.get(record.value) ?? 0) + 1)
      }
    }
  } finally {
    reader.close()
  }
  const missing = [...acked].filter((value) => !seen.has(value))
  assert.deepEqual(missing, [], 'no acknowledged record is lost')
  const twice = [...seen].filter(([, n]) => n > 1).map(([value]) => value)
  assert.deepEqual(twice, [], 'no record is there twice')
  const unknown = [...seen.keys()].filter((value) => !sent.has(value) && !value.startsWith('after-restart-'))
  assert.deepEqual(unknown, [])
})
