import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  deriveScramKeys, kScramSha256, kScramSha512, passwordMatches, saltedPassword, keysFromSaltedPassword,
  ScramClient, ScramError, ScramServer, type ScramKeys
} from '../../src/auth/scram.ts'

// RFC 7677, section 3: user "user", password "pencil", SCRAM-SHA-256, 4096 iterations.
const kRfcSalt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')
const kRfcClientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO'
const kRfcServerNonce = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
const kRfcServerFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'
const kRfcClientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='
const kRfcServerFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='

function rfcServer (): ScramServer {
  const keys = deriveScramKeys(kScramSha256, 'pencil', 4096, kRfcSalt)
  return new ScramServer(kScramSha256, (user) => user === 'user' ? keys : undefined, kRfcServerNonce)
}

test('the RFC 7677 SCRAM-SHA-256 exchange gives its server-first and server-final messages', () => {
  const server = rfcServer()
  const first = server.step(Buffer.from(kRfcClientFirst))
  assert.equal(first.done, false)
  assert.equal(first.message.toString(), kRfcServerFirst)
  const final = server.step(Buffer.from(kRfcClientFinal))
  assert.equal(final.done, true)
  assert.equal(final.message.toString(), kRfcServerFinal)
  assert.equal(final.done && final.user, 'user')
})

test('the stored keys are derived from the salted password and never hold it', () => {
  const salted = saltedPassword(kScramSha256, 'pencil', kRfcSalt, 4096)
  const keys = keysFromSaltedPassword(kScramSha256, salted, kRfcSalt, 4096)
  assert.deepEqual(keys, deriveScramKeys(kScramSha256, 'pencil', 4096, kRfcSalt))
  assert.notDeepEqual(keys.storedKey, salted)
  assert.notDeepEqual(keys.serverKey, salted)
  assert.equal(passwordMatches(kScramSha256, keys, 'pencil'), true)
  assert.equal(passwordMatches(kScramSha256, keys, 'pencil!'), false)
})

for (const mechanism of [kScramSha256, kScramSha512]) {
  test(`a full ${mechanism.name} exchange between our client and server succeeds and the server proves itself`, () => {
    const keys = deriveScramKeys(mechanism, 'secret', 4096)
    const server = new ScramServer(mechanism, (user) => user === 'al,i=ce' ? keys : undefined)
    const client = new ScramClient(mechanism, 'al,i=ce', 'secret')
    const first = server.step(client.first())
    assert.equal(first.done, false)
    const final = server.step(client.final(first.message))
    assert.equal(final.done, true)
    assert.equal(final.done && final.user, 'al,i=ce')
    assert.equal(client.verify(final.message), true)
  })
}

function exchange (keys: ScramKeys, password: string, nonce?: string): void {
  const server = new ScramServer(kScramSha256, () => keys)
  const client = new ScramClient(kScramSha256, 'alice', password)
  const first = server.step(client.first())
  server.step(client.final(first.message, nonce))
}

test('a wrong password fails with Kafka\'s invalid credentials message', () => {
  const keys = deriveScramKeys(kScramSha256, 'secret', 4096)
  assert.throws(() => exchange(keys, 'wrong'), (error: Error) => error instanceof ScramError && error.message === 'Authentication failed: Invalid user credentials')
})

test('a final nonce that is not the server\'s extension of the client\'s fails', () => {
  const keys = deriveScramKeys(kScramSha256, 'secret', 4096)
  assert.throws(() => exchange(keys, 'secret', 'someothernonce'), /nonce does not match/)
  const server = new ScramServer(kScramSha256, () => keys, 'SERVER')
  const client = new ScramClient(kScramSha256, 'alice', 'secret', 'CLIENT')
  const first = server.step(client.first())
  // Only the client's own part: not extended by the server's.
  assert.throws(() => server.step(client.final(first.message, 'CLIENT')), /nonce does not match/)
  // The server's part alone does not end with the combined nonce either.
  const other = new ScramServer(kScramSha256, () => keys, 'SERVER')
  const otherClient = new ScramClient(kScramSha256, 'alice', 'secret', 'CLIENT')
  assert.throws(() => other.step(otherClient.final(other.step(otherClient.first()).message, 'SERVER')), /nonce does not match/)
})

test('a final nonce with more in front of the combined one is accepted, as Kafka accepts librdkafka\'s', () => {
  const keys = deriveScramKeys(kScramSha256, 'secret', 4096)
  const server = new ScramServer(kScramSha256, () => keys, 'SERVER')
  const client = new ScramClient(kScramSha256, 'alice', 'secret', 'CLIENT')
  const final = server.step(client.final(server.step(client.first()).message, 'CLIENTCLIENTSERVER'))
  assert.equal(final.done, true)
})

test('an unknown user, channel binding, tokenauth and malformed messages fail', () => {
  const keys = deriveScramKeys(kScramSha256, 'secret', 4096)
  const step = (text: string): unknown => new ScramServer(kScramSha256, (user) => user === 'alice' ? keys : undefined).step(Buffer.from(text))
  assert.throws(() => step('n,,n=bob,r=abc'), /Invalid user credentials/)
  assert.throws(() => step('p=tls-unique,,n=alice,r=abc'), /channel binding/)
  assert.throws(() => step('n,,n=alice,r=abc,tokenauth=true'), /delegation tokens/)
  assert.throws(() => step('n,a=bob,n=alice,r=abc'), /authorization id/)
  assert.throws(() => step('garbage'), ScramError)
  assert.throws(() => step('n,,n=al=ice,r=abc'), ScramError)
  // Unknown extensions are ignored, as Kafka ignores them.
  assert.equal((step('n,,n=alice,r=abc,foo=bar') as { done: boolean }).done, false)
})

test('a server takes no message after the exchange is over, nor after a failure', () => {
  const server = rfcServer()
  assert.throws(() => server.step(Buffer.from('garbage')), ScramError)
  assert.throws(() => server.step(Buffer.from(kRfcClientFirst)), /already complete/)
})
