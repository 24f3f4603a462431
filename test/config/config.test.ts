import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { ConfigError, kFlags, parseConfig } from '../../src/config/config.ts'

test('defaults serve 127.0.0.1:9092 with data in ./data and one worker per core', () => {
  const config = parseConfig([], {})
  assert.equal(config.listenHost, '127.0.0.1')
  assert.equal(config.listenPort, 9092)
  assert.equal(config.dataDir, `${process.cwd()}/data`)
  assert.equal(config.workers, availableParallelism())
  assert.equal(config.defaultPartitions, 1)
  assert.equal(config.autoCreateTopics, true)
  assert.equal(config.maxFrameBytes, 100 * 1024 * 1024)
})

test('flags win over SHOAL_* variables, which win over defaults', () => {
  const config = parseConfig(['--workers', '3', '--listen=0.0.0.0:0'], { SHOAL_WORKERS: '5', SHOAL_DEFAULT_PARTITIONS: '4', SHOAL_LOG_LEVEL: 'debug' })
  assert.equal(config.workers, 3)
  assert.equal(config.listenHost, '0.0.0.0')
  assert.equal(config.listenPort, 0)
  assert.equal(config.defaultPartitions, 4)
  assert.equal(config.logLevel, 'debug')
})

test('boolean flags take =false, a bare flag means true', () => {
  assert.equal(parseConfig(['--auto-create-topics=false'], {}).autoCreateTopics, false)
  assert.equal(parseConfig(['--auto-create-topics', '--workers', '1'], { SHOAL_AUTO_CREATE_TOPICS: 'false' }).autoCreateTopics, true)
})

test('advertised listener is parsed separately from the listen address', () => {
  const config = parseConfig(['--advertised-listener', 'kafka.example:19092'], {})
  assert.equal(config.advertisedHost, 'kafka.example')
  assert.equal(config.advertisedPort, 19092)
})

test('bad values are rejected with a ConfigError naming the flag', () => {
  for (const argv of [['--workers', '0'], ['--listen', 'nohost'], ['--listen', 'h:70000'], ['--log-level', 'loud'], ['--ring-bytes', '5000'], ['--bogus'], ['--data-dir']]) {
    assert.throws(() => parseConfig(argv, {}), ConfigError, argv.join(' '))
  }
})

test('connection limits default to Kafka-like values and take flags and SHOAL_* variables', () => {
  const defaults = parseConfig([], {})
  assert.equal(defaults.maxConnections, 10000)
  assert.equal(defaults.maxConnectionsPerIp, 1000)
  assert.equal(defaults.maxConnectionCreationRatePerIp, 0)
  assert.equal(defaults.connectionsMaxIdleMs, 600000)
  assert.equal(defaults.maxInFlightRequestsPerConnection, 128)
  assert.equal(defaults.queuedMaxRequestBytes, 256 * 1024 * 1024)
  const set = parseConfig(['--max-connections', '5', '--max-connections-per-ip=2', '--connections-max-idle-ms', '0', '--queued-max-request-bytes', '1048576'],
    { SHOAL_MAX_CONNECTION_CREATION_RATE_PER_IP: '20', SHOAL_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION: '1', SHOAL_MAX_CONNECTIONS: '9' })
  assert.equal(set.maxConnections, 5)
  assert.equal(set.maxConnectionsPerIp, 2)
  assert.equal(set.maxConnectionCreationRatePerIp, 20)
  assert.equal(set.connectionsMaxIdleMs, 0)
  assert.equal(set.maxInFlightRequestsPerConnection, 1)
  assert.equal(set.queuedMaxRequestBytes, 1048576)
  for (const argv of [['--max-connections', '0'], ['--max-connections-per-ip', '-1'], ['--max-in-flight-requests-per-connection', '0'], ['--queued-max-request-bytes', '1000'], ['--connections-max-idle-ms', 'x']]) {
    assert.throws(() => parseConfig(argv, {}), ConfigError, argv.join(' '))
  }
})

test('the README documents every flag and its environment variable', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  for (const spec of kFlags) {
    assert.ok(readme.includes(spec.flag), `README lacks ${spec.flag}`)
    assert.ok(readme.includes(spec.env), `README lacks ${spec.env}`)
  }
})
