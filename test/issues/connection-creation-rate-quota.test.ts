// The `connection_creation_rate` client quota of an ip entity (KIP-612) was stored and described but not
// enforced. Now the acceptor applies it: an IP with a quota of N may open N connections a second (the rest are
// closed as --max-connection-creation-rate-per-ip closes them), the default ip entity covers IPs without one, and
// removing the quota lifts it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createConnection } from 'node:net'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'

async function alterIpQuota (client: KafkaClient, ip: string | null, value: number | null): Promise<void> {
  const response = await client.request(49, 1, {
    entries: [{ entity: [{ entityType: 'ip', entityName: ip }], ops: [{ key: 'connection_creation_rate', value: value ?? 0, remove: value === null }] }],
    validateOnly: false
  })
  assert.equal(response.entries[0].errorCode, 0, response.entries[0].errorMessage ?? '')
}

/** Opens `count` TCP connections at once; how many the broker keeps open past an ApiVersions round trip. */
async function survivors (host: string, port: number, count: number): Promise<number> {
  const attempts = Array.from({ length: count }, () => new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port })
    // ApiVersions v0 (key 18), correlation id 1, client id "r": a refused connection is closed before answering.
    const request = Buffer.from([0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 1, 0, 1, 0x72])
    let answered = false
    socket.once('connect', () => socket.write(request))
    socket.once('data', () => { answered = true; socket.destroy() })
    socket.once('close', () => resolve(answered))
    socket.once('error', () => {})
    socket.setTimeout(5000, () => socket.destroy())
  }))
  return (await Promise.all(attempts)).filter(Boolean).length
}

test('an ip entity\'s connection_creation_rate quota limits the connections it may open a second', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker()
  t.after(() => broker.stop())
  const admin = await KafkaClient.to(broker.bootstrap)
  t.after(() => admin.close())
  await alterIpQuota(admin, '127.0.0.1', 3)
  // A burst of 10 within the second: at most 3 get through.
  const kept = await survivors(broker.host, broker.port, 10)
  assert.ok(kept <= 3, `${kept} of 10 connections were served under a quota of 3 a second`)
  await alterIpQuota(admin, '127.0.0.1', null)
  // Without it (and without the flag), every connection is served again, once the window has passed.
  await waitFor(async () => (await survivors(broker.host, broker.port, 10)) === 10, 10_000, 'all 10 served after the quota is removed')
  // The default ip entity covers addresses without a quota of their own.
  await alterIpQuota(admin, null, 2)
  await waitFor(async () => (await survivors(broker.host, broker.port, 10)) <= 2, 10_000, 'the default ip quota')
  await alterIpQuota(admin, null, null)
})
