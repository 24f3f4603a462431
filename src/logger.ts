// One-line structured-enough logs to stderr: `time level [thread] message`. Levels filter at the call site
// through `logger.enabled(level)` where building the message costs something.
import { isMainThread, threadId } from 'node:worker_threads'
import type { LogLevel } from './config/config.ts'

const kLimitedLinesPerSecond = 10

const kRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export class Logger {
  #rank: number
  readonly #thread: string
  readonly #limited = new Map<string, { windowStart: number, lines: number, suppressed: number }>()

  constructor (level: LogLevel, thread = isMainThread ? 'main' : `worker-${threadId}`) {
    this.#rank = kRank[level]
    this.#thread = thread
  }

  setLevel (level: LogLevel): void {
    this.#rank = kRank[level]
  }

  enabled (level: LogLevel): boolean {
    return kRank[level] <= this.#rank
  }

  #write (level: LogLevel, message: string): void {
    if (kRank[level] > this.#rank) return
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${this.#thread}] ${message}\n`)
  }

  /**
   * At most kLimitedLinesPerSecond lines a second for `key` (a limit breached, a bad request refused): what a
   * client can cause again and again must not flood the log. The first line of the next second says how many
   * were left out.
   */
  limited (key: string, level: LogLevel, message: string): void {
    if (kRank[level] > this.#rank) return
    const now = Date.now()
    let state = this.#limited.get(key)
    if (state === undefined || now - state.windowStart >= 1000) {
      const suppressed = state?.suppressed ?? 0
      if (state === undefined && this.#limited.size > 1024) this.#limited.clear()
      state = { windowStart: now, lines: 0, suppressed: 0 }
      this.#limited.set(key, state)
      if (suppressed > 0) message += ` (${suppressed} more like it left out)`
    }
    if (state.lines >= kLimitedLinesPerSecond) {
      state.suppressed++
      return
    }
    state.lines++
    this.#write(level, message)
  }

  error (message: string): void { this.#write('error', message) }
  warn (message: string): void { this.#write('warn', message) }
  info (message: string): void { this.#write('info', message) }
  debug (message: string): void { this.#write('debug', message) }
}
