// The HTTP endpoints of --metrics-listen, on the main thread (node:http): GET /metrics (Prometheus text format),
// /healthz (200 while the process serves HTTP at all) and /readyz (200 once recovery is done and every worker
// serves, 503 before that and from the start of shutdown). Other paths are 404, other methods 405.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Readiness } from './readiness.ts'
import type { Logger } from '../logger.ts'

export interface MetricsRenderer {
  readonly contentType: string
  render (): Promise<string>
}

export interface MetricsServer {
  readonly host: string
  readonly port: number
  close (): Promise<void>
}

function answer (response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  response.end(body)
}

export async function startMetricsServer (host: string, port: number, readiness: Readiness, metrics: MetricsRenderer | null, logger: Logger): Promise<MetricsServer> {
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?', 1)[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      if (path === '/metrics' || path === '/healthz' || path === '/readyz') {
        response.setHeader('allow', 'GET, HEAD')
        answer(response, 405, 'method not allowed\n')
      } else {
        answer(response, 404, 'not found\n')
      }
      return
    }
    switch (path) {
      case '/healthz':
        answer(response, 200, 'ok\n')
        return
      case '/readyz':
        answer(response, readiness.ready ? 200 : 503, `${readiness.describe()}\n`)
        return
      case '/metrics':
        if (metrics === null) {
          answer(response, 503, 'metrics not available yet\n')
          return
        }
        metrics.render().then((text) => answer(response, 200, text, metrics.contentType), (error: Error) => {
          logger.limited('metrics-render', 'error', `metrics: rendering failed: ${error.stack ?? error.message}`)
          answer(response, 500, 'metrics failed\n')
        })
        return
      default:
        answer(response, 404, 'not found\n')
    }
  }
  const server: Server = createServer(onRequest)
  // A scrape that stalls must not keep a socket forever.
  server.requestTimeout = 30_000
  server.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (error) => logger.error(`metrics server: ${error.message}`))
  const address = server.address()
  return {
    host,
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}
