// `npm start`: parse flags (and SHOAL_* variables), start the broker, stop cleanly on SIGINT/SIGTERM.
// Prints `listening on HOST:PORT` on stdout once clients can connect (tests and scripts wait for that line).
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
let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  logger.info(`${signal}: shutting down`)
  broker.close().then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
