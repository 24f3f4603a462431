// Hostile clients before authentication, against a broker process with a SASL_PLAINTEXT listener, while an
// authenticated kafkajs producer and consumer (SASL/PLAIN) keep working:
//   - a 1 GiB size prefix is closed at once (sasl.server.max.receive.size caps frames before authentication);
//   - many idle unauthenticated connections are closed once --sasl-authentication-timeout-ms has passed;
//   - a client trickling a request a byte at a time (never idle for --connections-max-idle-ms) is closed by the
//     same deadline and holds no worker meanwhile.
// The authenticated clients' progress is asserted (records produced and consumed go on growing), never time.
//
// The number of idle connections is 10,000, or fewer where `ulimit -n` is lower (this process and the broker each
// hold one descriptor per connection; 512 are left for everything else): on a box with 20,000 descriptors per
// process and two cores, the 10,000 open and are closed within a few seconds. SHOAL_HOSTILE_IDLE_CONNECTIONS
// overrides the count.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { execFileSync } from 'node:child_process'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { freePort, kPassword, kScramUsers, kUser } from '../auth/sasl-helpers.ts'

const kAuthenticationTimeoutMs = 2000
const kTopic = 'hostile-preauth'

function idleConnectionCount (): number {
  const configured = Number(process.env.SHOAL_HOSTILE_IDLE_CONNECTIONS)
  if (Number.isInteger(configured) && configured > 0) return configured
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
  return Math.max(100, Math.min(10_000, Number.isFinite(limit) ? limit - 512 : 1000))
}

let broker: TestBroker
let saslPort: number
let metricsPort: number
let stopTraffic = false
let produced = 0
let consumed = 0
let trafficError: unknown = null
const closers: Array<() => Promise<void>> = []

/** Resolves once the socket is closed (by the broker: the test never ends these itself before). */
function closedPromise (socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve()
    else socket.once('close', () => resolve())
  })
}

function openRaw (): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: saslPort })
    socket.on('error', () => {})
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** A counter of the broker (every thread's, summed) from /metrics: `shoal_<name with _>_total`. */
async function counter (name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const match = new RegExp(`^shoal_${name.replaceAll('-', '_')}_total(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)
  return match === null ? 0 : Number(match[1])
}

/** Waits until the authenticated clients have produced and consumed `more` records beyond now. */
async function progresses (more = 5, what = 'authenticated traffic'): Promise<void> {
  const [p0, c0] = [produced, consumed]
  await waitFor(() => {
    if (trafficError !== null) throw trafficError
    return produced >= p0 + more && consumed >= c0 + more
  }, 30_000, `${what}: ${more} more records produced and consumed`)
}

before(async () => {
  saslPort = await freePort()
  metricsPort = await freePort()
  const connections = idleConnectionCount()
  broker = await startBroker({
    workers: 2,
    args: [
      '--listen', `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      '--scram-users', kScramUsers,
      '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,PLAIN',
      '--sasl-authentication-timeout-ms', String(kAuthenticationTimeoutMs),
      '--max-connections', String(connections + 200),
      '--max-connections-per-ip', String(connections + 100),
      '--max-connection-creation-rate-per-ip', '0',
      '--group-initial-rebalance-delay-ms', '0',
      '--connection-failed-authentication-delay-ms', '0',
      '--metrics-listen', `127.0.0.1:${metricsPort}`
    ]
  })
  const kafka = new Kafka({
    clientId: 'hostile-preauth-victim',
    brokers: [`127.0.0.1:${saslPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 },
    sasl: { mechanism: 'plain', username: kUser, password: kPassword }
  })
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  const consumer = kafka.consumer({ groupId: 'hostile-preauth-victim' })
  await consumer.connect()
  await producer.send({ topic: kTopic, messages: [{ value: 'first', partition: 0 }] })
  produced++
  await consumer.subscribe({ topic: kTopic, fromBeginning: true })
  await consumer.run({ eachMessage: async () => { consumed++ } })
  // One record at a time, each sent once the last is acknowledged: progress is the count.
  const loop = (async () => {
    while (!stopTraffic) {
      try {
        await producer.send({ topic: kTopic, messages: [{ value: `n${produced}`, partition: 0 }] })
        produced++
      } catch (error) {
        trafficError = error
        return
      }
    }
  })()
  closers.push(async () => {
    stopTraffic = true
    await loop
    await Promise.allSettled([producer.disconnect(), consumer.disconnect()])
  })
  await progresses(3, 'before the hostile clients')
})

after(async () => {
  for (const close of closers) await close()
  await broker?.stop()
})

test('a 1 GiB size field before authentication closes the connection at once', async () => {
  const socket = await openRaw()
  const closed = closedPromise(socket)
  const size = Buffer.alloc(4)
  size.writeUInt32BE(1 << 30)
  socket.write(size)
  await closed
  await waitFor(async () => await counter('sasl-frames-too-large') === 1, 10_000, 'sasl-frames-too-large counted')
  await progresses(3, 'after the 1 GiB size field')
})

test('idle unauthenticated connections are closed by the authentication deadline; authenticated clients keep working', async () => {
  const count = idleConnectionCount()
  const sockets: Socket[] = []
  const closed: Array<Promise<void>> = []
  // Opened in rounds, so the acceptor's backlog is not the limit being tested.
  for (let opened = 0; opened < count; opened += 100) {
    const round = await Promise.all(Array.from({ length: Math.min(100, count - opened) }, () => openRaw()))
    for (const socket of round) {
      sockets.push(socket)
      closed.push(closedPromise(socket))
    }
  }
  assert.equal(sockets.length, count)
  await progresses(5, `with ${count} idle unauthenticated connections open`)
  let closedSoFar = 0
  for (const promise of closed) void promise.then(() => { closedSoFar++ })
  await waitFor(() => closedSoFar === count, 60_000, `the broker closing all ${count} idle connections`)
  // Closed by the deadline, not refused at accept (the limits are set above the count): one timeout each.
  await waitFor(async () => await counter('sasl-authentication-timeouts') === count, 10_000, `${count} sasl-authentication-timeouts`)
  await progresses(5, 'after the idle connections were closed')
})

test('a byte-a-second sender is closed by the deadline and holds no worker meanwhile', async () => {
  const socket = await openRaw()
  const closed = closedPromise(socket)
  // An ApiVersions v0 request, written one byte per tick: never idle, never complete before the deadline.
  const body = Buffer.from([0, 18, 0, 0, 0, 0, 0, 1, 0, 0])
  const frame = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body])
  let sent = 0
  const timer = setInterval(() => {
    if (sent < frame.length && !socket.destroyed) socket.write(frame.subarray(sent, ++sent))
  }, 1000)
  try {
    await progresses(5, 'while a client trickles bytes')
    await closed
    assert.ok(sent < frame.length, 'closed before the trickled request was complete')
    await waitFor(async () => await counter('sasl-authentication-timeouts') === idleConnectionCount() + 1, 10_000, 'the trickling client counted as a timeout')
  } finally {
    clearInterval(timer)
  }
  await progresses(5, 'after the trickling client was closed')
})
