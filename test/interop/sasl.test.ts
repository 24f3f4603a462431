// SASL_PLAINTEXT with real clients: kcat (librdkafka), confluent-kafka-python, kafkajs and @platformatic/kafka
// produce and consume with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN; a wrong password is refused; the PLAINTEXT
// listener of the same broker keeps serving; a SCRAM user created over the wire (platformatic's
// AlterUserScramCredentials) then logs in.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Connection, alterUserScramCredentialsV0, saslScramSha } from '@platformatic/kafka'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { run } from './processes.ts'
import { freePort, kPassword, kScramUsers, kUser } from '../auth/sasl-helpers.ts'
import { platformaticRoundTrip } from './platformatic-round-trip.ts'
import { confluentSecureRoundTrip } from './confluent-secure.ts'

const kKcat = process.env.KCAT ?? 'kcat'
const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const
type Mechanism = typeof kMechanisms[number]

let broker: TestBroker
let saslPort: number
const sasl = (): string => `127.0.0.1:${saslPort}`

before(async () => {
  saslPort = await freePort()
  broker = await startBroker({
    workers: 2,
    args: [
      '--listen', `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      '--scram-users', kScramUsers,
      '--sasl-enabled-mechanisms', kMechanisms.join(','),
      '--group-initial-rebalance-delay-ms', '0',
      '--connection-failed-authentication-delay-ms', '0'
    ]
  })
})
after(() => broker?.stop())

function kcatSasl (mechanism: Mechanism, password = kPassword): string[] {
  return ['-b', sasl(), '-X', 'security.protocol=SASL_PLAINTEXT', '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${kUser}`, '-X', `sasl.password=${password}`]
}

describe('kcat', () => {
  for (const mechanism of kMechanisms) {
    test(`produces and consumes over SASL_PLAINTEXT with ${mechanism}`, async () => {
      const topic = `sasl-kcat-${mechanism.toLowerCase()}`
      const lines = ['one', 'two', 'three']
      await run(kKcat, [...kcatSasl(mechanism), '-P', '-t', topic, '-p', '0'], { input: lines.join('\n') + '\n' })
      const { stdout } = await run(kKcat, [...kcatSasl(mechanism), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'])
      assert.deepEqual(stdout.trim().split('\n'), lines)
    })
  }

  test('a wrong password is refused', async () => {
    const { stdout, stderr } = await run(kKcat, [...kcatSasl('SCRAM-SHA-256', 'wrong'), '-L', '-m', '2'], { allowFailure: true, timeoutMs: 20_000 })
    assert.match(stdout + stderr, /Authentication failed|SASL authentication error/i)
    assert.doesNotMatch(stdout, /topic "sasl-kcat/)
  })

  test('the PLAINTEXT listener keeps serving without SASL', async () => {
    const { stdout } = await run(kKcat, ['-b', broker.bootstrap, '-L', '-m', '10'])
    assert.match(stdout, new RegExp(`at 127\\.0\\.0\\.1:${broker.port}`))
  })
})

describe('confluent-kafka-python', () => {
  for (const mechanism of kMechanisms) {
    test(`produces and consumes over SASL_PLAINTEXT with ${mechanism}`, async () => {
      const topic = `sasl-python-${mechanism.toLowerCase()}`
      const result = await confluentSecureRoundTrip({
        'bootstrap.servers': sasl(), 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': mechanism, 'sasl.username': kUser, 'sasl.password': kPassword
      }, topic, 'sasl-python')
      assert.equal(result.ok, true, JSON.stringify(result))
      assert.deepEqual(result.values, ['python-0', 'python-1', 'python-2'])
    })
  }

  test('a wrong password is refused', async () => {
    const probe = `
import sys
from confluent_kafka import Producer
errors = []
p = Producer({'bootstrap.servers': sys.argv[1], 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': '${kUser}', 'sasl.password': 'wrong', 'error_cb': lambda err: errors.append(err)})
for _ in range(40):
    p.poll(0.25)
    if errors:
        break
print(errors[0].code() == -169 if errors else 'no error', errors[0].str() if errors else '')
`
    const { stdout } = await run(kPython, ['-c', probe, sasl()], { timeoutMs: 30_000 })
    // -169: librdkafka's _AUTHENTICATION.
    assert.match(stdout, /^True .*Authentication failed/)
  })
})

describe('kafkajs', () => {
  const clientFor = (mechanism: Mechanism, password = kPassword): InstanceType<typeof Kafka> => new Kafka({
    clientId: 'shoal-sasl',
    brokers: [sasl()],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
    sasl: { mechanism: mechanism.toLowerCase() as 'scram-sha-256', username: kUser, password }
  })

  for (const mechanism of kMechanisms) {
    test(`produces and consumes over SASL_PLAINTEXT with ${mechanism}`, async (t) => {
      const topic = `sasl-kafkajs-${mechanism.toLowerCase()}`
      const kafka = clientFor(mechanism)
      const producer = kafka.producer({ allowAutoTopicCreation: true })
      await producer.connect()
      t.after(() => producer.disconnect())
      await producer.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `kafkajs-${i}`, partition: 0 })) })
      const consumer = kafka.consumer({ groupId: `sasl-kafkajs-${mechanism.toLowerCase()}` })
      await consumer.connect()
      t.after(() => consumer.disconnect())
      await consumer.subscribe({ topic, fromBeginning: true })
      const values: string[] = []
      await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? '') } })
      await waitFor(() => values.length >= 3, 30_000, 'kafkajs consumed 3 records')
      assert.deepEqual(values, ['kafkajs-0', 'kafkajs-1', 'kafkajs-2'])
    })
  }

  test('a wrong password is refused', async () => {
    const admin = clientFor('SCRAM-SHA-256', 'wrong').admin()
    await assert.rejects(admin.connect(), /SASL SCRAM SHA256 authentication failed|Authentication failed/i)
  })
})

describe('@platformatic/kafka', () => {
  const saslOptions = (mechanism: Mechanism, username = kUser, password = kPassword) => ({ mechanism, username, password })

  const produceAndFetch = (mechanism: Mechanism, topic: string, username = kUser, password = kPassword): Promise<string[]> =>
    platformaticRoundTrip({ bootstrapBrokers: [sasl()], sasl: saslOptions(mechanism, username, password) }, topic)

  for (const mechanism of kMechanisms) {
    test(`produces and fetches over SASL_PLAINTEXT with ${mechanism}`, async () => {
      assert.deepEqual(await produceAndFetch(mechanism, `sasl-platformatic-${mechanism.toLowerCase()}`), ['platformatic-0', 'platformatic-1', 'platformatic-2'])
    })
  }

  test('a wrong password is refused', async () => {
    await assert.rejects(produceAndFetch('SCRAM-SHA-512', 'sasl-platformatic-refused', kUser, 'wrong'))
  })

  test('a SCRAM user created with AlterUserScramCredentials over the PLAINTEXT listener then logs in', async () => {
    const connection = new Connection('shoal-sasl-admin')
    await connection.connect(broker.host, broker.port)
    try {
      const salt = randomBytes(16)
      const saltedPassword = await saslScramSha.hi(saslScramSha.ScramAlgorithms['SHA-512'], 'dave-secret', salt, 4096)
      const response = await alterUserScramCredentialsV0.api.async(connection, [], [{ name: 'dave', mechanism: 2, iterations: 4096, salt, saltedPassword }])
      assert.deepEqual(response.results.map((r) => [r.user, r.errorCode]), [['dave', 0]])
    } finally {
      await connection.close()
    }
    assert.deepEqual(await produceAndFetch('SCRAM-SHA-512', 'sasl-platformatic-dave', 'dave', 'dave-secret'), ['platformatic-0', 'platformatic-1', 'platformatic-2'])
    // PLAIN checks against the same store.
    assert.deepEqual(await produceAndFetch('PLAIN', 'sasl-platformatic-dave-plain', 'dave', 'dave-secret'), ['platformatic-0', 'platformatic-1', 'platformatic-2'])
  })
})
