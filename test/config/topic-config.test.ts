// Topic configs: the Kafka 3.x configs that take no effect here (accepted, validated, documented), and the
// broker-level defaults that topicConfigValue consults (src/config/broker-configs.ts installs them).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isTopicConfig, kNoEffectTopicConfigs, kTopicConfigDefaults, topicConfigDefault, topicConfigValue, validateTopicConfig } from '../../src/config/topic-config.ts'
import { brokerConfigMode, brokerSynonymOf, installBrokerConfigs, topicConfigDocumentation, validateBrokerConfig } from '../../src/config/broker-configs.ts'
import { parseConfig } from '../../src/config/config.ts'
import { Logger } from '../../src/logger.ts'

test('Kafka 3.x topic configs that have no effect are accepted, validated as Kafka does, and documented as such', () => {
  for (const name of ['message.format.version', 'message.downconversion.enable', 'message.timestamp.difference.max.ms', 'local.retention.ms', 'remote.storage.enable', 'leader.replication.throttled.replicas']) {
    assert.ok(isTopicConfig(name), name)
    assert.equal(validateTopicConfig(name, kTopicConfigDefaults[name]), null, name)
    assert.match(topicConfigDocumentation(name) ?? '', /no effect|does not have/, name)
  }
  for (const name of kNoEffectTopicConfigs.keys()) assert.ok(isTopicConfig(name), name)
  assert.equal(validateTopicConfig('message.format.version', '2.8-IV1'), null)
  assert.match(validateTopicConfig('message.format.version', 'latest') ?? '', /Invalid value/)
  assert.equal(validateTopicConfig('message.downconversion.enable', 'false'), null)
  assert.match(validateTopicConfig('message.downconversion.enable', 'maybe') ?? '', /Invalid value/)
  assert.match(validateTopicConfig('message.timestamp.difference.max.ms', '-1') ?? '', /at least 0/)
  assert.equal(validateTopicConfig('leader.replication.throttled.replicas', '0:1,1:1'), null)
  assert.equal(validateTopicConfig('follower.replication.throttled.replicas', '*'), null)
  assert.match(validateTopicConfig('leader.replication.throttled.replicas', 'all') ?? '', /Invalid value/)
  // No tiered storage: enabling it is refused as Kafka refuses it on a broker without remote storage.
  assert.match(validateTopicConfig('remote.storage.enable', 'true') ?? '', /Tiered Storage/)
  assert.equal(validateTopicConfig('local.retention.bytes', '-2'), null)
  // Still unknown: names Kafka does not have.
  assert.equal(isTopicConfig('message.format'), false)
})

test('topicConfigValue: the override, else per-broker dynamic, else cluster-wide dynamic, else static, else the default', () => {
  const config = parseConfig(['--segment-bytes', '2097152'])
  const logger = new Logger('error')
  try {
    installBrokerConfigs({}, config, logger, 'worker')
    assert.equal(topicConfigDefault('retention.ms'), '604800000')
    assert.equal(topicConfigDefault('segment.bytes'), '2097152')
    installBrokerConfigs({ brokerConfigs: { clusterDefault: { 'log.retention.ms': '1000', 'log.segment.bytes': '3145728' }, perBroker: { [String(config.nodeId)]: { 'log.retention.ms': '2000' }, 99: { 'log.retention.ms': '3000' } } } }, config, logger, 'worker')
    assert.equal(topicConfigValue({}, 'retention.ms'), '2000')
    assert.equal(topicConfigValue({ 'retention.ms': '5' }, 'retention.ms'), '5')
    assert.equal(topicConfigValue({}, 'segment.bytes'), '3145728')
    assert.equal(topicConfigValue({}, 'cleanup.policy'), 'delete')
    // Configs without a broker synonym keep Kafka's default.
    assert.equal(topicConfigValue({}, 'leader.replication.throttled.replicas'), '')
  } finally {
    installBrokerConfigs({}, parseConfig([]), logger, 'worker')
  }
})

test('broker synonyms: the first is dynamic, the others and the flags read-only, the rest unknown', () => {
  assert.equal(brokerSynonymOf('retention.ms'), 'log.retention.ms')
  assert.equal(brokerSynonymOf('max.message.bytes'), 'message.max.bytes')
  assert.equal(brokerSynonymOf('leader.replication.throttled.replicas'), undefined)
  const flags = new Set(['num.partitions'])
  assert.equal(brokerConfigMode('log.retention.ms', flags), 'dynamic')
  assert.equal(brokerConfigMode('log.cleaner.min.compaction.lag.ms', flags), 'dynamic')
  assert.equal(brokerConfigMode('log.retention.hours', flags), 'read-only')
  assert.equal(brokerConfigMode('log.message.format.version', flags), 'read-only')
  assert.equal(brokerConfigMode('num.partitions', flags), 'read-only')
  assert.equal(brokerConfigMode('no.such.config', flags), 'unknown')
  assert.equal(brokerConfigMode('__proto__', flags), 'unknown')
  assert.equal(validateBrokerConfig('log.retention.ms', '-1'), null)
  assert.match(validateBrokerConfig('log.retention.ms', 'soon') ?? '', /configuration log\.retention\.ms/)
})

test('installBrokerConfigs sets each thread\'s log level from its own logger, else root, else --log-level', () => {
  const config = parseConfig(['--log-level', 'warn'])
  const main = new Logger('warn')
  const worker = new Logger('warn')
  const install = (loggers: Record<string, string> | undefined): void => {
    installBrokerConfigs({ loggers }, config, main, 'main')
    installBrokerConfigs({ loggers }, config, worker, 'worker')
  }
  try {
    install({ root: 'TRACE' })
    assert.deepEqual([main.enabled('debug'), worker.enabled('debug')], [true, true])
    install({ root: 'INFO', 'shoal.worker': 'OFF' })
    assert.deepEqual([main.enabled('info'), main.enabled('debug'), worker.enabled('warn'), worker.enabled('error')], [true, false, false, true])
    install(undefined)
    assert.deepEqual([main.enabled('warn'), main.enabled('info'), worker.enabled('warn')], [true, false, true])
  } finally {
    installBrokerConfigs({}, parseConfig([]), worker, 'worker')
  }
})
