// Runs an external client (kcat, python3) for the interop tests: stdin in, stdout/stderr out, with a deadline.
// A client that is not installed is an error with a clear message, never a skip: CI installs them.
import { spawn } from 'node:child_process'

export interface RunResult {
  stdout: string
  stderr: string
  code: number | null
}

export interface RunOptions {
  input?: string | Buffer
  timeoutMs?: number
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFailure?: boolean
}

export function run (command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(error.code === 'ENOENT' ? new Error(`${command} is not installed (or not on PATH); the interop tests require it`) : error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      const result = { stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), code }
      const shown = `${command} ${args.map((arg) => arg.length > 80 ? arg.slice(0, 80) + '…' : arg).join(' ')}`
      if (timedOut) reject(new Error(`${shown} did not finish within ${timeoutMs} ms\nstderr:\n${result.stderr.slice(-4000)}`))
      else if (code !== 0 && options.allowFailure !== true) reject(new Error(`${shown} exited with ${code}\nstderr:\n${result.stderr.slice(-4000)}\nstdout:\n${result.stdout.slice(-2000)}`))
      else resolve(result)
    })
    child.stdin.on('error', () => {}) // EPIPE when the child exits early: its exit code tells the story
    child.stdin.end(options.input ?? '')
  })
}
