// AlterUserScramCredentials and DescribeUserScramCredentials: Kafka's validation, users that can log in once
// created (and not once deleted), nothing but mechanisms and iterations described, and the store kept across a
// restart. The broker starts with a PLAINTEXT listener (the admin's) and a SASL one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startBroker, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { saltedPassword, kScramSha256, kScramSha512 } from '../../src/auth/scram.ts'
import { alterScramCredentials, describeScramCredentials, parseScramUsers } from '../../src/auth/credentials.ts'
import { freePort, kScramUsers, login } from '../auth/sasl-helpers.ts'

function upsertion (name: string, mechanism: number, password: string, iterations = 4096): object {
  const salt = randomBytes(16)
  return { name, mechanism, iterations, salt, saltedPassword: saltedPassword(mechanism === 2 ? kScramSha512 : kScramSha256, password, salt, iterations) }
}

async function start (dataDir: string): Promise<{ broker: TestBroker, saslPort: number }> {
  const saslPort = await freePort()
  const broker = await startBroker({ workers: 2, dataDir, cleanup: false, args: ['--listen', `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`, '--scram-users', kScramUsers] })
  return { broker, saslPort }
}

test('Alter creates, replaces and deletes users that then log in (or not); Describe tells mechanisms and iterations; all survive a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-scram-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  let { broker, saslPort } = await start(dataDir)
  t.after(() => broker.stop())
  const admin = await KafkaClient.connect(broker.host, broker.port)
  const altered = await admin.request(51, 0, {
    deletions: [],
    upsertions: [upsertion('bob', 1, 'bob-secret', 4096), upsertion('carol', 2, 'carol-secret', 8192)]
  })
  assert.deepEqual(altered.results.map((r: any) => [r.user, r.errorCode]).sort(), [['bob', 0], ['carol', 0]])
  const bob = await KafkaClient.connect('127.0.0.1', saslPort)
  assert.equal((await login(bob, 'SCRAM-SHA-256', 'bob-secret', 2, 'bob')).errorCode, 0, 'every worker has the new user at once')
  bob.close()
  const described = await admin.request(50, 0, { users: null })
  assert.equal(described.errorCode, 0)
  assert.deepEqual(described.results.map((r: any) => [r.user, r.credentialInfos.map((c: any) => [c.mechanism, c.iterations])]), [
    ['alice', [[1, 8192], [2, 4096]]], ['bob', [[1, 4096]]], ['carol', [[2, 8192]]]
  ])
  // Nothing secret is stored: no password, no salted password.
  const stored = readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8')
  assert.ok(!stored.includes('bob-secret') && !stored.includes('alice-secret'))
  // Deleting carol's only credential removes her.
  const deleted = await admin.request(51, 0, { deletions: [{ name: 'carol', mechanism: 2 }], upsertions: [] })
  assert.equal(deleted.results[0].errorCode, 0)
  admin.close()
  await broker.stop()
  ;({ broker, saslPort } = await start(dataDir))
  const again = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => again.close())
  const after = await again.request(50, 0, { users: [{ name: 'bob' }, { name: 'carol' }] })
  assert.deepEqual(after.results.map((r: any) => [r.user, r.errorCode]), [['bob', 0], ['carol', 91]])
  const relogin = await KafkaClient.connect('127.0.0.1', saslPort)
  assert.equal((await login(relogin, 'SCRAM-SHA-256', 'bob-secret', 2, 'bob')).errorCode, 0, 'bob logs in after the restart')
  relogin.close()
  const carol = await KafkaClient.connect('127.0.0.1', saslPort)
  assert.equal((await login(carol, 'SCRAM-SHA-512', 'carol-secret', 2, 'carol')).errorCode, 58, 'a deleted user cannot log in')
})

test('Alter refuses what Kafka refuses, user by user', () => {
  const credential = { salt: 'c2FsdA==', iterations: 4096, storedKey: 'a2V5', serverKey: 'a2V5' }
  const store = { alice: { 'SCRAM-SHA-256': credential } }
  const up = (name: string, mechanism: number, iterations = 4096, ok = true) => ({ name, mechanism, iterations, credential: ok ? credential : null })
  const { results, changed } = alterScramCredentials(store, [
    { name: 'alice', mechanism: 1 }, { name: 'nobody', mechanism: 1 }, { name: '', mechanism: 1 }, { name: 'x', mechanism: 9 }
  ], [
    up('alice', 1), up('few', 1, 4095), up('many', 1, 16385), up('dup', 1), up('dup', 2), up('empty', 1, 4096, false), up('ok', 2, 16384)
  ])
  const byUser = new Map(results.map((result) => [result.user, [result.errorCode, result.errorMessage]]))
  assert.deepEqual(byUser.get('alice'), [92, 'A user credential cannot be altered twice in the same request'])
  assert.deepEqual(byUser.get('nobody'), [91, 'Attempt to delete a user credential that does not exist'])
  assert.deepEqual(byUser.get(''), [93, 'Username must not be empty'])
  assert.deepEqual(byUser.get('x'), [33, 'Unknown SCRAM mechanism'])
  assert.deepEqual(byUser.get('few'), [93, 'Too few iterations'])
  assert.deepEqual(byUser.get('many'), [93, 'Too many iterations'])
  assert.deepEqual(byUser.get('dup'), [92, 'A user credential cannot be altered twice in the same request'])
  assert.equal(byUser.get('empty')?.[0], 93)
  assert.deepEqual(byUser.get('ok'), [0, null])
  assert.equal(changed, true)
})

test('Describe answers RESOURCE_NOT_FOUND for an unknown user and DUPLICATE_RESOURCE for one named twice', () => {
  const store = { alice: { 'SCRAM-SHA-512': { salt: 'c2FsdA==', iterations: 5000, storedKey: 'a2V5', serverKey: 'a2V5' } } }
  assert.deepEqual(describeScramCredentials(store, ['alice', 'bob', 'alice']).map((r) => [r.user, r.errorCode, r.credentialInfos]), [
    ['alice', 92, []], ['bob', 91, []]
  ])
  assert.deepEqual(describeScramCredentials(store, null), [{ user: 'alice', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 2, iterations: 5000 }] }])
})

test('users given at start are parsed from --add-scram\'s syntax, salted, and never keep the password', () => {
  const store = parseScramUsers([
    { text: 'SCRAM-SHA-256=[name=alice,password=pw1],SCRAM-SHA-512=[name=alice,password=pw2,iterations=5000]', where: '--scram-users' },
    { text: '# a comment\nSCRAM-SHA-256=[name="bob",password="b=c"]\n', where: 'users.txt' }
  ])
  assert.deepEqual(Object.keys(store).sort(), ['alice', 'bob'])
  assert.equal(store.alice['SCRAM-SHA-512']?.iterations, 5000)
  assert.equal(store.alice['SCRAM-SHA-256']?.iterations, 8192)
  assert.ok(!JSON.stringify(store).includes('pw1'))
  assert.throws(() => parseScramUsers([{ text: 'SCRAM-SHA-1=[name=a,password=b]', where: 'w' }]), /unsupported SCRAM mechanism/)
  assert.throws(() => parseScramUsers([{ text: 'SCRAM-SHA-256=[name=a,password=b,iterations=100]', where: 'w' }]), /iterations of a must be 4096 to 16384/)
  assert.throws(() => parseScramUsers([{ text: 'SCRAM-SHA-256=[password=b]', where: 'w' }]), /needs name=/)
  assert.throws(() => parseScramUsers([{ text: 'SCRAM-SHA-256=[name=a]', where: 'w' }]), /needs password=/)
  assert.throws(() => parseScramUsers([{ text: 'SCRAM-SHA-256=[name=a,password=b] SCRAM-SHA-256=[name=a,password=c]', where: 'w' }]), /given twice/)
  assert.throws(() => parseScramUsers([{ text: 'alice:secret', where: 'w' }]), /expected SCRAM-SHA-256=/)
})
