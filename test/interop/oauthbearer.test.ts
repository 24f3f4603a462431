// SASL/OAUTHBEARER with real clients: kafkajs (oauthBearerProvider) and confluent-kafka-python (oauth_cb,
// librdkafka) log in with JWTs signed here against a file:// JWKS, then produce and consume; an expired JWT is
// refused (librdkafka sees Kafka's RFC 7628 error exchange: the JSON error, its %x01, SASL_AUTHENTICATION_FAILED).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { run } from './processes.ts'
import { confluentSecureRoundTrip } from './confluent-secure.ts'
import { freePort } from '../auth/sasl-helpers.ts'

const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const dir = mkdtempSync(join(tmpdir(), 'shoal-oauth-interop-'))
const kAudience = 'shoal-test'
const kIssuer = 'https://issuer.shoal.test'

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** A JWT for `sub` expiring `lifetimeS` from now (negative: already expired), signed RS256 or ES256. */
function token (sub: string, lifetimeS: number, alg: 'RS256' | 'ES256' = 'RS256'): string {
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg, typ: 'JWT', kid: alg === 'RS256' ? 'rsa' : 'ec' })}.${b64({ sub, aud: kAudience, iss: kIssuer, iat: now, exp: now + lifetimeS })}`
  const signature = alg === 'RS256'
    ? sign('sha256', Buffer.from(input), rsa.privateKey)
    : sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

let broker: TestBroker
let saslPort: number
const sasl = (): string => `127.0.0.1:${saslPort}`

before(async () => {
  const jwksPath = join(dir, 'jwks.json')
  writeFileSync(jwksPath, JSON.stringify({
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa', alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec', alg: 'ES256', use: 'sig' }
    ]
  }))
  saslPort = await freePort()
  broker = await startBroker({
    workers: 2,
    args: [
      '--listen', `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      '--sasl-enabled-mechanisms', 'OAUTHBEARER',
      '--sasl-oauthbearer-jwks-endpoint-url', pathToFileURL(jwksPath).href,
      '--sasl-oauthbearer-expected-audience', kAudience,
      '--sasl-oauthbearer-expected-issuer', kIssuer,
      '--group-initial-rebalance-delay-ms', '0',
      '--connection-failed-authentication-delay-ms', '0'
    ]
  })
})
after(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('kafkajs', () => {
  const clientFor = (jwt: () => string): InstanceType<typeof Kafka> => new Kafka({
    clientId: 'shoal-oauth',
    brokers: [sasl()],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100 },
    sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: jwt() }) }
  })

  test('produces and consumes over SASL_PLAINTEXT with OAUTHBEARER', async (t) => {
    const topic = 'oauth-kafkajs'
    const kafka = clientFor(() => token('alice', 600))
    const producer = kafka.producer({ allowAutoTopicCreation: true })
    await producer.connect()
    t.after(() => producer.disconnect())
    await producer.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `kafkajs-${i}`, partition: 0 })) })
    const consumer = kafka.consumer({ groupId: 'oauth-kafkajs' })
    await consumer.connect()
    t.after(() => consumer.disconnect())
    await consumer.subscribe({ topic, fromBeginning: true })
    const values: string[] = []
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? '') } })
    await waitFor(() => values.length >= 3, 30_000, 'kafkajs consumed 3 records')
    assert.deepEqual(values, ['kafkajs-0', 'kafkajs-1', 'kafkajs-2'])
  })

  test('an expired JWT is refused', async () => {
    // kafkajs takes the server's error message (`{"status":"invalid_token"}`, error NONE) as success and sends
    // its next request, which an unauthenticated connection does not get answered: it is closed.
    const admin = clientFor(() => token('alice', -3600)).admin()
    try {
      await assert.rejects(async () => {
        await admin.connect()
        await admin.listTopics()
      }, /Closed connection|Connection error|authentication/i)
    } finally {
      await admin.disconnect()
    }
  })
})

describe('confluent-kafka-python', () => {

  test('produces and consumes over SASL_PLAINTEXT with OAUTHBEARER (ES256)', async () => {
    const result = await confluentSecureRoundTrip({
      'bootstrap.servers': sasl(), 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'OAUTHBEARER', oauth_jwt: token('bob', 600, 'ES256')
    }, 'oauth-python', 'oauth-python')
    assert.equal(result.ok, true, JSON.stringify(result))
    assert.deepEqual(result.values, ['python-0', 'python-1', 'python-2'])
  })

  test('an expired JWT is refused', async () => {
    const probe = `
import sys
from confluent_kafka import Producer
errors = []
p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'OAUTHBEARER',
              'oauth_cb': lambda config: (sys.argv[2], 4102444800.0), 'error_cb': lambda err: errors.append(err)})
for _ in range(40):
    p.poll(0.25)
    if errors:
        break
print(errors[0].code() == -169 if errors else 'no error', errors[0].str() if errors else '')
`
    const { stdout } = await run(kPython, ['-c', probe, sasl(), token('bob', -3600)], { timeoutMs: 30_000 })
    // -169: librdkafka's _AUTHENTICATION.
    assert.match(stdout, /^True .*invalid_token/)
  })
})
