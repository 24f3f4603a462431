// Client quotas with real clients against a real broker process: @platformatic/kafka's Admin sets and describes
// them (alterClientQuotas / describeClientQuotas; kafkajs has neither), and a librdkafka producer
// (confluent-kafka-python, test/interop/fixtures/confluent_throttle.py) above its producer_byte_rate reports
// the broker's throttle through throttle_cb, while all its messages are still delivered. Short windows
// (--quota-window-num 2 --quota-window-size-seconds 1) keep the throttles short.
//
// It runs /usr/bin/python3 (Debian's python3-confluent-kafka); PYTHON overrides it.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { Admin, ClientQuotaEntityTypes, ClientQuotaKeys, ClientQuotaMatchTypes } from '@platformatic/kafka'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { run } from './processes.ts'

const kPython = process.env.PYTHON ?? '/usr/bin/python3'
const kScript = fileURLToPath(new URL('fixtures/confluent_throttle.py', import.meta.url))
const kClientId = 'rdkafka-throttled'
const kQuotaBytes = 20_000

describe('client quotas with real clients', () => {
  let broker: TestBroker
  let admin: Admin

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--quota-window-num', '2', '--quota-window-size-seconds', '1'] })
    admin = new Admin({ clientId: 'quota-admin', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 100 })
  })
  after(async () => {
    await admin?.close()
    await broker?.stop()
  })

  test('@platformatic/kafka alters and describes client quotas', async () => {
    const altered = await admin.alterClientQuotas({
      entries: [
        { entities: [{ entityType: ClientQuotaEntityTypes.CLIENT_ID, entityName: kClientId }], ops: [{ key: ClientQuotaKeys.PRODUCER_BYTE_RATE, value: kQuotaBytes, remove: false }] },
        { entities: [{ entityType: ClientQuotaEntityTypes.USER, entityName: null }], ops: [{ key: ClientQuotaKeys.CONSUMER_BYTE_RATE, value: 1e9, remove: false }] }
      ]
    })
    assert.deepEqual(altered.map((entry) => entry.errorCode), [0, 0])
    const exact = await admin.describeClientQuotas({ components: [{ entityType: ClientQuotaEntityTypes.CLIENT_ID, matchType: ClientQuotaMatchTypes.EXACT, match: kClientId }] })
    assert.deepEqual(exact, [{ entity: [{ entityType: 'client-id', entityName: kClientId }], values: [{ key: 'producer_byte_rate', value: kQuotaBytes }] }])
    const defaults = await admin.describeClientQuotas({ components: [{ entityType: ClientQuotaEntityTypes.USER, matchType: ClientQuotaMatchTypes.DEFAULT }], strict: true })
    assert.deepEqual(defaults, [{ entity: [{ entityType: 'user', entityName: null }], values: [{ key: 'consumer_byte_rate', value: 1e9 }] }])
  })

  test('a librdkafka producer above producer_byte_rate is throttled and reports it', async (t) => {
    const client = await KafkaClient.connect(broker.host, broker.port)
    t.after(() => client.close())
    await createTopic(client, 'quota-interop', 1)
    // 6 x 10 KB against 20 KB/s over a 1 s window: at least one produce response carries a throttle.
    const { stdout } = await run(kPython, [kScript, broker.bootstrap, 'quota-interop', kClientId, '6', '10000', '--timeout', '20'], { timeoutMs: 40_000 })
    const result = JSON.parse(stdout) as { delivered: number, errors: string[], throttles: Array<{ broker_id: number, throttle_ms: number }> }
    assert.deepEqual(result.errors, [])
    assert.equal(result.delivered, 6)
    assert.ok(result.throttles.length > 0, `no throttle reported: ${stdout}`)
    assert.ok(result.throttles.every((event) => event.throttle_ms > 0 && event.broker_id === 1), stdout)
  })
})
