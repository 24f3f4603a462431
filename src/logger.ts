// One-line structured-enough logs to stderr: `time level [thread] message`. Levels filter at the call site
// through `logger.enabled(level)` where building the message costs something.
import { isMainThread, threadId } from 'node:worker_threads'
import type { LogLevel } from './config/config.ts'

const kRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export class Logger {
  #rank: number
  readonly #thread: string

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

  error (message: string): void { this.#write('error', message) }
  warn (message: string): void { this.#write('warn', message) }
  info (message: string): void { this.#write('info', message) }
  debug (message: string): void { this.#write('debug', message) }
}
