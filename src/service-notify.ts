// Readiness notification to systemd (sd_notify(3), for a `Type=notify` unit: deploy/systemd/shoal.service).
//
// systemd starts a notify service with NOTIFY_SOCKET naming a unix datagram socket, and counts the service as
// started only once it receives `READY=1` there. Node has no unix datagram sockets (node:dgram is UDP only), so
// the message goes through systemd's own `systemd-notify` (present wherever systemd is), run as a child process:
// its message comes from the child's PID, which is why the unit says `NotifyAccess=all` (any process of the
// service's cgroup may notify, not only the main one). systemd-notify waits by default until the manager has
// processed the message (since systemd 246; `--no-block` would not), so the manager still finds the sender in
// the service's cgroup and attributes the message to it.
//
// Contract: without NOTIFY_SOCKET (a terminal, Docker, tests) every function here is a no-op that spawns
// nothing. With it, a notification is fire-and-forget: it never throws and never fails or delays the broker; a
// notification that cannot be sent (no systemd-notify on the PATH, a socket that refuses) is reported once to
// `onError`. Under systemd the consequence is the unit's own TimeoutStartSec, which then fails the start.
import { execFile } from 'node:child_process'

/** Runs `file args` with `env` and calls `done` once it exited (an Error when it failed or could not start). */
export type NotifyRunner = (file: string, args: readonly string[], env: NodeJS.ProcessEnv, done: (error: Error | null) => void) => void

export interface NotifyOptions {
  /** Where NOTIFY_SOCKET is read from, also the child's environment (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  /** How systemd-notify is run (tests inject their own; default child_process.execFile). */
  readonly run?: NotifyRunner
  /** Told why a notification could not be sent (the broker logs it as a warning). */
  readonly onError?: (message: string) => void
}

export const kNotifyCommand = 'systemd-notify'
/** A systemd-notify that has not returned by then is killed (it only waits for the manager to read a message). */
const kNotifyTimeoutMs = 10_000

const runExecFile: NotifyRunner = (file, args, env, done) => {
  // The error's message already ends with the command's stderr: kept on one log line.
  execFile(file, args, { env, timeout: kNotifyTimeoutMs, windowsHide: true }, (error) => {
    done(error === null ? null : new Error(error.message.trim().replace(/\s*\n\s*/g, '; ')))
  })
}

/** Whether a service manager asked for notifications (NOTIFY_SOCKET is set). */
export function notifyRequested (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NOTIFY_SOCKET !== undefined && env.NOTIFY_SOCKET !== ''
}

/**
 * `READY=1` with a status line: the broker serves (every worker recovered its partitions, the Kafka listener
 * accepts). Returns whether a notification was attempted (false: no NOTIFY_SOCKET, nothing done).
 */
export function notifyReady (status: string, options: NotifyOptions = {}): boolean {
  return notify(['READY=1', `STATUS=${status}`], options)
}

/** `STOPPING=1` with a status line: a graceful shutdown began. Returns whether a notification was attempted. */
export function notifyStopping (status: string, options: NotifyOptions = {}): boolean {
  return notify(['STOPPING=1', `STATUS=${status}`], options)
}

function notify (assignments: readonly string[], options: NotifyOptions): boolean {
  const env = options.env ?? process.env
  if (!notifyRequested(env)) return false
  const run = options.run ?? runExecFile
  const fail = (error: unknown): void => {
    try {
      options.onError?.(`cannot notify the service manager (${kNotifyCommand} ${assignments[0]}): ${(error as Error)?.message ?? String(error)}`)
    } catch {}
  }
  try {
    // Positional VARIABLE=VALUE assignments: understood by every systemd-notify (--stopping is systemd 253+).
    run(kNotifyCommand, assignments, env, (error) => { if (error !== null) fail(error) })
  } catch (error) {
    fail(error)
  }
  return true
}
