// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs against a real broker, through kafkajs and the
// project's own client; a changed topic config takes effect on the data path (max.message.bytes).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import kafkajs from '../helpers/kafkajs.ts'
import { startBroker } from '../helpers/broker.ts'

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs
import { KafkaClient, createTopic, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'

test('topic configs are described, altered, incrementally altered, and enforced', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'configured', 2)

  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured' }], includeSynonyms: false })
  const entries = new Map(described.resources[0].configEntries.map((e: any) => [e.configName, e]))
  assert.equal(entries.get('cleanup.policy')?.configValue, 'delete')
  assert.equal(entries.get('max.message.bytes')?.isDefault, true)

  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configEntries: [{ name: 'max.message.bytes', value: '1000' }, { name: 'retention.ms', value: '1000' }] }] })
  const after = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configNames: ['max.message.bytes'] }], includeSynonyms: false })
  assert.deepEqual(after.resources[0].configEntries.map((e: any) => [e.configName, e.configValue, e.isDefault]), [['max.message.bytes', '1000', false]])
  assert.equal((await produce(client, 'configured', 0, ['x'.repeat(2000)])).errorCode, ErrorCode.MESSAGE_TOO_LARGE)
  assert.equal((await produce(client, 'configured', 1, ['small'])).errorCode, ErrorCode.NONE)

  // IncrementalAlterConfigs: delete one override, append to a list, reject an unknown config.
  // (A resource named twice in one request would be refused as a duplicate: the unknown config goes alone.)
  const incremental = await client.request(44, 1, {
    resources: [
      { resourceType: 2, resourceName: 'configured', configs: [{ name: 'max.message.bytes', configOperation: 1, value: null }, { name: 'cleanup.policy', configOperation: 2, value: 'compact' }] },
      { resourceType: 2, resourceName: 'missing', configs: [{ name: 'retention.ms', configOperation: 0, value: '1' }] }
    ],
    validateOnly: false
  })
  assert.deepEqual(incremental.responses.map((r: any) => r.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
  const unknown = await client.request(44, 1, { resources: [{ resourceType: 2, resourceName: 'configured', configs: [{ name: 'no.such.config', configOperation: 0, value: '1' }] }], validateOnly: false })
  assert.deepEqual(unknown.responses.map((r: any) => r.errorCode), [ErrorCode.INVALID_CONFIG])
  const final = await client.request(32, 4, { resources: [{ resourceType: 2, resourceName: 'configured', configurationKeys: ['max.message.bytes', 'cleanup.policy', 'retention.ms'] }], includeSynonyms: false, includeDocumentation: false })
  assert.deepEqual(final.results[0].configs.map((c: any) => [c.name, c.value, c.configSource]), [
    ['max.message.bytes', '1048588', 5],
    ['cleanup.policy', 'delete,compact', 1],
    ['retention.ms', '1000', 1]
  ])
  // Keyed: a compacted topic refuses records without a key (INVALID_RECORD, test/handlers/produce-configs.test.ts).
  assert.equal((await produce(client, 'configured', 0, buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('x'.repeat(2000)) }]))).errorCode, ErrorCode.NONE)

  const brokerConfigs = await client.request(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  const brokerEntries = new Map(brokerConfigs.results[0].configs.map((c: any) => [c.name, c]))
  assert.equal((brokerEntries.get('num.partitions') as any)?.readOnly, true)
  const unknownTopic = await client.request(32, 4, { resources: [{ resourceType: 2, resourceName: 'missing', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  assert.equal(unknownTopic.results[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
})
