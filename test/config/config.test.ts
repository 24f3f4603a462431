import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { ConfigError, kFlags, parseConfig, usage } from '../../src/config/config.ts'
import { brokerConfigEntries } from '../../src/handlers/describe-configs.ts'

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
  for (const argv of [['--workers', '0'], ['--workers='], ['--node-id', '0x1'], ['--segment-bytes', '1e9'], ['--listen', 'nohost'], ['--listen', 'h:70000'], ['--listen', 'h:'],
    ['--log-level', 'loud'], ['--log-format', 'xml'], ['--ring-bytes', '5000'], ['--bogus'], ['--data-dir']]) {
    assert.throws(() => parseConfig(argv, {}), ConfigError, argv.join(' '))
  }
})

test('--log-format is text by default and takes json from the flag, SHOAL_LOG_FORMAT or shoal.log.format', () => {
  assert.equal(parseConfig([], {}).logFormat, 'text')
  assert.equal(parseConfig(['--log-format', 'json'], {}).logFormat, 'json')
  assert.equal(parseConfig([], { SHOAL_LOG_FORMAT: 'json' }).logFormat, 'json')
  assert.equal(parseConfig(['--config', 'f'], {}, () => 'shoal.log.format=json\n').logFormat, 'json')
  assert.equal(parseConfig(['--log-format=text'], { SHOAL_LOG_FORMAT: 'json' }).logFormat, 'text')
  assert.throws(() => parseConfig([], { SHOAL_LOG_FORMAT: 'JSON' }), /SHOAL_LOG_FORMAT: unknown format "JSON"/)
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

/** Flag to `[env, property]` as the README's Flags table lists them (property null where the row names none). */
function readmeFlagRows (): Map<string, [string, string | null]> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Flags\n'), readme.indexOf('\n### Config file\n'))
  const rows = new Map<string, [string, string | null]>()
  for (const line of section.split('\n').filter((l) => l.startsWith('| `--'))) {
    const match = /^\| `(--[a-z0-9-]+)[^`]*` \| `(SHOAL_[A-Z0-9_]+)`(?:, `([a-z0-9.]+)`)? \|/.exec(line)
    assert.ok(match !== null, `unexpected Flags row: ${line}`)
    assert.ok(!rows.has(match[1]), `README lists ${match[1]} twice`)
    rows.set(match[1], [match[2], match[3] ?? null])
  }
  return rows
}

/** The same from `shoal --help`. */
function usageFlagLines (): Map<string, [string, string | null]> {
  const lines = new Map<string, [string, string | null]>()
  for (const line of usage().split('\n').filter((l) => l.startsWith('  --'))) {
    const match = /^ {2}(--[a-z0-9-]+)(?:\[=bool\]| VALUE) .*\[(SHOAL_[A-Z0-9_]+)(?:, ([a-z0-9.]+))?\]$/.exec(line)
    assert.ok(match !== null, `unexpected usage line: ${line}`)
    lines.set(match[1], [match[2], match[3] ?? null])
  }
  return lines
}

test('the README Flags table, shoal --help and kFlags list the same flags, variables and properties', () => {
  const expected = new Map(kFlags.map((spec) => [spec.flag, [spec.env, spec.property]]))
  assert.deepEqual(readmeFlagRows(), expected)
  assert.deepEqual(usageFlagLines(), expected)
})

test('every flag but --config has its own property name, Kafka\'s or shoal.*, and its own variable', () => {
  const names = new Set<string>()
  const envs = new Set<string>()
  for (const spec of kFlags) {
    assert.ok(!envs.has(spec.env), `${spec.env} twice`)
    envs.add(spec.env)
    if (spec.flag === '--config') {
      assert.equal(spec.property, null)
      continue
    }
    assert.ok(spec.property !== null && /^[a-z][a-z0-9]*(\.[a-z0-9]+)*$/.test(spec.property), `${spec.flag}: bad property ${spec.property}`)
    for (const name of [spec.property, ...(spec.aliases ?? [])]) {
      assert.ok(!names.has(name), `property ${name} twice`)
      names.add(name)
    }
  }
})

test('DescribeConfigs describes every Kafka-named property of kFlags', () => {
  const config = parseConfig([], {})
  const described = new Set(brokerConfigEntries(config, 'h', 1).map((entry) => entry.name))
  for (const spec of kFlags) {
    if (spec.property === null || spec.property.startsWith('shoal.')) continue
    assert.ok(described.has(spec.property), `DescribeConfigs lacks ${spec.property}`)
  }
})

test('the README\'s example config file is accepted and means what it says', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const example = /\n```properties\n([\s\S]*?)```/.exec(readme)
  assert.ok(example !== null, 'README has no ```properties block')
  const config = parseConfig(['--config', 'server.properties'], {}, () => example[1])
  assert.equal(config.listenHost, '0.0.0.0')
  assert.equal(config.listenPort, 9092)
  assert.equal(config.advertisedHost, 'kafka.example.com')
  assert.equal(config.dataDir, '/var/lib/shoal')
  assert.equal(config.defaultPartitions, 3)
  assert.equal(config.autoCreateTopics, false)
  assert.equal(config.workers, 4)
  // The precedence example that follows it.
  assert.equal(parseConfig(['--config', 'f', '--workers', '2'], { SHOAL_DEFAULT_PARTITIONS: '6' }, () => example[1]).workers, 2)
  assert.equal(parseConfig(['--config', 'f', '--workers', '2'], { SHOAL_DEFAULT_PARTITIONS: '6' }, () => example[1]).defaultPartitions, 6)
})
