// The authorizer's rules (src/auth/authorizer.ts), Kafka's StandardAuthorizer semantics: DENY wins, no matching
// ACL denies unless allow.everyone.if.no.acl.found, super users bypass everything, LITERAL, `*` and PREFIXED
// resources, `User:*` and `*` host wildcards, and the implied operations.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Authorizer, aclHost, type AuthorizationSubject } from '../../src/auth/authorizer.ts'
import { AclOperation as Op, AclPermissionType as Perm, PatternType, ResourceType as Type, filterError, filterMatches, newBindingError, type AclBinding, type AclBindingFilter } from '../../src/auth/acl.ts'

function acl (fields: Partial<AclBinding>): AclBinding {
  return { resourceType: Type.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*', operation: Op.READ, permissionType: Perm.ALLOW, ...fields }
}

function subject (name: string, ip = '10.0.0.1'): AuthorizationSubject {
  return { principal: { type: 'User', name }, remoteIp: ip }
}

const closed = { superUsers: [], allowEveryoneIfNoAclFound: false }

test('an ALLOW ACL allows its principal only; no ACL at all denies', () => {
  const authorizer = new Authorizer(closed, [acl({})])
  assert.equal(authorizer.allows(subject('alice'), Op.READ, Type.TOPIC, 'orders'), true)
  assert.equal(authorizer.allows(subject('bob'), Op.READ, Type.TOPIC, 'orders'), false)
  assert.equal(authorizer.allows(subject('alice'), Op.WRITE, Type.TOPIC, 'orders'), false)
  assert.equal(authorizer.allows(subject('alice'), Op.READ, Type.TOPIC, 'other'), false)
  assert.equal(authorizer.allows(subject('alice'), Op.READ, Type.GROUP, 'orders'), false)
})

test('DENY wins over ALLOW, ALL included, on any matching pattern', () => {
  const authorizer = new Authorizer(closed, [
    acl({ operation: Op.ALL }),
    acl({ resourceName: 'ord', patternType: PatternType.PREFIXED, operation: Op.WRITE, permissionType: Perm.DENY }),
    acl({ resourceName: '*', principal: 'User:*', operation: Op.ALL, permissionType: Perm.DENY, host: '10.9.9.9' })
  ])
  assert.equal(authorizer.allows(subject('alice'), Op.READ, Type.TOPIC, 'orders'), true)
  assert.equal(authorizer.allows(subject('alice'), Op.WRITE, Type.TOPIC, 'orders'), false)
  assert.equal(authorizer.allows(subject('alice', '10.9.9.9'), Op.READ, Type.TOPIC, 'orders'), false)
})

test('prefixed and wildcard resources, wildcard principals and hosts', () => {
  const authorizer = new Authorizer(closed, [
    acl({ resourceName: 'logs-', patternType: PatternType.PREFIXED, principal: 'User:*', operation: Op.WRITE }),
    acl({ resourceName: '*', resourceType: Type.GROUP, principal: 'User:bob', operation: Op.READ, host: '10.0.0.2' })
  ])
  assert.equal(authorizer.allows(subject('carol'), Op.WRITE, Type.TOPIC, 'logs-app'), true)
  assert.equal(authorizer.allows(subject('carol'), Op.WRITE, Type.TOPIC, 'log'), false)
  assert.equal(authorizer.allows(subject('bob', '10.0.0.2'), Op.READ, Type.GROUP, 'any-group'), true)
  assert.equal(authorizer.allows(subject('bob', '10.0.0.1'), Op.READ, Type.GROUP, 'any-group'), false)
  assert.equal(authorizer.allows(subject('bob', '::ffff:10.0.0.2'), Op.READ, Type.GROUP, 'g'), true)
  assert.equal(aclHost('::ffff:10.0.0.2'), '10.0.0.2')
})

test('READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS; DENY implies nothing', () => {
  for (const granted of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
    const authorizer = new Authorizer(closed, [acl({ operation: granted })])
    assert.equal(authorizer.allows(subject('alice'), Op.DESCRIBE, Type.TOPIC, 'orders'), true, `operation ${granted}`)
  }
  assert.equal(new Authorizer(closed, [acl({ operation: Op.CREATE })]).allows(subject('alice'), Op.DESCRIBE, Type.TOPIC, 'orders'), false)
  assert.equal(new Authorizer(closed, [acl({ operation: Op.ALTER_CONFIGS })]).allows(subject('alice'), Op.DESCRIBE_CONFIGS, Type.TOPIC, 'orders'), true)
  const denyRead = new Authorizer(closed, [acl({ operation: Op.ALL }), acl({ operation: Op.READ, permissionType: Perm.DENY })])
  assert.equal(denyRead.allows(subject('alice'), Op.DESCRIBE, Type.TOPIC, 'orders'), true)
  assert.equal(denyRead.allows(subject('alice'), Op.READ, Type.TOPIC, 'orders'), false)
})

test('super users bypass every ACL, DENY included', () => {
  const authorizer = new Authorizer({ superUsers: ['User:admin'], allowEveryoneIfNoAclFound: false }, [acl({ principal: 'User:*', operation: Op.ALL, permissionType: Perm.DENY })])
  assert.equal(authorizer.allows(subject('admin'), Op.WRITE, Type.TOPIC, 'orders'), true)
  assert.equal(authorizer.allows(subject('admin'), Op.ALTER, Type.CLUSTER, 'kafka-cluster'), true)
  assert.equal(authorizer.allows(subject('alice'), Op.WRITE, Type.TOPIC, 'orders'), false)
})

test('allow.everyone.if.no.acl.found opens only resources no ACL names, whoever the ACL is for', () => {
  const authorizer = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: true }, [acl({})])
  assert.equal(authorizer.allows(subject('bob'), Op.WRITE, Type.TOPIC, 'unnamed'), true)
  assert.equal(authorizer.allows(subject('bob'), Op.READ, Type.TOPIC, 'orders'), false)
})

test('decisions are cached per subject and follow a principal change', () => {
  const authorizer = new Authorizer(closed, [acl({})])
  const connection = { principal: { type: 'User', name: 'bob' }, remoteIp: '10.0.0.1' }
  assert.equal(authorizer.allows(connection, Op.READ, Type.TOPIC, 'orders'), false)
  connection.principal = { type: 'User', name: 'alice' }
  assert.equal(authorizer.allows(connection, Op.READ, Type.TOPIC, 'orders'), true)
  assert.equal(authorizer.allows(connection, Op.READ, Type.TOPIC, 'orders'), true)
})

test('authorizeByResourceType: an ALLOW on some topic not covered by a DENY (KIP-679)', () => {
  const write = new Authorizer(closed, [acl({ operation: Op.WRITE, resourceName: 'a' })])
  assert.equal(write.allowsAnyOfType(subject('alice'), Op.WRITE, Type.TOPIC), true)
  assert.equal(write.allowsAnyOfType(subject('bob'), Op.WRITE, Type.TOPIC), false)
  const covered = new Authorizer(closed, [acl({ operation: Op.WRITE, resourceName: 'ab' }), acl({ operation: Op.WRITE, resourceName: 'a', patternType: PatternType.PREFIXED, permissionType: Perm.DENY })])
  assert.equal(covered.allowsAnyOfType(subject('alice'), Op.WRITE, Type.TOPIC), false)
  assert.equal(new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: true }, []).allowsAnyOfType(subject('x'), Op.WRITE, Type.TOPIC), true)
})

test('new bindings must be concrete; filters may not hold UNKNOWN', () => {
  assert.equal(newBindingError(acl({})), null)
  assert.match(newBindingError(acl({ resourceType: Type.ANY })) ?? '', /resourceType/)
  assert.match(newBindingError(acl({ patternType: PatternType.MATCH })) ?? '', /patternType/)
  assert.match(newBindingError(acl({ operation: Op.ANY })) ?? '', /operation/)
  assert.match(newBindingError(acl({ permissionType: Perm.ANY })) ?? '', /permissionType/)
  assert.match(newBindingError(acl({ resourceName: '' })) ?? '', /empty/)
  assert.match(newBindingError(acl({ resourceType: Type.CLUSTER, resourceName: 'x' })) ?? '', /kafka-cluster/)
  assert.match(newBindingError(acl({ principal: 'alice' })) ?? '', /principal/)
  const any: AclBindingFilter = { resourceType: Type.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permissionType: Perm.ANY }
  assert.equal(filterError(any), null)
  assert.notEqual(filterError({ ...any, patternType: PatternType.UNKNOWN }), null)
  assert.notEqual(filterError({ ...any, operation: 99 }), null)
})

test('filters: ANY matches every pattern type by exact name, MATCH also the wildcard and prefixes that apply', () => {
  const literal = acl({ resourceName: 'orders' })
  const wildcard = acl({ resourceName: '*' })
  const prefixed = acl({ resourceName: 'ord', patternType: PatternType.PREFIXED })
  const base: AclBindingFilter = { resourceType: Type.TOPIC, resourceName: 'orders', patternType: PatternType.MATCH, principal: null, host: null, operation: Op.ANY, permissionType: Perm.ANY }
  assert.deepEqual([literal, wildcard, prefixed].map((b) => filterMatches(base, b)), [true, true, true])
  assert.deepEqual([literal, wildcard, prefixed].map((b) => filterMatches({ ...base, patternType: PatternType.ANY }, b)), [true, false, false])
  assert.deepEqual([literal, wildcard, prefixed].map((b) => filterMatches({ ...base, patternType: PatternType.LITERAL }, b)), [true, false, false])
  assert.equal(filterMatches({ ...base, resourceName: 'ord', patternType: PatternType.PREFIXED }, prefixed), true)
  assert.equal(filterMatches({ ...base, principal: 'User:bob' }, literal), false)
  assert.equal(filterMatches({ ...base, operation: Op.READ, permissionType: Perm.ALLOW }, literal), true)
})
