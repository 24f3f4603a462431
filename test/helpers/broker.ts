// Starts a real Shoal broker process for tests: `node src/main.ts --listen 127.0.0.1:0` with a fresh data dir,
// waits (with a deadline, no sleeps) for its `listening on HOST:PORT` line, and stops it with SIGTERM or SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const kRepoRoot = fileURLToPath(new URL('../..', import.meta.url))
const kMain = join(kRepoRoot, 'src', 'main.ts')

export interface TestBroker {
  readonly process: ChildProcess
  readonly host: string
  readonly port: number
  readonly bootstrap: string
  readonly dataDir: string
  /** stderr and stdout so far, for assertion messages. */
  output (): string
  stop (): Promise<void>
  kill (): Promise<void>
}

export interface StartOptions {
  workers?: number
  dataDir?: string
  args?: string[]
  /** Remove the data dir on stop (default true when the helper made it). */
  cleanup?: boolean
  /** Extra environment variables for the broker process (on top of this process's). */
  env?: Record<string, string>
}

export async function startBroker (options: StartOptions = {}): Promise<TestBroker> {
  const made = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'shoal-test-'))
  const args = [kMain, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(options.workers ?? 2), '--log-level', 'warn', ...(options.args ?? [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env === undefined ? process.env : { ...process.env, ...options.env } })
  let output = ''
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (text: string) => { output += text })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const address = await new Promise<{ host: string, port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within 20 s:\n${output}`)), 20_000)
    child.stdout?.on('data', (text: string) => {
      output += text
      const match = /listening on ([^\s]+):(\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ host: match[1], port: Number(match[2]) })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`broker exited with ${code} before listening:\n${output}`))
    })
  })
  const cleanup = options.cleanup ?? made
  let stopped = false
  const finish = async (signal: NodeJS.Signals): Promise<void> => {
    if (!stopped) {
      stopped = true
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
    if (cleanup) rmSync(dataDir, { recursive: true, force: true })
  }
  return {
    process: child,
    host: address.host,
    port: address.port,
    bootstrap: `${address.host}:${address.port}`,
    dataDir,
    output: () => output,
    stop: () => finish('SIGTERM'),
    kill: () => finish('SIGKILL')
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T> (check: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
