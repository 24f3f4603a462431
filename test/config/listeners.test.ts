import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseConfig } from '../../src/config/config.ts'
import { describeAdvertisedListeners, describeListeners, describeSecurityProtocolMap } from '../../src/config/listeners.ts'

const kUsers = 'SCRAM-SHA-256=[name=alice,password=secret,iterations=4096]'

function errorOf (argv: string[], env: Record<string, string> = {}, file?: string): string {
  try {
    parseConfig(file === undefined ? argv : ['--config', 'server.properties', ...argv], env, () => file ?? '')
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error.message
  }
  assert.fail(`no ConfigError for ${argv.join(' ')}`)
}

test('--listen host:port is one PLAINTEXT listener named PLAINTEXT', () => {
  const config = parseConfig(['--listen', '0.0.0.0:9092', '--advertised-listener', 'kafka.example:19092'], {})
  assert.deepEqual(config.listeners, [{ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '0.0.0.0', port: 9092, advertisedHost: 'kafka.example', advertisedPort: 19092 }])
  assert.equal(config.listenHost, '0.0.0.0')
  assert.equal(config.advertisedHost, 'kafka.example')
})

test('Kafka\'s listener list, from --listeners, SHOAL_LISTEN or the listeners property, with advertised addresses per listener', () => {
  const fromFlag = parseConfig(['--listeners', 'PLAINTEXT://:9092,SASL_PLAINTEXT://127.0.0.1:9094', '--advertised-listeners', 'SASL_PLAINTEXT://kafka.example:19094', '--scram-users', kUsers], {})
  assert.deepEqual(fromFlag.listeners.map((l) => [l.name, l.securityProtocol, l.host, l.port, l.advertisedHost, l.advertisedPort]), [
    ['PLAINTEXT', 'PLAINTEXT', '0.0.0.0', 9092, null, null],
    ['SASL_PLAINTEXT', 'SASL_PLAINTEXT', '127.0.0.1', 9094, 'kafka.example', 19094]
  ])
  assert.equal(fromFlag.listenPort, 9092)
  const fromEnv = parseConfig([], { SHOAL_LISTEN: 'SASL_PLAINTEXT://h:1', SHOAL_SCRAM_USERS: kUsers })
  assert.equal(fromEnv.listeners[0].securityProtocol, 'SASL_PLAINTEXT')
  const fromFile = parseConfig(['--config', 'f'], {}, () => [
    'listeners=CLIENT://:9094,ADMIN://127.0.0.1:9095',
    'listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,ADMIN:PLAINTEXT',
    'advertised.listeners=CLIENT://kafka.example:9094',
    'sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN',
    'connections.max.reauth.ms=60000',
    'sasl.server.max.receive.size=65536',
    'connection.failed.authentication.delay.ms=0',
    `shoal.scram.users=${kUsers}`
  ].join('\n'))
  assert.deepEqual(fromFile.listeners.map((l) => [l.name, l.securityProtocol, l.advertisedHost]), [['CLIENT', 'SASL_PLAINTEXT', 'kafka.example'], ['ADMIN', 'PLAINTEXT', null]])
  assert.deepEqual(fromFile.saslEnabledMechanisms, ['SCRAM-SHA-512', 'PLAIN'])
  assert.equal(fromFile.connectionsMaxReauthMs, 60000)
  assert.equal(fromFile.saslServerMaxReceiveSize, 65536)
  assert.equal(fromFile.connectionFailedAuthenticationDelayMs, 0)
  assert.deepEqual(Object.keys(fromFile.initialScramCredentials), ['alice'])
})

test('SASL settings default to Kafka\'s values, SCRAM mechanisms only', () => {
  const config = parseConfig([], {})
  assert.deepEqual(config.saslEnabledMechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-512'])
  assert.equal(config.connectionsMaxReauthMs, 0)
  assert.equal(config.saslServerMaxReceiveSize, 524288)
  assert.equal(config.connectionFailedAuthenticationDelayMs, 100)
  assert.deepEqual(config.initialScramCredentials, {})
  assert.equal(config.saslAllowNoUsers, false)
})

test('a TLS listener without a certificate is refused, naming the flag that gives one', () => {
  assert.match(errorOf(['--listeners', 'SSL://:9093']), /^--listeners: TLS listener SSL needs a certificate: --ssl-certificate-chain \(ssl\.keystore\.location\)/)
  assert.match(errorOf(['--listeners', 'SASL_SSL://:9093']), /^--listeners: TLS listener SASL_SSL needs a certificate: --ssl-certificate-chain \(ssl\.keystore\.location\)/)
  assert.match(errorOf(['--listeners', 'CLIENT://:9093', '--listener-security-protocol-map', 'CLIENT:SSL']), /TLS listener CLIENT needs a certificate/)
  assert.match(errorOf([], {}, 'listeners=SSL://:9093'), /^server\.properties:1: listeners: TLS listener SSL needs a certificate/)
})

test('bad listener settings are ConfigErrors naming the setting', () => {
  assert.match(errorOf(['--listeners', 'CLIENT://:9093']), /no security protocol for listener name CLIENT/)
  assert.match(errorOf(['--listeners', 'PLAINTEXT://a:1,plaintext://b:2']), /listener name PLAINTEXT appears twice/)
  assert.match(errorOf(['--listeners', 'PLAINTEXT://a:1,SASL_PLAINTEXT://b:1', '--scram-users', kUsers]), /two listeners on port 1/)
  assert.match(errorOf(['--listeners', 'PLAINTEXT://h:99999']), /bad port in "h:99999"/)
  assert.match(errorOf(['--listener-security-protocol-map', 'CLIENT:KERBEROS']), /unknown security protocol "KERBEROS"/)
  assert.match(errorOf(['--listener-security-protocol-map', 'CLIENT']), /expected NAME:PROTOCOL/)
  assert.match(errorOf(['--advertised-listeners', 'OTHER://h:1']), /advertised listener OTHER .* is not one of the listeners \(PLAINTEXT\)/)
  assert.match(errorOf(['--advertised-listeners', 'PLAINTEXT://:1']), /an advertised listener needs a host/)
  assert.match(errorOf(['--listen', 'a:1', '--listeners', 'PLAINTEXT://b:2']), /--listen is already set/)
  assert.match(errorOf([], {}, 'listeners=localhost:9092'), /^server\.properties:1: listeners: expected PLAINTEXT:\/\/host:port, got "localhost:9092"$/)
  assert.match(errorOf(['--sasl-enabled-mechanisms', 'GSSAPI']), /unsupported SASL mechanism "GSSAPI"/)
  assert.match(errorOf(['--listeners', 'SASL_PLAINTEXT://:1', '--sasl-enabled-mechanisms', ',']), /a SASL listener needs at least one mechanism/)
  assert.match(errorOf(['--sasl-server-max-receive-size', '10']), /expected an integer >= 1024/)
  assert.match(errorOf(['--scram-users', 'SCRAM-SHA-256=[name=a]']), /^--scram-users: the SCRAM-SHA-256 entry of a needs password=/)
})

test('--scram-users-file reads the users from a file', () => {
  const config = parseConfig(['--scram-users-file', '/etc/shoal/users'], {}, (path) => {
    assert.equal(path, '/etc/shoal/users')
    return '# users\nSCRAM-SHA-512=[name=bob,password=pw,iterations=4096]\n'
  })
  assert.equal(config.initialScramCredentials.bob['SCRAM-SHA-512']?.iterations, 4096)
  assert.throws(() => parseConfig(['--scram-users-file', '/missing'], {}, () => { throw new Error('ENOENT') }), /^Error: --scram-users-file: cannot read \/missing: ENOENT/)
})

test('listeners, advertised listeners and the protocol map are described in Kafka\'s syntax', () => {
  const { listeners } = parseConfig(['--listeners', 'PLAINTEXT://127.0.0.1:0,CLIENT://[::1]:9094', '--listener-security-protocol-map', 'CLIENT:SASL_PLAINTEXT', '--advertised-listeners', 'CLIENT://kafka.example:19094', '--scram-users', kUsers], {})
  assert.equal(describeListeners(listeners, { PLAINTEXT: { host: '127.0.0.1', port: 40000 } }), 'PLAINTEXT://127.0.0.1:40000,CLIENT://[::1]:9094')
  assert.equal(describeAdvertisedListeners(listeners, { PLAINTEXT: { host: '127.0.0.1', port: 40000 } }), 'PLAINTEXT://127.0.0.1:40000,CLIENT://kafka.example:19094')
  assert.equal(describeSecurityProtocolMap(listeners), 'PLAINTEXT:PLAINTEXT,CLIENT:SASL_PLAINTEXT')
})
