// A Metadata v10 or v11 request whose topic has a null name (and a topic id) was answered with a null name in
// a field that is nullable only from v12, so the response could not be encoded. Such a topic is now answered
// by id, or UNKNOWN_TOPIC_ID with an empty name below v12; invalid names answer INVALID_TOPIC_EXCEPTION; the
// broker keeps serving.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
let client: KafkaClient
let knownId: string
before(async () => {
  broker = await startBroker({ workers: 2 })
  client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'known', 2)
  const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'known' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  knownId = metadata.topics[0].topicId
})
after(async () => {
  client.close()
  await broker.stop()
})

const kUnknownId = 'ab'.repeat(16)

for (const version of [10, 11, 12]) {
  test(`Metadata v${version} with a null topic name is answered by id, and the broker keeps serving`, async () => {
    const response = await client.request(3, version, {
      topics: [{ topicId: kUnknownId, name: null }, { topicId: knownId, name: null }, { topicId: '0'.repeat(32), name: null }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false
    })
    const emptyName = version >= 12 ? null : ''
    assert.deepEqual(response.topics.map((t: any) => [t.name, t.topicId, t.errorCode]), [
      [emptyName, kUnknownId, ErrorCode.UNKNOWN_TOPIC_ID],
      ['known', knownId, ErrorCode.NONE],
      [emptyName, '0'.repeat(32), ErrorCode.UNKNOWN_TOPIC_ID]
    ])
    assert.equal(response.topics[1].partitions.length, 2)
    assert.equal(client.isClosed, false)
    const again = await client.request(3, version, { topics: [{ topicId: '0'.repeat(32), name: 'known' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    assert.equal(again.topics[0].errorCode, ErrorCode.NONE)
  })
}

test('Metadata naming invalid or reserved topics with auto-creation on answers each topic, never throws', async () => {
  const names = ['bad name', '', '.', 'x'.repeat(250), '__transaction_state', 'fine-topic']
  const response = await client.request(3, 12, { topics: names.map((name) => ({ topicId: '0'.repeat(32), name })), allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false })
  assert.deepEqual(response.topics.map((t: any) => t.errorCode), [
    ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_TOPIC_EXCEPTION,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NONE
  ])
  assert.equal(broker.process.exitCode, null)
})
