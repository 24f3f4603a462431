// SASL/OAUTHBEARER: JWTs made here with node:crypto (RS256 and ES256 keys, a JWKS file) are accepted or refused
// by src/auth/oauthbearer.ts as Kafka's KIP-768 validator would, and the SASL exchange follows RFC 7628.
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { JwksKeySet } from '../../src/auth/jwks.ts'
import { OAuthBearerValidator, parseInitialResponse, verifyJwt, type OAuthBearerConfig } from '../../src/auth/oauthbearer.ts'
import { SaslSession } from '../../src/auth/sasl.ts'
import { waitFor } from '../helpers/broker.ts'
import { parseConfig } from '../../src/config/config.ts'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 })

function jwks (): string {
  return JSON.stringify({
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', use: 'sig' },
      { kty: 'oct', kid: 'hmac-1', k: 'c2VjcmV0' }
    ]
  })
}

const dir = mkdtempSync(join(tmpdir(), 'shoal-oauthbearer-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const jwksPath = join(dir, 'jwks.json')
writeFileSync(jwksPath, jwks())
const jwksUrl = pathToFileURL(jwksPath).href
const logged: string[] = []

const config: OAuthBearerConfig = {
  jwksEndpointUrl: jwksUrl,
  jwksRefreshMs: 0,
  expectedAudience: ['shoal'],
  expectedIssuer: 'https://issuer.test',
  subClaimName: 'sub',
  clockSkewSeconds: 30
}
const keys = new JwksKeySet(jwksUrl, 0, (message) => logged.push(message))
const now = Date.now()
const seconds = (ms: number): number => Math.floor(ms / 1000)

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** A compact JWS of `claims` signed with `key` (RS256 PKCS#1 v1.5, ES256 raw r||s). */
function jwt (claims: object, header: Record<string, unknown>, key: KeyObject | null = header.alg === 'ES256' ? ec.privateKey : rsa.privateKey): string {
  const input = `${b64(header)}.${b64(claims)}`
  if (key === null) return `${input}.`
  const signature = header.alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key)
  return `${input}.${signature.toString('base64url')}`
}

const goodClaims = { sub: 'alice', iss: 'https://issuer.test', aud: 'shoal', iat: seconds(now), exp: seconds(now) + 600 }
const rs256 = { alg: 'RS256', typ: 'JWT', kid: 'rsa-1' }
const es256 = { alg: 'ES256', typ: 'JWT', kid: 'ec-1' }

describe('verifyJwt', () => {
  test('accepts a valid RS256 token and names its subject', async () => {
    const verdict = await verifyJwt(jwt(goodClaims, rs256), keys, config, now)
    assert.deepEqual(verdict, { ok: true, subject: 'alice', expiresAtMs: goodClaims.exp * 1000 })
  })

  test('accepts a valid ES256 token (IEEE P1363 signature) with an audience array', async () => {
    const verdict = await verifyJwt(jwt({ ...goodClaims, aud: ['other', 'shoal'] }, es256), keys, config, now)
    assert.equal(verdict.ok, true)
  })

  const refused: Array<[string, () => string, RegExp]> = [
    ['an expired token', () => jwt({ ...goodClaims, exp: seconds(now) - 120 }, rs256), /expired/],
    ['a token without exp', () => jwt({ ...goodClaims, exp: undefined }, rs256), /exp/],
    ['a token not yet valid', () => jwt({ ...goodClaims, nbf: seconds(now) + 300 }, rs256), /not yet valid/],
    ['a wrong audience', () => jwt({ ...goodClaims, aud: 'elsewhere' }, rs256), /audience/],
    ['a wrong issuer', () => jwt({ ...goodClaims, iss: 'https://evil.test' }, rs256), /issuer/],
    ['a bad signature', () => jwt(goodClaims, rs256, otherRsa.privateKey), /signature/],
    ['a tampered payload', () => { const [h, , s] = jwt(goodClaims, rs256).split('.'); return `${h}.${b64({ ...goodClaims, sub: 'admin' })}.${s}` }, /signature/],
    ['alg none', () => jwt(goodClaims, { alg: 'none', kid: 'rsa-1' }, null), /not allowed/],
    ['alg HS256 against a JWKS key', () => jwt(goodClaims, { alg: 'HS256', kid: 'hmac-1' }, null), /not allowed/],
    ['alg not matching the key (ES256 header, RSA kid)', () => jwt(goodClaims, { alg: 'ES256', kid: 'rsa-1' }), /does not match/],
    ['an unknown kid', () => jwt(goodClaims, { alg: 'RS256', kid: 'rotated-away' }), /no key/],
    ['no subject claim', () => jwt({ ...goodClaims, sub: undefined }, rs256), /sub/],
    ['garbage', () => 'not.a.jwt!', /malformed/]
  ]
  for (const [what, make, reason] of refused) {
    test(`refuses ${what}`, async () => {
      const verdict = await verifyJwt(make(), keys, config, now)
      assert.equal(verdict.ok, false)
      assert.match((verdict as { reason: string }).reason, reason)
    })
  }

  test('allows clock skew on exp and nbf', async () => {
    const verdict = await verifyJwt(jwt({ ...goodClaims, exp: seconds(now) - 10, nbf: seconds(now) + 10 }, rs256), keys, config, now)
    assert.equal(verdict.ok, true)
  })

  test('reads the principal from sasl.oauthbearer.sub.claim.name', async () => {
    const verdict = await verifyJwt(jwt({ ...goodClaims, client_id: 'svc-7' }, rs256), keys, { ...config, subClaimName: 'client_id' }, now)
    assert.equal(verdict.ok && verdict.subject, 'svc-7')
  })
})

describe('JWKS', () => {
  test('a failed reload keeps the last good key set and is logged', async () => {
    const path = join(dir, 'rotating.json')
    writeFileSync(path, jwks())
    const set = new JwksKeySet(pathToFileURL(path).href, 0, (message) => logged.push(message))
    await set.ready
    assert.deepEqual(set.keys.map((key) => key.kid), ['rsa-1', 'ec-1'])
    writeFileSync(path, '{ half a file')
    await set.reload()
    assert.deepEqual(set.keys.map((key) => key.kid), ['rsa-1', 'ec-1'])
    assert.ok(logged.some((line) => line.includes('load failed')))
  })

  test('a missing file leaves the set empty and refuses every token', async () => {
    const set = new JwksKeySet(pathToFileURL(join(dir, 'absent.json')).href, 0, () => {})
    const verdict = await verifyJwt(jwt(goodClaims, rs256), set, config, now)
    assert.equal(verdict.ok, false)
  })
})

describe('JWKS over HTTP', () => {
  test('is fetched, refreshed (a rotated key appears) and kept while the endpoint fails', async (t) => {
    let body = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256' }] })
    let status = 200
    const server = createServer((request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => server.close())
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`
    const failures: string[] = []
    const set = new JwksKeySet(url, 20, (message) => failures.push(message))
    t.after(() => set.close())
    await set.ready
    assert.equal((await verifyJwt(jwt(goodClaims, rs256), set, config, now)).ok, true)
    body = JSON.stringify({ keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256' }] })
    await waitFor(() => set.keys.some((key) => key.kid === 'ec-1'), 10_000, 'the rotated key')
    assert.equal((await verifyJwt(jwt(goodClaims, es256), set, config, now)).ok, true)
    status = 503
    await waitFor(() => failures.some((line) => line.includes('HTTP 503')), 10_000, 'a failed refresh')
    assert.deepEqual(set.keys.map((key) => key.kid), ['ec-1'])
  })
})

describe('client initial response (RFC 7628)', () => {
  test('parses the authorization id, the token and extensions', () => {
    const parsed = parseInitialResponse(Buffer.from('n,a=alice,\x01auth=Bearer abc.def.ghi\x01traceId=42\x01\x01'))
    assert.equal(parsed.ok, true)
    if (!parsed.ok) return
    assert.equal(parsed.authzid, 'alice')
    assert.equal(parsed.token, 'abc.def.ghi')
    assert.equal(parsed.extensions.get('traceId'), '42')
  })

  for (const bad of ['', 'y,,\x01auth=Bearer x\x01\x01', 'n,,\x01auth=Bearer x\x01', 'n,,\x01auth=Basic x\x01\x01', 'n,,\x01\x01']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.equal(parseInitialResponse(Buffer.from(bad)).ok, false)
    })
  }
})

describe('SaslSession with OAUTHBEARER', () => {
  const validator = new OAuthBearerValidator(config, () => {})
  after(() => validator.keys.close())
  const session = (reauthMs = 0): SaslSession => new SaslSession({ mechanisms: ['OAUTHBEARER'], lookup: () => undefined, reauthMs, oauthBearer: validator })
  const initial = (token: string): Buffer => Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`)

  test('a valid token authenticates User:<sub>, the session capped by the token\'s exp (KIP-368)', async () => {
    const sasl = session(3_600_000)
    assert.equal(sasl.handshake('OAUTHBEARER', 1).errorCode, 0)
    const result = await sasl.authenticate(initial(jwt(goodClaims, rs256)), now)
    assert.equal(result.kind, 'success')
    if (result.kind !== 'success') return
    assert.deepEqual(result.principal, { type: 'User', name: 'alice' })
    assert.equal(result.sessionLifetimeMs, goodClaims.exp * 1000 - now)
    assert.equal(sasl.state, 'authenticated')
  })

  test('with connections.max.reauth.ms below the token\'s lifetime the session lasts that long', async () => {
    const sasl = session(60_000)
    sasl.handshake('OAUTHBEARER', 1)
    const result = await sasl.authenticate(initial(jwt(goodClaims, es256)), now)
    assert.equal(result.kind === 'success' && result.sessionLifetimeMs, 60_000)
  })

  test('an expired token gets the JSON error, and the client\'s %x01 ends the exchange failed', async () => {
    const sasl = session()
    sasl.handshake('OAUTHBEARER', 1)
    const first = await sasl.authenticate(initial(jwt({ ...goodClaims, exp: seconds(now) - 3600 }, rs256)), now)
    assert.equal(first.kind, 'challenge')
    assert.deepEqual(JSON.parse((first as { bytes: Buffer }).bytes.toString()), { status: 'invalid_token' })
    const second = await sasl.authenticate(Buffer.from([1]), now)
    assert.equal(second.kind, 'failure')
    assert.match((second as { message: string }).message, /invalid_token/)
    assert.equal(sasl.state, 'failed')
  })

  test('a malformed initial response fails at once', async () => {
    const sasl = session()
    sasl.handshake('OAUTHBEARER', 1)
    const result = await sasl.authenticate(Buffer.from('garbage'), now)
    assert.equal(result.kind, 'failure')
  })

  test('an authorization id other than the token\'s subject fails', async () => {
    const sasl = session()
    sasl.handshake('OAUTHBEARER', 1)
    const result = await sasl.authenticate(Buffer.from(`n,a=mallory,\x01auth=Bearer ${jwt(goodClaims, rs256)}\x01\x01`), now)
    assert.equal(result.kind, 'failure')
  })

  test('without a JWKS configured OAUTHBEARER fails', async () => {
    const sasl = new SaslSession({ mechanisms: ['OAUTHBEARER'], lookup: () => undefined, reauthMs: 0 })
    sasl.handshake('OAUTHBEARER', 1)
    const result = await sasl.authenticate(initial(jwt(goodClaims, rs256)), now)
    assert.equal(result.kind, 'failure')
  })
})

describe('configuration', () => {
  const sasl = ['--listen', 'SASL_PLAINTEXT://127.0.0.1:0']

  test('OAUTHBEARER on a SASL listener needs a JWKS URL', () => {
    assert.throws(() => parseConfig([...sasl, '--sasl-enabled-mechanisms', 'OAUTHBEARER']), /needs --sasl-oauthbearer-jwks-endpoint-url/)
    assert.throws(() => parseConfig([...sasl, '--sasl-enabled-mechanisms', 'OAUTHBEARER', '--sasl-oauthbearer-jwks-endpoint-url', '/etc/jwks.json']), /file:\/\/ or https:\/\//)
  })

  test('the sasl.oauthbearer.* flags and properties set the validation', () => {
    const config = parseConfig([...sasl, '--sasl-enabled-mechanisms', 'SCRAM-SHA-256,OAUTHBEARER', '--config', 'server.properties'], { SHOAL_SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS: '5' }, () => [
      'sasl.oauthbearer.jwks.endpoint.url=https://idp.test/jwks',
      'sasl.oauthbearer.expected.audience=kafka, shoal',
      'sasl.oauthbearer.expected.issuer=https://idp.test',
      'sasl.oauthbearer.sub.claim.name=client_id'
    ].join('\n'))
    assert.deepEqual(config.saslEnabledMechanisms, ['SCRAM-SHA-256', 'OAUTHBEARER'])
    assert.deepEqual(config.oauthBearer, {
      jwksEndpointUrl: 'https://idp.test/jwks', jwksRefreshMs: 3_600_000, expectedAudience: ['kafka', 'shoal'],
      expectedIssuer: 'https://idp.test', subClaimName: 'client_id', clockSkewSeconds: 5
    })
    assert.equal(parseConfig([]).oauthBearer, null)
  })
})
