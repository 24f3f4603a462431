// The JSON Web Key Set OAUTHBEARER tokens are verified against (RFC 7517; Kafka's
// `sasl.oauthbearer.jwks.endpoint.url`, KIP-768): read from a `file://` path or fetched from an https (or http) URL
// when the set is created, then again every `sasl.oauthbearer.jwks.endpoint.refresh.ms`. A load that fails (the
// endpoint down, a file half written, JSON without usable keys) is logged and the last good set is kept; before
// the first good load the set is empty and every token is refused.
//
// Kept: the keys a JWS may be signed with here, RS256 (kty RSA) and ES256 (kty EC, crv P-256), each with its kid
// and the one algorithm it verifies. A key whose `alg` is something else, or whose `use` is not `sig`, is skipped.
// A token naming a kid the set lacks triggers one early reload (a rotated key), at most every
// kUnknownKidReloadMs, as Kafka's RefreshingHttpsJwks does.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createPublicKey, type KeyObject } from 'node:crypto'

export type JwsAlgorithm = 'RS256' | 'ES256'

export interface VerificationKey {
  /** The JWK's `kid`; '' when it has none (then it matches only a token without a kid). */
  readonly kid: string
  readonly alg: JwsAlgorithm
  readonly key: KeyObject
}

/** Least time between two reloads that a token with an unknown kid triggers. */
const kUnknownKidReloadMs = 10_000
/** Largest JWKS document read (a key set is a few KiB). */
const kMaxJwksBytes = 1 << 20

export type JwksLog = (message: string) => void

/** The keys of a JWKS document's `keys` array that verify RS256 or ES256; throws on a document that is not a key set. */
export function parseJwks (text: string): VerificationKey[] {
  const document = JSON.parse(text) as { keys?: unknown }
  if (document === null || typeof document !== 'object' || !Array.isArray(document.keys)) throw new Error('not a JWKS document (no "keys" array)')
  const keys: VerificationKey[] = []
  for (const jwk of document.keys as Array<Record<string, unknown>>) {
    if (jwk === null || typeof jwk !== 'object') continue
    if (jwk.use !== undefined && jwk.use !== 'sig') continue
    const alg = algorithmOf(jwk)
    if (alg === null) continue
    try {
      const key = createPublicKey({ key: jwk as any, format: 'jwk' })
      keys.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : '', alg, key })
    } catch {
      // A malformed key is skipped; the others still verify.
    }
  }
  return keys
}

/** The one algorithm a JWK verifies: its `alg`, else what its key type implies; null when not RS256 or ES256. */
function algorithmOf (jwk: Record<string, unknown>): JwsAlgorithm | null {
  const implied: JwsAlgorithm | null = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : null
  if (implied === null) return null
  if (jwk.alg !== undefined && jwk.alg !== implied) return null
  return implied
}

export class JwksKeySet {
  readonly url: string
  readonly #refreshMs: number
  readonly #log: JwksLog
  #keys: readonly VerificationKey[]
  #loading: Promise<void> | null
  #lastLoadStarted: number
  #timer: ReturnType<typeof setInterval> | null
  /** Settles once the first load has finished, good or bad. */
  readonly ready: Promise<void>

  constructor (url: string, refreshMs: number, log: JwksLog) {
    this.url = url
    this.#refreshMs = refreshMs
    this.#log = log
    this.#keys = []
    this.#loading = null
    this.#lastLoadStarted = 0
    this.#timer = null
    this.ready = this.reload()
    if (refreshMs > 0) {
      this.#timer = setInterval(reloadKeySet, refreshMs, this)
      this.#timer.unref()
    }
  }

  get keys (): readonly VerificationKey[] {
    return this.#keys
  }

  /** The key of `kid`, or undefined; an unknown kid starts an early reload (rate-limited) and waits for it. */
  async find (kid: string): Promise<VerificationKey | undefined> {
    await this.ready
    const found = this.#keys.find((candidate) => candidate.kid === kid)
    if (found !== undefined || Date.now() - this.#lastLoadStarted < kUnknownKidReloadMs) return found
    await this.reload()
    return this.#keys.find((candidate) => candidate.kid === kid)
  }

  /** Loads the set again; a failure is logged and keeps the keys held. Never rejects. */
  reload (): Promise<void> {
    if (this.#loading !== null) return this.#loading
    this.#lastLoadStarted = Date.now()
    this.#loading = this.#fetchText().then((text) => {
      const keys = parseJwks(text)
      if (keys.length === 0) throw new Error('no RS256 or ES256 signing key in the set')
      this.#keys = keys
    }).catch((error: Error) => {
      this.#log(`JWKS ${this.url}: load failed, keeping the ${this.#keys.length} key(s) held: ${error.message}`)
    }).finally(() => {
      this.#loading = null
    })
    return this.#loading
  }

  close (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  async #fetchText (): Promise<string> {
    if (this.url.startsWith('file:')) {
      const text = await readFile(fileURLToPath(this.url), 'utf8')
      if (text.length > kMaxJwksBytes) throw new Error('JWKS document too large')
      return text
    }
    const response = await fetch(this.url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    const text = await response.text()
    if (text.length > kMaxJwksBytes) throw new Error('JWKS document too large')
    return text
  }
}

function reloadKeySet (keySet: JwksKeySet): void {
  void keySet.reload()
}
