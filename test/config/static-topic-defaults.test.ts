// Static broker configs for topic defaults: the broker synonyms of topic configs in the --config file and in
// --override, Kafka's alternative units (hours, minutes) and their precedence, validation at start, and the
// STATIC_BROKER_CONFIG link they give every topic default's chain.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseConfig, type BrokerConfig } from '../../src/config/config.ts'
import {
  ConfigSource, brokerConfigChain, chainValue, installBrokerConfigs, isStaticBrokerConfig, kNoDynamicBrokerConfigs, topicConfigChain
} from '../../src/config/broker-configs.ts'
import { topicConfigValue } from '../../src/config/topic-config.ts'
import { Logger } from '../../src/logger.ts'

function fromFile (text: string, argv: string[] = []): BrokerConfig {
  return parseConfig(['--config', 'server.properties', ...argv], {}, () => text)
}

function configErrorOf (text: string, argv: string[] = []): string {
  try {
    fromFile(text, argv)
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error.message
  }
  assert.fail(`accepted: ${text} ${argv.join(' ')}`)
}

/** Topic config `name`'s value and chain for a topic without overrides, under `config` and no dynamic configs. */
function topicDefault (config: BrokerConfig, name: string): { value: string, chain: Array<[string, string, number]> } {
  const chain = topicConfigChain(name, {}, kNoDynamicBrokerConfigs, String(config.nodeId), config)
  return { value: chainValue(chain, name), chain: chain.map((link) => [link.name, link.value, link.source]) }
}

const kStatic = ConfigSource.STATIC_BROKER_CONFIG
const kDefault = ConfigSource.DEFAULT_CONFIG

test('log.retention.hours in the file is the static default of retention.ms, in its own units in the chain', () => {
  const config = fromFile('log.retention.hours=24\n')
  assert.deepEqual(config.staticBrokerConfigs, { 'log.retention.hours': '24' })
  assert.deepEqual(topicDefault(config, 'retention.ms'), {
    value: '86400000',
    chain: [['log.retention.hours', '24', kStatic], ['log.retention.ms', '604800000', kDefault]]
  })
  // The broker-level default itself: converted in the value, as set in the chain.
  const broker = brokerConfigChain('log.retention.ms', kNoDynamicBrokerConfigs, '1', config)
  assert.equal(chainValue(broker, 'log.retention.ms'), '86400000')
  assert.equal(chainValue(broker, 'log.retention.hours'), '24')
})

test('retention: log.retention.ms wins over .minutes, which wins over .hours; a negative one means forever', () => {
  const all = fromFile('log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=3000\n')
  assert.deepEqual(topicDefault(all, 'retention.ms'), {
    value: '3000',
    chain: [['log.retention.ms', '3000', kStatic], ['log.retention.minutes', '2', kStatic], ['log.retention.hours', '1', kStatic], ['log.retention.ms', '604800000', kDefault]]
  })
  assert.equal(topicDefault(fromFile('log.retention.hours=1\nlog.retention.minutes=2\n'), 'retention.ms').value, '120000')
  assert.equal(topicDefault(fromFile('log.retention.hours=-1'), 'retention.ms').value, '-1')
  assert.equal(topicDefault(fromFile('log.retention.minutes=-30'), 'retention.ms').value, '-1')
  assert.equal(topicDefault(fromFile('log.retention.ms=-5'), 'retention.ms').value, '-1')
  assert.equal(topicDefault(fromFile('log.retention.bytes=1073741824'), 'retention.bytes').value, '1073741824')
})

test('segment.ms and segment.jitter.ms take log.roll.ms over log.roll.hours, and the jitter likewise', () => {
  assert.equal(topicDefault(fromFile('log.roll.hours=2'), 'segment.ms').value, '7200000')
  assert.equal(topicDefault(fromFile('log.roll.hours=2\nlog.roll.ms=60000'), 'segment.ms').value, '60000')
  assert.equal(topicDefault(fromFile('log.roll.jitter.hours=1'), 'segment.jitter.ms').value, '3600000')
  assert.equal(topicDefault(fromFile('log.roll.jitter.hours=1\nlog.roll.jitter.ms=5'), 'segment.jitter.ms').value, '5')
})

test('the other topic-default synonyms are taken as Kafka parses them: lists trimmed, booleans in any case', () => {
  const config = fromFile([
    'log.cleanup.policy = compact, delete',
    'compression.type=zstd',
    'compression.zstd.level=7',
    'log.message.timestamp.type=LogAppendTime',
    'log.cleaner.delete.retention.ms=1000',
    'log.cleaner.min.cleanable.ratio=0.25',
    'log.preallocate=TRUE',
    'min.insync.replicas=1',
    'log.flush.interval.messages=10000'
  ].join('\n'))
  assert.equal(topicDefault(config, 'cleanup.policy').value, 'compact,delete')
  assert.equal(topicDefault(config, 'compression.type').value, 'zstd')
  assert.equal(topicDefault(config, 'compression.zstd.level').value, '7')
  assert.equal(topicDefault(config, 'message.timestamp.type').value, 'LogAppendTime')
  assert.equal(topicDefault(config, 'delete.retention.ms').value, '1000')
  assert.equal(topicDefault(config, 'min.cleanable.dirty.ratio').value, '0.25')
  assert.equal(topicDefault(config, 'preallocate').value, 'true')
  assert.equal(topicDefault(config, 'flush.messages').value, '10000')
  // log.segment.bytes and message.max.bytes keep their flags (and their fields), not the generic table.
  assert.equal(isStaticBrokerConfig('log.segment.bytes'), false)
  assert.equal(isStaticBrokerConfig('log.retention.hours'), true)
  assert.equal(fromFile('log.segment.bytes=2097152').segmentBytes, 2097152)
})

test('a value Kafka would refuse stops the broker with a ConfigError naming the file, line and property', () => {
  const cases: Array<[string, string]> = [
    ['log.roll.hours=0', 'server.properties:1: log.roll.hours: Invalid value 0 for configuration log.roll.hours: Value must be at least 1'],
    ['log.roll.jitter.hours=-1', 'server.properties:1: log.roll.jitter.hours: Invalid value -1 for configuration log.roll.jitter.hours: Value must be at least 0'],
    ['log.retention.hours=1.5', 'server.properties:1: log.retention.hours: Invalid value 1.5 for configuration log.retention.hours: Not a number of type INT'],
    ['log.retention.hours=2147483648', 'server.properties:1: log.retention.hours: Invalid value 2147483648 for configuration log.retention.hours: Not a number of type INT'],
    ['# c\nlog.retention.ms=forever', 'server.properties:2: log.retention.ms: Invalid value forever for configuration log.retention.ms: Not a number of type LONG'],
    ['log.roll.ms=0', 'server.properties:1: log.roll.ms: Invalid value 0 for configuration log.roll.ms: Value must be at least 1'],
    ['log.cleanup.policy=none', 'server.properties:1: log.cleanup.policy: Invalid value none for configuration log.cleanup.policy'],
    ['compression.type=brotli', 'server.properties:1: compression.type: Invalid value brotli for configuration compression.type'],
    ['log.message.timestamp.type=createtime', 'server.properties:1: log.message.timestamp.type: Invalid value createtime for configuration log.message.timestamp.type'],
    ['log.cleaner.min.cleanable.ratio=2', 'server.properties:1: log.cleaner.min.cleanable.ratio: Invalid value 2 for configuration log.cleaner.min.cleanable.ratio: Value must be between 0 and 1'],
    ['log.index.size.max.bytes=2', 'server.properties:1: log.index.size.max.bytes: Invalid value 2 for configuration log.index.size.max.bytes: Value must be at least 4'],
    ['log.retention.hours=1\nlog.retention.hours=2', 'server.properties:2: duplicate property "log.retention.hours" (already set on line 1)'],
    ['log.retention.hours=', 'server.properties:1: log.retention.hours: empty value (remove the line to keep the default)'],
    ['log.cleaner.threads=2', 'server.properties:1: "log.cleaner.threads" is a Kafka broker property Shoal does not implement; remove it']
  ]
  for (const [text, message] of cases) assert.equal(configErrorOf(text), message, text)
})

test('--override NAME=VALUE is a file line on the command line: it replaces the file\'s, and flags still win', () => {
  const file = 'log.retention.hours=168\nnum.partitions=3\nshoal.workers=4\n'
  const config = fromFile(file, ['--override', 'log.retention.hours=24', '--override=num.partitions=5', '--override', 'log.roll.hours=1', '--override', 'shoal.workers=6', '--workers', '2'])
  assert.equal(config.staticBrokerConfigs['log.retention.hours'], '24')
  assert.equal(config.staticBrokerConfigs['log.roll.hours'], '1')
  assert.equal(config.defaultPartitions, 5)
  assert.equal(config.workers, 2)
  assert.equal(config.sources['num.partitions'], 'file')
  // Without a file, and an alias replacing the file's own name.
  assert.deepEqual(parseConfig(['--override', 'log.cleanup.policy=compact'], {}).staticBrokerConfigs, { 'log.cleanup.policy': 'compact' })
  assert.equal(fromFile('node.id=1', ['--override', 'broker.id=7']).nodeId, 7)
  // Refused like a file line.
  const errorOf = (argv: string[]): string => {
    try {
      parseConfig(argv, {})
    } catch (error) {
      assert.ok(error instanceof ConfigError)
      return error.message
    }
    assert.fail(argv.join(' '))
  }
  assert.equal(errorOf(['--override', 'log.roll.hours=0']), '--override: log.roll.hours: Invalid value 0 for configuration log.roll.hours: Value must be at least 1')
  assert.equal(errorOf(['--override', 'foo.bar=1']), '--override: unknown property "foo.bar"')
  assert.equal(errorOf(['--override', 'log.retention.hours']), '--override: expected NAME=VALUE, got "log.retention.hours"')
  assert.equal(errorOf(['--override']), '--override needs a value')
  assert.equal(errorOf(['--override', 'log.retention.hours=1', '--override', 'log.retention.hours=2']), '--override: duplicate property "log.retention.hours" (already set by an earlier --override)')
})

test('log.cleaner.enable is true by default and takes false from the file, the flag or SHOAL_LOG_CLEANER_ENABLE', () => {
  assert.equal(parseConfig([], {}).logCleanerEnable, true)
  assert.equal(fromFile('log.cleaner.enable=false').logCleanerEnable, false)
  assert.equal(parseConfig(['--log-cleaner-enable=false'], {}).logCleanerEnable, false)
  assert.equal(parseConfig([], { SHOAL_LOG_CLEANER_ENABLE: 'false' }).logCleanerEnable, false)
  assert.equal(configErrorOf('log.cleaner.enable=sometimes'), 'server.properties:1: log.cleaner.enable: expected true or false, got "sometimes"')
})

test('installBrokerConfigs gives topics without an override the static default, under the dynamic ones', () => {
  const config = fromFile('log.retention.hours=24\nlog.cleanup.policy=compact\nlog.roll.hours=1\n')
  const logger = new Logger('error')
  try {
    installBrokerConfigs({}, config, logger, 'worker')
    assert.equal(topicConfigValue({}, 'retention.ms'), '86400000')
    assert.equal(topicConfigValue({}, 'cleanup.policy'), 'compact')
    assert.equal(topicConfigValue({}, 'segment.ms'), '3600000')
    assert.equal(topicConfigValue({ 'retention.ms': '5' }, 'retention.ms'), '5')
    installBrokerConfigs({ brokerConfigs: { clusterDefault: { 'log.retention.ms': '1000' }, perBroker: {} } }, config, logger, 'worker')
    assert.equal(topicConfigValue({}, 'retention.ms'), '1000')
    assert.equal(topicConfigValue({}, 'segment.ms'), '3600000')
  } finally {
    installBrokerConfigs({}, parseConfig([]), logger, 'worker')
  }
})
