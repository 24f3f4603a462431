// A request whose echoed string was longer than 32,767 bytes once it was encoded again (a DeleteTopics v2 with
// a ~35 KB name: bytes that are not UTF-8 decode to U+FFFD, 3 bytes each) overflowed the response's int16
// length, and the encoder's throw ended the worker and the process. Strings are now held to Kafka's 32767
// bytes at decode, compact or not, including what they encode back to; a long valid name is answered.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

let broker: TestBroker
before(async () => { broker = await startBroker({ workers: 2 }) })
after(() => broker.stop())

async function alive (): Promise<void> {
  const client = await KafkaClient.to(broker.bootstrap)
  assert.equal((await client.request(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' })).errorCode, ErrorCode.NONE)
  client.close()
  assert.equal(broker.process.exitCode, null, broker.output())
}

test('DeleteTopics v2 naming a 32767-byte topic that is not UTF-8 is refused at decode; the broker keeps serving', async () => {
  const name = Buffer.alloc(32767, 0xff)
  const body = Buffer.concat([Buffer.from([0, 0, 0, 1, 0x7f, 0xff]), name, Buffer.from([0, 0, 0x75, 0x30])])
  const client = await KafkaClient.to(broker.bootstrap)
  // DeleteTopics v2 has no error field outside its per-topic results, so an undecodable one closes.
  await client.request(20, 2, body).then(() => assert.fail('answered'), () => {})
  await waitFor(() => /invalid DeleteTopics v2 request .*: string is not valid UTF-8/.test(broker.output()), 10_000, 'the refusal in the log')
  await alive()
})

test('DeleteTopics v2 naming a 32767-byte ASCII topic is answered with INVALID_TOPIC_EXCEPTION or UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const client = await KafkaClient.to(broker.bootstrap)
  const response = await client.request(20, 2, { topicNames: ['t'.repeat(32767)], timeoutMs: 1000 })
  assert.equal(response.responses.length, 1)
  assert.notEqual(response.responses[0].errorCode, ErrorCode.NONE)
  assert.equal(response.responses[0].name.length, 32767)
  client.close()
  await alive()
})

test('a compact (DeleteTopics v4) name of 35000 bytes is refused at decode; the broker keeps serving', async () => {
  const writer = new Writer()
  writer.unsignedVarint(2) // one name
  writer.unsignedVarint(35001)
  writer.raw(Buffer.alloc(35000, 0x61))
  writer.int32(30000)
  writer.unsignedVarint(0)
  const client = await KafkaClient.to(broker.bootstrap)
  await client.request(20, 4, writer.toBuffer()).then(() => assert.fail('answered'), () => {})
  await waitFor(() => /invalid DeleteTopics v4 request .*: string of 35000 bytes exceeds 32767/.test(broker.output()), 10_000, 'the refusal in the log')
  await alive()
})
