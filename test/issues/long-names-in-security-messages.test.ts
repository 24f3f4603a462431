// Found by `npm run fuzz` (60,000 frames of the quota, SCRAM, ACL and config APIs, seed 23): a DescribeClientQuotas
// with a 32767-byte entity type answered "Custom entity type '<type>' not supported", past the 32767 bytes a string
// may take; its encoding failed (contained: UNKNOWN_SERVER_ERROR and a broker ERROR line). AlterClientQuotas
// (entity types, IP names, config keys), SaslHandshake (the mechanism) and CreateAcls (the principal) composed
// messages around client strings the same way. They are now clipped (src/protocol/clip.ts).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kLongest = 'q'.repeat(32767)
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

test('quota requests naming 32767-byte entity types, IPs and keys are answered with their own errors', async () => {
  const described = await client.request(48, 1, { components: [{ entityType: kLongest, matchType: 0, match: 'x' }], strict: false })
  assert.equal(described.errorCode, ErrorCode.INVALID_REQUEST)
  assert.ok(described.errorMessage.length < 1000)
  const altered = await client.request(49, 1, {
    entries: [
      { entity: [{ entityType: kLongest, entityName: 'x' }], ops: [{ key: 'producer_byte_rate', value: 1000, remove: false }] },
      { entity: [{ entityType: 'ip', entityName: kLongest }], ops: [{ key: 'connection_creation_rate', value: 10, remove: false }] },
      { entity: [{ entityType: 'user', entityName: 'alice' }], ops: [{ key: kLongest, value: 1, remove: false }] }
    ],
    validateOnly: true
  })
  for (const entry of altered.entries) {
    assert.equal(entry.errorCode, ErrorCode.INVALID_REQUEST)
    assert.ok(entry.errorMessage.length < 1000)
  }
  assert.equal(client.isClosed, false)
  assert.doesNotMatch(broker.output(), / ERROR /)
})
