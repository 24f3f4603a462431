// ACL admin through real clients against a broker with --authorizer: kafkajs' admin createAcls / describeAcls /
// deleteAcls (CreateAcls v1, DescribeAcls v1, DeleteAcls v1) and @platformatic/kafka's (v3, flexible). Both act
// as the super user admin through the SHOAL_TEST_HOOKS client-id hook; an ACL one client creates the other sees.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Admin } from '@platformatic/kafka'
import kafkajs from '../helpers/kafkajs.ts'
import type { Admin as KafkajsAdmin } from 'kafkajs'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { AclOperation as Op, AclPermissionType as Perm, PatternType, ResourceType as Type } from '../../src/auth/acl.ts'

const { Kafka, logLevel } = kafkajs
const kAdminClientId = '__shoal_test_principal__:admin'

describe('ACL admin with kafkajs and @platformatic/kafka', () => {
  let broker: TestBroker
  let kafkajsAdmin: KafkajsAdmin
  let platformatic: Admin

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--authorizer', '--super-users', 'User:admin'], env: { SHOAL_TEST_HOOKS: '1' } })
    kafkajsAdmin = new Kafka({ clientId: kAdminClientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin()
    await kafkajsAdmin.connect()
    platformatic = new Admin({ bootstrapBrokers: [broker.bootstrap], clientId: kAdminClientId, retries: 3, retryDelay: 100 })
  })

  after(async () => {
    await kafkajsAdmin?.disconnect()
    await platformatic?.close()
    await broker?.stop()
  })

  test('kafkajs creates, describes and deletes ACLs', async () => {
    const created = await kafkajsAdmin.createAcls({
      acl: [
        { resourceType: Type.TOPIC, resourceName: 'js-topic', resourcePatternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation: Op.READ, permissionType: Perm.ALLOW },
        { resourceType: Type.GROUP, resourceName: 'js-', resourcePatternType: PatternType.PREFIXED, principal: 'User:alice', host: '*', operation: Op.ALL, permissionType: Perm.ALLOW }
      ] as any
    })
    assert.equal(created, true)
    const described = await kafkajsAdmin.describeAcls({ resourceType: Type.ANY, resourcePatternType: PatternType.ANY, operation: Op.ANY, permissionType: Perm.ANY } as any)
    assert.deepEqual(described.resources.map((r) => `${r.resourceType}/${r.resourceName}/${r.resourcePatternType}`).sort(), ['2/js-topic/3', '3/js-/4'])
    const deleted = await kafkajsAdmin.deleteAcls({ filters: [{ resourceType: Type.GROUP, resourceName: 'js-group', resourcePatternType: PatternType.MATCH, operation: Op.ANY, permissionType: Perm.ANY }] as any })
    assert.equal(deleted.filterResponses[0].errorCode, 0)
    assert.deepEqual(deleted.filterResponses[0].matchingAcls.map((a) => a.resourceName), ['js-'])
  })

  test('@platformatic/kafka creates, describes and deletes ACLs, and sees those kafkajs made', async () => {
    await platformatic.createAcls({
      creations: [{ resourceType: Type.CLUSTER, resourceName: 'kafka-cluster', resourcePatternType: PatternType.LITERAL, principal: 'User:bob', host: '10.0.0.1', operation: Op.DESCRIBE, permissionType: Perm.DENY } as any]
    })
    const anyFilter = { resourceType: Type.ANY, resourceName: null, resourcePatternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permissionType: Perm.ANY } as any
    const resources = await platformatic.describeAcls({ filter: anyFilter })
    assert.deepEqual(resources.map((r: any) => r.resourceName).sort(), ['js-topic', 'kafka-cluster'])
    const deleted = await platformatic.deleteAcls({ filters: [anyFilter] })
    assert.equal(deleted.length, 2)
    assert.deepEqual(await platformatic.describeAcls({ filter: anyFilter }), [])
  })
})
