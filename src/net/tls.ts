// TLS for SSL and SASL_SSL listeners (node:tls), from PEM files (Kafka's ssl.keystore.type=PEM, by location).
//
// Who does what:
// - The main thread builds a context once at start (checkTlsFiles: a file that does not load stops the start with
//   a ConfigError) and again on SIGHUP (watchTlsReload); only a context that loads is announced to the workers
//   (`tls-reload`), so bad files on disk never reach a worker.
// - Each worker builds its own SecureContext (a SecureContext cannot cross threads) lazily for the first TLS
//   connection, and anew on `tls-reload`. A connection takes the context current when it is accepted and keeps it:
//   existing connections are not affected by a reload.
// - The handshake runs on the worker (wrapServerSocket); Connection#adoptTls reads the decrypted bytes, into
//   its arena where Node allows it (readDecryptedInto), else from 'data' events.

import { readFileSync } from 'node:fs'
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls'
import { Socket } from 'node:net'
import { ConfigError } from '../config/config-error.ts'
import { parsePrincipalMappingRules, type PrincipalMappingRule } from '../auth/principal-mapping.ts'

/** The TLS part of BrokerConfig (src/config/config.ts). */
export interface TlsSettings {
  readonly sslCertificateChain: string | null
  readonly sslPrivateKey: string | null
  readonly sslTruststore: string | null
  readonly sslClientAuth: 'none' | 'requested' | 'required'
  readonly sslPrincipalMappingRules: string
}

function readPem (path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new ConfigError(`${what}: cannot read ${path}: ${(error as Error).message}`)
  }
}

/**
 * A server context from the files as they are now. The chain file holds the key too unless --ssl-private-key
 * names one (OpenSSL's PEM reader skips the blocks of other types, so one file serves as both).
 */
export function buildServerContext (settings: TlsSettings): SecureContext {
  if (settings.sslCertificateChain === null) throw new ConfigError('--ssl-certificate-chain: a TLS listener needs a certificate chain')
  const cert = readPem(settings.sslCertificateChain, '--ssl-certificate-chain')
  const key = settings.sslPrivateKey === null ? cert : readPem(settings.sslPrivateKey, '--ssl-private-key')
  const ca = settings.sslTruststore === null ? undefined : readPem(settings.sslTruststore, '--ssl-truststore')
  try {
    return createSecureContext({ cert, key, ca })
  } catch (error) {
    throw new ConfigError(`--ssl-certificate-chain ${settings.sslCertificateChain}: cannot make a TLS context: ${(error as Error).message}`)
  }
}

/** At start, on the main thread: throws a ConfigError where the files do not make a context. */
export function checkTlsFiles (settings: TlsSettings): void {
  buildServerContext(settings)
}

/**
 * Main thread: SIGHUP rereads the files; `announce` is called (to tell the workers) only when they load, else
 * `failed` gets the reason and the workers keep the context they have. Returns the function that stops it.
 */
export function watchTlsReload (settings: TlsSettings, announce: () => void, failed: (reason: string) => void): () => void {
  const onHangup = (): void => {
    try {
      buildServerContext(settings)
    } catch (error) {
      failed((error as Error).message)
      return
    }
    announce()
  }
  process.on('SIGHUP', onHangup)
  return () => { process.off('SIGHUP', onHangup) }
}

// ---- worker side ------------------------------------------------------------------------------------------

let currentContext: SecureContext | null = null
let currentRules: PrincipalMappingRule[] | null = null

/** This worker's context for new connections (built on first use). */
export function serverContext (settings: TlsSettings): SecureContext {
  if (currentContext === null) currentContext = buildServerContext(settings)
  return currentContext
}

/** `tls-reload`: new connections get a context from the files as they are now; a failure keeps the old one. */
export function reloadServerContext (settings: TlsSettings): string | null {
  try {
    currentContext = buildServerContext(settings)
    return null
  } catch (error) {
    return (error as Error).message
  }
}

/** ssl.principal.mapping.rules, parsed once per worker (the config checked them at start). */
export function principalMappingRules (settings: TlsSettings): readonly PrincipalMappingRule[] {
  if (currentRules === null) currentRules = parsePrincipalMappingRules(settings.sslPrincipalMappingRules, '--ssl-principal-mapping-rules')
  return currentRules
}

/**
 * The server side of TLS over `raw`, with the current context. `required` lets OpenSSL refuse a client without
 * a valid certificate in the handshake; `requested` asks for one and leaves the verdict to the caller
 * (TLSSocket#authorized once 'secure' fires: a certificate that does not verify is refused there).
 */
export function wrapServerSocket (raw: Socket, settings: TlsSettings): TLSSocket {
  const clientAuth = settings.sslClientAuth
  return new TLSSocket(raw, {
    isServer: true,
    secureContext: serverContext(settings),
    requestCert: clientAuth !== 'none',
    rejectUnauthorized: clientAuth === 'required'
  })
}

/**
 * OpenSSL's verdict on the peer's certificate once the handshake is done: null where it verified against the
 * truststore, else the reason. Node sets TLSSocket#authorized only on the sockets of a tls.Server; ours is made
 * by hand on the worker, so this asks the TLS handle the way tls.Server does (a missing handle is a refusal).
 */
export function peerVerifyError (socket: TLSSocket): string | null {
  const handle = (socket as unknown as { _handle: { verifyError?: () => Error | null } | null })._handle
  if (handle === null || typeof handle.verifyError !== 'function') return 'no TLS handle to verify the certificate with'
  const error = handle.verifyError()
  return error === null || error === undefined ? null : ((error as Error & { code?: string }).code ?? error.message)
}

/** Where net.Socket keeps its `onread` state: the buffer (or true), the buffer generator and the callback. */
interface OnreadSymbols { readonly buffer: symbol, readonly generator: symbol, readonly callback: symbol }

let onreadSymbols: OnreadSymbols | null | undefined

/**
 * Node keeps a Socket's `onread` option under module-private symbols (Symbol('kBuffer'), Symbol('kBufferGen'),
 * Symbol('kBufferCb') in internal/stream_base_commons); they are found once, by description, on a Socket made
 * with `onread` and no handle. Null where this Node keeps them otherwise: TLS reads then use 'data'.
 */
function findOnreadSymbols (): OnreadSymbols | null {
  if (onreadSymbols !== undefined) return onreadSymbols
  const probe = new Socket({ onread: { buffer: () => Buffer.allocUnsafe(1), callback: () => true } })
  const byName = new Map<string, symbol>()
  for (const symbol of Object.getOwnPropertySymbols(probe)) {
    if (symbol.description !== undefined) byName.set(symbol.description, symbol)
  }
  probe.destroy()
  const buffer = byName.get('kBuffer')
  const generator = byName.get('kBufferGen')
  const callback = byName.get('kBufferCb')
  onreadSymbols = buffer !== undefined && generator !== undefined && callback !== undefined ? { buffer, generator, callback } : null
  return onreadSymbols
}

/**
 * Makes `socket` (a TLSSocket over a connected socket, before any application data) read the way a plaintext
 * Socket made with `onread` does: OpenSSL's decrypted bytes are copied by the TLS handle straight into the buffer
 * `nextBuffer` returns, and `onBytes(n)` is called; no Buffer, stream push or 'data' event per TLS record (16 KiB),
 * which measured a third of a TLS connection's worker CPU in a produce run (bench/README.md, "### TLS").
 * Node takes `onread` in `new TLSSocket()` only without an underlying socket, so this sets what net.Socket's
 * constructor would have set and switches the handle to the buffer (useUserBuffer, which the TLS handle has as a
 * stream). pause()/resume() then stop and start the handle, as on a plaintext socket; `onBytes` returning false
 * stops reading. OpenSSL may still hand over what it had decrypted from the current network read after a stop.
 * Returns false (nothing changed: read 'data' instead) where this Node does not allow it.
 */
export function readDecryptedInto (socket: TLSSocket, nextBuffer: () => Buffer, onBytes: (bytes: number) => boolean): boolean {
  const symbols = findOnreadSymbols()
  const handle = (socket as unknown as { _handle: { useUserBuffer?: (buffer: Buffer) => void } | null })._handle
  if (symbols === null || handle === null || typeof handle.useUserBuffer !== 'function') return false
  const first = nextBuffer()
  const fields = socket as unknown as Record<symbol, unknown>
  fields[symbols.buffer] = first
  fields[symbols.generator] = nextBuffer
  fields[symbols.callback] = onBytes
  handle.useUserBuffer(first)
  return true
}
