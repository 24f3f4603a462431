// The broker under fuzz: a `node src/main.ts` process of our own (fresh data dir under the OS tmp dir, port 0,
// group timeouts short so that group requests never legitimately wait longer than a few seconds), or an
// address given with --broker (then no process: RSS, fds and exits are unknown). Keeps only the tail of the
// broker's output, so a long run with many refused connections does not grow the fuzzer's memory.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const kMain = fileURLToPath(new URL('../../src/main.ts', import.meta.url))
const kTailBytes = 64 * 1024

export interface Target {
  readonly host: string
  readonly port: number
  /** The broker's pid when we started it. */
  readonly pid: number | null
  /** Resolves with a description when our broker process exits (never for --broker). */
  readonly exited: Promise<string>
  isAlive (): boolean
  /** The last 64 KiB of its stdout and stderr. */
  tail (): string
  /** Lines of its output so far that look like contained failures or worker trouble (counted, not kept). */
  errorLines (): number
  /** Distinct ERROR lines (numbers masked) with how often each came, the first 50 kinds. */
  errorKinds (): Map<string, number>
  stop (): Promise<void>
}

export const kBrokerArgs = [
  // FUZZ_BROKER_LOG_LEVEL=info shows the broker's memory lines (each thread's heap after a burst) in --broker-log.
  '--log-level', process.env.FUZZ_BROKER_LOG_LEVEL ?? 'warn',
  '--group-initial-rebalance-delay-ms', '0',
  '--group-min-session-timeout-ms', '100',
  '--group-max-session-timeout-ms', '5000',
  '--group-consumer-session-timeout-ms', '5000',
  '--default-partitions', '2',
  // Transactional ids the fuzzer makes are client state like its groups: short-lived here, so that they are gone
  // (expired, their open transactions timed out and aborted) soon after the run, as the groups' sessions are.
  '--transaction-max-timeout-ms', '5000',
  '--transaction-abort-timed-out-transaction-cleanup-interval-ms', '1000',
  '--transactional-id-expiration-ms', '1000',
  '--transaction-remove-expired-transaction-cleanup-interval-ms', '1000',
  // Quiet ticks of a second: the memory a burst left is given back soon after the fuzzing stops (the RSS check).
  '--memory-reclaim-interval-ms', '1000'
]

/** Where every broker's output is also appended (--broker-log), for triage; null: only the tail is kept. */
export const brokerLog: { file: string | null } = { file: null }

export async function startOwnBroker (workers: number, extraArgs: readonly string[] = []): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-fuzz-'))
  const args = [kMain, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', String(workers), ...kBrokerArgs, ...extraArgs]
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let tail = ''
  let errors = 0
  const kinds = new Map<string, number>()
  const append = (text: string): void => {
    if (brokerLog.file !== null) appendFileSync(brokerLog.file, text)
    for (const line of text.split('\n')) {
      if (!/ ERROR |uncaught|worker \d+ (failed|exited)/i.test(line)) continue
      errors++
      const kind = line.replace(/^\S+ +ERROR +/, '').replace(/\d+/g, 'N').slice(0, 200)
      if (kinds.has(kind) || kinds.size < 50) kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    tail = (tail + text).slice(-kTailBytes)
  }
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', append)
  let alive = true
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => {
    alive = false
    resolve(`broker exited with ${signal ?? code}`)
  }))
  const address = await new Promise<{ host: string, port: number }>((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`broker did not start within 30 s:\n${tail}`)), 30_000)
    child.stdout?.on('data', (text: string) => {
      append(text)
      seen += text
      const match = /listening on ([^\s]+):(\d+)/.exec(seen)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ host: match[1], port: Number(match[2]) })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`broker exited with ${code} before listening:\n${tail}`))
    })
  })
  return {
    host: address.host,
    port: address.port,
    pid: child.pid ?? null,
    exited,
    isAlive: () => alive,
    tail: () => tail,
    errorLines: () => errors,
    errorKinds: () => kinds,
    async stop () {
      if (alive) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

export function externalBroker (address: string): Target {
  const colon = address.lastIndexOf(':')
  return {
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    pid: null,
    exited: new Promise(() => {}),
    isAlive: () => true,
    tail: () => '',
    errorLines: () => 0,
    errorKinds: () => new Map(),
    async stop () {}
  }
}

/** VmRSS of a process in MiB, or -1 when unknown. */
export function rssMiB (pid: number | null): number {
  if (pid === null) return -1
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? -1 : Math.round(Number(match[1]) / 1024)
  } catch {
    return -1
  }
}

/** Open file descriptors of a process, or -1 when unknown. */
export function openFds (pid: number | null): number {
  if (pid === null) return -1
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return -1
  }
}
