// CreateAcls, DescribeAcls and DeleteAcls against a broker with --authorizer: creation with per-entry validation,
// filters (ANY, MATCH, LITERAL, PREFIXED; INVALID_REQUEST for UNKNOWN), deletion reporting what each filter
// removed, durability across a restart, CLUSTER_AUTHORIZATION_FAILED for an unprivileged principal, and
// SECURITY_DISABLED on a broker without an authorizer.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { AclOperation as Op, AclPermissionType as Perm, PatternType, ResourceType as Type } from '../../src/auth/acl.ts'

const kAdmin = '__shoal_test_principal__:admin'
const kAlice = '__shoal_test_principal__:alice'
const kArgs = ['--authorizer', '--super-users', 'User:admin']
const kEnv = { SHOAL_TEST_HOOKS: '1' }
let dataDir: string
let broker: TestBroker
let admin: KafkaClient

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'shoal-acls-'))
  broker = await startBroker({ workers: 2, dataDir, args: kArgs, env: kEnv, cleanup: false })
  admin = await KafkaClient.to(broker.bootstrap, kAdmin)
})
after(async () => {
  admin.close()
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

function creation (fields: Record<string, unknown>): object {
  return { resourceType: Type.TOPIC, resourceName: 'orders', resourcePatternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation: Op.READ, permissionType: Perm.ALLOW, ...fields }
}

const kAnyFilter = { resourceTypeFilter: Type.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY }

function flatten (response: any): string[] {
  return response.resources.flatMap((r: any) => r.acls.map((a: any) => `${r.resourceType}/${r.patternType}/${r.resourceName} ${a.principal}@${a.host} ${a.operation}/${a.permissionType}`)).sort()
}

test('CreateAcls stores valid bindings and answers INVALID_REQUEST for each invalid one', async () => {
  const response = await admin.request(30, 3, {
    creations: [
      creation({}),
      creation({ resourceName: 'logs-', resourcePatternType: PatternType.PREFIXED, operation: Op.WRITE }),
      creation({ resourceType: Type.GROUP, resourceName: '*', principal: 'User:*', operation: Op.READ }),
      creation({ resourceType: Type.CLUSTER, resourceName: 'kafka-cluster', operation: Op.DESCRIBE, permissionType: Perm.DENY, host: '10.1.1.1' }),
      creation({ resourceType: Type.TRANSACTIONAL_ID, resourceName: 'tx', operation: Op.WRITE }),
      creation({ resourceType: Type.USER, resourceName: 'User:bob', operation: Op.DESCRIBE_TOKENS }),
      creation({ resourceType: Type.DELEGATION_TOKEN, resourceName: 'token', operation: Op.DESCRIBE }),
      creation({ resourcePatternType: PatternType.MATCH }),
      creation({ resourceType: Type.CLUSTER, resourceName: 'other' }),
      creation({ principal: 'alice' }),
      creation({ operation: Op.ANY })
    ]
  })
  assert.deepEqual(response.results.map((r: any) => r.errorCode), [0, 0, 0, 0, 0, 0, 0, 42, 42, 42, 42])
  const described = await admin.request(29, 3, kAnyFilter)
  assert.equal(described.errorCode, ErrorCode.NONE)
  assert.equal(flatten(described).length, 7)
})

test('DescribeAcls filters: LITERAL exact name, MATCH includes wildcard and prefixes, principal and operation filters', async () => {
  const literal = await admin.request(29, 3, { ...kAnyFilter, resourceTypeFilter: Type.TOPIC, resourceNameFilter: 'orders', patternTypeFilter: PatternType.LITERAL })
  assert.deepEqual(flatten(literal), ['2/3/orders User:alice@* 3/3'])
  const match = await admin.request(29, 3, { ...kAnyFilter, resourceTypeFilter: Type.TOPIC, resourceNameFilter: 'logs-app', patternTypeFilter: PatternType.MATCH })
  assert.deepEqual(flatten(match), ['2/4/logs- User:alice@* 4/3'])
  const prefixed = await admin.request(29, 2, { ...kAnyFilter, patternTypeFilter: PatternType.PREFIXED })
  assert.equal(flatten(prefixed).length, 1)
  const byPrincipal = await admin.request(29, 1, { ...kAnyFilter, principalFilter: 'User:*' })
  assert.deepEqual(flatten(byPrincipal), ['3/3/* User:*@* 3/3'])
  const deny = await admin.request(29, 3, { ...kAnyFilter, permissionType: Perm.DENY })
  assert.deepEqual(flatten(deny), ['4/3/kafka-cluster User:alice@10.1.1.1 8/2'])
  const bad = await admin.request(29, 3, { ...kAnyFilter, patternTypeFilter: PatternType.UNKNOWN })
  assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST)
})

test('an unprivileged principal gets CLUSTER_AUTHORIZATION_FAILED from all three', async () => {
  const alice = await KafkaClient.to(broker.bootstrap, kAlice)
  try {
    assert.equal((await alice.request(29, 3, kAnyFilter)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    assert.equal((await alice.request(30, 3, { creations: [creation({ resourceName: 'x' })] })).results[0].errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    assert.equal((await alice.request(31, 3, { filters: [kAnyFilter] })).filterResults[0].errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
  } finally {
    alice.close()
  }
})

test('ACLs survive a broker restart; DeleteAcls removes what each filter matches, each ACL once', async () => {
  admin.close()
  await broker.stop()
  broker = await startBroker({ workers: 2, dataDir, args: kArgs, env: kEnv, cleanup: false })
  admin = await KafkaClient.to(broker.bootstrap, kAdmin)
  assert.equal(flatten(await admin.request(29, 3, kAnyFilter)).length, 7)
  const deleted = await admin.request(31, 3, {
    filters: [
      { ...kAnyFilter, resourceTypeFilter: Type.TOPIC },
      { ...kAnyFilter, resourceTypeFilter: Type.TOPIC, resourceNameFilter: 'orders' },
      { ...kAnyFilter, operation: Op.UNKNOWN }
    ]
  })
  assert.deepEqual(deleted.filterResults.map((r: any) => [r.errorCode, r.matchingAcls.length]), [[0, 2], [0, 0], [42, 0]])
  assert.deepEqual(deleted.filterResults[0].matchingAcls.map((a: any) => a.resourceName).sort(), ['logs-', 'orders'])
  assert.equal(flatten(await admin.request(29, 3, kAnyFilter)).length, 5)
})

test('without an authorizer every ACL API answers SECURITY_DISABLED', async () => {
  const plain = await startBroker({ workers: 1 })
  const client = await KafkaClient.to(plain.bootstrap)
  try {
    assert.equal((await client.request(29, 3, kAnyFilter)).errorCode, ErrorCode.SECURITY_DISABLED)
    assert.equal((await client.request(30, 3, { creations: [creation({})] })).results[0].errorCode, ErrorCode.SECURITY_DISABLED)
    assert.equal((await client.request(31, 3, { filters: [kAnyFilter] })).filterResults[0].errorCode, ErrorCode.SECURITY_DISABLED)
  } finally {
    client.close()
    await plain.stop()
  }
})
