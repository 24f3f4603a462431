// Found by `npm run fuzz` (300,000 frames, seed 7): a CreatePartitions for an unknown topic with a 32767-byte
// name answered "The topic '<name>' does not exist.", which exceeds the 32767 bytes a string may take; its
// encoding failed and the request was answered UNKNOWN_SERVER_ERROR (contained, logged as a broker ERROR).
// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs composed messages around client names the same way.
// The names are now clipped (src/protocol/clip.ts) and every one is answered with its own error code.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kLongest = 't'.repeat(32767)
let broker: TestBroker
let client: KafkaClient
before(async () => {
  broker = await startBroker({ workers: 2 })
  client = await KafkaClient.to(broker.bootstrap)
})
after(async () => {
  client.close()
  await broker.stop()
})

test('admin requests naming a 32767-byte topic or config are answered with their own errors, not UNKNOWN_SERVER_ERROR', async () => {
  const grown = await client.request(37, 3, { topics: [{ name: kLongest, count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(grown.results[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  assert.ok(grown.results[0].errorMessage.length < 1000)
  const described = await client.request(32, 4, { resources: [{ resourceType: 2, resourceName: kLongest, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  assert.equal(described.results[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const broke = await client.request(32, 4, { resources: [{ resourceType: 4, resourceName: kLongest, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })
  assert.equal(broke.results[0].errorCode, ErrorCode.INVALID_REQUEST)
  const altered = await client.request(33, 2, { resources: [{ resourceType: 2, resourceName: kLongest, configs: [{ name: 'retention.ms', value: '1000' }] }], validateOnly: false })
  assert.equal(altered.responses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const badKey = await client.request(44, 1, { resources: [{ resourceType: 2, resourceName: 'any', configs: [{ name: kLongest, configOperation: 0, value: '1' }] }], validateOnly: false })
  assert.equal(badKey.responses[0].errorCode, ErrorCode.INVALID_CONFIG)
  assert.equal(client.isClosed, false)
  assert.doesNotMatch(broker.output(), / ERROR /)
})
