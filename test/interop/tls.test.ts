// TLS listeners with real clients: kcat and confluent-kafka-python over SASL_SSL with SCRAM-SHA-512, kafkajs over
// SSL and over SASL_SSL (its ssl + sasl options) with SCRAM-SHA-256 and PLAIN, @platformatic/kafka over SSL; and
// mTLS principals: with --authorizer, a topic whose only ACL allows User:CN=alice is served to kcat presenting
// alice's certificate and refused to a client without one (User:ANONYMOUS).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'
import { run } from './processes.ts'
import { freePort, kPassword, kScramUsers, kUser } from '../auth/sasl-helpers.ts'
import { makeTestCertificates, type TestCertificates } from '../net/tls-certificates.ts'
import { confluentSecureRoundTrip } from './confluent-secure.ts'
import { platformaticRoundTrip } from './platformatic-round-trip.ts'

const kKcat = process.env.KCAT ?? 'kcat'
const kSecretTopic = 'mtls-secret'

let broker: TestBroker
let certificates: TestCertificates
let alice: { certificateFile: string, keyFile: string }
let sslPort: number
let saslSslPort: number
const ssl = (): string => `127.0.0.1:${sslPort}`
const saslSsl = (): string => `127.0.0.1:${saslSslPort}`

before(async () => {
  certificates = makeTestCertificates()
  alice = certificates.issueClient('alice', '/CN=alice')
  sslPort = await freePort()
  saslSslPort = await freePort()
  broker = await startBroker({
    workers: 2,
    args: [
      '--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort}`,
      '--ssl-certificate-chain', certificates.serverChainAndKeyFile, '--ssl-truststore', certificates.caFile,
      '--ssl-client-auth', 'requested',
      '--scram-users', kScramUsers, '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      '--authorizer', '--allow-everyone-if-no-acl-found',
      '--group-initial-rebalance-delay-ms', '0'
    ]
  })
  // Over PLAINTEXT (no cluster ACL: anyone may alter ACLs): the secret topic is for User:CN=alice only.
  const admin = new Kafka({ clientId: 'tls-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic: kSecretTopic, numPartitions: 1 }] })
    await admin.createAcls({
      acl: ['WRITE', 'READ', 'DESCRIBE'].map((operation) => ({
        resourceType: 2, resourceName: kSecretTopic, resourcePatternType: 3, principal: 'User:CN=alice', host: '*', operation: ({ WRITE: 4, READ: 3, DESCRIBE: 8 } as Record<string, number>)[operation], permissionType: 3
      })) as any
    })
  } finally {
    await admin.disconnect()
  }
})
after(async () => {
  await broker?.stop()
  certificates?.remove()
})

function kcatSaslSsl (): string[] {
  return ['-b', saslSsl(), '-X', 'security.protocol=SASL_SSL', '-X', `ssl.ca.location=${certificates.caFile}`,
    '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', `sasl.username=${kUser}`, '-X', `sasl.password=${kPassword}`]
}

describe('kcat', () => {
  test('produces and consumes over SASL_SSL with SCRAM-SHA-512', async () => {
    const topic = 'tls-kcat'
    const lines = ['one', 'two', 'three']
    await run(kKcat, [...kcatSaslSsl(), '-P', '-t', topic, '-p', '0'], { input: lines.join('\n') + '\n' })
    const { stdout } = await run(kKcat, [...kcatSaslSsl(), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'])
    assert.deepEqual(stdout.trim().split('\n'), lines)
  })

  test('with alice\'s certificate over SSL it is User:CN=alice, whom the topic\'s ACL allows', async () => {
    const mtls = ['-b', ssl(), '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${certificates.caFile}`,
      '-X', `ssl.certificate.location=${alice.certificateFile}`, '-X', `ssl.key.location=${alice.keyFile}`]
    await run(kKcat, [...mtls, '-P', '-t', kSecretTopic, '-p', '0'], { input: 'for alice\n' })
    const { stdout } = await run(kKcat, [...mtls, '-C', '-t', kSecretTopic, '-p', '0', '-o', 'beginning', '-e', '-q'])
    assert.deepEqual(stdout.trim().split('\n'), ['for alice'])
  })
})

describe('confluent-kafka-python', () => {
  test('produces and consumes over SASL_SSL with SCRAM-SHA-512', async () => {
    const result = await confluentSecureRoundTrip({
      'bootstrap.servers': saslSsl(), 'security.protocol': 'SASL_SSL', 'ssl.ca.location': certificates.caFile,
      'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': kUser, 'sasl.password': kPassword
    }, 'tls-python', 'tls-python')
    assert.equal(result.ok, true, JSON.stringify(result))
    assert.deepEqual(result.values, ['python-0', 'python-1', 'python-2'])
  })
})

describe('kafkajs', () => {
  const clientFor = (brokers: string, mechanism?: 'scram-sha-256' | 'plain'): InstanceType<typeof Kafka> => new Kafka({
    clientId: 'shoal-tls',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
    ssl: { ca: [certificates.ca] },
    ...(mechanism === undefined ? {} : { sasl: { mechanism, username: kUser, password: kPassword } as any })
  })

  test('produces and consumes over SSL', async (t) => {
    const topic = 'tls-kafkajs'
    const kafka = clientFor(ssl())
    const producer = kafka.producer({ allowAutoTopicCreation: true })
    await producer.connect()
    t.after(() => producer.disconnect())
    await producer.send({ topic, messages: [0, 1, 2].map((i) => ({ value: `kafkajs-${i}`, partition: 0 })) })
    const consumer = kafka.consumer({ groupId: 'tls-kafkajs' })
    await consumer.connect()
    t.after(() => consumer.disconnect())
    await consumer.subscribe({ topic, fromBeginning: true })
    const values: string[] = []
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? '') } })
    await waitFor(() => values.length >= 3, 30_000, 'kafkajs consumed 3 records')
    assert.deepEqual(values, ['kafkajs-0', 'kafkajs-1', 'kafkajs-2'])
  })

  for (const mechanism of ['scram-sha-256', 'plain'] as const) {
    test(`produces over SASL_SSL with ${mechanism.toUpperCase()}`, async (t) => {
      const producer = clientFor(saslSsl(), mechanism).producer({ allowAutoTopicCreation: true })
      await producer.connect()
      t.after(() => producer.disconnect())
      const [result] = await producer.send({ topic: `tls-kafkajs-${mechanism}`, messages: [{ value: 'over SASL_SSL', partition: 0 }] })
      assert.equal(result.errorCode, 0)
    })
  }

  test('without a certificate over SSL it is User:ANONYMOUS, whom the topic\'s ACL does not allow', async (t) => {
    const producer = clientFor(ssl()).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
    await producer.connect()
    t.after(() => producer.disconnect())
    await assert.rejects(producer.send({ topic: kSecretTopic, messages: [{ value: 'not for anonymous', partition: 0 }] }), /authoriz/i)
  })
})

describe('@platformatic/kafka', () => {
  test('produces and fetches over SSL', async () => {
    const values = await platformaticRoundTrip({ bootstrapBrokers: [ssl()], tls: { ca: certificates.ca } }, 'tls-platformatic')
    assert.deepEqual(values, ['platformatic-0', 'platformatic-1', 'platformatic-2'])
  })
})
