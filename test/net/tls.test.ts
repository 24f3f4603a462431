// TLS listeners on the wire (raw protocol over tls.connect): an SSL listener serves requests and Metadata
// answers its own address; ssl.client.auth=required refuses a client without a certificate, requested takes
// both; the principal comes from the certificate's subject through ssl.principal.mapping.rules (seen through
// the authorizer: User:alice is a super user); a reloaded certificate (SIGHUP) goes to new connections only.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type TLSSocket } from 'node:tls'
import { copyFileSync } from 'node:fs'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, fetchRecords, produce } from '../helpers/kafka-client.ts'
import { freePort } from '../auth/sasl-helpers.ts'
import { makeTestCertificates, type TestCertificates } from './tls-certificates.ts'

let certificates: TestCertificates
before(() => { certificates = makeTestCertificates() })
after(() => certificates?.remove())

interface ClientCertificate { readonly certificate: Buffer, readonly key: Buffer }

/** A TLS connection that has finished its handshake (rejects when the handshake fails). */
function tlsConnect (port: number, client?: ClientCertificate): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: certificates.ca, servername: 'localhost', cert: client?.certificate, key: client?.key })
    socket.once('error', reject)
    socket.once('secureConnect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
  })
}

/**
 * The test client over a TLS socket: KafkaClient's constructor is private to its file's API, but it takes any
 * connected net.Socket, which a TLSSocket is.
 */
function kafkaClientOver (socket: TLSSocket, clientId = 'shoal-tls-test'): KafkaClient {
  return new (KafkaClient as unknown as new (socket: TLSSocket, clientId: string) => KafkaClient)(socket, clientId)
}

/**
 * Whether the broker refuses this client: TLS 1.3 finishes the client's side of the handshake before the server
 * checks its certificate, so the refusal may come as an alert on the first request rather than in connect.
 */
async function refused (port: number, client?: ClientCertificate): Promise<boolean> {
  let socket: TLSSocket
  try {
    socket = await tlsConnect(port, client)
  } catch {
    return true
  }
  const kafka = kafkaClientOver(socket)
  try {
    await kafka.request(18, 3, { clientSoftwareName: 'tls-test', clientSoftwareVersion: '1' })
    return false
  } catch {
    return true
  } finally {
    kafka.close()
  }
}

function createTopicRequest (name: string): object {
  return { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }
}

describe('an SSL listener without client authentication', () => {
  let broker: TestBroker
  let sslPort: number
  let metricsPort: number
  before(async () => {
    sslPort = await freePort()
    metricsPort = await freePort()
    broker = await startBroker({
      workers: 1,
      args: [
        '--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort}`, '--ssl-certificate-chain', certificates.serverChainAndKeyFile,
        '--ssl-handshake-timeout-ms', '300', '--metrics-listen', `127.0.0.1:${metricsPort}`
      ]
    })
  })
  const handshakeFailures = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    return Number(/^shoal_tls_handshake_failures_total (\d+)/m.exec(text)?.[1] ?? 0)
  }
  after(() => broker?.stop())

  test('serves requests over TLS, and Metadata answers the SSL listener\'s own address', async () => {
    const client = kafkaClientOver(await tlsConnect(sslPort))
    try {
      const versions = await client.request(18, 3, { clientSoftwareName: 'tls-test', clientSoftwareVersion: '1' })
      assert.equal(versions.errorCode, 0)
      const metadata = await client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
      assert.deepEqual(metadata.brokers.map((entry: { host: string, port: number }) => [entry.host, entry.port]), [['127.0.0.1', sslPort]])
      // Frames larger than one TLS record (16 KiB) arrive in several decrypted chunks and are framed whole;
      // several requests written at once may share a chunk.
      await createTopic(client, 'tls-records', 1)
      const values = ['a'.repeat(40_000), 'b'.repeat(100), 'c'.repeat(70_000)]
      const produced = await Promise.all(values.map((value) => produce(client, 'tls-records', 0, [value])))
      assert.deepEqual(produced.map((result) => result.errorCode), [0, 0, 0])
      assert.deepEqual((await fetchRecords(client, 'tls-records', 0)).map((record) => record.value), values)
    } finally {
      client.close()
    }
  })

  test('a client speaking plaintext to the SSL listener is closed and counted, and the broker serves on', async () => {
    const failuresBefore = await handshakeFailures()
    const plain = await KafkaClient.connect('127.0.0.1', sslPort)
    await assert.rejects(plain.request(18, 3, { clientSoftwareName: 'plain', clientSoftwareVersion: '1' }))
    await plain.closed
    await waitFor(async () => await handshakeFailures() > failuresBefore, 10_000, 'tls-handshake-failures counted')
    const client = kafkaClientOver(await tlsConnect(sslPort))
    try {
      assert.equal((await client.request(18, 3, { clientSoftwareName: 'tls-test', clientSoftwareVersion: '1' })).errorCode, 0)
    } finally {
      client.close()
    }
  })

  test('a client that never starts the handshake is closed after --ssl-handshake-timeout-ms, and counted', async () => {
    const failuresBefore = await handshakeFailures()
    const silent = await KafkaClient.connect('127.0.0.1', sslPort)
    await silent.closed
    await waitFor(async () => await handshakeFailures() > failuresBefore, 10_000, 'tls-handshake-failures counted')
  })
})

describe('ssl.client.auth=required and principal mapping', () => {
  let broker: TestBroker
  let sslPort: number
  before(async () => {
    sslPort = await freePort()
    broker = await startBroker({
      workers: 1,
      args: [
        '--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort}`,
        '--ssl-certificate-chain', certificates.serverCertificateFile, '--ssl-private-key', certificates.serverKeyFile,
        '--ssl-truststore', certificates.caFile, '--ssl-client-auth', 'required',
        '--ssl-principal-mapping-rules', 'RULE:^CN=([^,]*),O=Shoal Test$/$1/L,DEFAULT',
        '--authorizer', '--super-users', 'User:alice'
      ]
    })
  })
  after(() => broker?.stop())

  test('refuses a client without a certificate, and one whose certificate the truststore does not sign', async () => {
    assert.equal(await refused(sslPort), true)
    assert.equal(await refused(sslPort, certificates.issueClient('mallory', '/O=Shoal Test/CN=Alice', true)), true)
  })

  test('a certificate\'s subject, mapped by the rules, is the principal the authorizer sees', async () => {
    // CN=Alice,O=Shoal Test -> alice (L): a super user, may create topics.
    const alice = kafkaClientOver(await tlsConnect(sslPort, certificates.issueClient('alice', '/O=Shoal Test/CN=Alice')))
    // CN=bob,O=Elsewhere: no RULE matches, DEFAULT keeps the whole subject, which has no ACL.
    const bob = kafkaClientOver(await tlsConnect(sslPort, certificates.issueClient('bob', '/O=Elsewhere/CN=bob')))
    try {
      const byAlice = await alice.request(19, 7, createTopicRequest('tls-alice'))
      assert.equal(byAlice.topics[0].errorCode, 0)
      const byBob = await bob.request(19, 7, createTopicRequest('tls-bob'))
      assert.notEqual(byBob.topics[0].errorCode, 0)
      assert.match(byBob.topics[0].errorMessage ?? '', /authoriz/i)
    } finally {
      alice.close()
      bob.close()
    }
  })
})

describe('ssl.client.auth=requested and certificate reload', () => {
  let broker: TestBroker
  let sslPort: number
  let chainFile: string
  let keyFile: string
  before(async () => {
    sslPort = await freePort()
    const first = certificates.issueServer('reloadable', 'first.localhost')
    chainFile = first.certificateFile
    keyFile = first.keyFile
    broker = await startBroker({
      workers: 2,
      args: [
        '--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort}`,
        '--ssl-certificate-chain', chainFile, '--ssl-private-key', keyFile,
        '--ssl-truststore', certificates.caFile, '--ssl-client-auth', 'requested'
      ]
    })
  })
  after(() => broker?.stop())

  test('accepts clients with and without a certificate, and refuses an untrusted one', async () => {
    assert.equal(await refused(sslPort), false)
    assert.equal(await refused(sslPort, certificates.issueClient('carol', '/O=Shoal Test/CN=carol')), false)
    assert.equal(await refused(sslPort, certificates.issueClient('eve', '/O=Shoal Test/CN=eve', true)), true)
  })

  test('after SIGHUP new connections get the new certificate; an open one keeps working', async () => {
    const before = await tlsConnect(sslPort)
    assert.equal(before.getPeerX509Certificate()?.subject, 'CN=first.localhost')
    const open = kafkaClientOver(before)
    const second = certificates.issueServer('reloaded', 'second.localhost')
    copyFileSync(second.certificateFile, chainFile)
    copyFileSync(second.keyFile, keyFile)
    broker.process.kill('SIGHUP')
    // Every worker has it once every new connection shows it (two workers: connections alternate between them).
    await waitFor(async () => {
      const subjects: string[] = []
      for (let i = 0; i < 4; i++) {
        const socket = await tlsConnect(sslPort)
        subjects.push(socket.getPeerX509Certificate()?.subject ?? '')
        socket.destroy()
      }
      return subjects.every((subject) => subject === 'CN=second.localhost')
    }, 20_000, 'the reloaded certificate on new connections')
    try {
      assert.equal((await open.request(18, 3, { clientSoftwareName: 'tls-test', clientSoftwareVersion: '1' })).errorCode, 0)
      assert.equal(before.getPeerX509Certificate()?.subject, 'CN=first.localhost')
    } finally {
      open.close()
    }
  })
})

test('a certificate file that does not load stops the start with an error naming the flag', async () => {
  const port = await freePort()
  await assert.rejects(startBroker({
    workers: 1,
    args: ['--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${port}`, '--ssl-certificate-chain', `${certificates.dir}/missing.pem`]
  }), /--ssl-certificate-chain: cannot read .*missing\.pem/)
  await assert.rejects(startBroker({
    workers: 1,
    args: ['--listen', `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${port}`, '--ssl-certificate-chain', certificates.caFile]
  }), /--ssl-certificate-chain .*cannot make a TLS context/)
})
