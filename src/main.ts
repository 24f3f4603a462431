// `npm start`: parse flags (and SHOAL_* variables), start the broker, stop cleanly on SIGINT/SIGTERM.
// Prints `listening on HOST:PORT` on stdout once clients can connect (tests and scripts wait for that line).
// With --metrics-listen it then prints `metrics on HOST:PORT` (the HTTP endpoints; port 0 is resolved).
// First: it sets the native addons' allocator options, which they read when they load (src/native-allocators.ts).
import './native-allocators.ts'
import { ConfigError, parseConfig, usage } from './config/config.ts'
import { Logger } from './logger.ts'
import { startBroker } from './broker.ts'
import { raiseOpenFileLimit } from './os-limits.ts'
import { notifyReady, notifyStopping } from './service-notify.ts'

const argv = process.argv.slice(2)
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(usage() + '\n')
  process.exit(0)
}
let config
try {
  config = parseConfig(argv, process.env)
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`shoal: ${error.message}\n`)
    process.exit(2)
  }
  throw error
}
const logger = new Logger(config.logLevel, 'main', { format: config.logFormat })
/** A second signal exits at once, unclean: 128 + the signal's number, as a shell reports a process killed by it. */
const kSignalExitCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
// A signal from here until the broker is up (its workers recovering their partitions) is remembered, and the
// shutdown starts once it is up: a shutdown needs the broker, and recovery is not interrupted. A second one exits
// at once. The open-file line below comes after this, so a test that sees it knows the signal is handled.
let signalDuringStart: string | null = null
const onSignalDuringStart = (signal: string): void => {
  if (signalDuringStart !== null) process.exit(kSignalExitCodes[signal] ?? 1)
  signalDuringStart = signal
  logger.info(`${signal} while starting: shutting down once started (a second signal exits at once)`)
}
process.on('SIGINT', onSignalDuringStart).on('SIGTERM', onSignalDuringStart)
// Before any partition or socket is opened (src/os-limits.ts): never fatal, but a warning when it cannot.
const fileLimit = raiseOpenFileLimit()
if (fileLimit.ok) logger.info(fileLimit.message)
else logger.warn(fileLimit.message)
let broker
try {
  broker = await startBroker(config, logger)
} catch (error) {
  // A setting only the stored state can refute (a SASL listener with no users stored or given) is a config
  // error too: the same one line and exit 2 as a bad flag, not a stack trace.
  if (error instanceof ConfigError) {
    process.stderr.write(`shoal: ${error.message}\n`)
    process.exit(2)
  }
  throw error
}
process.off('SIGINT', onSignalDuringStart).off('SIGTERM', onSignalDuringStart)
process.stdout.write(`listening on ${broker.host}:${broker.port}\n`)
if (broker.metrics !== null) process.stdout.write(`metrics on ${broker.metrics.host}:${broker.metrics.port}\n`)
// Under systemd's Type=notify (deploy/systemd/shoal.service): READY=1 now that every worker has recovered its
// partitions and the listener accepts, the moment /readyz turns 200. A no-op without NOTIFY_SOCKET; never fatal.
const notifyOptions = { onError: (message: string) => logger.warn(message) }
notifyReady(`serving Kafka on ${broker.host}:${broker.port}`, notifyOptions)
// SIGTERM or SIGINT: a graceful shutdown (Broker#close: stop accepting, answer what is in flight, flush, write the
// logs' clean-shutdown markers), exit 0 once done. Past --shutdown-timeout-ms: a log line of what was still
// pending, exit 1 (the logs not yet closed have no marker and are recovered at the next start, as after a crash).
// A second signal exits at once (130 for SIGINT, 143 for SIGTERM).
let stopping = false
const stop = (signal: string): void => {
  if (stopping) {
    logger.warn(`${signal} again: exiting now, without finishing the shutdown`)
    process.exit(kSignalExitCodes[signal] ?? 1)
  }
  stopping = true
  notifyStopping(`${signal}: shutting down`, notifyOptions)
  const timeoutMs = config.shutdownTimeoutMs
  logger.info(`${signal}: shutting down (answering requests in flight, then closing the logs; up to ${timeoutMs} ms, --shutdown-timeout-ms; a second signal exits at once)`)
  const timer = setTimeout(() => {
    broker.pending().then((pending) => {
      logger.error(`shutdown did not finish within ${timeoutMs} ms (--shutdown-timeout-ms), exiting unclean; still pending: ${pending}`)
      process.exit(1)
    }, () => process.exit(1))
  }, timeoutMs)
  broker.close().then(() => {
    clearTimeout(timer)
    logger.info('shut down cleanly')
    process.exit(0)
  }, (error: Error) => {
    logger.error(`shutdown failed: ${error.stack ?? error.message}`)
    process.exit(1)
  })
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
if (signalDuringStart !== null) stop(signalDuringStart)
