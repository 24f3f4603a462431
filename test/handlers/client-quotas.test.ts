// AlterClientQuotas and DescribeClientQuotas against a real broker: every filter form, validation errors per
// entry, validateOnly, both versions, and quotas surviving a restart (they live in meta/cluster.json).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

type Entity = Record<string, string | null>

function entry (entity: Entity, ops: Record<string, number | null>): object {
  return {
    entity: Object.entries(entity).map(([entityType, entityName]) => ({ entityType, entityName })),
    ops: Object.entries(ops).map(([key, value]) => ({ key, value: value ?? 0, remove: value === null }))
  }
}

async function alter (client: KafkaClient, version: number, entries: object[], validateOnly = false): Promise<Array<{ errorCode: number, errorMessage: string | null }>> {
  const response = await client.request(49, version, { entries, validateOnly })
  return response.entries
}

async function describe (client: KafkaClient, version: number, components: Array<[string, number, string | null]>, strict: boolean): Promise<any> {
  return client.request(48, version, { components: components.map(([entityType, matchType, match]) => ({ entityType, matchType, match })), strict })
}

/** Entities described, as `type=name` lists (null names as <default>) with their values, sorted. */
function summary (response: any): string[] {
  assert.equal(response.errorCode, ErrorCode.NONE, response.errorMessage)
  return response.entries.map((e: any) => `${e.entity.map((c: any) => `${c.entityType}=${c.entityName ?? '<default>'}`).join(',')} ${e.values.map((v: any) => `${v.key}=${v.value}`).join(',')}`).sort()
}

test('client quotas are altered, validated, described with every filter form, and survive a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-quotas-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let broker = await startBroker({ workers: 2, dataDir })
  t.after(() => broker.stop())
  let client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())

  const results = await alter(client, 1, [
    entry({ user: 'alice', 'client-id': 'app' }, { producer_byte_rate: 1024 }),
    entry({ user: 'alice' }, { consumer_byte_rate: 2048, request_percentage: 50.5 }),
    entry({ user: null }, { producer_byte_rate: 4096 }),
    entry({ user: null, 'client-id': null }, { controller_mutation_rate: 2.5 }),
    entry({ 'client-id': 'app' }, { producer_byte_rate: 8192 }),
    entry({ 'client-id': null }, { consumer_byte_rate: 16384 }),
    entry({ ip: '10.1.2.3' }, { connection_creation_rate: 5 }),
    // Refused, each on its own: unknown entity type, a key of another entity kind, a fraction of a byte rate,
    // ip combined with user, an empty entity, a negative value.
    entry({ group: 'g' }, { producer_byte_rate: 1 }),
    entry({ ip: '10.1.2.4' }, { producer_byte_rate: 1 }),
    entry({ user: 'bob' }, { producer_byte_rate: 1.5 }),
    entry({ user: 'bob', ip: '10.1.2.5' }, { connection_creation_rate: 1 }),
    entry({}, { producer_byte_rate: 1 }),
    entry({ user: 'bob' }, { consumer_byte_rate: -5 })
  ])
  assert.deepEqual(results.map((r) => r.errorCode), [0, 0, 0, 0, 0, 0, 0, 42, 42, 42, 42, 42, 42])
  for (const r of results.slice(7)) assert.ok(typeof r.errorMessage === 'string' && r.errorMessage.length > 0)

  // validateOnly: checked, answered, not stored.
  assert.deepEqual((await alter(client, 0, [entry({ user: 'carol' }, { producer_byte_rate: 1 })], true)).map((r) => r.errorCode), [0])

  const all = [
    'client-id=<default> consumer_byte_rate=16384',
    'client-id=app producer_byte_rate=8192',
    'ip=10.1.2.3 connection_creation_rate=5',
    'user=<default> producer_byte_rate=4096',
    'user=<default>,client-id=<default> controller_mutation_rate=2.5',
    'user=alice consumer_byte_rate=2048,request_percentage=50.5',
    'user=alice,client-id=app producer_byte_rate=1024'
  ]
  for (const version of [0, 1]) {
    assert.deepEqual(summary(await describe(client, version, [], false)), all)
    assert.deepEqual(summary(await describe(client, version, [['user', 0, 'alice']], false)), [all[5], all[6]])
    assert.deepEqual(summary(await describe(client, version, [['user', 0, 'alice']], true)), [all[5]])
    assert.deepEqual(summary(await describe(client, version, [['user', 1, null]], false)), [all[3], all[4]])
    assert.deepEqual(summary(await describe(client, version, [['user', 2, null]], false)), [all[5], all[6]])
    assert.deepEqual(summary(await describe(client, version, [['client-id', 2, null]], true)), [all[1]])
    assert.deepEqual(summary(await describe(client, version, [['user', 1, null], ['client-id', 1, null]], true)), [all[4]])
    assert.deepEqual(summary(await describe(client, version, [['user', 2, null], ['client-id', 0, 'app']], false)), [all[6]])
    assert.deepEqual(summary(await describe(client, version, [['ip', 0, '10.1.2.3']], true)), [all[2]])
    assert.deepEqual(summary(await describe(client, version, [['user', 0, 'nobody']], false)), [])
  }
  for (const bad of [
    [['user', 0, null]], [['user', 1, 'x']], [['user', 2, 'x']], [['user', 9, null]], [['group', 2, null]],
    [['user', 2, null], ['user', 1, null]], [['ip', 2, null], ['client-id', 2, null]]
  ] as Array<Array<[string, number, string | null]>>) {
    const response = await describe(client, 1, bad, false)
    assert.equal(response.errorCode, ErrorCode.INVALID_REQUEST, JSON.stringify(bad))
    assert.equal(response.entries, null)
    assert.ok(typeof response.errorMessage === 'string')
  }

  // Remove a value, and an entity's last value (the entity goes).
  assert.deepEqual((await alter(client, 0, [
    entry({ user: 'alice' }, { request_percentage: null }),
    entry({ 'client-id': 'app' }, { producer_byte_rate: null })
  ])).map((r) => r.errorCode), [0, 0])
  const expected = [all[0], all[2], all[3], all[4], 'user=alice consumer_byte_rate=2048', all[6]]
  assert.deepEqual(summary(await describe(client, 1, [], false)), expected)
  assert.ok(readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8').includes('clientQuotas'))

  // A restart reads them back.
  client.close()
  await broker.stop()
  broker = await startBroker({ workers: 2, dataDir, cleanup: false })
  client = await KafkaClient.connect(broker.host, broker.port)
  assert.deepEqual(summary(await describe(client, 1, [], false)), expected)
  // A later, unrelated change (a topic) keeps them.
  const created = await client.request(19, 7, { topics: [{ name: 'after-quotas', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE)
  assert.deepEqual(summary(await describe(client, 1, [], false)), expected)
})
