// Test runs printed `TimeoutNegativeWarning: -1796228266625 is a negative number`: kafkajs 2.2.4's request queue
// arms a timer of `-1 - Date.now()` ms after each response when it was never throttled (tulios/kafkajs#1751).
// The tests' kafkajs (test/helpers/kafkajs.ts) skips that timer; a producer and an admin client going through
// many responses must leave no such warning.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { Kafka, logLevel } from '../helpers/kafkajs.ts'

test('kafkajs from test/helpers/kafkajs.ts arms no timer with a negative delay', async (t) => {
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const broker = await startBroker({ workers: 1 })
  t.after(() => broker.stop())
  const kafka = new Kafka({ clientId: 'negative-timeout', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'negative-timeout', numPartitions: 1 }] })
  const producer = kafka.producer()
  await producer.connect()
  for (let i = 0; i < 20; i++) await producer.send({ topic: 'negative-timeout', acks: -1, messages: [{ value: `record ${i}` }] })
  const offsets = await admin.fetchTopicOffsets('negative-timeout')
  assert.equal(offsets[0].high, '20')
  await producer.disconnect()
  await admin.disconnect()
  // A warning is emitted on the next tick after the timer is armed; the responses above all came first.
  await new Promise<void>((resolve) => setImmediate(resolve))
  assert.deepEqual(warnings.filter((text) => text.startsWith('TimeoutNegativeWarning')), [])
})
