// The container health check (Dockerfile HEALTHCHECK, docker-compose.yml): exit 0 when the broker's /readyz
// answers 200, 1 otherwise, with one line saying why. Slim images have no curl, so this runs on the broker's own
// pinned Node. It finds the metrics listener the way the broker does, from SHOAL_METRICS_LISTEN or the
// SHOAL_CONFIG file's `shoal.metrics.listen` (src/config/config.ts; flags given to the broker are not seen here),
// and connects to loopback when the broker listens on every address.
//
//   node scripts/healthcheck.ts            # check the configured listener
//   node scripts/healthcheck.ts HOST:PORT  # check that one
import { get } from 'node:http'
import { parseConfig } from '../src/config/config.ts'

/** Well below the HEALTHCHECK's --timeout, so that a hung broker is reported by this script, not killed with it. */
const kTimeoutMs = 3_000

function target (): { host: string, port: number } {
  const given = process.argv[2]
  const config = parseConfig(given === undefined ? [] : ['--metrics-listen', given], process.env)
  if (config.metricsHost === null) throw new Error('the metrics listener is off: set SHOAL_METRICS_LISTEN (or shoal.metrics.listen in the SHOAL_CONFIG file)')
  const host = config.metricsHost
  if (host === '' || host === '0.0.0.0') return { host: '127.0.0.1', port: config.metricsPort }
  if (host === '::') return { host: '::1', port: config.metricsPort }
  return { host, port: config.metricsPort }
}

function fail (message: string): never {
  process.stderr.write(`healthcheck: ${message}\n`)
  process.exit(1)
}

let address: { host: string, port: number }
try {
  address = target()
} catch (error) {
  fail((error as Error).message)
}
const url = `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}/readyz`
const request = get(url, { timeout: kTimeoutMs }, (response) => {
  let body = ''
  response.setEncoding('utf8')
  response.on('data', (chunk: string) => { body += chunk })
  response.on('end', () => {
    if (response.statusCode === 200) {
      process.stdout.write(`healthcheck: ${url}: ${body.trim()}\n`)
      process.exit(0)
    }
    fail(`${url}: ${response.statusCode} ${body.trim()}`)
  })
})
request.on('timeout', () => request.destroy(new Error(`no answer within ${kTimeoutMs} ms`)))
request.on('error', (error) => fail(`${url}: ${error.message}`))
