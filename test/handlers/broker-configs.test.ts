// Dynamic broker configs (AlterConfigs and IncrementalAlterConfigs on BROKER), topic defaults following them,
// DescribeConfigs' sources and synonyms, durability across a restart, and BROKER_LOGGER, against a real broker
// through the project's own client.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { ConfigSource, ConfigType } from '../../src/config/broker-configs.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller } from '../../src/admin/controller.ts'
import { Logger } from '../../src/logger.ts'
import type { ClusterMetadata } from '../../src/shard/shard-table.ts'

const kTopic = 2
const kBroker = 4
const kBrokerLogger = 8
const kSet = 0
const kDelete = 1
const kAppend = 2

type Config = { name: string, value: string | null, readOnly: boolean, configSource: number, synonyms: Array<{ name: string, value: string, source: number }>, configType: number, documentation: string | null }

async function describe (client: KafkaClient, resourceType: number, resourceName: string, keys: string[] | null, includeSynonyms = true): Promise<{ errorCode: number, configs: Config[] }> {
  const response = await client.request(32, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms, includeDocumentation: true })
  return response.results[0]
}

async function describeOne (client: KafkaClient, resourceType: number, resourceName: string, key: string): Promise<Config | undefined> {
  return (await describe(client, resourceType, resourceName, [key])).configs[0]
}

async function incremental (client: KafkaClient, resourceType: number, resourceName: string, configs: Array<{ name: string, configOperation: number, value: string | null }>, validateOnly = false): Promise<{ errorCode: number, errorMessage: string | null }> {
  const response = await client.request(44, 1, { resources: [{ resourceType, resourceName, configs }], validateOnly })
  return response.responses[0]
}

async function alter (client: KafkaClient, resourceType: number, resourceName: string, configs: Array<{ name: string, value: string | null }>, validateOnly = false): Promise<{ errorCode: number, errorMessage: string | null }> {
  const response = await client.request(33, 1, { resources: [{ resourceType, resourceName, configs }], validateOnly })
  return response.responses[0]
}

const chain = (config: Config | undefined): Array<[string, string, number]> => (config?.synonyms ?? []).map((s) => [s.name, s.value, s.source])

test('broker-level topic defaults change at run time, per broker over cluster-wide, and topics without an override follow', async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--segment-bytes', '2097152'] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'plain', 2)
  await createTopic(client, 'overridden', 1)
  assert.equal((await incremental(client, kTopic, 'overridden', [{ name: 'retention.ms', configOperation: kSet, value: '1000' }])).errorCode, ErrorCode.NONE)

  // Before: Kafka's default, and the flag as STATIC_BROKER_CONFIG under its broker name.
  const before = await describeOne(client, kTopic, 'plain', 'retention.ms')
  assert.deepEqual([before?.value, before?.configSource, chain(before)], ['604800000', ConfigSource.DEFAULT_CONFIG, [['log.retention.ms', '604800000', ConfigSource.DEFAULT_CONFIG]]])
  const segment = await describeOne(client, kTopic, 'plain', 'segment.bytes')
  assert.deepEqual([segment?.value, segment?.configSource, chain(segment)], ['2097152', ConfigSource.STATIC_BROKER_CONFIG, [
    ['log.segment.bytes', '2097152', ConfigSource.STATIC_BROKER_CONFIG], ['log.segment.bytes', '2097152', ConfigSource.DEFAULT_CONFIG]
  ]])
  assert.equal(segment?.configType, ConfigType.INT)
  assert.match(segment?.documentation ?? '', /segment/)

  // validateOnly changes nothing.
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.retention.ms', configOperation: kSet, value: '3600000' }], true)).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kTopic, 'plain', 'retention.ms'))?.value, '604800000')

  // Cluster-wide default (IncrementalAlterConfigs, resourceName "").
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.retention.ms', configOperation: kSet, value: '3600000' }])).errorCode, ErrorCode.NONE)
  const followed = await describeOne(client, kTopic, 'plain', 'retention.ms')
  assert.deepEqual([followed?.value, followed?.configSource, chain(followed)], ['3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, [
    ['log.retention.ms', '3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG], ['log.retention.ms', '604800000', ConfigSource.DEFAULT_CONFIG]
  ]])

  // Per broker (AlterConfigs, resourceName = node id) takes precedence; the topic override stays on top.
  assert.equal((await alter(client, kBroker, '1', [{ name: 'log.retention.ms', value: '7200000' }, { name: 'log.segment.bytes', value: '4194304' }])).errorCode, ErrorCode.NONE)
  const perBroker = await describeOne(client, kTopic, 'plain', 'retention.ms')
  assert.deepEqual([perBroker?.value, perBroker?.configSource, chain(perBroker)], ['7200000', ConfigSource.DYNAMIC_BROKER_CONFIG, [
    ['log.retention.ms', '7200000', ConfigSource.DYNAMIC_BROKER_CONFIG], ['log.retention.ms', '3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG], ['log.retention.ms', '604800000', ConfigSource.DEFAULT_CONFIG]
  ]])
  assert.deepEqual(chain(await describeOne(client, kTopic, 'overridden', 'retention.ms'))[0], ['retention.ms', '1000', ConfigSource.DYNAMIC_TOPIC_CONFIG])
  assert.deepEqual(chain(await describeOne(client, kTopic, 'plain', 'segment.bytes')).map((link) => link[2]), [ConfigSource.DYNAMIC_BROKER_CONFIG, ConfigSource.STATIC_BROKER_CONFIG, ConfigSource.DEFAULT_CONFIG])

  // The BROKER resource itself: node id describes everything, "" only the cluster-wide dynamic set.
  const own = await describeOne(client, kBroker, '1', 'log.retention.ms')
  assert.deepEqual([own?.value, own?.configSource, own?.readOnly], ['7200000', ConfigSource.DYNAMIC_BROKER_CONFIG, false])
  assert.equal((await describeOne(client, kBroker, '1', 'num.partitions'))?.readOnly, true)
  const clusterWide = await describe(client, kBroker, '', null)
  assert.deepEqual(clusterWide.configs.map((c) => [c.name, c.value, c.configSource]), [['log.retention.ms', '3600000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG]])

  // AlterConfigs replaces the resource's set: an empty one removes the per-broker values.
  assert.equal((await alter(client, kBroker, '1', [])).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kTopic, 'plain', 'retention.ms'))?.configSource, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
  assert.equal((await describeOne(client, kTopic, 'plain', 'segment.bytes'))?.configSource, ConfigSource.STATIC_BROKER_CONFIG)

  // A list config appends; DELETE gives the default back.
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.cleanup.policy', configOperation: kAppend, value: 'compact' }])).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kTopic, 'plain', 'cleanup.policy'))?.value, 'delete,compact')
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.cleanup.policy', configOperation: kDelete, value: null }])).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kTopic, 'plain', 'cleanup.policy'))?.configSource, ConfigSource.DEFAULT_CONFIG)
})

test('read-only, unknown and invalid broker configs are refused and change nothing', async (t) => {
  const broker = await startBroker({ workers: 1 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const readOnly = await incremental(client, kBroker, '1', [{ name: 'num.partitions', configOperation: kSet, value: '3' }, { name: 'log.retention.hours', configOperation: kSet, value: '1' }])
  assert.equal(readOnly.errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal(readOnly.errorMessage, 'Cannot update these configs dynamically: Set(num.partitions, log.retention.hours)')
  assert.equal((await alter(client, kBroker, '', [{ name: 'log.retention.ms', value: '1' }, { name: 'no.such.config', value: '1' }])).errorCode, ErrorCode.INVALID_CONFIG)
  const invalid = await alter(client, kBroker, '', [{ name: 'log.segment.bytes', value: '1' }])
  assert.equal(invalid.errorCode, ErrorCode.INVALID_CONFIG)
  assert.match(invalid.errorMessage ?? '', /log\.segment\.bytes/)
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.retention.ms', configOperation: kAppend, value: '1' }])).errorCode, ErrorCode.INVALID_CONFIG)
  assert.equal((await alter(client, kBroker, '7', [{ name: 'log.retention.ms', value: '1' }])).errorCode, ErrorCode.INVALID_REQUEST)
  assert.deepEqual((await describe(client, kBroker, '', null)).configs, [])
})

test('dynamic broker configs survive a restart; logger levels do not', async (t) => {
  const first = await startBroker({ workers: 1, cleanup: false })
  const dataDir = first.dataDir
  let client = await KafkaClient.connect(first.host, first.port)
  await createTopic(client, 'kept', 1)
  assert.equal((await incremental(client, kBroker, '', [{ name: 'log.retention.bytes', configOperation: kSet, value: '1048576' }])).errorCode, ErrorCode.NONE)
  assert.equal((await incremental(client, kBroker, '1', [{ name: 'message.max.bytes', configOperation: kSet, value: '2000000' }])).errorCode, ErrorCode.NONE)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'root', configOperation: kSet, value: 'ERROR' }])).errorCode, ErrorCode.NONE)
  client.close()
  await first.stop()

  const second = await startBroker({ workers: 1, dataDir, cleanup: true })
  t.after(() => second.stop())
  client = await KafkaClient.connect(second.host, second.port)
  t.after(() => client.close())
  const retention = await describeOne(client, kTopic, 'kept', 'retention.bytes')
  assert.deepEqual([retention?.value, retention?.configSource], ['1048576', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG])
  const maxMessage = await describeOne(client, kTopic, 'kept', 'max.message.bytes')
  assert.deepEqual([maxMessage?.value, maxMessage?.configSource], ['2000000', ConfigSource.DYNAMIC_BROKER_CONFIG])
  assert.equal((await describeOne(client, kBrokerLogger, '1', 'root'))?.value, 'WARN')
})

/** Polls `output()` until `pattern` appears (deadline 10 s). */
async function waitForOutput (output: () => string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the broker's output:\n${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('BROKER_LOGGER: levels are described and changed at run time on the workers, and DELETE gives root\'s back', async (t) => {
  const broker = await startBroker({ workers: 1 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const loggers = await describe(client, kBrokerLogger, '1', null, false)
  assert.deepEqual(loggers.configs.map((c) => [c.name, c.value, c.configSource]), [
    ['root', 'WARN', ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG], ['shoal.main', 'WARN', ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG], ['shoal.worker', 'WARN', ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG]
  ])

  // Kafka's refusals.
  assert.equal((await alter(client, kBrokerLogger, '1', [{ name: 'root', value: 'DEBUG' }])).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'root', configOperation: kDelete, value: null }])).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'root', configOperation: kSet, value: 'LOUD' }])).errorCode, ErrorCode.INVALID_CONFIG)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'kafka.server', configOperation: kSet, value: 'INFO' }])).errorCode, ErrorCode.INVALID_CONFIG)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'root', configOperation: kAppend, value: 'INFO' }])).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await incremental(client, kBrokerLogger, '', [{ name: 'root', configOperation: kSet, value: 'INFO' }])).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'shoal.worker', configOperation: kSet, value: 'DEBUG' }], true)).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kBrokerLogger, '1', 'shoal.worker'))?.value, 'WARN')

  // TRACE on the workers: each answered request is logged at debug by the worker that served it.
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'shoal.worker', configOperation: kSet, value: 'TRACE' }])).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kBrokerLogger, '1', 'shoal.worker'))?.value, 'TRACE')
  const probe = async (clientId: string): Promise<void> => {
    const other = await KafkaClient.connect(broker.host, broker.port, clientId)
    await other.request(18, 3, { clientSoftwareName: 'probe', clientSoftwareVersion: '1' })
    other.close()
  }
  await probe('while-debug')
  await waitForOutput(broker.output, /DEBUG \[worker-0\].*"while-debug"/)

  // DELETE: the worker logger follows root (WARN) again. A probe after it is not logged; one after DEBUG is.
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'shoal.worker', configOperation: kDelete, value: null }])).errorCode, ErrorCode.NONE)
  assert.equal((await describeOne(client, kBrokerLogger, '1', 'shoal.worker'))?.value, 'WARN')
  await probe('after-reset')
  assert.equal((await incremental(client, kBrokerLogger, '1', [{ name: 'root', configOperation: kSet, value: 'DEBUG' }])).errorCode, ErrorCode.NONE)
  await probe('root-debug')
  await waitForOutput(broker.output, /"root-debug"/)
  assert.doesNotMatch(broker.output(), /"after-reset"/)
})

test('deprecated Kafka 3.x topic configs are accepted by CreateTopics and AlterConfigs and described as having no effect', async (t) => {
  const broker = await startBroker({ workers: 1 })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  const created = await client.request(19, 7, {
    topics: [{ name: 'legacy', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'message.format.version', value: '2.8-IV1' }, { name: 'message.downconversion.enable', value: 'false' }] }],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE)
  assert.equal((await alter(client, kTopic, 'legacy', [{ name: 'message.timestamp.difference.max.ms', value: '60000' }, { name: 'message.format.version', value: '2.8-IV1' }])).errorCode, ErrorCode.NONE)
  const described = await describe(client, kTopic, 'legacy', ['message.format.version', 'message.downconversion.enable', 'message.timestamp.difference.max.ms'])
  assert.deepEqual(described.configs.map((c) => [c.name, c.value, c.configSource]), [
    ['message.format.version', '2.8-IV1', ConfigSource.DYNAMIC_TOPIC_CONFIG],
    ['message.downconversion.enable', 'true', ConfigSource.DEFAULT_CONFIG],
    ['message.timestamp.difference.max.ms', '60000', ConfigSource.DYNAMIC_TOPIC_CONFIG]
  ])
  for (const config of described.configs) assert.match(config.documentation ?? '', /Deprecated.*no effect/, config.name)
  assert.equal(described.configs[1].configType, ConfigType.BOOLEAN)
})

test('the controller persists dynamic broker configs with the metadata and broadcasts them; logger levels only travel', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-broker-configs-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const logger = new Logger('error')
  const controller = new Controller(dir, 1, logger)
  const seen: ClusterMetadata[] = []
  controller.setBroadcast(async (metadata) => { seen.push(metadata) })
  await controller.execute({ op: 'alterBrokerConfigs', broker: '', set: { 'log.retention.ms': '1000' }, incremental: true, validateOnly: true })
  assert.equal(seen.length, 0)
  await controller.execute({ op: 'alterBrokerConfigs', broker: '', set: { 'log.retention.ms': '1000', 'log.retention.bytes': '5' }, incremental: true, validateOnly: false })
  await controller.execute({ op: 'alterBrokerConfigs', broker: '1', set: { 'log.retention.ms': '2000' }, incremental: false, validateOnly: false })
  await controller.execute({ op: 'alterBrokerConfigs', broker: '', set: { 'log.retention.bytes': null }, incremental: true, validateOnly: false })
  await controller.execute({ op: 'alterLoggers', set: { root: 'DEBUG' }, validateOnly: false })
  assert.deepEqual(seen.at(-1)?.brokerConfigs, { clusterDefault: { 'log.retention.ms': '1000' }, perBroker: { 1: { 'log.retention.ms': '2000' } } })
  assert.deepEqual(seen.at(-1)?.loggers, { root: 'DEBUG' })
  const reopened = new Controller(dir, 1, logger)
  assert.deepEqual(reopened.metadata.brokerConfigs, { clusterDefault: { 'log.retention.ms': '1000' }, perBroker: { 1: { 'log.retention.ms': '2000' } } })
  assert.deepEqual(reopened.metadata.loggers, {})
  // Removing a broker's last value removes the broker's set.
  await reopened.execute({ op: 'alterBrokerConfigs', broker: '1', set: {}, incremental: false, validateOnly: false })
  assert.deepEqual(reopened.metadata.brokerConfigs?.perBroker, {})
})
