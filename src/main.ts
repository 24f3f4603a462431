// `npm start`: parse flags (and SHOAL_* variables), start the broker, stop cleanly on SIGINT/SIGTERM.
// Prints `listening on HOST:PORT` on stdout once clients can connect (tests and scripts wait for that line).
// With --metrics-listen it then prints `metrics on HOST:PORT` (the HTTP endpoints; port 0 is resolved).
import { ConfigError, parseConfig, usage } from './config/config.ts'
import { Logger } from './logger.ts'
import { startBroker } from './broker.ts'
import { raiseOpenFileLimit } from './os-limits.ts'

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
const logger = new Logger(config.logLevel, 'main')
// Before any partition or socket is opened (src/os-limits.ts): never fatal, but a warning when it cannot.
const fileLimit = raiseOpenFileLimit()
if (fileLimit.ok) logger.info(fileLimit.message)
else logger.warn(fileLimit.message)
const broker = await startBroker(config, logger)
process.stdout.write(`listening on ${broker.host}:${broker.port}\n`)
if (broker.metrics !== null) process.stdout.write(`metrics on ${broker.metrics.host}:${broker.metrics.port}\n`)
// SIGTERM or SIGINT: a graceful shutdown (Broker#close: stop accepting, answer what is in flight, flush, write the
// logs' clean-shutdown markers), exit 0 once done. Past --shutdown-timeout-ms: a log line of what was still
// pending, exit 1 (the logs not yet closed have no marker and are recovered at the next start, as after a crash).
// A second signal exits at once, unclean: 128 + the signal's number, as a shell reports a process killed by it
// (130 for SIGINT, 143 for SIGTERM).
const kSignalExitCodes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
let stopping = false
const stop = (signal: string): void => {
  if (stopping) {
    logger.warn(`${signal} again: exiting now, without finishing the shutdown`)
    process.exit(kSignalExitCodes[signal] ?? 1)
  }
  stopping = true
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
