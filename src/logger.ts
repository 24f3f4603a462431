// Logs to stderr, one line per entry, in one of two formats (--log-format):
//   text (the default): `time level [thread] message`, e.g. `2025-01-01T00:00:00.000Z INFO  [worker-0] ...`
//   json: one object per line in pino's conventions (https://getpino.io), e.g.
//     {"level":30,"time":1735689600000,"pid":7,"hostname":"h","thread":"worker-0","api":"Fetch",...,"msg":"..."}
//     `level` is pino's number (20 debug, 30 info, 40 warn, 50 error), `time` epoch milliseconds, `thread`
//     `main` or `worker-N`, then the entry's structured fields (when the call site passed some), then `msg`.
// Levels filter at the call site through `logger.enabled(level)` (or `logger.debugEnabled` on a hot path) where
// building the message costs something. Structured fields are for the json format only: a call site always puts
// what matters in the message too, and the text format prints just the message, exactly as before the fields.
//
// Why pino and how: pino builds the JSON line (its serializer is fast and the format is what log shippers and
// pino-pretty read), but it writes through our own `{ write }` sink, process.stderr, rather than
// pino.destination() or a transport: a transport starts a thread of its own (one per worker thread here), and
// a destination writes the fd directly, which from several worker threads could interleave lines longer than a
// pipe's atomic write. process.stderr is synchronous in the main thread on Linux (pipes and files) and, in a
// worker thread, is forwarded to the main thread, which writes whole lines: the same path the text format takes.
// pino is loaded only when the json format is chosen (it costs tens of milliseconds per thread to load).
import { createRequire } from 'node:module'
import { hostname } from 'node:os'
import { isMainThread, threadId } from 'node:worker_threads'
import type { Logger as Pino } from 'pino'
import type { LogFormat, LogLevel } from './config/config.ts'

const kLimitedLinesPerSecond = 10

const kRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }
const kDebugRank = 3

/** Machine-readable fields of an entry (json format); never `level`, `time`, `pid`, `hostname`, `thread` or `msg`. */
export type LogFields = Record<string, string | number | boolean | null>

export interface LoggerOptions {
  /** Default text. */
  format?: LogFormat
  /** Where each line (ending in '\n') goes; default process.stderr. Tests pass their own. */
  write?: (line: string) => void
}

function writeStderr (line: string): void {
  process.stderr.write(line)
}

function createPino (thread: string, write: (line: string) => void): Pino {
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino')
  // Level 'debug': Logger filters before pino is called, so pino must let every level it is given through.
  return pino({ level: 'debug', base: { pid: process.pid, hostname: hostname(), thread } }, { write })
}

export class Logger {
  #rank: number
  readonly #thread: string
  readonly #write: (line: string) => void
  /** Set for the json format. */
  readonly #pino: Pino | null
  readonly #limited = new Map<string, { windowStart: number, lines: number, suppressed: number }>()

  constructor (level: LogLevel, thread = isMainThread ? 'main' : `worker-${threadId}`, options: LoggerOptions = {}) {
    this.#rank = kRank[level]
    this.#thread = thread
    this.#write = options.write ?? writeStderr
    this.#pino = options.format === 'json' ? createPino(thread, this.#write) : null
  }

  setLevel (level: LogLevel): void {
    this.#rank = kRank[level]
  }

  enabled (level: LogLevel): boolean {
    return kRank[level] <= this.#rank
  }

  /** `enabled('debug')` as one comparison, for per-request call sites: nothing is built unless it is true. */
  get debugEnabled (): boolean {
    return this.#rank >= kDebugRank
  }

  #log (level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (kRank[level] > this.#rank) return
    const pino = this.#pino
    if (pino === null) {
      this.#write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${this.#thread}] ${message}\n`)
    } else if (fields === undefined) {
      pino[level](message)
    } else {
      pino[level](fields, message)
    }
  }

  /**
   * At most kLimitedLinesPerSecond lines a second for `key` (a limit breached, a bad request refused): what a
   * client can cause again and again must not flood the log. The first line of the next second says how many
   * were left out (in json also as the field `suppressed`).
   */
  limited (key: string, level: LogLevel, message: string, fields?: LogFields): void {
    if (kRank[level] > this.#rank) return
    const now = Date.now()
    let state = this.#limited.get(key)
    if (state === undefined || now - state.windowStart >= 1000) {
      const suppressed = state?.suppressed ?? 0
      if (state === undefined && this.#limited.size > 1024) this.#limited.clear()
      state = { windowStart: now, lines: 0, suppressed: 0 }
      this.#limited.set(key, state)
      if (suppressed > 0) {
        message += ` (${suppressed} more like it left out)`
        if (this.#pino !== null) fields = { ...fields, suppressed }
      }
    }
    if (state.lines >= kLimitedLinesPerSecond) {
      state.suppressed++
      return
    }
    state.lines++
    this.#log(level, message, fields)
  }

  error (message: string, fields?: LogFields): void { this.#log('error', message, fields) }
  warn (message: string, fields?: LogFields): void { this.#log('warn', message, fields) }
  info (message: string, fields?: LogFields): void { this.#log('info', message, fields) }
  debug (message: string, fields?: LogFields): void { this.#log('debug', message, fields) }
}
