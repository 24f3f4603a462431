// SCRAM (RFC 5802) with SHA-256 (RFC 7677) and SHA-512, the server side, as Kafka speaks it.
//
// Only salted, derived keys are stored: per user and mechanism the salt, the iteration count, StoredKey =
// H(HMAC(SaltedPassword, "Client Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"), where SaltedPassword =
// Hi(password, salt, i) is PBKDF2-HMAC. Neither the password nor SaltedPassword is kept.
//
// The exchange (all messages UTF-8):
//   client-first  gs2-header client-first-bare, gs2-header `n,,` or `n,a=<authzid>,` (`y,...`: the client could
//                 bind channels but thinks we cannot; `p=...` asks for channel binding, which Kafka refuses),
//                 client-first-bare `n=<saslname>,r=<client nonce>[,<extension>=<value>]*`
//   server-first  `r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>`
//   client-final  `c=<base64 gs2-header>,r=<the same nonce>,p=<base64 ClientProof>` (Kafka accepts any nonce that
//                 ends with server-first's, and librdkafka sends its client nonce in front of it once more)
//   server-final  `v=<base64 ServerSignature>`
// AuthMessage = client-first-bare "," server-first "," client-final-without-proof; ClientSignature =
// HMAC(StoredKey, AuthMessage); the proof is right when H(ClientProof XOR ClientSignature) equals StoredKey,
// compared in constant time. Kafka's extensions: `tokenauth=true` asks for a delegation token, which Shoal does
// not issue, so such a login fails; other extensions are ignored as Kafka ignores them.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

export type ScramMechanismName = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

export interface ScramMechanism {
  readonly name: ScramMechanismName
  /** AlterUserScramCredentials' and DescribeUserScramCredentials' `mechanism` (Kafka's ScramMechanism type). */
  readonly type: number
  readonly hash: 'sha256' | 'sha512'
  readonly keyBytes: number
}

export const kScramSha256: ScramMechanism = Object.freeze({ name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', keyBytes: 32 })
export const kScramSha512: ScramMechanism = Object.freeze({ name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', keyBytes: 64 })
export const kScramMechanisms: readonly ScramMechanism[] = [kScramSha256, kScramSha512]

/** Kafka's bounds (ScramMechanism.minIterations, ScramControlManager.MAX_ITERATIONS) and Shoal's default. */
export const kScramMinIterations = 4096
export const kScramMaxIterations = 16384
export const kScramDefaultIterations = 8192

export function scramMechanismByName (name: string): ScramMechanism | undefined {
  return kScramMechanisms.find((mechanism) => mechanism.name === name)
}

export function scramMechanismByType (type: number): ScramMechanism | undefined {
  return kScramMechanisms.find((mechanism) => mechanism.type === type)
}

/** What the store keeps of one user's password for one mechanism. */
export interface ScramKeys {
  readonly salt: Buffer
  readonly iterations: number
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

/** Hi(password, salt, i): PBKDF2 with HMAC of the mechanism's hash, as long as one hash. */
export function saltedPassword (mechanism: ScramMechanism, password: string | Buffer, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, iterations, mechanism.keyBytes, mechanism.hash)
}

function hmac (mechanism: ScramMechanism, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(mechanism.hash, key).update(text).digest()
}

function hash (mechanism: ScramMechanism, bytes: Buffer): Buffer {
  return createHash(mechanism.hash).update(bytes).digest()
}

/** StoredKey and ServerKey from SaltedPassword (what AlterUserScramCredentials sends). */
export function keysFromSaltedPassword (mechanism: ScramMechanism, salted: Buffer, salt: Buffer, iterations: number): ScramKeys {
  const clientKey = hmac(mechanism, salted, 'Client Key')
  return { salt, iterations, storedKey: hash(mechanism, clientKey), serverKey: hmac(mechanism, salted, 'Server Key') }
}

/** The stored keys of `password` with a fresh random salt (or `salt`). */
export function deriveScramKeys (mechanism: ScramMechanism, password: string, iterations: number, salt: Buffer = randomBytes(32)): ScramKeys {
  return keysFromSaltedPassword(mechanism, saltedPassword(mechanism, password, salt, iterations), salt, iterations)
}

/** Whether `password` is the one `keys` were derived from (PLAIN's check against the SCRAM store). */
export function passwordMatches (mechanism: ScramMechanism, keys: ScramKeys, password: string): boolean {
  const derived = keysFromSaltedPassword(mechanism, saltedPassword(mechanism, password, keys.salt, keys.iterations), keys.salt, keys.iterations)
  return derived.storedKey.length === keys.storedKey.length && timingSafeEqual(derived.storedKey, keys.storedKey)
}

/** A SCRAM login that failed; `message` is what the client is told (never which part was wrong for a user). */
export class ScramError extends Error {}

/** Kafka's answer to a wrong user or password alike. */
export const kInvalidCredentials = 'Authentication failed: Invalid user credentials'

/** saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is malformed. */
function decodeSaslName (text: string): string {
  if (/=(?!2C|3D)/.test(text)) throw new ScramError('Invalid SCRAM message: bad username escape')
  return text.replace(/=2C/g, ',').replace(/=3D/g, '=')
}

/** RFC 5802's printable nonce characters: %x21-7E except ",". */
const kNonce = /^[\x21-\x2b\x2d-\x7e]+$/

export type CredentialLookup = (user: string, mechanism: ScramMechanism) => ScramKeys | undefined

/** The result of one step of an exchange: a challenge to send, or the end (success with the last message). */
export type ScramStep = { readonly done: false, readonly message: Buffer } | { readonly done: true, readonly message: Buffer, readonly user: string }

/**
 * One SCRAM exchange on the server side: `step` takes client-first, then client-final. Any failure throws a
 * ScramError, after which the exchange is over.
 */
export class ScramServer {
  readonly mechanism: ScramMechanism
  readonly #lookup: CredentialLookup
  /** Tests pass RFC 7677's; otherwise 24 random bytes in base64. */
  readonly #serverNonce: string
  #state: 'first' | 'final' | 'done'
  #user: string
  #keys: ScramKeys | null
  #gs2Header: string
  #clientFirstBare: string
  #serverFirst: string
  #nonce: string

  constructor (mechanism: ScramMechanism, lookup: CredentialLookup, serverNonce: string = randomBytes(24).toString('base64')) {
    this.mechanism = mechanism
    this.#lookup = lookup
    this.#serverNonce = serverNonce
    this.#state = 'first'
    this.#user = ''
    this.#keys = null
    this.#gs2Header = ''
    this.#clientFirstBare = ''
    this.#serverFirst = ''
    this.#nonce = ''
  }

  step (bytes: Buffer): ScramStep {
    const state = this.#state
    this.#state = 'done'
    if (state === 'first') return this.#clientFirst(bytes.toString('utf8'))
    if (state === 'final') return this.#clientFinal(bytes.toString('utf8'))
    throw new ScramError('Invalid SCRAM exchange: already complete')
  }

  #clientFirst (text: string): ScramStep {
    const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(n=([^,]*),r=([^,]*)((?:,[^,]*)*))$/.exec(text)
    if (match === null) throw new ScramError('Invalid SCRAM client first message')
    if (match[1].startsWith('p=')) throw new ScramError('Invalid SCRAM client first message: channel binding is not supported')
    const user = decodeSaslName(match[4])
    if (user === '') throw new ScramError(kInvalidCredentials)
    if (match[2] !== undefined && decodeSaslName(match[2].slice(2)) !== user) {
      throw new ScramError('Authentication failed: Client requested an authorization id that is different from username')
    }
    const clientNonce = match[5]
    if (!kNonce.test(clientNonce)) throw new ScramError('Invalid SCRAM client first message: bad nonce')
    const extensions = parseExtensions(match[6])
    if (extensions.get('tokenauth')?.toLowerCase() === 'true') throw new ScramError('Authentication failed: delegation tokens are not supported')
    const keys = this.#lookup(user, this.mechanism)
    if (keys === undefined) throw new ScramError(kInvalidCredentials)
    this.#user = user
    this.#keys = keys
    this.#gs2Header = `${match[1]},${match[2] ?? ''},`
    this.#clientFirstBare = match[3]
    this.#nonce = clientNonce + this.#serverNonce
    this.#serverFirst = `r=${this.#nonce},s=${keys.salt.toString('base64')},i=${keys.iterations}`
    this.#state = 'final'
    return { done: false, message: Buffer.from(this.#serverFirst, 'utf8') }
  }

  #clientFinal (text: string): ScramStep {
    const match = /^(c=([^,]*),r=([^,]*)(?:,[^,]*)*?),p=([A-Za-z0-9+/=]+)$/.exec(text)
    if (match === null) throw new ScramError('Invalid SCRAM client final message')
    const keys = this.#keys as ScramKeys
    if (Buffer.from(match[2], 'base64').toString('utf8') !== this.#gs2Header) throw new ScramError('Invalid SCRAM client final message: channel binding does not match')
    // The final nonce must end with server-first's (the client's, extended by ours), as Kafka checks it
    // (ScramSaslServer: endsWith): librdkafka sends its own nonce once more in front of it.
    if (!match[3].endsWith(this.#nonce)) throw new ScramError('Invalid SCRAM client final message: nonce does not match')
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${match[1]}`
    const proof = Buffer.from(match[4], 'base64')
    const signature = hmac(this.mechanism, keys.storedKey, authMessage)
    if (proof.length !== signature.length) throw new ScramError(kInvalidCredentials)
    const clientKey = Buffer.alloc(proof.length)
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ signature[i]
    const computed = hash(this.mechanism, clientKey)
    if (computed.length !== keys.storedKey.length || !timingSafeEqual(computed, keys.storedKey)) throw new ScramError(kInvalidCredentials)
    const serverSignature = hmac(this.mechanism, keys.serverKey, authMessage)
    return { done: true, message: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), user: this.#user }
  }
}

/** `,key=value` pairs after the nonce of client-first. */
function parseExtensions (text: string): Map<string, string> {
  const extensions = new Map<string, string>()
  for (const part of text.split(',')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw new ScramError('Invalid SCRAM client first message: bad extension')
    extensions.set(part.slice(0, eq), part.slice(eq + 1))
  }
  return extensions
}

/**
 * The client side, for tests and tools: client-first for `user`, then client-final from server-first; checks
 * server-final. Not used by the broker.
 */
export class ScramClient {
  readonly #mechanism: ScramMechanism
  readonly #password: string
  readonly #clientFirstBare: string
  readonly #clientNonce: string
  #serverSignature: Buffer | null

  constructor (mechanism: ScramMechanism, user: string, password: string, clientNonce: string = randomBytes(18).toString('base64')) {
    this.#mechanism = mechanism
    this.#password = password
    this.#clientNonce = clientNonce
    this.#clientFirstBare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`
    this.#serverSignature = null
  }

  first (): Buffer {
    return Buffer.from(`n,,${this.#clientFirstBare}`, 'utf8')
  }

  /** client-final for `serverFirst`; `nonce` replaces the combined nonce (tests of a bad one). */
  final (serverFirst: Buffer, nonce?: string): Buffer {
    const text = serverFirst.toString('utf8')
    const match = /^r=([^,]*),s=([^,]*),i=(\d+)/.exec(text)
    if (match === null || !match[1].startsWith(this.#clientNonce)) throw new Error(`bad server-first: ${text}`)
    const salted = saltedPassword(this.#mechanism, this.#password, Buffer.from(match[2], 'base64'), Number(match[3]))
    const withoutProof = `c=biws,r=${nonce ?? match[1]}`
    const authMessage = `${this.#clientFirstBare},${text},${withoutProof}`
    const clientKey = hmac(this.#mechanism, salted, 'Client Key')
    const signature = hmac(this.#mechanism, hash(this.#mechanism, clientKey), authMessage)
    const proof = Buffer.alloc(clientKey.length)
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i]
    this.#serverSignature = hmac(this.#mechanism, hmac(this.#mechanism, salted, 'Server Key'), authMessage)
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8')
  }

  /** Whether server-final carries the signature a server that knows the password computes. */
  verify (serverFinal: Buffer): boolean {
    return this.#serverSignature !== null && serverFinal.toString('utf8') === `v=${this.#serverSignature.toString('base64')}`
  }
}
