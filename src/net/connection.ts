// One client connection, owned by the worker the acceptor handed the socket to.
//
// Framing: int32 size, then the request (header + body). A size that is negative, below the smallest header or
// above --max-frame-bytes, or a request we cannot decode, closes this connection with a log line; nothing else
// is affected. Requests on a connection are handled concurrently, but answered strictly in request order: each
// request takes the next slot of a queue, and slots are written to the socket from the head as they complete.
// A request that needs no answer (Produce with acks=0) still takes a slot so that order holds around it.
//
// Reads: a plaintext socket reads straight into the connection's arena (`onread`); a TLS listener's socket
// (src/net/tls.ts) is a TLSSocket, whose handle copies the decrypted bytes into the arena; the same code frames them.
//
// Moving a connection: a connection's Produce and Fetch requests are served wherever their partitions live, the
// parts owned by other workers over the rings, which costs each such request about twice the CPU of a local one
// (bench/README, "Java-shaped requests"). So a connection whose last --connection-move-after-requests Produce/Fetch
// requests all went to one other worker's partitions (a producer or consumer of one partition, say) moves there:
//   1. it stops reading; what the kernel holds stays there, and complete frames already read are being handled;
//   2. once every request read is answered and every answer handed to the kernel (in order, as always), the
//      bytes read past the last complete frame (a partial frame) are copied out, and the socket's handle goes to
//      the main thread (postMessage, src/net/socket-transfer.ts), which hands it to the target worker;
//   3. that worker adopts it with those bytes first in its arena and the principal, and reads on.
// The client sees a pause of a few round trips, once. Only PLAINTEXT connections move (TLS and SASL state stay
// with their thread); one that is muted, draining or waiting for the memory budget does not, and a move waits at
// most kMoveWaitMs for its requests (a long poll) before it is called off. A connection moves at most once per
// kMoveCooldownMs. Fetch sessions belong to a worker's cache: after a move the client's next incremental fetch
// gets FETCH_SESSION_ID_NOT_FOUND and starts a new session, as after any session eviction.

import { Socket } from 'node:net'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { codecFor } from '../protocol/codec.ts'
import { requestHeader as requestHeaderDef } from '../protocol/messages/headers.ts'
import { requestHeaderVersion, responseHeaderVersion, type ApiEntry } from '../protocol/apis.ts'
import type { Shard } from '../shard/shard.ts'
import type { Handler } from '../handlers/handler.ts'
import { deriveErrorResponse, isErrorCodeField } from '../protocol/error-response.ts'
import { ErrorCode, KafkaError, errorName } from '../protocol/errors.ts'
import { count } from '../counters.ts'
import { kSmallestArenaBytes, releaseArena, releaseReaderArena, retainArena, takeArena, type Arena } from './arena-pool.ts'
import { workerBudget, type BudgetWaiter } from './memory-budget.ts'
import { prepareTransfer } from './socket-transfer.ts'
import { recordConnectionAccepted, recordConnectionClosed, recordError, recordRequest } from '../metrics/worker-metrics.ts'
import { kAnonymousPrincipal, type KafkaPrincipal } from '../auth/principal.ts'
import { QuotaKind } from '../quota/client-quotas.ts'
import { recordRequestTime } from '../quota/quota-sensors.ts'
import { SaslSession } from '../auth/sasl.ts'
import { isSaslListener, isTlsListener } from '../config/listeners.ts'
import { peerVerifyError, principalMappingRules, readDecryptedInto, wrapServerSocket } from './tls.ts'
import { distinguishedName, mapPrincipalName } from '../auth/principal-mapping.ts'
import type { TLSSocket } from 'node:tls'
import { lookupCredential } from '../auth/credentials.ts'
import { oauthBearerValidator } from '../auth/oauthbearer.ts'

/** What a connection moving from another worker brings (see "Moving a connection" above). */
export interface MovedConnection {
  /** Bytes read past the last complete frame: the start of the next request. */
  readonly prefix: Uint8Array
  readonly principal: KafkaPrincipal
}

/** How long a move waits for the requests in flight to be answered and written before it is called off. */
const kMoveWaitMs = 2000
/** A connection that moved (or arrived) does not move again for this long. */
const kMoveCooldownMs = 10_000

function moveWaitOver (connection: Connection): void {
  connection.moveWaitOver()
}

function continueMove (connection: Connection): void {
  connection.continueMove()
}

/** A handler's way of saying the request gets no response (acks=0 produce). */
export const kNoResponse: unique symbol = Symbol('shoal.noResponse')

export interface RequestContext {
  readonly shard: Shard
  readonly connection: Connection
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
  /** The request's bytes (header and body, the size field excluded): what producer_byte_rate charges, as Kafka's. */
  readonly requestBytes: number
  /** request_percentage's throttle of this request (set by the connection only when a request quota applies). */
  requestThrottleMs?: number
}

/** A response carries at least the request quota's throttle (every throttle_time_ms field is named throttleTimeMs). */
function applyRequestThrottle (response: { throttleTimeMs?: unknown }, throttleMs: number): void {
  if (typeof response.throttleTimeMs === 'number' && response.throttleTimeMs < throttleMs) response.throttleTimeMs = throttleMs
}

/** A quota throttle has passed: the connection reads again (Connection#throttle). Module-level: no closure per throttle. */
function endThrottle (connection: Connection): void {
  connection.endThrottle()
}

function authenticationTimedOut (connection: Connection): void {
  connection.authenticationTimedOut()
}

/**
 * Test-only (SHOAL_TEST_HOOKS=1, never set in production): a client id of `__shoal_test_throw__`,
 * `__shoal_test_reject__` or `__shoal_test_bad_response__` makes the handler throw, reject, or return a
 * response its definition cannot encode, so that tests can show each is contained. A client id of
 * `__shoal_test_principal__:NAME` makes the connection's principal User:NAME (authorization tests, before SASL).
 */
const kTestHooks = process.env.SHOAL_TEST_HOOKS === '1'
const kTestPrincipalPrefix = '__shoal_test_principal__:'

function testHookResult (clientId: string, handler: Handler, context: RequestContext, request: unknown): unknown {
  // `__shoal_test_principal__:alice`: the connection speaks for User:alice from here on (authorization tests).
  if (clientId.startsWith(kTestPrincipalPrefix)) {
    const name = clientId.slice(kTestPrincipalPrefix.length)
    if (context.connection.principal.name !== name) context.connection.principal = { type: 'User', name }
    return handler.handle(context, request)
  }
  switch (clientId) {
    case '__shoal_test_throw__': throw new Error('test hook: a handler bug')
    case '__shoal_test_reject__': return Promise.reject(new Error('test hook: an asynchronous handler bug'))
    case '__shoal_test_bad_response__': return deriveNullResponse(handler)
    default: return handler.handle(context, request)
  }
}

/** A response no definition can encode: null in every field, and numbers beyond any int16 or int32. */
function deriveNullResponse (handler: Handler): object {
  const out: Record<string, number | null> = {}
  for (const field of handler.api.responseDef.fields) out[field.name] = /^u?int(8|16|32)$/.test(field.type) ? 2 ** 40 : null
  return out
}

/** Whether a response has an error code anywhere (an error response with none would read as a success). */
function carriesError (response: object): boolean {
  for (const [key, value] of Object.entries(response)) {
    if (isErrorCodeField(key) && typeof value === 'number' && value !== 0) return true
    if (Array.isArray(value)) {
      for (const element of value) if (element !== null && typeof element === 'object' && carriesError(element)) return true
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && carriesError(value)) {
      return true
    }
  }
  return false
}

/**
 * The first non-zero error code anywhere in a response (top level first, then its entries in order), else 0:
 * what the per-request debug line reports. Only called at --log-level debug.
 */
function firstErrorCode (response: object): number {
  let nested = 0
  for (const [key, value] of Object.entries(response)) {
    if (isErrorCodeField(key) && typeof value === 'number') {
      if (value !== 0) return value
    } else if (nested === 0) {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && nested === 0; i++) {
          const element = value[i]
          if (element !== null && typeof element === 'object' && !Buffer.isBuffer(element)) nested = firstErrorCode(element)
        }
      } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
        nested = firstErrorCode(value)
      }
    }
  }
  return nested
}

/** How long a drained connection waits for the client to close after our FIN (see Connection#drain). */
const kDrainedCloseGraceMs = 1000

function destroySocket (socket: Socket): void {
  socket.destroy()
}

/** Smallest request: size excluded, int16 key + int16 version + int32 correlation id. */
const kMinimumRequestBytes = 8
/**
 * Idle connections (--connections-max-idle-ms): one timer per worker scans its connections every few seconds,
 * rather than a timer per connection; reads stamp a coarse clock the scan advances (no Date.now() per read).
 */
const liveConnections = new Set<Connection>()
let idleTimer: ReturnType<typeof setInterval> | null = null
let idleClock = Date.now()

function idleScanInterval (idleMs: number): number {
  return Math.min(5000, Math.max(10, Math.floor(idleMs / 4)))
}

/**
 * Bytes of a connection's first read arena (and the least of any): several typical produce requests fit in
 * one, and a small view kept for long (a long-polling fetch) pins little.
 */
const kArenaBytes = kSmallestArenaBytes
/** A read is not started into less free arena than this unless it completes a frame. */
const kMinReadBytes = 16 * 1024
/**
 * Frames expected to be larger than this (from the recent ones) do not size new arenas in advance, and a frame
 * larger than this gets its arena as its bytes arrive rather than when its size field does.
 */
const kMaxExpectedFrameBytes = 8 * 1024 * 1024

interface Slot {
  chunks: Buffer[] | null
  done: boolean
  /** The arena the request was framed in, until it is answered (its Buffers are views of it). */
  arena: Arena | null
  /** For the request metrics (src/metrics/): API key and version, and performance.now() when it was framed. */
  readonly apiKey: number
  readonly apiVersion: number
  readonly startedAt: number
  /** For the per-request debug line (#logAnswered): the header's ids, and the error code answered (0 for none). */
  readonly correlationId: number
  readonly clientId: string | null
  errorCode: number
}

export class Connection {
  readonly socket: Socket
  readonly shard: Shard
  readonly remote: string
  #arena: Arena
  /** Arena bytes [#frameStart, #readEnd) are read but not yet handled: the start of the next frame. */
  #frameStart: number
  #readEnd: number
  /** Size of the frame at #frameStart once its 4 size bytes are read, else -1. */
  #frameSize: number
  /** What the next frame (size field included) is expected to take, from the recent ones. */
  #expectedFrameBytes: number
  #slots: Slot[]
  #head: number
  #inFlight: number
  #closed: boolean
  #readPaused: boolean
  /** The peer's IP, read once (the handle is gone by the time the connection is closed). */
  readonly remoteIp: string | undefined
  /** --max-in-flight-requests-per-connection; reading pauses at it and resumes at half. */
  readonly #maxInFlight: number
  /** Reading paused because #maxInFlight requests were in flight (resumes once half are answered). */
  #inFlightPaused: boolean
  /** Bytes the frame being read reserved in the worker's memory budget (0: none). */
  #reserved: number
  /** Reading paused until the memory budget has room (this connection waits in it). */
  #budgetWaiting: boolean
  readonly #budgetWaiter: BudgetWaiter
  /** idleClock when bytes were last read (or a request was last in flight). */
  #lastActivity: number
  /** Shutdown (drain): frames read from here on are dropped unanswered; once nothing is in flight, the socket ends. */
  #draining: boolean
  /** The socket was ended after the drain (see #endDrained). */
  #drainEnded: boolean
  /** Who this connection speaks for: User:ANONYMOUS until (and unless) SASL authenticates it (src/auth/principal.ts). */
  principal: KafkaPrincipal
  /** The listener it came in on (src/config/listeners.ts): its name and security protocol. */
  readonly listenerName: string
  readonly securityProtocol: string
  /**
   * On a SASL listener, its SASL state (src/auth/sasl.ts), else null: then the pre-authentication gate of
   * #handleFrame costs this one null check per frame.
   */
  readonly sasl: SaslSession | null
  /** The largest frame read: --max-frame-bytes, or sasl.server.max.receive.size until SASL authenticates. */
  #frameLimit: number
  /** Set by closeAfterAnswers: once every answer so far is written, the socket is ended. */
  #closeAfterAnswers: string | null
  /** A client quota's mute (KIP-219): reading stays paused until this timer fires (see throttle). */
  #throttleTimer: ReturnType<typeof setTimeout> | null
  /** Date.now() when the current mute ends. */
  #throttledUntil: number
  /**
   * On a SASL listener until the first authentication succeeds: closes the connection when it fires
   * (--sasl-authentication-timeout-ms). Idleness alone does not bound a client that trickles a byte at a time.
   */
  #authenticationDeadline: ReturnType<typeof setTimeout> | null
  /** Moving (see the header): the worker this connection goes to once quiet, else -1. */
  #movingTo: number
  /** The move's wait for its answers to reach the kernel (polled), and its deadline (kMoveWaitMs). */
  #moveTimer: ReturnType<typeof setTimeout> | null
  #moveDeadline: ReturnType<typeof setTimeout> | null
  /** The socket's handle went to another worker: its 'close' here is not the connection's end. */
  #moved: boolean
  /** The other worker the recent Produce/Fetch requests all went to, and how many in a row. */
  #remoteOwner: number
  #remoteStreak: number
  /** Date.now() before which this connection does not move. */
  #movableAt: number

  /**
   * Takes over `transferred`, a socket handed over by the acceptor and not yet reading (pauseOnConnect). Its
   * handle moves to a new Socket that reads into our arena (`onread`): Node accepts `onread` only when a
   * Socket is constructed, and a transferred socket is constructed by Node itself.
   */
  static adopt (transferred: Socket, shard: Shard, listenerName = 'PLAINTEXT', moved?: MovedConnection): Connection | null {
    const handle = (transferred as unknown as { _handle: unknown })._handle
    if (handle === null || handle === undefined) {
      shard.logger.error('a transferred socket came without its handle: connection dropped')
      transferred.destroy()
      return null
    }
    ;(transferred as unknown as { _handle: unknown })._handle = null
    const listener = shard.config.listeners.find((candidate) => candidate.name === listenerName)
    if (listener !== undefined && isTlsListener(listener)) return Connection.#adoptTls(handle, shard, listenerName)
    // A moved connection's partial frame goes first in the arena; the first read lands after it.
    const prefixLength = moved?.prefix.length ?? 0
    const firstArena = takeArena(Math.max(kArenaBytes, prefixLength + kMinReadBytes))
    if (prefixLength > 0) firstArena.buffer.set(moved!.prefix, 0)
    let connection: Connection | null = null
    const socket = new Socket({
      handle: handle as any,
      readable: true,
      writable: true,
      onread: {
        // The first call comes from inside the Socket constructor, before the Connection exists.
        buffer: () => connection === null ? firstArena.buffer.subarray(prefixLength) : connection.#nextReadBuffer(),
        callback: (bytes: number) => connection!.#onRead(bytes)
      }
    })
    connection = new Connection(socket, shard, firstArena, listenerName)
    if (moved !== undefined) connection.#arrived(moved, prefixLength)
    return connection
  }

  /** Came from another worker (see the header): its principal, and the bytes it had read past its last frame. */
  #arrived (moved: MovedConnection, prefixLength: number): void {
    count('connections-moved-in')
    this.principal = moved.principal
    this.#movableAt = Date.now() + kMoveCooldownMs
    if (prefixLength > 0) this.#onRead(prefixLength)
  }

  /**
   * A socket of a TLS listener (src/net/tls.ts): the handshake runs here, on this worker. A TLSSocket reads
   * through OpenSSL, not `onread`: the TLS handle copies decrypted bytes into the arena (readDecryptedInto in
   * src/net/tls.ts), or, where Node does not allow that, its 'data' chunks are copied (#onDecrypted); both are framed
   * by the same #onRead. The plaintext path above is untouched by this.
   */
  static #adoptTls (handle: unknown, shard: Shard, listenerName: string): Connection | null {
    const raw = new Socket({ handle: handle as any, readable: true, writable: true })
    let socket: TLSSocket
    try {
      socket = wrapServerSocket(raw, shard.config)
    } catch (error) {
      // The worker's context did not load (the main thread checked the files at start: they changed since).
      count('tls-handshake-failures')
      shard.logger.limited('tls-context', 'error', `TLS connection dropped: ${(error as Error).message}`)
      raw.destroy()
      return null
    }
    const connection = new Connection(socket, shard, takeArena(kArenaBytes), listenerName)
    connection.#startTls(socket)
    return connection
  }

  /**
   * The handshake: done within --ssl-handshake-timeout-ms, or the connection closes; a failure (no client
   * certificate where one is required, a protocol error) closes it. Both count in tls-handshake-failures.
   * Closures here are per connection, not per read.
   */
  #startTls (socket: TLSSocket): void {
    const timeoutMs = this.shard.config.sslHandshakeTimeoutMs
    let secured = false
    const timer = setTimeout(() => {
      if (secured || this.#closed) return
      count('tls-handshake-failures')
      this.#closeForLimit('tls-handshake-timeout', `TLS handshake not done within ${timeoutMs} ms (--ssl-handshake-timeout-ms)`)
    }, timeoutMs)
    socket.once('secure', () => {
      secured = true
      clearTimeout(timer)
      this.#tlsSecured(socket)
    })
    socket.on('error', (error) => {
      if (secured) return
      clearTimeout(timer)
      count('tls-handshake-failures')
      this.shard.logger.limited('tls-handshake', 'warn', `TLS handshake with ${this.remote} failed: ${error.message}`)
    })
    socket.once('close', () => clearTimeout(timer))
    // Decrypted bytes straight into the arena, framed by #onRead as on plaintext; 'data' where Node does not allow it.
    if (readDecryptedInto(socket, () => this.#nextReadBuffer(), (bytes: number) => this.#onRead(bytes))) return
    socket.on('data', (chunk: Buffer) => this.#onDecrypted(chunk))
  }

  /**
   * The handshake is done. A client certificate that did not verify (ssl.client.auth=requested lets the handshake
   * finish) is refused. On SSL the certificate's subject, mapped by ssl.principal.mapping.rules, is the principal
   * (none: User:ANONYMOUS); on SASL_SSL the SASL exchange names it.
   */
  #tlsSecured (socket: TLSSocket): void {
    const certificate = socket.getPeerX509Certificate()
    if (certificate === undefined) return
    const verifyError = peerVerifyError(socket)
    if (verifyError !== null) {
      count('tls-handshake-failures')
      this.#closeForLimit('tls-client-certificate', `client certificate refused: ${verifyError}`)
      return
    }
    if (this.sasl !== null) return
    const subject = distinguishedName(certificate.subject)
    const name = mapPrincipalName(principalMappingRules(this.shard.config), subject)
    if (name === null) {
      count('tls-principal-mapping-failures')
      this.#closeForLimit('tls-principal-mapping', `no ssl.principal.mapping.rules rule maps the client certificate's subject "${subject}"`)
      return
    }
    this.principal = { type: 'User', name }
  }

  /** A decrypted chunk of a TLS connection: copied into the arena where #nextReadBuffer says, then framed. */
  #onDecrypted (chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length && !this.#closed) {
      const target = this.#nextReadBuffer()
      const bytes = Math.min(target.length, chunk.length - offset)
      if (bytes === 0) {
        this.close('no arena room for a TLS read')
        return
      }
      chunk.copy(target, 0, offset, offset + bytes)
      offset += bytes
      this.#onRead(bytes)
    }
  }

  /** `arena` is where the socket's first read goes. */
  private constructor (socket: Socket, shard: Shard, arena: Arena, listenerName: string) {
    this.socket = socket
    this.shard = shard
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.#arena = arena
    this.#frameStart = 0
    this.#readEnd = 0
    this.#frameSize = -1
    this.#expectedFrameBytes = kMinReadBytes
    this.#slots = []
    this.#head = 0
    this.#inFlight = 0
    this.#closed = false
    this.#readPaused = false
    this.remoteIp = socket.remoteAddress
    this.#maxInFlight = shard.config.maxInFlightRequestsPerConnection
    this.#inFlightPaused = false
    this.#reserved = 0
    this.#budgetWaiting = false
    this.#budgetWaiter = () => this.#budgetAvailable()
    this.#lastActivity = idleClock
    this.#draining = false
    this.#drainEnded = false
    this.principal = kAnonymousPrincipal
    this.listenerName = listenerName
    const listener = shard.config.listeners.find((candidate) => candidate.name === listenerName)
    this.securityProtocol = listener?.securityProtocol ?? 'PLAINTEXT'
    this.sasl = isSaslListener(this)
      ? new SaslSession({
        mechanisms: shard.config.saslEnabledMechanisms,
        reauthMs: shard.config.connectionsMaxReauthMs,
        lookup: (user, mechanism) => lookupCredential(this.shard.table.scramCredentials, user, mechanism),
        oauthBearer: shard.config.oauthBearer === null ? null : oauthBearerValidator(shard.config.oauthBearer, (message) => shard.logger.limited('oauthbearer-jwks', 'warn', message))
      })
      : null
    this.#frameLimit = this.sasl === null ? shard.config.maxFrameBytes : shard.config.saslServerMaxReceiveSize
    this.#closeAfterAnswers = null
    this.#throttleTimer = null
    this.#throttledUntil = 0
    const authenticationTimeoutMs = shard.config.saslAuthenticationTimeoutMs
    this.#authenticationDeadline = this.sasl !== null && authenticationTimeoutMs > 0 ? setTimeout(authenticationTimedOut, authenticationTimeoutMs, this) : null
    this.#movingTo = -1
    this.#moveTimer = null
    this.#moveDeadline = null
    this.#moved = false
    this.#remoteOwner = -1
    this.#remoteStreak = 0
    this.#movableAt = 0
    workerBudget.limit = shard.config.queuedMaxRequestBytes
    liveConnections.add(this)
    recordConnectionAccepted()
    const idleMs = shard.config.connectionsMaxIdleMs
    if (idleTimer === null && idleMs > 0) {
      idleClock = Date.now()
      this.#lastActivity = idleClock
      idleTimer = setInterval(Connection.#scanIdle, idleScanInterval(idleMs), idleMs)
      idleTimer.unref()
    }
    socket.setNoDelay(true)
    socket.on('error', (error) => this.shard.logger.debug(`connection ${this.remote}: ${error.message}`))
    socket.on('close', () => this.#onClose())
    socket.on('drain', () => this.#maybeResume())
    socket.resume()
  }

  /** Requests read and not yet answered (or settled, for those with no answer). */
  get inFlight (): number {
    return this.#inFlight
  }

  /**
   * Graceful shutdown (Shard#drain): requests already read are handled and answered in order as usual; frames
   * that arrive from now on are read and dropped (a client learns of them as a closed connection, and resends
   * them to the broker after its restart). Once nothing is in flight, the socket is ended: the FIN follows the
   * last response. Reading goes on meanwhile, so that the kernel does not answer unread bytes with a reset, which
   * would discard responses still in its send buffer.
   */
  drain (): void {
    if (this.#draining) return
    this.#draining = true
    this.#cancelMove()
    if (this.#readPaused && !this.#closed) {
      this.#readPaused = false
      this.#inFlightPaused = false
      this.socket.resume()
    }
    if (this.#inFlight === 0) this.#endDrained()
  }

  #endDrained (): void {
    if (this.#closed || this.#drainEnded) return
    this.#drainEnded = true
    const socket = this.socket
    socket.end()
    // Everything is written to the kernel ('finish'): the client normally closes its side at once on our FIN;
    // one that does not is closed a moment later (the kernel still delivers what it holds). A client that does
    // not read keeps 'finish' from coming, and so the shutdown waiting, up to --shutdown-timeout-ms.
    socket.once('finish', () => {
      const timer = setTimeout(destroySocket, kDrainedCloseGraceMs, socket)
      socket.once('close', () => clearTimeout(timer))
    })
  }

  get closed (): boolean {
    return this.#closed
  }

  /**
   * Mutes the connection for a client quota (KIP-219): the throttled response goes out at once, carrying
   * throttle_time_ms, and no further request is read until `ms` have passed (requests already read go on). A
   * longer throttle while muted extends the mute; a shorter one changes nothing.
   */
  throttle (ms: number): void {
    if (this.#closed || !(ms > 0)) return
    ms = Math.min(ms, 2 ** 31 - 1)
    const until = Date.now() + ms
    if (this.#throttleTimer !== null) {
      if (until <= this.#throttledUntil) return
      clearTimeout(this.#throttleTimer)
    }
    count('quota-connections-muted')
    this.#throttledUntil = until
    this.#throttleTimer = setTimeout(endThrottle, ms, this)
    if (!this.#readPaused && !this.#draining) {
      this.#readPaused = true
      this.socket.pause()
    }
  }

  /** Whether a quota mute is in force (tests and the throttle's timer). */
  get throttled (): boolean {
    return this.#throttleTimer !== null
  }

  /** The mute's timer fired (endThrottle): read on unless another cause still pauses reading. */
  endThrottle (): void {
    if (this.#throttleTimer === null) return
    this.#throttleTimer = null
    count('quota-connections-unmuted')
    this.#maybeResume()
  }

  close (reason: string): void {
    if (this.#closed) return
    this.shard.logger.warn(`closing connection ${this.remote}: ${reason}`)
    this.#closed = true
    this.socket.destroy()
  }

  #onClose (): void {
    this.#closed = true
    recordConnectionClosed()
    // The connection reads no more; requests still running keep their own references.
    releaseReaderArena(this.#arena)
    if (this.#budgetWaiting) {
      this.#budgetWaiting = false
      workerBudget.cancel(this.#budgetWaiter)
    }
    if (this.#reserved !== 0) {
      const reserved = this.#reserved
      this.#reserved = 0
      workerBudget.give(reserved)
    }
    if (this.#throttleTimer !== null) {
      clearTimeout(this.#throttleTimer)
      this.#throttleTimer = null
    }
    if (this.#authenticationDeadline !== null) {
      clearTimeout(this.#authenticationDeadline)
      this.#authenticationDeadline = null
    }
    this.#clearMoveTimers()
    liveConnections.delete(this)
    if (liveConnections.size === 0 && idleTimer !== null) {
      clearInterval(idleTimer)
      idleTimer = null
    }
    // A moved connection lives on in another worker (the Shard already let it go).
    if (!this.#moved) this.shard.connectionClosed(this)
  }

  /** Closes for a limit a client can breach again and again: the log line is rate-limited per limit. */
  #closeForLimit (limit: string, reason: string): void {
    if (this.#closed) return
    this.shard.logger.limited(limit, 'warn', `closing connection ${this.remote}: ${reason}`)
    this.#closed = true
    this.socket.destroy()
  }

  /** The idle scan (one timer per worker): closes connections with nothing in flight that sent nothing for idleMs. */
  static #scanIdle (idleMs: number): void {
    idleClock = Date.now()
    // A read is stamped with the clock of the previous scan, so it may be up to one interval older than it is.
    const threshold = idleMs + idleScanInterval(idleMs)
    for (const connection of liveConnections) connection.#checkIdle(idleClock, idleMs, threshold)
  }

  #checkIdle (now: number, idleMs: number, threshold: number): void {
    if (this.#closed) return
    // A request in flight (a long poll) or a wait for the memory budget is not idleness; counting starts after.
    if (this.#inFlight > 0 || this.#budgetWaiting) {
      this.#lastActivity = now
      return
    }
    if (now - this.#lastActivity < threshold) return
    count('connections-closed-idle')
    this.#closeForLimit('connections-max-idle-ms', `idle for more than ${idleMs} ms (--connections-max-idle-ms)`)
  }

  /**
   * Where the kernel writes the next read (the onread buffer generator, called after every read). Frames are
   * handed to handlers as views of the arena, so a frame read in several pieces is still not copied. The arena
   * moves on (a new one; the old one lives as long as views of it do) when the frame being read would not fit in
   * what is left of it, and then only the bytes of that frame already read are copied. The frame's size is known
   * once its first 4 bytes are in; before that we expect it to be about as large as the recent ones (clients
   * send produce requests of similar sizes), so a new frame of 1 MiB starts in a fresh arena instead of in the
   * tail of the old one, and is then not copied either. A frame larger than an arena gets one of its own size
   * (above kMaxExpectedFrameBytes: one that grows with what has arrived).
   */
  #nextReadBuffer (): Buffer {
    const arena = this.#arena.buffer
    const pending = this.#readEnd - this.#frameStart
    const frameBytes = this.#frameSize === -1 ? this.#expectedFrameBytes : 4 + this.#frameSize
    const free = arena.length - this.#readEnd
    if (arena.length - this.#frameStart >= frameBytes && (free >= kMinReadBytes || this.#frameSize !== -1)) {
      return arena.subarray(this.#readEnd)
    }
    // Waiting for the memory budget (reads are paused): no arena for a frame not admitted yet. The first read
    // after the wait goes to what is left here, and the next buffer is sized then.
    if (this.#budgetWaiting && free > 0) return arena.subarray(this.#readEnd)
    // A very large frame in an arena that grows (below): read on until it is full.
    if (this.#frameSize !== -1 && frameBytes > kMaxExpectedFrameBytes && this.#frameStart === 0 && free >= kMinReadBytes) {
      return arena.subarray(this.#readEnd)
    }
    let size: number
    if (this.#budgetWaiting && this.#frameSize !== -1) {
      // This arena is full and its frame not admitted: room for a little more, never the declared size.
      size = Math.min(frameBytes, Math.max(kArenaBytes, 2 * pending))
    } else if (this.#frameSize === -1) {
      // An expected size gets some slack: the next request may be a little larger than the last.
      size = Math.max(kArenaBytes, frameBytes + (frameBytes >> 3))
    } else if (frameBytes <= kMaxExpectedFrameBytes) {
      size = Math.max(kArenaBytes, frameBytes)
    } else {
      // A very large frame is not allocated whole on the word of its size field (a client could declare
      // --max-frame-bytes on many connections and send nothing): its arena doubles as its bytes arrive, which
      // copies them about once more, for frames that are rare.
      size = Math.min(frameBytes, Math.max(kMaxExpectedFrameBytes, 2 * pending))
    }
    const next = takeArena(size)
    if (pending > 0) arena.copy(next.buffer, 0, this.#frameStart, this.#readEnd)
    releaseReaderArena(this.#arena)
    this.#arena = next
    this.#frameStart = 0
    this.#readEnd = pending
    return next.buffer.subarray(pending)
  }

  /** The onread callback: `bytes` more bytes are in the arena at #readEnd. Returning false stops reading. */
  #onRead (bytes: number): boolean {
    this.#readEnd += bytes
    this.#lastActivity = idleClock
    const arena = this.#arena.buffer
    while (!this.#closed) {
      const pending = this.#readEnd - this.#frameStart
      if (this.#frameSize === -1) {
        if (pending < 4) break
        const size = arena.readInt32BE(this.#frameStart)
        if (size < kMinimumRequestBytes || size > this.#frameLimit) {
          if (this.#frameLimit !== this.shard.config.maxFrameBytes) count('sasl-frames-too-large')
          this.close(`bad frame size ${size} (limit ${this.#frameLimit}${this.#frameLimit === this.shard.config.maxFrameBytes ? '' : ', sasl.server.max.receive.size before authentication'})`)
          return false
        }
        if (4 + size > workerBudget.limit) {
          // It could never be admitted (see memory-budget.ts): a framing error, like a size above the frame limit.
          count('requests-rejected-queued-max-request-bytes')
          this.#closeForLimit('queued-max-request-bytes-frame', `frame of ${size} bytes exceeds --queued-max-request-bytes ${workerBudget.limit}`)
          return false
        }
        this.#frameSize = size
      }
      if (pending < 4 + this.#frameSize) break
      if (this.#reserved !== 0) {
        // The frame is whole: from here its request's arena is charged instead.
        const reserved = this.#reserved
        this.#reserved = 0
        workerBudget.give(reserved)
      }
      const start = this.#frameStart + 4
      const frame = arena.subarray(start, start + this.#frameSize)
      this.#frameStart = start + this.#frameSize
      // Expect the next frame to be as large as this one, or as the recent larger ones (decaying by 1/8 a frame).
      const expected = this.#expectedFrameBytes - (this.#expectedFrameBytes >> 3)
      this.#expectedFrameBytes = Math.min(kMaxExpectedFrameBytes, Math.max(expected, 4 + this.#frameSize, kMinReadBytes))
      this.#frameSize = -1
      this.#handleFrame(frame)
    }
    if (!this.#closed && !this.#budgetWaiting && !this.#budgetAllows()) {
      this.#budgetWaiting = true
      count('read-paused-queued-max-request-bytes')
      this.shard.logger.limited('queued-max-request-bytes', 'warn', `worker memory budget full (${workerBudget.used} of --queued-max-request-bytes ${workerBudget.limit} held): connection ${this.remote} stops reading until requests are answered`)
      workerBudget.wait(this.#budgetWaiter)
      this.#pauseReading()
    }
    return !this.#closed && !this.#readPaused
  }

  /**
   * Whether this connection may read on under the memory budget: at a frame boundary, while the budget is not
   * exhausted; inside a frame, once the frame has reserved its declared size.
   */
  #budgetAllows (): boolean {
    if (this.#frameSize === -1) return !workerBudget.exhausted
    if (this.#reserved !== 0) return true
    if (!workerBudget.tryTake(4 + this.#frameSize)) return false
    this.#reserved = 4 + this.#frameSize
    return true
  }

  /** The budget's call when bytes came back: true once this connection reads on (or needs nothing: closed). */
  #budgetAvailable (): boolean {
    if (this.#closed) return true
    if (!this.#budgetAllows()) return false
    this.#budgetWaiting = false
    this.#lastActivity = idleClock
    this.#maybeResume()
    return true
  }

  #handleFrame (frame: Buffer): void {
    // Shutting down: no new request is started (see drain).
    if (this.#draining) return
    // SASL listeners only (sasl is null on PLAINTEXT ones): before authentication, SASL requests only.
    if (this.sasl !== null && !this.#passSaslGate(frame)) return
    const apiKey = frame.readInt16BE(0)
    const apiVersion = frame.readInt16BE(2)
    const handler = this.shard.handlers.get(apiKey)
    if (handler === undefined) {
      // Kafka closes a connection that sends an API key it does not know: nothing can be answered in it.
      count('requests-unknown-api')
      this.close(`unknown or unimplemented API key ${apiKey}`)
      return
    }
    const api = handler.api
    const reader = new Reader(frame)
    let header: { correlationId: number, clientId: string | null }
    try {
      header = codecFor(requestHeaderDef, requestHeaderVersion(api, apiVersion)).decode(reader)
    } catch (error) {
      // Without a header there is no correlation id to answer with: a framing error.
      count('requests-invalid')
      this.close(`undecodable ${api.name} v${apiVersion} request header: ${(error as Error).message}`)
      return
    }
    // Frames are only handed on from the arena being read (#onRead), so that is this request's arena.
    const slot: Slot = { chunks: null, done: false, arena: this.#arena, apiKey, apiVersion, startedAt: performance.now(), correlationId: header.correlationId, clientId: header.clientId, errorCode: 0 }
    retainArena(this.#arena)
    this.#slots.push(slot)
    this.#inFlight++
    if (this.#inFlight >= this.#maxInFlight) this.#pauseReading()
    const context: RequestContext = {
      shard: this.shard,
      connection: this,
      apiKey,
      apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      requestBytes: frame.length
    }
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      this.#answerUnsupported(slot, handler, context, reader)
      return
    }
    let request: any
    try {
      request = api.request(apiVersion).decode(reader)
    } catch (error) {
      // What the definition forbids (a null, a string or array beyond its wire limits, bytes that run out) is
      // refused here, so handlers and encoders never see it.
      count('requests-invalid')
      this.shard.logger.limited(`invalid:${api.key}:${apiVersion}`, 'warn', `connection ${this.remote}: invalid ${api.name} v${apiVersion} request from client ${JSON.stringify(header.clientId)}: ${(error as Error).message}`)
      this.#answerError(slot, handler, context, null, ErrorCode.INVALID_REQUEST, 'the request could not be decoded')
      return
    }
    // A request that holds no view of its frame gives its arena back now, not when it is answered: a long poll
    // held for seconds must not keep a whole arena charged to the memory budget (a thousand idle consumers
    // would pause every connection of the worker).
    if (!api.requestHoldsViews && slot.arena !== null) {
      releaseArena(slot.arena)
      slot.arena = null
    }
    // request_percentage (KIP-124): the handler's synchronous time on this worker, timed only when some entity
    // has a request quota (without one this is the request's one quota check).
    const quotas = this.shard.table.quotas
    const timed = quotas.enabled[QuotaKind.REQUEST]
    const handleStart = timed ? performance.now() : 0
    let result
    try {
      result = kTestHooks && header.clientId !== null && header.clientId.startsWith('__shoal_test_')
        ? testHookResult(header.clientId, handler, context, request)
        : handler.handle(context, request)
    } catch (error) {
      this.#failed(slot, handler, context, request, error)
      return
    }
    if (timed) context.requestThrottleMs = recordRequestTime(quotas, this.principal.name, header.clientId, performance.now() - handleStart, this.shard.config, this)
    if (result instanceof Promise) {
      result.then(
        (response) => this.#complete(slot, handler, context, request, response),
        (error: unknown) => this.#failed(slot, handler, context, request, error)
      )
    } else {
      this.#complete(slot, handler, context, request, result)
    }
  }

  /**
   * Whether a frame on a SASL listener goes on to be handled as a request (src/auth/sasl.ts): always once
   * authenticated, unless the session expired (closed unanswered, as Kafka closes an expired channel at its next
   * request); before, only the SASL requests, and raw tokens after a v0 handshake (answered here). Anything else
   * closes the connection unanswered, as Kafka does; frames after a failed authentication are dropped.
   */
  #passSaslGate (frame: Buffer): boolean {
    const session = this.sasl as SaslSession
    const state = session.state
    if (state === 'authenticated') {
      if (this.shard.config.connectionsMaxReauthMs === 0 || !session.expired(Date.now())) return true
      count('sasl-sessions-expired')
      this.close(`SASL session of ${this.principal.type}:${this.principal.name} expired (--connections-max-reauth-ms ${this.shard.config.connectionsMaxReauthMs}) without re-authentication`)
      return false
    }
    if (state === 'failed' || this.#closeAfterAnswers !== null) return false
    if (state === 'authenticate' && session.rawTokens) {
      this.#answerRawToken(session, frame)
      return false
    }
    const apiKey = frame.readInt16BE(0)
    if (session.allows(apiKey)) return true
    count('sasl-requests-before-authentication')
    this.close(`API key ${apiKey} before SASL authentication (${state === 'handshake' ? 'expected ApiVersions or SaslHandshake' : 'expected SaslAuthenticate'})`)
    return false
  }

  /**
   * A raw SASL token (after a v0 SaslHandshake): answered with the raw challenge, size-prefixed, in its place in
   * the answer order; a failure closes the connection after the failed-authentication delay (a raw exchange has
   * no way to carry an error).
   */
  #answerRawToken (session: SaslSession, frame: Buffer): void {
    const slot: Slot = { chunks: null, done: false, arena: null, apiKey: 36, apiVersion: 0, startedAt: performance.now(), correlationId: -1, clientId: null, errorCode: 0 }
    this.#slots.push(slot)
    this.#inFlight++
    // The token is a view of the read arena: copied before the exchange may wait (PLAIN's key stretching).
    session.authenticate(Buffer.from(frame), Date.now()).then((result) => {
      if (result.kind === 'failure') {
        slot.errorCode = ErrorCode.SASL_AUTHENTICATION_FAILED
        this.closeAfterAnswers(`SASL authentication failed: ${result.message}`)
        setTimeout(() => this.#settle(slot), this.shard.config.connectionFailedAuthenticationDelayMs)
        return
      }
      const answer = Buffer.allocUnsafe(4 + result.bytes.length)
      answer.writeInt32BE(result.bytes.length, 0)
      result.bytes.copy(answer, 4)
      slot.chunks = [answer]
      if (result.kind === 'success') this.saslAuthenticated(result.principal)
      this.#settle(slot)
    }, (error: unknown) => {
      this.close(`SASL exchange failed: ${(error as Error).message}`)
      this.#settle(slot)
    })
  }

  /** SASL authenticated the connection (or re-authenticated it) as `principal`: frames up to --max-frame-bytes. */
  saslAuthenticated (principal: KafkaPrincipal): void {
    this.principal = principal
    this.#frameLimit = this.shard.config.maxFrameBytes
    if (this.#authenticationDeadline !== null) {
      clearTimeout(this.#authenticationDeadline)
      this.#authenticationDeadline = null
    }
  }

  /** The authentication deadline fired: a connection that has not authenticated by now is closed. */
  authenticationTimedOut (): void {
    this.#authenticationDeadline = null
    if (this.#closed || this.sasl === null || this.sasl.state === 'authenticated') return
    count('sasl-authentication-timeouts')
    this.#closeForLimit('sasl-authentication-timeout', `not authenticated within ${this.shard.config.saslAuthenticationTimeoutMs} ms (--sasl-authentication-timeout-ms)`)
  }

  /**
   * The connection ends once every request read so far is answered (a failed authentication, an unsupported
   * SASL mechanism): nothing read from now on is handled.
   */
  closeAfterAnswers (reason: string): void {
    if (this.#closeAfterAnswers !== null) return
    this.#closeAfterAnswers = reason
    this.shard.logger.limited('sasl-close-after-answers', 'warn', `closing connection ${this.remote} once answered: ${reason}`)
  }

  /**
   * A handler threw: a bug on our side (or a KafkaError for the whole request). It is logged with the request's
   * API, version and client id, counted, and answered in order with the API's error response.
   */
  #failed (slot: Slot, handler: Handler, context: RequestContext, request: unknown, error: unknown): void {
    const api = handler.api
    if (error instanceof KafkaError) {
      this.#answerError(slot, handler, context, request, error.code, error.message)
      return
    }
    count('request-handler-errors')
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
    this.shard.logger.limited(`failed:${api.key}:${context.apiVersion}`, 'error', `${api.name} v${context.apiVersion} from client ${JSON.stringify(context.clientId)} (${this.remote}): handler failed: ${text}`)
    this.#answerError(slot, handler, context, request, ErrorCode.UNKNOWN_SERVER_ERROR, 'internal error')
  }

  /**
   * A version outside the handler's range. Kafka answers an ApiVersions it does not know with v0 and
   * UNSUPPORTED_VERSION (and the key list); other APIs get their error response in the version asked for, when
   * the definitions know that version, else the connection closes (it cannot be answered in a format the
   * client reads).
   */
  #answerUnsupported (slot: Slot, handler: Handler, context: RequestContext, reader: Reader): void {
    const api = handler.api
    count('requests-unsupported-version')
    slot.errorCode = ErrorCode.UNSUPPORTED_VERSION
    if (api.key === 18) {
      const response = handler.unsupported?.(this.shard) ?? null
      if (response !== null && this.#encodeInto(slot, api, 0, context.correlationId, response)) {
        this.#settle(slot)
        return
      }
    } else if (api.hasVersion(context.apiVersion)) {
      let request: unknown = null
      try {
        request = api.request(context.apiVersion).decode(reader)
      } catch {}
      this.#answerError(slot, handler, context, request, ErrorCode.UNSUPPORTED_VERSION, `${api.name} v${context.apiVersion} is not supported`)
      return
    }
    this.close(`unsupported ${api.name} version ${context.apiVersion}`)
    this.#settle(slot)
  }

  /**
   * Answers `request` with `errorCode` in every entry: the handler's own error response or the derived one; if
   * even that cannot be encoded, the derived response of an undecodable request (top-level errors only). Two
   * cases cannot carry the error, and close the connection as Kafka does, so that the client learns of it: a
   * request that gets no response (Produce, whose acks are unknown when it cannot be decoded), and a response
   * with no error field left to fill (Metadata v8 of a request that could not be decoded would read as an
   * empty cluster).
   */
  #answerError (slot: Slot, handler: Handler, context: RequestContext, request: unknown, errorCode: number, errorMessage: string | null): void {
    const api = handler.api
    const version = context.apiVersion
    recordError(api.key, errorCode)
    slot.errorCode = errorCode
    if (api.key === 0 && (request === null || (request as { acks?: number }).acks === 0)) {
      this.close(`${api.name} v${version} failed with ${errorName(errorCode)} and has no response to carry it`)
      this.#settle(slot)
      return
    }
    const fromRequest = request === null ? null : this.#errorResponse(handler, version, request, errorCode, errorMessage)
    const answered = (fromRequest !== null && carriesError(fromRequest) && this.#encodeInto(slot, api, version, context.correlationId, fromRequest)) ||
      this.#encodeTopLevelError(slot, api, version, context.correlationId, errorCode, errorMessage)
    if (!answered) this.close(`${api.name} v${version} failed with ${errorName(errorCode)}, which its response cannot carry`)
    this.#settle(slot)
  }

  #encodeTopLevelError (slot: Slot, api: ApiEntry, version: number, correlationId: number, errorCode: number, errorMessage: string | null): boolean {
    const response = deriveErrorResponse(api, version, null, errorCode, errorMessage)
    return carriesError(response) && this.#encodeInto(slot, api, version, correlationId, response)
  }

  #errorResponse (handler: Handler, version: number, request: unknown, errorCode: number, errorMessage: string | null): object | null {
    try {
      return handler.errorResponse?.(request, version, errorCode, errorMessage) ?? deriveErrorResponse(handler.api, version, request, errorCode, errorMessage)
    } catch (error) {
      this.shard.logger.limited(`error-response:${handler.api.key}`, 'error', `${handler.api.name} v${version}: error response failed: ${(error as Error).stack ?? String(error)}`)
      return null
    }
  }

  /** Encodes `response` as the slot's answer; false (nothing kept) when the encoder refuses it. */
  #encodeInto (slot: Slot, api: ApiEntry, version: number, correlationId: number, response: unknown): boolean {
    if (response === null) return false
    const writer = new Writer()
    try {
      writer.startFrame()
      writer.int32(correlationId)
      if (responseHeaderVersion(api, version) === 1) writer.unsignedVarint(0)
      api.response(version).encode(writer, response)
      slot.chunks = writer.finishFrame()
      return true
    } catch (error) {
      count('response-encode-errors')
      this.shard.logger.limited(`encode:${api.key}`, 'error', `${api.name} v${version} response could not be encoded: ${(error as Error).stack ?? String(error)}`)
      return false
    }
  }

  #complete (slot: Slot, handler: Handler, context: RequestContext, request: unknown, response: unknown): void {
    if (this.#closed || slot.done) {
      this.#settle(slot)
      return
    }
    // Only at debug: the walk finds the error code the per-request line reports (see #logAnswered).
    if (this.shard.logger.debugEnabled && response !== null && typeof response === 'object') slot.errorCode = firstErrorCode(response)
    if (context.requestThrottleMs !== undefined && context.requestThrottleMs > 0 && response !== null && typeof response === 'object') applyRequestThrottle(response, context.requestThrottleMs)
    if (response !== kNoResponse && !this.#encodeInto(slot, handler.api, context.apiVersion, context.correlationId, response)) {
      // A response the handler built but the definition cannot carry (a null where none is allowed, a number
      // out of range): a bug, answered like a thrown one.
      count('request-handler-errors')
      this.#answerError(slot, handler, context, request, ErrorCode.UNKNOWN_SERVER_ERROR, 'internal error')
      return
    }
    this.#settle(slot)
  }

  /** The slot is answered (or needs no answer): release its arena and write what is ready, in order. */
  #settle (slot: Slot): void {
    if (slot.done) return
    // Answered: the handler is done with the request's views (responses hold none of them; see arena-pool.ts).
    if (slot.arena !== null) {
      releaseArena(slot.arena)
      slot.arena = null
    }
    slot.done = true
    this.#inFlight--
    const seconds = (performance.now() - slot.startedAt) / 1000
    recordRequest(slot.apiKey, slot.apiVersion, seconds)
    // One comparison at info: the line and its fields are built only at debug.
    if (this.shard.logger.debugEnabled) this.#logAnswered(slot, seconds)
    this.#flush()
    if (this.#draining && this.#inFlight === 0) this.#endDrained()
    if (this.#movingTo !== -1 && this.#inFlight === 0) this.continueMove()
  }

  /** --log-level debug: one line per request answered (or settled without an answer: acks=0, a closed connection). */
  #logAnswered (slot: Slot, seconds: number): void {
    const api = this.shard.handlers.get(slot.apiKey)?.api.name ?? `api ${slot.apiKey}`
    const latencyMs = Math.round(seconds * 1e6) / 1000
    const error = slot.errorCode === 0 ? '' : `: ${errorName(slot.errorCode)} (${slot.errorCode})`
    this.shard.logger.debug(`${api} v${slot.apiVersion} from client ${JSON.stringify(slot.clientId)} (${this.remote}), correlation id ${slot.correlationId}: ${latencyMs} ms${error}`, {
      api,
      apiVersion: slot.apiVersion,
      clientId: slot.clientId,
      correlationId: slot.correlationId,
      remote: this.remote,
      latencyMs,
      errorCode: slot.errorCode
    })
  }

  #flush (): void {
    if (this.#closed) return
    const socket = this.socket
    let corked = false
    while (this.#head < this.#slots.length && this.#slots[this.#head].done) {
      const chunks = this.#slots[this.#head].chunks
      this.#slots[this.#head++] = undefined as unknown as Slot
      if (chunks === null) continue
      if (!corked) { socket.cork(); corked = true }
      for (let i = 0; i < chunks.length; i++) socket.write(chunks[i])
    }
    if (corked) socket.uncork()
    if (this.#head === this.#slots.length) {
      this.#slots.length = 0
      this.#head = 0
      if (this.#closeAfterAnswers !== null) {
        // Everything asked so far is written: the FIN follows the last answer.
        this.#closed = true
        socket.end()
        socket.once('finish', () => socket.destroy())
        return
      }
    } else if (this.#head > 256) {
      this.#slots.splice(0, this.#head)
      this.#head = 0
    }
    if (socket.writableNeedDrain) this.#pauseReading()
    else this.#maybeResume()
  }

  /** Stops reading: too many requests in flight, a socket that needs draining, or the memory budget. */
  #pauseReading (): void {
    if (this.#inFlight >= this.#maxInFlight && !this.#inFlightPaused) {
      this.#inFlightPaused = true
      count('read-paused-max-in-flight-requests')
    }
    if (this.#readPaused) return
    this.#readPaused = true
    this.socket.pause()
  }

  /** Reads on once every cause of the pause is gone (in-flight requests: once half of the limit are answered). */
  #maybeResume (): void {
    if (!this.#readPaused || this.#closed || this.#movingTo !== -1) return
    if (this.#inFlightPaused) {
      if (this.#inFlight >= this.#maxInFlight / 2) return
      this.#inFlightPaused = false
    }
    if (this.#inFlight >= this.#maxInFlight || this.socket.writableNeedDrain || this.#budgetWaiting || this.#throttleTimer !== null) return
    this.#readPaused = false
    this.socket.resume()
  }
  /**
   * Produce and Fetch tell which workers own the partitions of each request (src/handlers/partitioned.ts,
   * groupByOwner): after --connection-move-after-requests in a row that all went to one other worker, the
   * connection moves there (see the header). A few comparisons per request.
   */
  noteRequestOwners (owners: ReadonlyMap<number, unknown>): void {
    const after = this.shard.config.connectionMoveAfterRequests
    if (after === 0 || this.#movingTo !== -1) return
    let owner = -1
    if (owners.size === 1) for (const key of owners.keys()) owner = key
    if (owner === -1 || owner === this.shard.index) {
      this.#remoteStreak = 0
      return
    }
    if (owner !== this.#remoteOwner) {
      this.#remoteOwner = owner
      this.#remoteStreak = 0
    }
    if (++this.#remoteStreak >= after) this.#startMove(owner)
  }

  /** Whether nothing keeps this connection where it is (TLS, SASL, a mute, a drain, the memory budget). */
  #movable (): boolean {
    return !this.#closed && !this.#draining && this.securityProtocol === 'PLAINTEXT' && this.sasl === null &&
      this.#throttleTimer === null && !this.#budgetWaiting && this.#closeAfterAnswers === null
  }

  #startMove (to: number): void {
    this.#remoteStreak = 0
    if (!this.#movable() || this.shard.isDown(to)) return
    const now = Date.now()
    if (now < this.#movableAt) return
    this.#movableAt = now + kMoveCooldownMs
    this.#movingTo = to
    this.#moveDeadline = setTimeout(moveWaitOver, kMoveWaitMs, this)
    count('connection-moves-started')
    // Step 1: no more reads here. The request that asked is in flight, so the move goes on from #settle.
    if (!this.#readPaused) {
      this.#readPaused = true
      this.socket.pause()
    }
  }

  /**
   * Step 2 of a move, once nothing is in flight (from #settle, then from a timer while answers still wait to
   * reach the kernel): hands the socket over, or calls the move off when something now keeps it here.
   */
  continueMove (): void {
    if (this.#moveTimer !== null) {
      clearTimeout(this.#moveTimer)
      this.#moveTimer = null
    }
    if (this.#movingTo === -1 || this.#inFlight !== 0 || this.#head !== this.#slots.length) return
    if (!this.#movable()) {
      this.#cancelMove()
      return
    }
    const socket = this.socket
    if (socket.writableLength > 0) {
      this.#moveTimer = setTimeout(continueMove, 1, this)
      return
    }
    const refusal = prepareTransfer(socket)
    if (refusal !== null) {
      this.shard.logger.limited('connection-move', 'warn', `connection ${this.remote} stays on worker ${this.shard.index}: ${refusal}`)
      this.#cancelMove()
      return
    }
    const to = this.#movingTo
    const moved: MovedConnection = { prefix: Buffer.from(this.#arena.buffer.subarray(this.#frameStart, this.#readEnd)), principal: this.principal }
    // The next frame's first bytes go along (the kernel holds the rest): counted, as the case tests aim at.
    if (moved.prefix.length > 0) count('connection-moves-mid-frame')
    this.#moved = true
    if (!this.shard.handOver(this, socket, to, moved)) {
      this.#moved = false
      this.#cancelMove()
      return
    }
    this.#clearMoveTimers()
    count('connections-moved-out')
  }

  /** The move waited kMoveWaitMs for its requests (a long poll, a client not reading its answers): called off. */
  moveWaitOver (): void {
    this.#moveDeadline = null
    if (this.#movingTo === -1 || this.#moved) return
    count('connection-moves-timed-out')
    this.#cancelMove()
  }

  /** A move called off: the connection reads on here (unless something else pauses it). */
  #cancelMove (): void {
    if (this.#movingTo === -1) return
    this.#movingTo = -1
    this.#clearMoveTimers()
    this.#maybeResume()
  }

  #clearMoveTimers (): void {
    if (this.#moveTimer !== null) {
      clearTimeout(this.#moveTimer)
      this.#moveTimer = null
    }
    if (this.#moveDeadline !== null) {
      clearTimeout(this.#moveDeadline)
      this.#moveDeadline = null
    }
  }
}
