// Process limits the broker adjusts for itself at start. Open files: a broker holds one file per partition (its
// active segment), up to --max-open-segment-files sealed segment files per worker, and one socket per client
// connection, and the usual soft RLIMIT_NOFILE of 1024 is soon too few. Like Kafka's packaging (which sets
// LimitNOFILE), the broker raises its soft limit to the hard limit; raising the hard limit needs privileges and
// stays the operator's business. Node has no setrlimit, so this runs util-linux's prlimit(1) on our own pid
// (RLIMIT_NOFILE is per process: the worker threads share it). Never fatal: without prlimit, or off Linux, the
// broker says why and runs under the limit it has. Node's own start-up (PlatformInit) already raises the soft
// limit as far as it can, so on Linux this usually finds it at the hard limit and only says so: the log line is
// what an operator looks for, and the step keeps holding should a runtime stop doing it.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

export interface OpenFileLimit {
  soft: number
  hard: number
}

export interface RaiseResult {
  /** The limits before and after (after == before when nothing changed); -1 when unknown. */
  before: OpenFileLimit
  after: OpenFileLimit
  /** True when the soft limit is now the hard limit (raised, or already there). */
  ok: boolean
  /** One line for the log: `raised open file limit from S to H`, or what stopped it. */
  message: string
}

export interface RaiseOptions {
  /** Default process.pid. */
  pid?: number
  /** Path of prlimit; default `/usr/bin/prlimit` when present, else `prlimit` from the PATH. */
  prlimit?: string
  /** Reads the process's limits file (/proc/<pid>/limits); for tests. */
  readLimits?: () => string
}

/** Parses the `Max open files` line of /proc/<pid>/limits; `unlimited` is Infinity; null when absent. */
export function parseOpenFileLimit (limitsText: string): OpenFileLimit | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limitsText)
  if (match === null) return null
  const value = (text: string): number => text === 'unlimited' ? Infinity : Number(text)
  return { soft: value(match[1]), hard: value(match[2]) }
}

function defaultPrlimit (): string {
  return existsSync('/usr/bin/prlimit') ? '/usr/bin/prlimit' : 'prlimit'
}

/** Raises the soft RLIMIT_NOFILE of the process to its hard limit through prlimit(1). */
export function raiseOpenFileLimit (options: RaiseOptions = {}): RaiseResult {
  const pid = options.pid ?? process.pid
  const readLimits = options.readLimits ?? (() => readFileSync(`/proc/${pid}/limits`, 'latin1'))
  const unknown = { soft: -1, hard: -1 }
  let before: OpenFileLimit | null
  try {
    before = parseOpenFileLimit(readLimits())
  } catch (error) {
    return { before: unknown, after: unknown, ok: false, message: `cannot read the open file limit (${(error as Error).message}); leaving it as it is` }
  }
  if (before === null) return { before: unknown, after: unknown, ok: false, message: 'no open file limit in the process limits; leaving it as it is' }
  if (before.soft >= before.hard) {
    return { before, after: before, ok: true, message: `open file limit is ${before.soft}, already the hard limit` }
  }
  if (before.hard === Infinity) {
    // Linux bounds RLIMIT_NOFILE by fs.nr_open; an unlimited hard limit cannot become the soft one.
    return { before, after: before, ok: false, message: `open file limit is ${before.soft} (hard limit unlimited); leaving it as it is` }
  }
  const prlimit = options.prlimit ?? defaultPrlimit()
  try {
    execFileSync(prlimit, ['--pid', String(pid), `--nofile=${before.hard}:${before.hard}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: Buffer }
    const why = failure.code === 'ENOENT'
      ? `${prlimit} not found (util-linux)`
      : (failure.stderr?.toString().trim() || failure.message)
    return { before, after: before, ok: false, message: `cannot raise open file limit from ${before.soft} to ${before.hard}: ${why}` }
  }
  let after: OpenFileLimit | null = null
  try {
    after = parseOpenFileLimit(readLimits())
  } catch {}
  if (after === null || after.soft !== before.hard) {
    return { before, after: after ?? before, ok: false, message: `prlimit ran but the open file limit is ${after?.soft ?? 'unknown'}, not ${before.hard}` }
  }
  return { before, after, ok: true, message: `raised open file limit from ${before.soft} to ${after.soft}` }
}
