// Child processes of the bench: load generator runs with deadlines, the brokers under test, and RSS sampling.
// Nothing here waits without a deadline: every process gets SIGINT (or SIGTERM) at its deadline and SIGKILL
// a grace period later.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The deadline was reached and the process was told to stop. */
  timedOut: boolean
  /** It had to be killed after the grace period. */
  killed: boolean
  wallMs: number
  /** Spawning failed (ENOENT...). */
  error: Error | null
}

export interface RunOptions {
  timeoutMs: number
  /** Sent at the deadline; rdkafka_performance prints its final stats on SIGINT. */
  stopSignal?: NodeJS.Signals
  graceMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Each stdout line as it arrives (progress). */
  onLine?: (line: string) => void
  /** Called with the pid once spawned. */
  onSpawn?: (child: ChildProcess) => void
  /** Aborting stops the process as its deadline would. */
  signal?: AbortSignal
}

/** Runs a command to completion or deadline, keeping its output. */
export function runProcess (command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now()
  return new Promise((resolve) => {
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let killed = false
    let settled = false
    let child: ChildProcess
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd })
    } catch (error) {
      resolve({ code: null, signal: null, stdout, stderr, timedOut, killed, wallMs: 0, error: error as Error })
      return
    }
    let killTimer: NodeJS.Timeout | undefined
    const stop = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return
      timedOut = true
      child.kill(options.stopSignal ?? 'SIGINT')
      killTimer = setTimeout(() => {
        killed = true
        child.kill('SIGKILL')
      }, options.graceMs ?? 10_000)
    }
    const deadline = setTimeout(stop, options.timeoutMs)
    const onAbort = (): void => stop()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    child.stdout!.setEncoding('utf8')
    child.stderr!.setEncoding('utf8')
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      stdout += line + '\n'
      options.onLine?.(line)
    })
    child.stderr!.on('data', (text: string) => {
      stderr += text
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000)
    })
    const finish = (code: number | null, signal: NodeJS.Signals | null, error: Error | null): void => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      clearTimeout(killTimer)
      options.signal?.removeEventListener('abort', onAbort)
      // Let readline hand over the last lines before resolving.
      setImmediate(() => resolve({ code, signal, stdout, stderr, timedOut, killed, wallMs: performance.now() - started, error }))
    }
    child.once('error', (error) => finish(null, null, error))
    child.once('close', (code, signal) => finish(code, signal, null))
    options.onSpawn?.(child)
  })
}

/** VmRSS of a process in bytes, from /proc/PID/status; null when unreadable (not Linux, process gone). */
export function readRss (pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match === null ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

export interface RssSummary {
  startBytes: number | null
  endBytes: number | null
  maxBytes: number | null
  samples: number
}

/** Samples a process's RSS every `intervalMs` between start() and stop(). */
export class RssSampler {
  readonly pid: number
  readonly intervalMs: number
  #timer: NodeJS.Timeout | null = null
  #start: number | null = null
  #last: number | null = null
  #max: number | null = null
  #samples = 0

  constructor (pid: number, intervalMs = 200) {
    this.pid = pid
    this.intervalMs = intervalMs
  }

  #sample (): void {
    const rss = readRss(this.pid)
    if (rss === null) return
    this.#samples++
    if (this.#start === null) this.#start = rss
    this.#last = rss
    if (this.#max === null || rss > this.#max) this.#max = rss
  }

  start (): this {
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), this.intervalMs)
    this.#timer.unref()
    return this
  }

  stop (): RssSummary {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#sample()
    return { startBytes: this.#start, endBytes: this.#last, maxBytes: this.#max, samples: this.#samples }
  }
}

/** A long-running child (a broker) that printed its address; stop() ends it and waits. */
export interface ServerProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly bootstrap: string
  output (): string
  stop (): Promise<void>
}

/**
 * Spawns a server and waits (up to `timeoutMs`) for a stdout line matching `ready`, whose first group is the
 * bootstrap address. stop() sends SIGTERM, then SIGKILL after 10 s.
 */
export function startServer (command: string, args: readonly string[], ready: RegExp, timeoutMs: number,
  stdin: 'ignore' | 'pipe' = 'ignore'): Promise<ServerProcess> {
  const child = spawn(command, args, { stdio: [stdin, 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  const append = (text: string): void => {
    output += text
    if (output.length > 200_000) output = output.slice(-100_000)
  }
  child.stderr!.on('data', append)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} did not start within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = (text: string): void => {
      append(text)
      seen += text
      const match = ready.exec(seen)
      if (match === null) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.stdout!.on('data', append)
      let stopping: Promise<void> | null = null
      resolve({
        child,
        pid: child.pid!,
        bootstrap: match[1],
        output: () => output,
        stop: () => {
          stopping ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM')
              const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
              await exited
              clearTimeout(kill)
            }
          })()
          return stopping
        }
      })
    }
    child.stdout!.on('data', onData)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited (${code ?? signal}) before it was ready:\n${output}`))
    })
  })
}

/** The last `lines` non-empty lines of a text, for error messages. */
export function tail (text: string, lines = 5): string {
  return text.split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n')
}
