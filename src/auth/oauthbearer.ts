// SASL/OAUTHBEARER on the server (KIP-255, RFC 7628), with the JWT validation of KIP-768: the token is a JWS
// signed RS256 or ES256 by a key of the JWKS (src/auth/jwks.ts), and its claims are checked as Kafka's
// `sasl.oauthbearer.*` settings say.
//
// The exchange (RFC 7628 section 3):
//   client initial response   gs2-header `n,` [`a=` authzid] `,` then `\x01` key=value pairs each ended by `\x01`,
//                             the list ended by one more `\x01`: `n,,\x01auth=Bearer <jwt>\x01\x01`. Other keys are
//                             SASL extensions (KIP-342); none is validated or used here, as Kafka's default
//                             server callback ignores them.
//   valid token               success with empty server bytes; the principal is User:<claim
//                             sasl.oauthbearer.sub.claim.name>.
//   invalid token             the server answers (still a success at the Kafka level: SaslAuthenticate error NONE)
//                             with the JSON error `{"status":"invalid_token"}`; the client must answer `\x01`, and
//                             then the exchange fails (SASL_AUTHENTICATION_FAILED), as Kafka's OAuthBearerSaslServer
//                             does. Anything but `\x01` after the error fails it too.
//
// Token checks, in order: three base64url parts; the header's `alg` is RS256 or ES256 (never `none`) and equals
// the algorithm of the key its `kid` names; the signature verifies (ES256 signatures are raw r||s, IEEE P1363);
// `exp` is present and after now - skew; `nbf`, when present, is not after now + skew; `iss` equals
// sasl.oauthbearer.expected.issuer when that is set; `aud` (a string or an array) contains one of
// sasl.oauthbearer.expected.audience when that is set; the subject claim is a non-empty string.
import { verify } from 'node:crypto'
import { JwksKeySet, type JwksLog } from './jwks.ts'

export interface OAuthBearerConfig {
  /** sasl.oauthbearer.jwks.endpoint.url: `file:///path` or an https URL. */
  readonly jwksEndpointUrl: string
  /** sasl.oauthbearer.jwks.endpoint.refresh.ms. */
  readonly jwksRefreshMs: number
  /** sasl.oauthbearer.expected.audience; empty: any audience. */
  readonly expectedAudience: readonly string[]
  /** sasl.oauthbearer.expected.issuer; null: any issuer. */
  readonly expectedIssuer: string | null
  /** sasl.oauthbearer.sub.claim.name. */
  readonly subClaimName: string
  /** sasl.oauthbearer.clock.skew.seconds. */
  readonly clockSkewSeconds: number
}

export type TokenVerdict =
  | { readonly ok: true, readonly subject: string, readonly expiresAtMs: number }
  | { readonly ok: false, readonly reason: string }

/** The fields of a client initial response, or a reason it is malformed. */
export type InitialResponse =
  | { readonly ok: true, readonly authzid: string, readonly token: string, readonly extensions: ReadonlyMap<string, string> }
  | { readonly ok: false, readonly reason: string }

const kSeparator = '\x01'
const kMaxJwtLength = 64 * 1024

export function parseInitialResponse (bytes: Buffer): InitialResponse {
  const text = bytes.toString('utf8')
  const headerEnd = text.indexOf(',', 2)
  if (!text.startsWith('n,') || headerEnd === -1) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: bad GS2 header' }
  const authzField = text.slice(2, headerEnd)
  if (authzField !== '' && !authzField.startsWith('a=')) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: bad authorization id' }
  const rest = text.slice(headerEnd + 1)
  if (!rest.startsWith(kSeparator) || !rest.endsWith(kSeparator + kSeparator)) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: bad key-value list' }
  const extensions = new Map<string, string>()
  let token: string | null = null
  for (const pair of rest.slice(1, -2).split(kSeparator)) {
    const equals = pair.indexOf('=')
    if (equals <= 0) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: bad key-value pair' }
    const key = pair.slice(0, equals)
    const value = pair.slice(equals + 1)
    if (key === 'auth') {
      const match = /^Bearer +(\S+)$/i.exec(value)
      if (match === null) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: auth is not a Bearer token' }
      token = match[1]
    } else {
      extensions.set(key, value)
    }
  }
  if (token === null) return { ok: false, reason: 'Invalid OAUTHBEARER client first message: no auth' }
  return { ok: true, authzid: authzField.slice(2), token, extensions }
}

function decodeJsonPart (part: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null
  } catch {
    return null
  }
}

const kBase64Url = /^[A-Za-z0-9_-]*$/

/** Verifies a compact JWS/JWT against `keys` and `config` at `nowMs`. Never throws. */
export async function verifyJwt (jwt: string, keys: JwksKeySet, config: OAuthBearerConfig, nowMs: number): Promise<TokenVerdict> {
  if (jwt.length > kMaxJwtLength) return { ok: false, reason: 'token too large' }
  const parts = jwt.split('.')
  if (parts.length !== 3 || !parts.every((part) => kBase64Url.test(part))) return { ok: false, reason: 'malformed JWT: expected three base64url parts' }
  const header = decodeJsonPart(parts[0])
  const claims = decodeJsonPart(parts[1])
  if (header === null || claims === null) return { ok: false, reason: 'malformed JWT: header or claims are not a JSON object' }
  const alg = header.alg
  if (alg !== 'RS256' && alg !== 'ES256') return { ok: false, reason: `JWS algorithm ${JSON.stringify(alg)} is not allowed (RS256 or ES256)` }
  const kid = typeof header.kid === 'string' ? header.kid : ''
  const key = await keys.find(kid)
  if (key === undefined) return { ok: false, reason: `no key with kid ${JSON.stringify(kid)} in the JWKS` }
  if (key.alg !== alg) return { ok: false, reason: `JWS algorithm ${alg} does not match the key's ${key.alg}` }
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`)
  const signature = Buffer.from(parts[2], 'base64url')
  let valid: boolean
  try {
    valid = alg === 'RS256'
      ? verify('sha256', signed, key.key, signature)
      : signature.length === 64 && verify('sha256', signed, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
  } catch {
    valid = false
  }
  if (!valid) return { ok: false, reason: 'JWT signature verification failed' }
  const skewMs = config.clockSkewSeconds * 1000
  if (typeof claims.exp !== 'number') return { ok: false, reason: 'JWT has no numeric exp claim' }
  const expiresAtMs = claims.exp * 1000
  if (expiresAtMs <= nowMs - skewMs) return { ok: false, reason: 'JWT has expired' }
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number') return { ok: false, reason: 'JWT nbf claim is not a number' }
    if (claims.nbf * 1000 > nowMs + skewMs) return { ok: false, reason: 'JWT is not yet valid (nbf)' }
  }
  if (config.expectedIssuer !== null && claims.iss !== config.expectedIssuer) return { ok: false, reason: 'JWT issuer is not the expected issuer' }
  if (config.expectedAudience.length > 0) {
    const audience = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []
    if (!audience.some((entry) => config.expectedAudience.includes(entry))) return { ok: false, reason: 'JWT audience is not an expected audience' }
  }
  const subject = claims[config.subClaimName]
  if (typeof subject !== 'string' || subject === '') return { ok: false, reason: `JWT has no ${config.subClaimName} claim` }
  return { ok: true, subject, expiresAtMs }
}

/** One worker's OAUTHBEARER verifier: the config and its key set (loaded once per worker, refreshed by a timer). */
export class OAuthBearerValidator {
  readonly config: OAuthBearerConfig
  readonly keys: JwksKeySet

  constructor (config: OAuthBearerConfig, log: JwksLog) {
    this.config = config
    this.keys = new JwksKeySet(config.jwksEndpointUrl, config.jwksRefreshMs, log)
  }

  verify (jwt: string, nowMs: number): Promise<TokenVerdict> {
    return verifyJwt(jwt, this.keys, this.config, nowMs)
  }
}

let workerValidator: OAuthBearerValidator | null = null

/** The validator of this thread (one key set per worker, made on first use). */
export function oauthBearerValidator (config: OAuthBearerConfig, log: JwksLog): OAuthBearerValidator {
  if (workerValidator === null || workerValidator.config.jwksEndpointUrl !== config.jwksEndpointUrl) {
    workerValidator?.keys.close()
    workerValidator = new OAuthBearerValidator(config, log)
  }
  return workerValidator
}

export type OAuthBearerStep =
  | { readonly kind: 'challenge', readonly bytes: Buffer }
  | { readonly kind: 'success', readonly subject: string, readonly expiresAtMs: number }
  | { readonly kind: 'failure', readonly message: string }

const kErrorResponse = JSON.stringify({ status: 'invalid_token' })

/** One OAUTHBEARER exchange (server side): initial response, then, after an error, the client's `\x01`. */
export class OAuthBearerServer {
  readonly #validator: OAuthBearerValidator
  /** Why the token was refused, once the error JSON has been sent; the next token ends the exchange. */
  #refusal: string | null

  constructor (validator: OAuthBearerValidator) {
    this.#validator = validator
    this.#refusal = null
  }

  async step (token: Buffer, nowMs: number): Promise<OAuthBearerStep> {
    if (this.#refusal !== null) {
      // RFC 7628 3.2.3: the client acknowledges the error with a lone %x01; the exchange then fails either way.
      return { kind: 'failure', message: `Authentication failed: ${kErrorResponse} (${this.#refusal})` }
    }
    const initial = parseInitialResponse(token)
    if (!initial.ok) return { kind: 'failure', message: initial.reason }
    const verdict = await this.#validator.verify(initial.token, nowMs)
    if (!verdict.ok) {
      this.#refusal = verdict.reason
      return { kind: 'challenge', bytes: Buffer.from(kErrorResponse) }
    }
    if (initial.authzid !== '' && initial.authzid !== verdict.subject) {
      return { kind: 'failure', message: 'Authentication failed: Client requested an authorization id that is different from the token\'s principal name' }
    }
    return { kind: 'success', subject: verdict.subject, expiresAtMs: verdict.expiresAtMs }
  }
}
