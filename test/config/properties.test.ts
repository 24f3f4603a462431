// The config file: the properties parser (src/config/properties.ts), how parseConfig maps a file's Kafka and
// shoal.* properties onto flags (errors naming the file and line, precedence flag > env > file > default), main's
// exit status for a bad file, and DescribeConfigs' config sources on a real broker started with --config.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseProperties } from '../../src/config/properties.ts'
import { ConfigError, parseConfig } from '../../src/config/config.ts'
import { kRepoRoot, startBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'

/** parseConfig with `--config server.properties` whose text is `text` (no file is touched). */
function fromFile (text: string, argv: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return parseConfig(['--config', 'server.properties', ...argv], env, () => text)
}

function configErrorOf (text: string): string {
  try {
    fromFile(text)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`)
    return error.message
  }
  assert.fail(`no error for:\n${text}`)
}

test('parses key=value, key: value and key value, skipping comments and blank lines', () => {
  const text = [
    '# a comment',
    '   ! another, indented',
    '',
    '   \t',
    'a=1',
    '  b : two words  ',
    'c 3',
    'd=',
    'e = = starts with equals',
    'url=http://host:80/#fragment'
  ].join('\n')
  assert.deepEqual(parseProperties(text, 'f').map((p) => [p.key, p.value, p.line]), [
    ['a', '1', 5],
    ['b', 'two words', 6],
    ['c', '3', 7],
    ['d', '', 8],
    ['e', '= starts with equals', 9],
    ['url', 'http://host:80/#fragment', 10]
  ])
})

test('a line ending in an odd number of backslashes continues, without the next line\'s leading blanks', () => {
  const text = [
    'list=a,\\',
    '     b,\\',
    '  # not a comment here',
    'even=ends in a backslash\\\\',
    'next=x',
    '# a comment line never continues \\',
    'after=y'
  ].join('\r\n')
  assert.deepEqual(parseProperties(text, 'f').map((p) => [p.key, p.value, p.line]), [
    ['list', 'a,b,# not a comment here', 1],
    ['even', 'ends in a backslash\\', 4],
    ['next', 'x', 5],
    ['after', 'y', 7]
  ])
  assert.deepEqual(parseProperties('last=end\\', 'f'), [{ key: 'last', value: 'end', line: 1 }])
})

test('resolves Java escapes in keys and values, and an escaped trailing blank survives trimming', () => {
  const text = '\uFEFFkey\\=with\\:seps\\ x = tab\\there\\nnew \\u0041\\u00e9 \\\\ \\# \\q\\ \n'
  assert.deepEqual(parseProperties(text, 'f'), [{ key: 'key=with:seps x', value: 'tab\there\nnew Aé \\ # q ', line: 1 }])
})

test('a malformed \\u escape or an entry without a key is an error naming the file and line', () => {
  assert.throws(() => parseProperties('ok=1\n\nbad=\\u12G4', 'server.properties'), { message: 'server.properties:3: malformed \\uXXXX escape "\\u12G4"' })
  assert.throws(() => parseProperties('ok=1\n= value', 'server.properties'), { message: 'server.properties:2: an entry with no property name' })
  assert.throws(() => parseProperties('x=\\u00', 'f'), ConfigError)
})

test('Kafka property names set the settings they mean', () => {
  const config = fromFile([
    'broker.id=7',
    'listeners=PLAINTEXT://0.0.0.0:19092',
    'advertised.listeners=PLAINTEXT://kafka.example:9092',
    'log.dirs=/var/lib/shoal',
    'num.partitions=3',
    'auto.create.topics.enable=FALSE',
    'message.max.bytes=2000000',
    'log.segment.bytes=1048576',
    'socket.request.max.bytes=2097152',
    'group.initial.rebalance.delay.ms=0',
    'offsets.retention.minutes=60',
    'max.connections=50',
    'transaction.max.timeout.ms=60000',
    'shoal.workers=2',
    'shoal.ring.bytes=65536',
    'shoal.log.level=debug'
  ].join('\n'))
  assert.equal(config.nodeId, 7)
  assert.equal(config.listenHost, '0.0.0.0')
  assert.equal(config.listenPort, 19092)
  assert.equal(config.advertisedHost, 'kafka.example')
  assert.equal(config.advertisedPort, 9092)
  assert.equal(config.dataDir, '/var/lib/shoal')
  assert.equal(config.defaultPartitions, 3)
  assert.equal(config.autoCreateTopics, false)
  assert.equal(config.messageMaxBytes, 2000000)
  assert.equal(config.segmentBytes, 1048576)
  assert.equal(config.maxFrameBytes, 2097152)
  assert.equal(config.groupInitialRebalanceDelayMs, 0)
  assert.equal(config.offsetsRetentionMinutes, 60)
  assert.equal(config.maxConnections, 50)
  assert.equal(config.transactionMaxTimeoutMs, 60000)
  assert.equal(config.workers, 2)
  assert.equal(config.ringBytes, 65536)
  assert.equal(config.logLevel, 'debug')
})

test('listeners: an empty host listens on all interfaces, IPv6 hosts keep their brackets, log.dir is log.dirs', () => {
  const config = fromFile('listeners = PLAINTEXT://:9093\nadvertised.listeners=plaintext://[::1]:9094\nlog.dir=relative/dir')
  assert.equal(config.listenHost, '0.0.0.0')
  assert.equal(config.listenPort, 9093)
  assert.equal(config.advertisedHost, '::1')
  assert.equal(config.advertisedPort, 9094)
  assert.equal(config.dataDir, join(process.cwd(), 'relative/dir'))
})

test('a bad file line is a ConfigError naming the file, the line and the property', () => {
  const padding = '# header\n'.repeat(11)
  assert.equal(configErrorOf(`${padding}foo.bar=1`), 'server.properties:12: unknown property "foo.bar"')
  assert.equal(configErrorOf('num.partitions=1\n\nnum.partitions=2'), 'server.properties:3: duplicate property "num.partitions" (already set on line 1)')
  assert.equal(configErrorOf('broker.id=1\nnode.id=1'), 'server.properties:2: duplicate property "node.id" (already set on line 1 as "broker.id")')
  assert.equal(configErrorOf('num.network.threads=3'), 'server.properties:1: "num.network.threads" is a Kafka broker property Shoal does not implement; remove it')
  assert.equal(configErrorOf('ssl.keystore.password=k'), 'server.properties:1: "ssl.keystore.password" is a Kafka broker property Shoal does not implement; remove it')
  assert.equal(configErrorOf('# x\nnum.partitions=zero'), 'server.properties:2: num.partitions: expected an integer >= 1, got "zero"')
  assert.equal(configErrorOf('num.partitions=1e3'), 'server.properties:1: num.partitions: expected an integer >= 1, got "1e3"')
  assert.equal(configErrorOf('message.max.bytes='), 'server.properties:1: message.max.bytes: empty value (remove the line to keep the default)')
  assert.equal(configErrorOf('auto.create.topics.enable=maybe'), 'server.properties:1: auto.create.topics.enable: expected true or false, got "maybe"')
  assert.equal(configErrorOf('shoal.ring.bytes=5000'), 'server.properties:1: shoal.ring.bytes: must be a power of two, got 5000')
  assert.equal(configErrorOf('shoal.log.level=loud'), 'server.properties:1: shoal.log.level: unknown level "loud"')
  assert.equal(configErrorOf('log.dirs=/a,/b'), 'server.properties:1: log.dirs: Shoal keeps its data in one directory, got 2: "/a,/b"')
  assert.equal(configErrorOf('listeners=SSL://:9093'), 'server.properties:1: listeners: TLS listener SSL needs a certificate: --ssl-certificate-chain (ssl.keystore.location)')
  assert.equal(configErrorOf('ssl.client.auth=sometimes'), 'server.properties:1: ssl.client.auth: expected none, requested or required, got "sometimes"')
  assert.equal(configErrorOf('ssl.principal.mapping.rules=RULE:x'), 'server.properties:1: ssl.principal.mapping.rules: expected DEFAULT or RULE:pattern/replacement/[LU], got "RULE:x"')
  assert.equal(configErrorOf('listeners=PLAINTEXT://:9092,CONTROLLER://:9093'), 'server.properties:1: listeners: cannot serve listener "CONTROLLER://:9093": no security protocol for listener name CONTROLLER (map it in listener.security.protocol.map / --listener-security-protocol-map)')
  assert.equal(configErrorOf('listeners=PLAINTEXT://a:1,PLAINTEXT://b:2'), 'server.properties:1: listeners: listener name PLAINTEXT appears twice ("PLAINTEXT://b:2"); each listener needs a name of its own')
  assert.equal(configErrorOf('listeners=localhost:9092'), 'server.properties:1: listeners: expected PLAINTEXT://host:port, got "localhost:9092"')
  assert.equal(configErrorOf('listeners=PLAINTEXT://h:99999'), 'server.properties:1: listeners: bad port in "h:99999"')
  assert.equal(configErrorOf('advertised.listeners=PLAINTEXT://:9092'), 'server.properties:1: advertised.listeners: an advertised listener needs a host, got "PLAINTEXT://:9092"')
})

test('a missing or unreadable config file is a ConfigError naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'))
  try {
    const missing = join(dir, 'missing.properties')
    assert.throws(() => parseConfig(['--config', missing]), (error: Error) => error instanceof ConfigError && error.message.startsWith(`${missing}: cannot read the config file: ENOENT`))
    assert.throws(() => parseConfig([], { SHOAL_CONFIG: dir }), (error: Error) => error instanceof ConfigError && error.message.startsWith(`${dir}: cannot read the config file: EISDIR`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('precedence: a flag wins over its SHOAL_* variable, which wins over the file, which wins over the default', () => {
  const text = 'shoal.workers=7\nnum.partitions=6\nmessage.max.bytes=2000\nmax.connections=40\n'
  const config = fromFile(text, ['--workers', '3', '--max-connections=30'], { SHOAL_WORKERS: '5', SHOAL_DEFAULT_PARTITIONS: '4' })
  assert.equal(config.workers, 3)
  assert.equal(config.maxConnections, 30)
  assert.equal(config.defaultPartitions, 4)
  assert.equal(config.messageMaxBytes, 2000)
  assert.equal(config.segmentBytes, 1024 * 1024 * 1024)
  assert.equal(config.sources['shoal.workers'], 'flag')
  assert.equal(config.sources['max.connections'], 'flag')
  assert.equal(config.sources['num.partitions'], 'env')
  assert.equal(config.sources['message.max.bytes'], 'file')
  assert.equal(config.sources['log.segment.bytes'], 'default')
  // Only the winning value is parsed: a flag can override a file's bad value.
  assert.equal(fromFile('shoal.workers=zero', ['--workers', '1']).workers, 1)
})

test('--config wins over SHOAL_CONFIG, and an empty SHOAL_CONFIG reads no file', () => {
  const read: string[] = []
  const reader = (path: string): string => {
    read.push(path)
    return 'num.partitions=2'
  }
  assert.equal(parseConfig(['--config', 'flag.properties'], { SHOAL_CONFIG: 'env.properties' }, reader).defaultPartitions, 2)
  assert.equal(parseConfig([], { SHOAL_CONFIG: 'env.properties' }, reader).defaultPartitions, 2)
  assert.equal(parseConfig([], { SHOAL_CONFIG: '' }, reader).defaultPartitions, 1)
  assert.deepEqual(read, ['flag.properties', 'env.properties'])
})

test('main exits 2 with "shoal: FILE:LINE: ..." for a bad config file, before starting anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'))
  try {
    const file = join(dir, 'server.properties')
    writeFileSync(file, 'num.partitions=3\n# the next line is wrong\nfoo.bar=1\n')
    const run = spawnSync(process.execPath, [join(kRepoRoot, 'src', 'main.ts'), '--config', file, '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(run.status, 2, run.stderr)
    assert.equal(run.stderr, `shoal: ${file}:3: unknown property "foo.bar"\n`)
    assert.equal(run.stdout, '')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('DescribeConfigs reports broker settings from the file, flags or variables as static and the rest as defaults', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'server.properties')
  writeFileSync(file, 'num.partitions=3\nbroker.id=4\ngroup.max.size=10\n')
  // The helper passes --listen, --data-dir, --workers and --log-level as flags.
  const broker = await startBroker({ args: ['--config', file], env: { SHOAL_MAX_CONNECTIONS: '77' } })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const response = await client.request(32, 4, { resources: [{ resourceType: 4, resourceName: '4', configurationKeys: null }], includeSynonyms: true, includeDocumentation: false })
  assert.equal(response.results[0].errorCode, 0)
  const configs = new Map<string, any>(response.results[0].configs.map((c: any) => [c.name, c]))
  const described = (name: string): [string, number, boolean] => {
    const entry = configs.get(name)
    assert.ok(entry !== undefined, `no ${name}`)
    return [entry.value, entry.configSource, entry.readOnly]
  }
  assert.deepEqual(described('num.partitions'), ['3', 4, true])
  assert.deepEqual(described('broker.id'), ['4', 4, true])
  assert.deepEqual(described('node.id'), ['4', 4, true])
  assert.deepEqual(described('group.max.size'), ['10', 4, true])
  assert.deepEqual(described('max.connections'), ['77', 4, false])
  assert.deepEqual(described('listeners'), ['PLAINTEXT://127.0.0.1:0', 4, true])
  assert.deepEqual(described('advertised.listeners'), [`PLAINTEXT://${broker.host}:${broker.port}`, 5, true])
  assert.deepEqual(described('log.dirs'), [broker.dataDir, 4, true])
  // Dynamic (cluster-wide) in Kafka, so not read-only: src/config/broker-configs.ts.
  assert.deepEqual(described('message.max.bytes'), ['1048588', 5, false])
  assert.deepEqual(described('transaction.max.timeout.ms'), ['900000', 5, true])
  assert.deepEqual(described('offsets.topic.num.partitions'), ['50', 5, true])
  assert.deepEqual(configs.get('num.partitions').synonyms, [{ name: 'num.partitions', value: '3', source: 4 }])
  // v0 has isDefault where later versions have configSource.
  const v0 = await client.request(32, 0, { resources: [{ resourceType: 4, resourceName: '4', configurationKeys: ['num.partitions', 'message.max.bytes'] }] })
  assert.deepEqual(v0.results[0].configs.map((c: any) => [c.name, c.isDefault]), [['num.partitions', false], ['message.max.bytes', true]])
})
