// SASL on a SASL_PLAINTEXT listener, on the wire: SaslHandshake v0/v1, SaslAuthenticate v0-2, raw v0 tokens,
// the pre-authentication gate, the frame cap, the failed-authentication delay and close, and re-authentication
// expiry (KIP-368). A PLAINTEXT listener of the same broker keeps serving without SASL.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ScramClient, kScramSha256 } from '../../src/auth/scram.ts'
import { freePort, kPassword, kScramUsers, kUser, login } from '../auth/sasl-helpers.ts'

const kFailureDelayMs = 300
const kMaxReceive = 4096
let broker: TestBroker
let saslPort: number

before(async () => {
  saslPort = await freePort()
  broker = await startBroker({
    workers: 2,
    args: [
      '--listen', `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      '--scram-users', kScramUsers,
      '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      '--connection-failed-authentication-delay-ms', String(kFailureDelayMs),
      '--sasl-server-max-receive-size', String(kMaxReceive),
      '--metrics-listen', '127.0.0.1:0'
    ]
  })
})
after(() => broker?.stop())

const sasl = (): Promise<KafkaClient> => KafkaClient.connect('127.0.0.1', saslPort)

test('before authentication ApiVersions is answered and lists the SASL and SCRAM APIs', async (t) => {
  const client = await sasl()
  t.after(() => client.close())
  const versions = await client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
  assert.equal(versions.errorCode, 0)
  const keys = new Map<number, { minVersion: number, maxVersion: number }>(versions.apiKeys.map((key: any) => [key.apiKey, key]))
  assert.deepEqual([keys.get(17)?.maxVersion, keys.get(36)?.maxVersion, keys.get(50)?.maxVersion, keys.get(51)?.maxVersion], [1, 2, 0, 0])
})

test('any other request before authentication closes the connection unanswered', async () => {
  const client = await sasl()
  const metadata = client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  await assert.rejects(metadata, /connection closed/)
  await client.closed
  // After the handshake only SaslAuthenticate is served.
  const other = await sasl()
  assert.equal((await other.request(17, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, 0)
  await assert.rejects(other.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }), /connection closed/)
})

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN']) {
  for (const version of [0, 1, 2]) {
    test(`${mechanism} with SaslAuthenticate v${version} logs in, then every API is served`, async (t) => {
      const client = await sasl()
      t.after(() => client.close())
      const result = await login(client, mechanism, kPassword, version)
      assert.equal(result.errorCode, 0, result.errorMessage)
      if (version >= 1) assert.equal(result.sessionLifetimeMs, 0)
      const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
      assert.equal(metadata.brokers[0].port, saslPort, 'Metadata advertises the SASL listener to its clients')
      // Authenticated: SaslAuthenticate again (without a handshake) is an illegal state.
      assert.equal((await client.request(36, 2, { authBytes: Buffer.alloc(0) })).errorCode, 34)
    })
  }
}

test('the PLAINTEXT listener serves without SASL and answers SaslHandshake with ILLEGAL_SASL_STATE', async (t) => {
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.equal(metadata.brokers[0].port, broker.port, 'Metadata advertises the PLAINTEXT listener to its clients')
  assert.equal((await client.request(17, 1, { mechanism: 'PLAIN' })).errorCode, 34)
  assert.equal((await client.request(36, 1, { authBytes: Buffer.alloc(0) })).errorCode, 34)
})

test('an unsupported mechanism is answered with the enabled ones, then the connection closes', async () => {
  const client = await sasl()
  const handshake = await client.request(17, 1, { mechanism: 'GSSAPI' })
  assert.equal(handshake.errorCode, 33)
  assert.deepEqual(handshake.mechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'])
  await client.closed
})

for (const mechanism of ['SCRAM-SHA-256', 'PLAIN']) {
  test(`a wrong ${mechanism} password is answered SASL_AUTHENTICATION_FAILED after the delay, then the connection closes`, async () => {
    const client = await sasl()
    const started = performance.now()
    const result = await login(client, mechanism, 'wrong')
    // A lower bound only: the answer waits at least the configured delay.
    assert.ok(performance.now() - started >= kFailureDelayMs - 20, 'answered after --connection-failed-authentication-delay-ms')
    assert.equal(result.errorCode, 58)
    assert.match(result.errorMessage, /Authentication failed/)
    await client.closed
  })
}

test('an unknown user fails like a wrong password', async () => {
  const client = await sasl()
  const result = await login(client, 'SCRAM-SHA-256', kPassword, 2, 'mallory')
  assert.equal(result.errorCode, 58)
  assert.equal(result.errorMessage, 'Authentication failed: Invalid user credentials')
  await client.closed
})

/** A raw socket: frames out, frames in (for v0's raw tokens, which no Kafka response header precedes). */
class RawConnection {
  readonly socket: Socket
  #buffer = Buffer.alloc(0)
  #waiting: Array<(frame: Buffer) => void> = []
  readonly closed: Promise<void>
  constructor (socket: Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      while (this.#buffer.length >= 4 && this.#buffer.length >= 4 + this.#buffer.readInt32BE(0)) {
        const size = this.#buffer.readInt32BE(0)
        const frame = this.#buffer.subarray(4, 4 + size)
        this.#buffer = this.#buffer.subarray(4 + size)
        this.#waiting.shift()?.(frame)
      }
    })
  }

  static open (port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  send (payload: Buffer): Promise<Buffer> {
    const frame = Buffer.alloc(4 + payload.length)
    frame.writeInt32BE(payload.length, 0)
    payload.copy(frame, 4)
    const answer = new Promise<Buffer>((resolve) => this.#waiting.push(resolve))
    this.socket.write(frame)
    return answer
  }
}

/** A SaslHandshake v0 request, by hand: header v1 (client id "raw"), then the mechanism. */
function handshakeV0 (mechanism: string): Buffer {
  const header = Buffer.alloc(8 + 2 + 3)
  header.writeInt16BE(17, 0)
  header.writeInt16BE(0, 2)
  header.writeInt32BE(7, 4)
  header.writeInt16BE(3, 8)
  header.write('raw', 10)
  const name = Buffer.alloc(2 + mechanism.length)
  name.writeInt16BE(mechanism.length, 0)
  name.write(mechanism, 2)
  return Buffer.concat([header, name])
}

test('SaslHandshake v0 is followed by raw SCRAM tokens, answered raw, and then requests are served', async (t) => {
  const raw = await RawConnection.open(saslPort)
  t.after(() => raw.socket.destroy())
  const handshake = await raw.send(handshakeV0('SCRAM-SHA-256'))
  assert.equal(handshake.readInt32BE(0), 7)
  assert.equal(handshake.readInt16BE(4), 0, 'handshake v0 succeeded')
  const scram = new ScramClient(kScramSha256, kUser, kPassword)
  const serverFirst = await raw.send(scram.first())
  assert.match(serverFirst.toString(), /^r=.*,s=.*,i=8192$/)
  const serverFinal = await raw.send(scram.final(serverFirst))
  assert.equal(scram.verify(serverFinal), true)
  // Authenticated: a Kafka request now (ApiVersions v0: header only).
  const apiVersions = Buffer.alloc(8)
  apiVersions.writeInt16BE(18, 0)
  apiVersions.writeInt32BE(9, 4)
  const answer = await raw.send(Buffer.concat([apiVersions, Buffer.from([0xff, 0xff])]))
  assert.equal(answer.readInt32BE(0), 9)
  assert.equal(answer.readInt16BE(4), 0)
})

test('SaslHandshake v0 with raw PLAIN: an empty raw token answers success; a wrong password closes the connection', async () => {
  const good = await RawConnection.open(saslPort)
  await good.send(handshakeV0('PLAIN'))
  const answer = await good.send(Buffer.from(`\0${kUser}\0${kPassword}`))
  assert.equal(answer.length, 0)
  good.socket.destroy()
  const bad = await RawConnection.open(saslPort)
  await bad.send(handshakeV0('PLAIN'))
  void bad.send(Buffer.from(`\0${kUser}\0nope`))
  await bad.closed
})

test('before authentication a frame above sasl.server.max.receive.size closes the connection', async () => {
  const raw = await RawConnection.open(saslPort)
  const size = Buffer.alloc(4)
  size.writeInt32BE(kMaxReceive + 1, 0)
  raw.socket.write(size)
  await raw.closed
  // Once authenticated, the usual frame limit applies: a large request is served.
  const client = await sasl()
  assert.equal((await login(client, 'SCRAM-SHA-256')).errorCode, 0)
  const topics = Array.from({ length: 200 }, (_, i) => ({ name: `sasl-frame-cap-${i}-${'x'.repeat(20)}`, topicId: '0'.repeat(32) }))
  const metadata = await client.request(3, 12, { topics, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.equal(metadata.topics.length, 200)
  client.close()
})

test('with --connections-max-reauth-ms a session tells its lifetime, re-authenticates, and closes once expired', async (t) => {
  const port = await freePort()
  const reauth = await startBroker({
    workers: 1,
    args: ['--listen', `SASL_PLAINTEXT://127.0.0.1:${port}`, '--scram-users', kScramUsers, '--connections-max-reauth-ms', '1500']
  })
  t.after(() => reauth.stop())
  const client = await KafkaClient.connect('127.0.0.1', port)
  const first = await login(client, 'SCRAM-SHA-256', kPassword, 1)
  assert.equal(first.sessionLifetimeMs, 1500)
  // KIP-368: a handshake on the authenticated connection starts the exchange again.
  assert.equal((await login(client, 'SCRAM-SHA-256', kPassword, 2)).errorCode, 0)
  const request = (): Promise<any> => client.request(3, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  // Requests go on until the session expires; the first one after that closes the connection unanswered.
  const deadline = Date.now() + 15_000
  let closed = false
  while (!closed && Date.now() < deadline) {
    try {
      await request()
      await new Promise((resolve) => setTimeout(resolve, 100))
    } catch {
      closed = true
    }
  }
  assert.equal(closed, true, 'the expired session was closed')
  assert.equal(client.isClosed, true)
})

test('successes and failures are counted per mechanism and exposed on /metrics', async () => {
  const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
  // The tests above logged in (and failed) with each mechanism; every worker's counters are summed.
  const text = await (await fetch(`http://${address[1]}:${address[2]}/metrics`)).text()
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
  for (const mechanism of ['scram_sha_256', 'scram_sha_512', 'plain']) {
    assert.ok(value(`shoal_sasl_authentication_succeeded_${mechanism}_total`) >= 3, `${mechanism} successes counted`)
  }
  assert.ok(value('shoal_sasl_authentication_failed_scram_sha_256_total') >= 2, 'SCRAM-SHA-256 failures counted')
  assert.ok(value('shoal_sasl_authentication_failed_plain_total') >= 2, 'PLAIN failures counted')
})

test('a SASL listener with no SCRAM user stored or given refuses to start, unless --sasl-allow-no-users', async (t) => {
  await assert.rejects(startBroker({ workers: 1, args: ['--listen', 'SASL_PLAINTEXT://127.0.0.1:0'] }),
    /no SCRAM user stored or given: add users with --scram-users or --scram-users-file, or start with --sasl-allow-no-users/)
  const open = await startBroker({ workers: 1, args: ['--listen', 'SASL_PLAINTEXT://127.0.0.1:0', '--sasl-allow-no-users'] })
  t.after(() => open.stop())
  const client = await KafkaClient.connect(open.host, open.port)
  const result = await login(client, 'SCRAM-SHA-256')
  assert.equal(result.errorCode, 58, 'nobody can log in until a user is added')
})
