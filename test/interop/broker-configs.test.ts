// kafkajs and @platformatic/kafka admin clients against a real broker process: dynamic broker configs
// (AlterConfigs, IncrementalAlterConfigs), topic defaults following them with DescribeConfigs' sources and
// synonyms, BROKER_LOGGER levels, and the dynamic configs surviving a restart of the broker process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin, ConfigResourceTypes, ConfigSources, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka'
import kafkajs from '../helpers/kafkajs.ts'
import { startBroker } from '../helpers/broker.ts'

const { Kafka, logLevel } = kafkajs
// kafkajs' ConfigResourceTypes, by value (the same as Kafka's).
const kKafkajsTopic = 2
const kKafkajsBroker = 4

test('kafkajs and @platformatic/kafka admin: broker config changes', async (t) => {
  const first = await startBroker({ workers: 2, cleanup: false, args: ['--node-id', '0'] })
  const dataDir = first.dataDir
  let stopFirst = true
  t.after(async () => { if (stopFirst) await first.stop() })
  const kafka = new Kafka({ brokers: [first.bootstrap], logLevel: logLevel.NOTHING })
  const kafkajsAdmin = kafka.admin()
  await kafkajsAdmin.connect()
  const admin = new Admin({ clientId: 'shoal-broker-configs', bootstrapBrokers: [first.bootstrap], retries: 0 })
  try {
    await admin.createTopics({ topics: ['defaults'], partitions: 2, replicas: 1 })

    // kafkajs refuses an empty resource name, and @platformatic/kafka sends a BROKER resource to the broker it
    // names (Number(name), so "" goes to broker 0): with --node-id 0, @platformatic/kafka reaches the cluster-wide
    // default ("") and kafkajs this broker's own set ("0").
    await kafkajsAdmin.alterConfigs({ validateOnly: false, resources: [{ type: kKafkajsBroker, name: '0', configEntries: [{ name: 'message.max.bytes', value: '2000000' }, { name: 'log.retention.ms', value: '7200000' }] }] })
    await admin.incrementalAlterConfigs({
      resources: [{
        resourceType: ConfigResourceTypes.BROKER,
        resourceName: '',
        configs: [
          { name: 'log.retention.ms', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '3600000' },
          { name: 'log.segment.bytes', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '2097152' }
        ]
      }]
    })
    await assert.rejects(admin.alterConfigs({ resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: '0', configs: [{ name: 'num.partitions', value: '3' }] }] }))

    const [topic] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'defaults', configurationKeys: ['retention.ms', 'max.message.bytes'] }], includeSynonyms: true, includeDocumentation: true })
    const byName = new Map(topic.configs.map((c) => [c.name, c]))
    assert.deepEqual([byName.get('retention.ms')?.value, byName.get('retention.ms')?.configSource], ['7200000', ConfigSources.DYNAMIC_BROKER_CONFIG])
    assert.deepEqual(byName.get('retention.ms')?.synonyms.map((s) => [s.name, s.value, s.source]), [
      ['log.retention.ms', '7200000', ConfigSources.DYNAMIC_BROKER_CONFIG],
      ['log.retention.ms', '3600000', ConfigSources.DYNAMIC_DEFAULT_BROKER_CONFIG],
      ['log.retention.ms', '604800000', ConfigSources.DEFAULT_CONFIG]
    ])
    assert.deepEqual([byName.get('max.message.bytes')?.value, byName.get('max.message.bytes')?.configSource], ['2000000', ConfigSources.DYNAMIC_BROKER_CONFIG])
    assert.match(byName.get('retention.ms')?.documentation ?? '', /records are kept/)

    // BROKER_LOGGER through @platformatic/kafka.
    await admin.incrementalAlterConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER_LOGGER, resourceName: '0', configs: [{ name: 'shoal.worker', configOperation: IncrementalAlterConfigOperationTypes.SET, value: 'INFO' }] }]
    })
    // Kafka allows only IncrementalAlterConfigs for loggers.
    await assert.rejects(admin.alterConfigs({ resources: [{ resourceType: ConfigResourceTypes.BROKER_LOGGER, resourceName: '0', configs: [{ name: 'root', value: 'DEBUG' }] }] }))
    const [loggers] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.BROKER_LOGGER, resourceName: '0' }] })
    assert.deepEqual(loggers.configs.map((c) => [c.name, c.value]), [['root', 'WARN'], ['shoal.main', 'WARN'], ['shoal.worker', 'INFO']])

    // kafkajs: the broker and the topic described with synonyms.
    const described = await kafkajsAdmin.describeConfigs({ includeSynonyms: true, resources: [{ type: kKafkajsBroker, name: '0', configNames: ['log.segment.bytes'] }, { type: kKafkajsTopic, name: 'defaults', configNames: ['segment.bytes'] }] })
    const [brokerEntry] = described.resources[0].configEntries
    assert.deepEqual([brokerEntry.configName, brokerEntry.configValue, brokerEntry.readOnly, brokerEntry.configSource], ['log.segment.bytes', '2097152', false, ConfigSources.DYNAMIC_DEFAULT_BROKER_CONFIG])
    const [topicEntry] = described.resources[1].configEntries
    assert.deepEqual([topicEntry.configName, topicEntry.configValue, topicEntry.configSource], ['segment.bytes', '2097152', ConfigSources.DYNAMIC_DEFAULT_BROKER_CONFIG])
    assert.deepEqual(topicEntry.configSynonyms.map((s: any) => s.configName), ['log.segment.bytes', 'log.segment.bytes'])
  } finally {
    await admin.close()
    await kafkajsAdmin.disconnect()
  }

  // A restart of the broker process: the dynamic configs were persisted with the cluster metadata.
  stopFirst = false
  await first.stop()
  const second = await startBroker({ workers: 2, dataDir, cleanup: true, args: ['--node-id', '0'] })
  t.after(() => second.stop())
  const again = new Kafka({ brokers: [second.bootstrap], logLevel: logLevel.NOTHING }).admin()
  await again.connect()
  t.after(() => again.disconnect())
  const kept = await again.describeConfigs({ includeSynonyms: false, resources: [{ type: kKafkajsTopic, name: 'defaults', configNames: ['retention.ms', 'max.message.bytes', 'segment.bytes'] }] })
  assert.deepEqual(kept.resources[0].configEntries.map((e: any) => [e.configName, e.configValue, e.configSource]), [
    ['retention.ms', '7200000', ConfigSources.DYNAMIC_BROKER_CONFIG],
    ['max.message.bytes', '2000000', ConfigSources.DYNAMIC_BROKER_CONFIG],
    ['segment.bytes', '2097152', ConfigSources.DYNAMIC_DEFAULT_BROKER_CONFIG]
  ])
})
