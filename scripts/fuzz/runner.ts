// The fuzz loop: C connections, each pipelining generated (and often damaged) frames with a bounded number in
// flight, reading answers as they come; a liveness check on a fresh connection every `livenessEvery` frames;
// the broker's RSS and open fds sampled at the start, at each liveness check and at the end.
//
// Failures:
//   crash  our broker process exited, or a liveness check got no answer (connection refused, closed, 5 s)
//   hang   a frame unanswered for `hangMs` on a connection that is still open and in sync, even after a probe
//          (an ApiVersions request sent behind it: answers come in request order, so a probe answered means
//          that the frames before it just had no answer, as Produce acks=0 has none)
//   slow   a liveness check slower than `livenessMs`
// On a failure the last `keep` frames sent on every connection are saved to `out` (replay.ts sends them again).
//
// Answers are matched by correlation id, oldest first; an answer whose id matches nothing pending (a mutated
// header) is taken as the oldest one's. Answers to well-formed frames are also decoded with the project's
// codec; one that does not decode is counted (badResponses), not a failure. A connection closed by the broker
// is fine (it may close on anything malformed): the runner reconnects.
import { connect, type Socket } from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { apiByKey, kApis, responseHeaderVersion, type ApiEntry } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { requestHeader } from '../../src/protocol/messages/headers.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { parseVersions } from '../../src/protocol/schema.ts'
import { KafkaClient } from '../../test/helpers/kafka-client.ts'
import { generateFrame } from './generator.ts'
import { mutate } from './mutator.ts'
import { Prng } from './prng.ts'
import { openFds, rssMiB, startOwnBroker, type Target } from './broker.ts'

/** API keys the broker serves (README's table): most frames go to them. */
const kServed = new Set([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 24, 25, 26, 28, 32, 33, 37, 42, 44, 47, 60, 61, 65, 66, 68, 69])

export interface RunOptions {
  frames: number
  seed: number
  connections: number
  /** Frames in flight per connection. */
  window: number
  hangMs: number
  livenessEvery: number
  livenessMs: number
  /** Share of frames damaged by the mutator, and of frames written loose (lies the codec refuses). */
  mutateRate: number
  looseRate: number
  /** Approximate bytes of one generated request. */
  budget: number
  /** Frames kept per connection for the failure file. */
  keep: number
  out: string
  /** Only these API keys (all when null). */
  apis: ReadonlySet<number> | null
  /** --broker HOST:PORT, or null to start our own. */
  broker: string | null
  workers: number
  /** Restart our broker after a crash and go on (triage); otherwise the run stops at the first crash. */
  keepGoing: boolean
  log (line: string): void
}

export const kDefaultOptions: Omit<RunOptions, 'log'> = {
  frames: 100_000,
  seed: 1,
  connections: 4,
  window: 16,
  hangMs: 10_000,
  livenessEvery: 2000,
  livenessMs: 1000,
  mutateRate: 0.3,
  looseRate: 0.15,
  budget: 16 * 1024,
  keep: 64,
  out: 'fuzz-out',
  apis: null,
  broker: null,
  workers: 2,
  keepGoing: false
}

export interface Failure {
  readonly kind: 'crash' | 'hang' | 'slow'
  readonly atFrame: number
  readonly detail: string
  readonly file: string | null
}

export interface RunResult {
  frames: number
  answered: number
  closedByBroker: number
  longPolls: number
  elapsedMs: number
  failures: Failure[]
  crashes: number
  hangs: number
  slowLiveness: number
  livenessChecks: number
  maxLivenessMs: number
  badResponses: number
  badResponseExamples: string[]
  brokerErrorLines: number
  brokerErrorKinds: Array<[string, number]>
  rss: { start: number, max: number, end: number, afterDelete: number }
  fds: { start: number, max: number, end: number, afterDelete: number }
  topicsDeleted: number
}

export interface SentFrame {
  readonly n: number
  readonly apiKey: number
  readonly version: number
  readonly kind: 'valid' | 'loose' | 'mutated' | 'probe'
  readonly what: string
  readonly desync: boolean
  /** Likely to make the broker close the connection: sent only once nothing is in flight, and nothing after it until answered. */
  readonly risky: boolean
  readonly bytes: Buffer
}

interface Pending {
  readonly correlationId: number
  readonly sentAt: number
  readonly frame: SentFrame
  /** Decode the answer with this API's response codec (well-formed frames only). */
  readonly api: ApiEntry | null
}

/**
 * The maxWaitMs of a Fetch frame (a damaged one may legitimately ask the broker to wait for half an hour), or
 * -1 when the frame is not a Fetch or too damaged to tell.
 */
export function fetchMaxWaitMs (bytes: Buffer): number {
  if (bytes.length < 14 || bytes.readInt16BE(4) !== 1) return -1
  const version = bytes.readInt16BE(6)
  const clientIdLength = bytes.readInt16BE(12)
  let at = 14 + Math.max(0, clientIdLength)
  if (version >= 12) at += 1 // the header's (empty) tagged fields
  if (version < 15) at += 4 // replicaId
  return at + 4 <= bytes.length ? bytes.readInt32BE(at) : -1
}

function apiVersionsProbe (correlationId: number): Buffer {
  const writer = new Writer(64)
  writer.startFrame()
  codecFor(requestHeader, 1).encode(writer, { requestApiKey: 18, requestApiVersion: 0, correlationId, clientId: 'fuzz-probe' })
  return Buffer.concat(writer.finishFrame())
}

/** Chooses what the next frame is: API, version, well-formed/loose/mutated. */
class FrameSource {
  readonly #rng: Prng
  readonly #options: RunOptions
  readonly #served: Array<{ api: ApiEntry, low: number, high: number, targetLow: number, targetHigh: number }>
  readonly #other: Array<{ api: ApiEntry, low: number, high: number, targetLow: number, targetHigh: number }>

  constructor (rng: Prng, options: RunOptions) {
    this.#rng = rng
    this.#options = options
    const chosen = kApis.filter((api) => options.apis === null || options.apis.has(api.key)).map((api) => {
      const [low, high] = parseVersions(api.requestDef.validVersions)
      return { api, low, high, targetLow: Math.max(low, api.minVersion), targetHigh: Math.min(high, api.maxVersion) }
    })
    this.#served = chosen.filter((entry) => kServed.has(entry.api.key))
    this.#other = chosen.filter((entry) => !kServed.has(entry.api.key))
    if (chosen.length === 0) throw new Error('no API left to fuzz')
  }

  next (n: number, correlationId: number): { frame: SentFrame, api: ApiEntry | null, expectsResponse: boolean } {
    const rng = this.#rng
    const pool = this.#other.length === 0 || (this.#served.length > 0 && rng.chance(0.9)) ? this.#served : this.#other
    const entry = rng.pick(pool)
    let version = rng.chance(0.85) ? rng.int(entry.targetLow, entry.targetHigh) : rng.int(entry.low, entry.high)
    if (!entry.api.hasVersion(version)) version = entry.targetLow
    const loose = rng.chance(this.#options.looseRate)
    const generated = generateFrame(rng, entry.api, version, correlationId, { budget: rng.chance(0.02) ? 256 * 1024 : this.#options.budget, loose })
    const kind = loose ? 'loose' : 'valid'
    const risky = loose || !kServed.has(entry.api.key) || version < entry.targetLow || version > entry.targetHigh
    if (rng.chance(this.#options.mutateRate)) {
      const mutation = mutate(rng, generated.bytes)
      return {
        frame: { n, apiKey: entry.api.key, version, kind: 'mutated', what: `${kind} (${generated.what}) then ${mutation.what}`, desync: mutation.desync, risky: true, bytes: mutation.bytes },
        api: null,
        expectsResponse: generated.expectsResponse
      }
    }
    return {
      frame: { n, apiKey: entry.api.key, version, kind, what: generated.what, desync: false, risky, bytes: generated.bytes },
      api: kind === 'valid' ? entry.api : null,
      expectsResponse: generated.expectsResponse
    }
  }
}

class FuzzConnection {
  readonly index: number
  readonly #runner: Runner
  readonly #source: FrameSource
  #socket: Socket | null = null
  #connected = false
  #buffer: Buffer = Buffer.alloc(0)
  /** Chunks of a frame still arriving, joined once it is whole (joining every chunk is quadratic on big answers). */
  #partial: Buffer[] = []
  #partialBytes = 0
  #partialNeeded = 0
  readonly #pending: Pending[] = []
  #nextCorrelationId = 1
  /** A frame whose size lied was sent: nothing more is sent until the connection is replaced. */
  #desynced = false
  #probeSent = false
  #lastProgress = Date.now()
  readonly window: SentFrame[] = []
  #stopped = false
  /** A risky frame is in flight: nothing more is sent until it is answered (or the connection closes). */
  #barrier = false
  /** The next frame, generated but held back until the pipeline is empty (it is risky). */
  #held: { frame: SentFrame, api: ApiEntry | null, expectsResponse: boolean } | null = null
  #drained: (() => void) | null = null
  #writable = true

  constructor (runner: Runner, index: number, rng: Prng) {
    this.index = index
    this.#runner = runner
    this.#source = new FrameSource(rng, runner.options)
  }

  get pendingCount (): number {
    return this.#pending.length
  }

  open (): void {
    if (this.#stopped) return
    const target = this.#runner.target
    const socket = connect({ host: target.host, port: target.port, noDelay: true })
    this.#socket = socket
    this.#connected = false
    this.#desynced = false
    this.#barrier = false
    this.#probeSent = false
    this.#buffer = Buffer.alloc(0)
    this.#partial = []
    this.#partialBytes = 0
    this.#partialNeeded = 0
    this.#writable = true
    socket.on('error', () => {})
    socket.on('connect', () => {
      this.#connected = true
      this.#lastProgress = Date.now()
      this.pump()
    })
    socket.on('drain', () => {
      this.#writable = true
      this.pump()
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('close', () => {
      if (this.#socket !== socket) return
      this.#socket = null
      this.#connected = false
      if (this.#pending.length > 0 || this.#desynced) this.#runner.closedByBroker++
      this.#pending.length = 0
      this.#checkDrained()
      // Reconnect on the next turn (not in the close handler's stack).
      if (!this.#stopped && !this.#runner.done) setImmediate(() => this.open())
    })
  }

  pump (): void {
    const socket = this.#socket
    if (socket === null || !this.#connected || this.#desynced || this.#stopped) return
    if (this.#barrier && this.#pending.length > 0) return
    this.#barrier = false
    while (this.#writable && this.#pending.length < this.#runner.options.window) {
      let next = this.#held
      if (next === null) {
        const n = this.#runner.claimFrame()
        if (n < 0) break
        next = this.#source.next(n, this.#nextCorrelationId++)
      }
      const { frame, api, expectsResponse } = next
      // A frame likely to close the connection waits until nothing else is in flight, so that it costs no
      // other frame its answer.
      if (frame.risky && this.#pending.length > 0) {
        this.#held = next
        return
      }
      this.#held = null
      this.#remember(frame)
      const correlationId = frame.bytes.length >= 12 ? frame.bytes.readInt32BE(8) : -1
      if (expectsResponse || frame.kind === 'mutated') this.#pending.push({ correlationId, sentAt: Date.now(), frame, api })
      this.#writable = socket.write(frame.bytes)
      if (frame.desync) {
        this.#desynced = true
        // The broker may wait for bytes that never come, or close: either way this stream is done.
        setTimeout(() => { if (this.#socket === socket) socket.destroy() }, 200)
        break
      }
      if (frame.risky) {
        this.#barrier = true
        if (this.#pending.length > 0) break
      }
    }
  }

  #remember (frame: SentFrame): void {
    this.window.push(frame)
    if (this.window.length > this.#runner.options.keep) this.window.shift()
  }

  #onData (chunk: Buffer): void {
    if (this.#partialNeeded > 0) {
      this.#partial.push(chunk)
      this.#partialBytes += chunk.length
      if (this.#partialBytes < this.#partialNeeded) return
      chunk = Buffer.concat(this.#partial, this.#partialBytes)
      this.#partial = []
      this.#partialBytes = 0
      this.#partialNeeded = 0
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= 4) {
      const size = this.#buffer.readInt32BE(0)
      if (size < 4) {
        this.#runner.badResponse(`frame size ${size} from the broker on connection ${this.index}`)
        this.#socket?.destroy()
        return
      }
      if (this.#buffer.length < 4 + size) {
        this.#partial = [this.#buffer]
        this.#partialBytes = this.#buffer.length
        this.#partialNeeded = 4 + size
        this.#buffer = Buffer.alloc(0)
        return
      }
      const frame = this.#buffer.subarray(4, 4 + size)
      this.#buffer = this.#buffer.subarray(4 + size)
      this.#onFrame(frame)
    }
  }

  #onFrame (frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    this.#lastProgress = Date.now()
    this.#probeSent = false
    let matched = this.#pending.findIndex((p) => p.correlationId === correlationId)
    if (matched < 0) {
      if (this.#pending.length === 0) {
        this.#runner.badResponse(`unsolicited answer with correlation id ${correlationId} on connection ${this.index}`)
        return
      }
      matched = 0
    }
    const answered = this.#pending[matched]
    this.#pending.splice(0, matched + 1)
    this.#runner.answered++
    if (answered.api !== null && answered.correlationId === correlationId) this.#check(answered, frame)
    this.#checkDrained()
    this.pump()
  }

  /** Decodes the answer to a well-formed frame with the project's codec. */
  #check (pending: Pending, frame: Buffer): void {
    const api = pending.api as ApiEntry
    const version = pending.frame.version
    try {
      const reader = new Reader(frame, 4)
      if (responseHeaderVersion(api, version) === 1) {
        for (let tags = reader.unsignedVarint(); tags > 0; tags--) {
          reader.unsignedVarint()
          reader.skip(reader.unsignedVarint())
        }
      }
      // ApiVersions answers an unsupported version in v0.
      const codec = api.key === 18 && frame.length >= 6 && frame.readInt16BE(4) === 35 ? api.response(0) : api.response(version)
      codec.decode(reader)
      if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes left over`)
    } catch (error) {
      this.#runner.badResponse(`${api.name} v${version} (frame ${pending.frame.n}): answer does not decode: ${(error as Error).message}`)
    }
  }

  /** Called every half second: probes a quiet connection, reports a hang. */
  watch (now: number): void {
    if (this.#pending.length === 0 || this.#desynced || !this.#connected) return
    const oldest = this.#pending[0]
    const quiet = Math.min(now - oldest.sentAt, now - this.#lastProgress)
    if (quiet > 2000 && !this.#probeSent && this.#socket !== null) {
      this.#probeSent = true
      const correlationId = this.#nextCorrelationId++
      const bytes = apiVersionsProbe(correlationId)
      const frame: SentFrame = { n: -1, apiKey: 18, version: 0, kind: 'probe', what: 'probe', desync: false, risky: false, bytes }
      this.#remember(frame)
      this.#pending.push({ correlationId, sentAt: now, frame, api: null })
      this.#socket.write(bytes)
    }
    if (quiet > this.#runner.options.hangMs) {
      const maxWait = fetchMaxWaitMs(oldest.frame.bytes)
      if (oldest.frame.bytes.readInt16BE(4) === 1 && (maxWait < 0 || maxWait >= this.#runner.options.hangMs / 2 || oldest.frame.kind !== 'valid')) {
        // A long poll the frame asked for (its maxWaitMs damaged or lying): not a hang; this stream is given up.
        this.#runner.longPolls++
        this.#pending.length = 0
        this.#socket?.destroy()
        return
      }
      this.#runner.fail('hang', `connection ${this.index}: frame ${oldest.frame.n} (${apiByKey(oldest.frame.apiKey)?.name ?? oldest.frame.apiKey} v${oldest.frame.version}, ${oldest.frame.kind}: ${oldest.frame.what}) unanswered for ${quiet} ms on an open connection`)
      this.#pending.length = 0
      this.#socket?.destroy()
    }
  }

  /** Resolves once nothing is pending (or the connection is gone). */
  drain (): Promise<void> {
    return new Promise((resolve) => {
      this.#drained = resolve
      this.#checkDrained()
    })
  }

  #checkDrained (): void {
    if (this.#drained !== null && (this.#pending.length === 0 || this.#socket === null)) {
      const done = this.#drained
      this.#drained = null
      done()
    }
  }

  close (): void {
    this.#stopped = true
    this.#socket?.destroy()
    this.#socket = null
  }
}

function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) })
  ])
}

/** ApiVersions v3 + Metadata v12 on a fresh connection; resolves with the milliseconds taken. */
export async function livenessCheck (target: Target, timeoutMs = 5000): Promise<number> {
  const started = performance.now()
  const client = await withTimeout(KafkaClient.connect(target.host, target.port, 'fuzz-liveness'), timeoutMs, 'liveness connect')
  try {
    const versions = await withTimeout(client.request(18, 3, { clientSoftwareName: 'shoal-fuzz', clientSoftwareVersion: '1' }), timeoutMs, 'liveness ApiVersions')
    if (versions.errorCode !== 0) throw new Error(`liveness ApiVersions: error ${versions.errorCode}`)
    await withTimeout(client.request(3, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }), timeoutMs, 'liveness Metadata')
  } finally {
    client.close()
  }
  return performance.now() - started
}

/**
 * Deletes every topic but __consumer_offsets, and every group (classic and KIP-848): groups that still have
 * members refuse deletion (NON_EMPTY_GROUP) until their sessions expire, so the deletion is retried for up to
 * `groupsWithinMs`. Returns the topics deleted.
 */
export async function deleteFuzzState (target: Target, groupsWithinMs = 15_000): Promise<number> {
  const client = await KafkaClient.connect(target.host, target.port, 'fuzz-cleanup')
  try {
    const metadata = await withTimeout(client.request(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }), 30_000, 'cleanup Metadata')
    const names = (metadata.topics as Array<{ name: string | null }>).map((t) => t.name).filter((name): name is string => name !== null && name !== '__consumer_offsets')
    for (let i = 0; i < names.length; i += 100) {
      await withTimeout(client.request(20, 6, { topics: names.slice(i, i + 100).map((name) => ({ name, topicId: '0'.repeat(32) })), timeoutMs: 30_000 }), 60_000, 'cleanup DeleteTopics')
    }
    const deadline = Date.now() + groupsWithinMs
    for (;;) {
      const groups = await withTimeout(client.request(16, 5, { statesFilter: [], typesFilter: [] }), 30_000, 'cleanup ListGroups')
      const groupIds = (groups.groups as Array<{ groupId: string }>).map((g) => g.groupId)
      if (groupIds.length === 0) break
      await withTimeout(client.request(42, 2, { groupsNames: groupIds }), 30_000, 'cleanup DeleteGroups')
      if (Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    return names.length
  } finally {
    client.close()
  }
}

export class Runner {
  readonly options: RunOptions
  target!: Target
  done = false
  answered = 0
  closedByBroker = 0
  /** Connections given up on behind a Fetch whose (damaged) maxWaitMs asked for a long wait. */
  longPolls = 0
  #claimed = 0
  readonly #connections: FuzzConnection[] = []
  readonly #failures: Failure[] = []
  #badResponses = 0
  readonly #badExamples: string[] = []
  #livenessRunning = false
  #nextLiveness: number
  #livenessChecks = 0
  #maxLivenessMs = 0
  #rssMax = 0
  #fdsMax = 0
  #stopRun: (() => void) | null = null
  #restarting = false
  #failureFiles = 0
  #earlierErrorLines = 0
  readonly #errorKinds = new Map<string, number>()

  constructor (options: RunOptions) {
    this.options = options
    this.#nextLiveness = options.livenessEvery
  }

  /** The number of the next frame to send, or -1 when every frame is sent (or the run is stopping). */
  claimFrame (): number {
    if (this.done || this.#restarting || this.#claimed >= this.options.frames) return -1
    const n = this.#claimed++
    if (n >= this.#nextLiveness) {
      this.#nextLiveness += this.options.livenessEvery
      void this.#liveness()
    }
    if (n > 0 && n % 50_000 === 0) this.options.log(`fuzz: ${n} frames, ${this.answered} answered, ${this.#failures.length} failures, rss ${rssMiB(this.target.pid)} MiB, fds ${openFds(this.target.pid)}`)
    return n
  }

  badResponse (detail: string): void {
    this.#badResponses++
    if (this.#badExamples.length < 20) this.#badExamples.push(detail)
  }

  #sample (): void {
    const rss = rssMiB(this.target.pid)
    const fds = openFds(this.target.pid)
    if (rss > this.#rssMax) this.#rssMax = rss
    if (fds > this.#fdsMax) this.#fdsMax = fds
  }

  async #liveness (): Promise<void> {
    if (this.#livenessRunning || this.done) return
    this.#livenessRunning = true
    try {
      const ms = await livenessCheck(this.target)
      this.#livenessChecks++
      if (ms > this.#maxLivenessMs) this.#maxLivenessMs = ms
      if (ms > this.options.livenessMs) this.fail('slow', `liveness check took ${Math.round(ms)} ms (limit ${this.options.livenessMs})`)
    } catch (error) {
      if (!this.done && !this.#restarting) this.fail('crash', `liveness check failed: ${(error as Error).message}`)
    } finally {
      this.#livenessRunning = false
      this.#sample()
    }
  }

  fail (kind: Failure['kind'], detail: string): void {
    const file = kind === 'slow' ? null : this.#save(kind, detail)
    this.#failures.push({ kind, atFrame: this.#claimed, detail, file })
    this.options.log(`fuzz: ${kind} at frame ${this.#claimed}: ${detail}${file === null ? '' : ` (frames saved to ${file})`}`)
    if (kind === 'crash') void this.#afterCrash()
  }

  #save (kind: string, detail: string): string | null {
    if (this.#failureFiles >= 20) return null
    try {
      mkdirSync(this.options.out, { recursive: true })
      const file = join(this.options.out, `fuzz-${kind}-seed${this.options.seed}-${this.#claimed}.json`)
      writeFileSync(file, JSON.stringify({
        seed: this.options.seed,
        kind,
        detail,
        atFrame: this.#claimed,
        brokerTail: this.target.tail().slice(-16_384),
        connections: this.#connections.map((c) => ({
          index: c.index,
          frames: c.window.map((f) => ({ n: f.n, api: apiByKey(f.apiKey)?.name ?? String(f.apiKey), apiKey: f.apiKey, version: f.version, kind: f.kind, what: f.what, desync: f.desync, bytes: f.bytes.toString('base64') }))
        }))
      }, null, 1))
      this.#failureFiles++
      return file
    } catch (error) {
      this.options.log(`fuzz: could not save frames: ${(error as Error).message}`)
      return null
    }
  }

  async #afterCrash (): Promise<void> {
    if (!this.options.keepGoing || this.options.broker !== null) {
      this.#stopRun?.()
      return
    }
    if (this.#restarting) return
    this.#restarting = true
    this.#earlierErrorLines += this.target.errorLines()
    for (const [kind, n] of this.target.errorKinds()) this.#errorKinds.set(kind, (this.#errorKinds.get(kind) ?? 0) + n)
    await this.target.stop().catch(() => {})
    for (let attempt = 1; ; attempt++) {
      try {
        this.target = await startOwnBroker(this.options.workers)
        break
      } catch (error) {
        this.options.log(`fuzz: broker restart ${attempt} failed: ${(error as Error).message.slice(0, 2000)}`)
        if (attempt === 3) {
          this.#restarting = false
          this.#stopRun?.()
          return
        }
      }
    }
    this.#watchExit(this.target)
    this.#restarting = false
    for (const connection of this.#connections) connection.pump()
  }

  #watchExit (target: Target): void {
    void target.exited.then((how) => {
      if (this.done || this.target !== target || this.#restarting) return
      this.fail('crash', `${how}\n${target.tail().slice(-4000)}`)
    })
  }

  async run (): Promise<RunResult> {
    const options = this.options
    this.target = options.broker === null ? await startOwnBroker(options.workers) : (await import('./broker.ts')).externalBroker(options.broker)
    this.#watchExit(this.target)
    const started = Date.now()
    // Warm up: one liveness check (creates nothing), then the starting figures.
    await livenessCheck(this.target, 20_000)
    const rssStart = rssMiB(this.target.pid)
    const fdsStart = openFds(this.target.pid)
    this.#sample()
    const master = new Prng(options.seed)
    for (let i = 0; i < options.connections; i++) this.#connections.push(new FuzzConnection(this, i, master.fork(i)))
    const watcher = setInterval(() => {
      const now = Date.now()
      for (const connection of this.#connections) connection.watch(now)
      if (this.#claimed >= options.frames && this.#connections.every((c) => c.pendingCount === 0)) this.#stopRun?.()
    }, 500)
    await new Promise<void>((resolve) => {
      this.#stopRun = resolve
      for (const connection of this.#connections) connection.open()
    })
    this.#stopRun = null
    // Let what is in flight be answered (or reported as a hang by the watcher).
    await withTimeout(Promise.all(this.#connections.map((c) => c.drain())), options.hangMs + 2000, 'drain').catch(() => {})
    clearInterval(watcher)
    this.done = true
    for (const connection of this.#connections) connection.close()
    const elapsedMs = Date.now() - started
    let topicsDeleted = 0
    let rssEnd = -1
    let fdsEnd = -1
    let rssAfterDelete = -1
    let fdsAfterDelete = -1
    if (this.target.isAlive()) {
      try {
        const ms = await livenessCheck(this.target)
        if (ms > this.#maxLivenessMs) this.#maxLivenessMs = ms
        this.#livenessChecks++
      } catch (error) {
        this.#failures.push({ kind: 'crash', atFrame: this.#claimed, detail: `final liveness check failed: ${(error as Error).message}`, file: this.#save('crash', 'final liveness') })
      }
      this.#sample()
      rssEnd = rssMiB(this.target.pid)
      fdsEnd = openFds(this.target.pid)
      try {
        topicsDeleted = await deleteFuzzState(this.target)
      } catch (error) {
        options.log(`fuzz: cleanup failed: ${(error as Error).message}`)
      }
      // Give the broker a moment to let go of what the deleted topics held and to reclaim its memory once it is
      // quiet (src/memory-reclaim.ts; our own broker checks every second): polled, the lowest figure kept.
      rssAfterDelete = rssMiB(this.target.pid)
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        const rss = rssMiB(this.target.pid)
        if (rss >= 0 && rss < rssAfterDelete) rssAfterDelete = rss
      }
      fdsAfterDelete = openFds(this.target.pid)
    }
    const brokerErrorLines = this.target.errorLines() + this.#earlierErrorLines
    for (const [kind, n] of this.target.errorKinds()) this.#errorKinds.set(kind, (this.#errorKinds.get(kind) ?? 0) + n)
    await this.target.stop()
    const count = (kind: Failure['kind']): number => this.#failures.filter((f) => f.kind === kind).length
    return {
      frames: this.#claimed,
      answered: this.answered,
      closedByBroker: this.closedByBroker,
      longPolls: this.longPolls,
      elapsedMs,
      failures: this.#failures,
      crashes: count('crash'),
      hangs: count('hang'),
      slowLiveness: count('slow'),
      livenessChecks: this.#livenessChecks,
      maxLivenessMs: Math.round(this.#maxLivenessMs),
      badResponses: this.#badResponses,
      badResponseExamples: this.#badExamples,
      brokerErrorLines,
      brokerErrorKinds: [...this.#errorKinds],
      rss: { start: rssStart, max: this.#rssMax, end: rssEnd, afterDelete: rssAfterDelete },
      fds: { start: fdsStart, max: this.#fdsMax, end: fdsEnd, afterDelete: fdsAfterDelete },
      topicsDeleted
    }
  }
}

export function summaryLine (result: RunResult): string {
  const seconds = result.elapsedMs / 1000
  return `fuzz: ${result.frames} frames in ${seconds.toFixed(1)} s (${Math.round(result.frames / seconds)} frames/s), ` +
    `${result.crashes} crashes, ${result.hangs} hangs, ${result.slowLiveness} slow liveness checks, ` +
    `max liveness ${result.maxLivenessMs} ms over ${result.livenessChecks} checks, ` +
    `rss ${result.rss.start} -> ${result.rss.end} MiB (max ${result.rss.max}; after deleting ${result.topicsDeleted} topics ${result.rss.afterDelete} MiB), ` +
    `fds ${result.fds.start} -> ${result.fds.end} (max ${result.fds.max}; after deleting ${result.fds.afterDelete}), ` +
    `${result.answered} answered, ${result.closedByBroker} connections closed by the broker, ${result.longPolls} long polls given up, ${result.badResponses} undecodable answers, ${result.brokerErrorLines} broker ERROR lines`
}


