// The SASL state machine of one connection on a SASL listener (Kafka's SaslServerAuthenticator, server side).
//
//   handshake      the connection's start: only ApiVersions and SaslHandshake are served; anything else
//                  closes the connection unanswered (Kafka: IllegalSaslStateException).
//   authenticate   after a SaslHandshake naming an enabled mechanism: only SaslAuthenticate (v1 handshake), or
//                  raw SASL tokens, each framed by a 4-byte length and answered the same way (v0 handshake,
//                  which clients older than Kafka 1.0 follow). Anything else closes the connection.
//   authenticated  the exchange succeeded: every API is served as on a PLAINTEXT listener, as the principal
//                  `User:<name>`. With --connections-max-reauth-ms the session ends that long after it began:
//                  the first request after that closes the connection unanswered (Kafka closes an expired
//                  channel at its next receive), unless the client re-authenticated (KIP-368) before: a
//                  SaslHandshake on an authenticated connection starts the exchange again (same mechanism,
//                  same user), and other requests wait behind it in the client.
//   failed         an exchange failed: the answer (SASL_AUTHENTICATION_FAILED with a message) goes out after
//                  --connection-failed-authentication-delay-ms and the connection closes; what arrives
//                  meanwhile is dropped.
//
// PLAIN (RFC 4616: `[authzid] NUL authcid NUL password`) checks the password against the SCRAM store: the
// password is salted and stretched with a stored salt and iteration count (SCRAM-SHA-256's, else SCRAM-SHA-512's)
// and the StoredKey compared, so there is one user store. Kafka's PLAIN reads JAAS-configured users instead.
// OAUTHBEARER (src/auth/oauthbearer.ts) verifies a JWT against the JWKS; the principal is its subject claim, and
// the session's lifetime is capped by the token's `exp` when --connections-max-reauth-ms is set.
import { clipName } from '../protocol/clip.ts'
import { pbkdf2 } from 'node:crypto'
import { timingSafeEqual } from 'node:crypto'
import { count } from '../counters.ts'
import type { KafkaPrincipal } from './principal.ts'
import {
  keysFromSaltedPassword, kInvalidCredentials, kScramSha256, kScramSha512, ScramError, ScramServer,
  scramMechanismByName, type CredentialLookup
} from './scram.ts'
import type { SaslMechanismName } from './credentials.ts'
import { OAuthBearerServer, type OAuthBearerValidator } from './oauthbearer.ts'

/** API keys served before authentication. */
const kApiVersions = 18
const kSaslHandshake = 17
const kSaslAuthenticate = 36

export type SaslState = 'handshake' | 'authenticate' | 'authenticated' | 'failed'

export interface SaslOptions {
  /** sasl.enabled.mechanisms, in the order SaslHandshake lists them. */
  readonly mechanisms: readonly SaslMechanismName[]
  readonly lookup: CredentialLookup
  /** connections.max.reauth.ms; 0: sessions do not expire. */
  readonly reauthMs: number
  /** OAUTHBEARER's token verifier (src/auth/oauthbearer.ts); needed only when OAUTHBEARER is enabled. */
  readonly oauthBearer?: OAuthBearerValidator | null
}

export type SaslStepResult =
  | { readonly kind: 'challenge', readonly bytes: Buffer }
  | { readonly kind: 'success', readonly bytes: Buffer, readonly principal: KafkaPrincipal, readonly sessionLifetimeMs: number }
  | { readonly kind: 'failure', readonly message: string }

// Kafka's error codes (as in credentials.ts).
const kUnsupportedSaslMechanism = 33
const kIllegalSaslState = 34

const kEmpty = Buffer.alloc(0)

/** The counter of an authentication's outcome: `sasl-authentication-succeeded-scram-sha-256` and the like. */
function countOutcome (outcome: 'succeeded' | 'failed', mechanism: string): void {
  count(`sasl-authentication-${outcome}-${mechanism.toLowerCase()}`)
}

export class SaslSession {
  readonly #options: SaslOptions
  #state: SaslState
  /** After a v0 handshake: tokens arrive raw (not as SaslAuthenticate requests). */
  #rawTokens: boolean
  #mechanism: SaslMechanismName | null
  #scram: ScramServer | null
  #oauthBearer: OAuthBearerServer | null
  /** The authenticated principal (kept through a re-authentication, which must name the same user). */
  #principal: KafkaPrincipal | null
  /** Date.now() at which the session expires; 0: never. */
  #expiresAt: number

  constructor (options: SaslOptions) {
    this.#options = options
    this.#state = 'handshake'
    this.#rawTokens = false
    this.#mechanism = null
    this.#scram = null
    this.#oauthBearer = null
    this.#principal = null
    this.#expiresAt = 0
  }

  get state (): SaslState {
    return this.#state
  }

  get rawTokens (): boolean {
    return this.#rawTokens
  }

  get mechanism (): SaslMechanismName | null {
    return this.#mechanism
  }

  get principal (): KafkaPrincipal | null {
    return this.#principal
  }

  /** Whether a request of `apiKey` may be served now; false closes the connection (the caller's part). */
  allows (apiKey: number): boolean {
    switch (this.#state) {
      case 'authenticated': return true
      case 'handshake': return apiKey === kApiVersions || apiKey === kSaslHandshake
      case 'authenticate': return !this.#rawTokens && apiKey === kSaslAuthenticate
      case 'failed': return false
    }
  }

  /** Whether an authenticated session is past its lifetime at `now`. */
  expired (now: number): boolean {
    return this.#state === 'authenticated' && this.#expiresAt !== 0 && now >= this.#expiresAt
  }

  /**
   * SaslHandshake: the mechanism is chosen (error UNSUPPORTED_SASL_MECHANISM when not enabled: the caller answers,
   * then closes). On an authenticated connection it begins a re-authentication, with the same mechanism only.
   */
  handshake (mechanism: string, version: number): { errorCode: number, errorMessage: string | null, mechanisms: string[] } {
    const mechanisms = [...this.#options.mechanisms]
    if (this.#state !== 'handshake' && this.#state !== 'authenticated') {
      this.#state = 'failed'
      return { errorCode: kIllegalSaslState, errorMessage: 'SaslHandshake in the middle of an authentication', mechanisms }
    }
    const enabled = this.#options.mechanisms.find((name) => name === mechanism)
    if (enabled === undefined || (this.#state === 'authenticated' && enabled !== this.#mechanism)) {
      this.#state = 'failed'
      return { errorCode: kUnsupportedSaslMechanism, errorMessage: `Unsupported SASL mechanism ${clipName(mechanism)}`, mechanisms }
    }
    this.#mechanism = enabled
    this.#rawTokens = version === 0
    const scram = scramMechanismByName(enabled)
    this.#scram = scram === undefined ? null : new ScramServer(scram, this.#options.lookup)
    const validator = this.#options.oauthBearer ?? null
    this.#oauthBearer = enabled === 'OAUTHBEARER' && validator !== null ? new OAuthBearerServer(validator) : null
    this.#state = 'authenticate'
    return { errorCode: 0, errorMessage: null, mechanisms }
  }

  /**
   * One SASL token of the exchange (SaslAuthenticate's authBytes or a raw token). A failure leaves the session
   * `failed`; success makes it `authenticated`. Never throws.
   */
  async authenticate (token: Buffer, now: number): Promise<SaslStepResult> {
    const mechanism = this.#mechanism
    if (this.#state !== 'authenticate' || mechanism === null) {
      this.#state = 'failed'
      return { kind: 'failure', message: 'SaslAuthenticate without a SaslHandshake' }
    }
    let user: string
    let bytes: Buffer
    /** OAUTHBEARER: when the token expires (KIP-368 caps the session there); 0 otherwise. */
    let credentialExpiresAt = 0
    try {
      if (mechanism === 'OAUTHBEARER') {
        if (this.#oauthBearer === null) throw new ScramError('Authentication failed: OAUTHBEARER has no JWKS (--sasl-oauthbearer-jwks-endpoint-url)')
        const step = await this.#oauthBearer.step(token, now)
        if (step.kind === 'challenge') return { kind: 'challenge', bytes: step.bytes }
        if (step.kind === 'failure') throw new ScramError(step.message)
        user = step.subject
        bytes = kEmpty
        credentialExpiresAt = step.expiresAtMs
      } else if (this.#scram !== null) {
        const step = this.#scram.step(token)
        if (!step.done) return { kind: 'challenge', bytes: step.message }
        user = step.user
        bytes = step.message
      } else {
        user = await this.#plain(token)
        bytes = kEmpty
      }
    } catch (error) {
      this.#state = 'failed'
      countOutcome('failed', mechanism)
      return { kind: 'failure', message: error instanceof ScramError ? error.message : 'Authentication failed' }
    }
    if (this.#principal !== null && this.#principal.name !== user) {
      this.#state = 'failed'
      countOutcome('failed', mechanism)
      return { kind: 'failure', message: 'Cannot change principals during re-authentication' }
    }
    this.#state = 'authenticated'
    this.#scram = null
    this.#oauthBearer = null
    this.#principal ??= Object.freeze({ type: 'User', name: user })
    // KIP-368: a session ends at connections.max.reauth.ms, or earlier when its credential (a JWT) expires first.
    const lifetime = this.#options.reauthMs > 0 && credentialExpiresAt > 0
      ? Math.max(1, Math.min(this.#options.reauthMs, credentialExpiresAt - now))
      : this.#options.reauthMs
    this.#expiresAt = lifetime > 0 ? now + lifetime : 0
    countOutcome('succeeded', mechanism)
    return { kind: 'success', bytes, principal: this.#principal, sessionLifetimeMs: lifetime }
  }

  /** PLAIN: the user it names, once its password matches the user's stored SCRAM keys. */
  async #plain (token: Buffer): Promise<string> {
    const first = token.indexOf(0)
    const second = first === -1 ? -1 : token.indexOf(0, first + 1)
    if (first === -1 || second === -1) throw new ScramError('Invalid SASL/PLAIN message: expected 3 tokens')
    const authzid = token.toString('utf8', 0, first)
    const user = token.toString('utf8', first + 1, second)
    const password = token.subarray(second + 1)
    if (user === '') throw new ScramError('Authentication failed: username not specified')
    if (password.length === 0) throw new ScramError('Authentication failed: password not specified')
    if (authzid !== '' && authzid !== user) throw new ScramError('Authentication failed: Client requested an authorization id that is different from username')
    for (const scram of [kScramSha256, kScramSha512]) {
      const keys = this.#options.lookup(user, scram)
      if (keys === undefined) continue
      // Off the event loop: thousands of iterations of PBKDF2 are milliseconds (libuv's thread pool).
      const salted = await new Promise<Buffer>((resolve, reject) => {
        pbkdf2(password, keys.salt, keys.iterations, scram.keyBytes, scram.hash, (error, key) => error === null ? resolve(key) : reject(error))
      })
      const derived = keysFromSaltedPassword(scram, salted, keys.salt, keys.iterations)
      if (derived.storedKey.length === keys.storedKey.length && timingSafeEqual(derived.storedKey, keys.storedKey)) return user
      break
    }
    throw new ScramError(kInvalidCredentials)
  }
}
