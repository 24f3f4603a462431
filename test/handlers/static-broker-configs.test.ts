// Static broker configs for topic defaults on a real broker started with a --config file and --override:
// DescribeConfigs reports them as STATIC_BROKER_CONFIG (on BROKER, and in the chains of topic configs), topics
// without an override follow them from creation, and dynamic broker configs and topic overrides win over them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { ConfigSource, ConfigType } from '../../src/config/broker-configs.ts'

const kTopic = 2
const kBroker = 4

type Config = { name: string, value: string | null, readOnly: boolean, configSource: number, synonyms: Array<{ name: string, value: string, source: number }>, configType: number }

async function describe (client: KafkaClient, resourceType: number, resourceName: string, keys: string[]): Promise<Map<string, Config>> {
  const response = await client.request(32, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false })
  assert.equal(response.results[0].errorCode, ErrorCode.NONE)
  return new Map((response.results[0].configs as Config[]).map((config) => [config.name, config]))
}

const summary = (config: Config | undefined): [string | null | undefined, number | undefined, Array<[string, string, number]>] =>
  [config?.value, config?.configSource, (config?.synonyms ?? []).map((s) => [s.name, s.value, s.source])]

const kStatic = ConfigSource.STATIC_BROKER_CONFIG
const kDefault = ConfigSource.DEFAULT_CONFIG

test('topic defaults from server.properties and --override are STATIC_BROKER_CONFIG and new topics follow them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-static-configs-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'server.properties')
  writeFileSync(file, [
    '# an operator\'s server.properties',
    'log.retention.hours=24',
    'log.retention.bytes=1073741824',
    'log.roll.hours=168',
    'compression.type=lz4',
    'log.cleaner.enable=false'
  ].join('\n'))
  const broker = await startBroker({ workers: 2, args: ['--config', file, '--override', 'log.roll.hours=2'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())

  // BROKER: the broker-level default converted, its chain in Kafka's names and units; the hours synonym as set.
  const onBroker = await describe(client, kBroker, '1', ['log.retention.ms', 'log.retention.hours', 'log.roll.ms', 'log.roll.hours', 'log.retention.bytes', 'compression.type', 'log.cleaner.enable'])
  assert.deepEqual(summary(onBroker.get('log.retention.ms')), ['86400000', kStatic, [['log.retention.hours', '24', kStatic], ['log.retention.ms', '604800000', kDefault]]])
  assert.deepEqual(summary(onBroker.get('log.retention.hours')), ['24', kStatic, [['log.retention.hours', '24', kStatic]]])
  assert.equal(onBroker.get('log.retention.hours')?.readOnly, true)
  assert.equal(onBroker.get('log.retention.hours')?.configType, ConfigType.INT)
  assert.equal(onBroker.get('log.retention.ms')?.readOnly, false)
  // --override replaced the file's log.roll.hours.
  assert.deepEqual(summary(onBroker.get('log.roll.ms')), ['7200000', kStatic, [['log.roll.hours', '2', kStatic], ['log.roll.ms', '604800000', kDefault]]])
  assert.deepEqual(summary(onBroker.get('log.retention.bytes')), ['1073741824', kStatic, [['log.retention.bytes', '1073741824', kStatic], ['log.retention.bytes', '-1', kDefault]]])
  assert.deepEqual(summary(onBroker.get('compression.type')).slice(0, 2), ['lz4', kStatic])
  assert.deepEqual(summary(onBroker.get('log.cleaner.enable')).slice(0, 2), ['false', kStatic])

  // CreateTopics (v5+) answers the effective configs: the static defaults.
  const created = await client.request(19, 7, { topics: [{ name: 'plain', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE)
  const createdConfigs = new Map((created.topics[0].configs as Array<{ name: string, value: string, configSource: number }>).map((c) => [c.name, [c.value, c.configSource]]))
  assert.deepEqual(createdConfigs.get('retention.ms'), ['86400000', kStatic])
  assert.deepEqual(createdConfigs.get('segment.ms'), ['7200000', kStatic])

  // TOPIC: every topic without an override follows, reported as STATIC_BROKER_CONFIG with the synonyms' chain.
  const onTopic = await describe(client, kTopic, 'plain', ['retention.ms', 'segment.ms', 'retention.bytes', 'compression.type', 'cleanup.policy'])
  assert.deepEqual(summary(onTopic.get('retention.ms')), ['86400000', kStatic, [['log.retention.hours', '24', kStatic], ['log.retention.ms', '604800000', kDefault]]])
  assert.deepEqual(summary(onTopic.get('segment.ms')).slice(0, 2), ['7200000', kStatic])
  assert.deepEqual(summary(onTopic.get('retention.bytes')).slice(0, 2), ['1073741824', kStatic])
  assert.deepEqual(summary(onTopic.get('compression.type')).slice(0, 2), ['lz4', kStatic])
  assert.deepEqual(summary(onTopic.get('cleanup.policy')).slice(0, 2), ['delete', kDefault])

  // A topic override wins over the static default; a dynamic broker default wins over it too and keeps it in the chain.
  await createTopic(client, 'overridden', 1)
  const override = await client.request(44, 1, { resources: [{ resourceType: kTopic, resourceName: 'overridden', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false })
  assert.equal(override.responses[0].errorCode, ErrorCode.NONE)
  assert.deepEqual(summary((await describe(client, kTopic, 'overridden', ['retention.ms'])).get('retention.ms')).slice(0, 2), ['1000', ConfigSource.DYNAMIC_TOPIC_CONFIG])
  const dynamic = await client.request(44, 1, { resources: [{ resourceType: kBroker, resourceName: '', configs: [{ name: 'log.retention.ms', configOperation: 0, value: '3600000' }] }], validateOnly: false })
  assert.equal(dynamic.responses[0].errorCode, ErrorCode.NONE)
  assert.deepEqual(summary((await describe(client, kTopic, 'plain', ['retention.ms'])).get('retention.ms')), ['3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, [
    ['log.retention.ms', '3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG], ['log.retention.hours', '24', kStatic], ['log.retention.ms', '604800000', kDefault]
  ]])

  // The hours synonym stays read-only at run time, as in Kafka.
  const readOnly = await client.request(44, 1, { resources: [{ resourceType: kBroker, resourceName: '1', configs: [{ name: 'log.retention.hours', configOperation: 0, value: '1' }] }], validateOnly: false })
  assert.equal(readOnly.responses[0].errorCode, ErrorCode.INVALID_REQUEST)
})

test('max.connections.per.ip changes at run time: a lower limit refuses new connections, deleting it restores the flag', async (t) => {
  const broker = await startBroker({ workers: 1, args: ['--max-connections-per-ip', '50'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const set = async (value: string | null, operation = 0): Promise<{ errorCode: number, errorMessage: string | null }> => {
    const response = await client.request(44, 1, { resources: [{ resourceType: kBroker, resourceName: '', configs: [{ name: 'max.connections.per.ip', configOperation: operation, value }] }], validateOnly: false })
    return { errorCode: response.responses[0].errorCode, errorMessage: response.responses[0].errorMessage }
  }

  assert.deepEqual(summary((await describe(client, kBroker, '1', ['max.connections.per.ip'])).get('max.connections.per.ip')).slice(0, 2), ['50', kStatic])
  assert.deepEqual(await set('0'), { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Invalid value 0 for configuration max.connections.per.ip: Value must be at least 1' })
  assert.deepEqual(await set('many'), { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Invalid value many for configuration max.connections.per.ip: Not a number of type INT' })
  assert.equal((await set('1')).errorCode, ErrorCode.NONE)
  const described = (await describe(client, kBroker, '1', ['max.connections.per.ip'])).get('max.connections.per.ip')
  assert.deepEqual(summary(described), ['1', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, [
    ['max.connections.per.ip', '1', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG], ['max.connections.per.ip', '50', kStatic], ['max.connections.per.ip', '50', kDefault]
  ]])
  assert.equal(described?.readOnly, false)
  assert.equal(described?.configType, ConfigType.INT)

  // This connection stays; a second one from 127.0.0.1 is closed at once.
  const extra = await KafkaClient.to(broker.bootstrap)
  await waitFor(() => extra.isClosed, 10_000, 'the broker to close the connection over the new limit')
  assert.equal((await client.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })).errorCode, ErrorCode.NONE)

  // Deleting the dynamic value gives the flag's back.
  assert.equal((await set(null, 1)).errorCode, ErrorCode.NONE)
  const admitted = await waitFor(async (): Promise<KafkaClient | false> => {
    const next = await KafkaClient.to(broker.bootstrap)
    try {
      if ((await next.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })).errorCode === ErrorCode.NONE) return next
    } catch {}
    next.close()
    return false
  }, 10_000, 'a second connection to be admitted again') as KafkaClient
  admitted.close()
})
