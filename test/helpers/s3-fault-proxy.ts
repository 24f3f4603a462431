// An HTTP reverse proxy in front of s3rver (test/helpers/s3.ts) that injects S3 faults on demand, for tests of
// retries, back-pressure and timeouts. Point the store or the broker (--s3-endpoint) at `endpoint`.
//
// Modes (setMode; each applies to requests that arrive after it):
//   pass           forward (request and response bodies streamed both ways, keep-alive to s3rver)
//   error-500      answer 500 InternalError (S3's XML error body)
//   slow-down-503  answer 503 SlowDown, as S3 does when a prefix gets more requests than it takes
//   hang           read the request and never answer (the client's timeout has to fire)
//   down           stop listening and drop every connection: new connections are refused; any other mode
//                  listens again on the same port
//   slow           forward each request after `delayMs` (setMode's second argument, default 200)
// `counts` has the requests seen per method (in every mode but down), e.g. counts.PUT.
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultMode = 'pass' | 'error-500' | 'slow-down-503' | 'hang' | 'down' | 'slow'

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`; the same port for the proxy's whole life. */
  readonly endpoint: string
  readonly mode: FaultMode
  /** Resolves once the mode is in force (for 'down': the port is closed; leaving 'down': it listens again). */
  setMode (mode: FaultMode, delayMs?: number): Promise<void>
  /** Requests seen per HTTP method. */
  readonly counts: { PUT: number, GET: number, POST: number, DELETE: number, HEAD: number }
  close (): Promise<void>
}

function s3ErrorXml (code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`
}

export async function startFaultProxy (target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  const agent = new Agent({ keepAlive: true })
  const sockets = new Set<Socket>()
  /** Requests held by 'hang' (or delayed by 'slow'): ended on close and when the proxy goes down. */
  const held = new Set<ServerResponse>()
  const timers = new Set<NodeJS.Timeout>()
  const counts = { PUT: 0, GET: 0, POST: 0, DELETE: 0, HEAD: 0 }
  let mode: FaultMode = 'pass'
  let delayMs = 200

  const answerError = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void => {
    req.resume()
    req.once('end', () => {
      const body = s3ErrorXml(code, message)
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  }

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const outgoing = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    outgoing.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.destroy()
    })
    req.pipe(outgoing)
  }

  const server = createServer({ keepAlive: true }, (req, res) => {
    const method = req.method as keyof typeof counts
    if (method in counts) counts[method]++
    switch (mode) {
      case 'error-500':
        answerError(req, res, 500, 'InternalError', 'We encountered an internal error. Please try again.')
        return
      case 'slow-down-503':
        answerError(req, res, 503, 'SlowDown', 'Please reduce your request rate.')
        return
      case 'hang':
        req.resume()
        held.add(res)
        res.once('close', () => held.delete(res))
        return
      case 'slow': {
        req.pause()
        held.add(res)
        const timer = setTimeout(() => {
          timers.delete(timer)
          held.delete(res)
          if (!res.destroyed) forward(req, res)
        }, delayMs)
        timers.add(timer)
        return
      }
      default:
        forward(req, res)
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  const listen = (port: number): Promise<number> => new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
  const dropEverything = (): void => {
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
    for (const res of held) res.destroy()
    held.clear()
    for (const socket of sockets) socket.destroy()
  }
  const stopListening = (): Promise<void> => new Promise((resolve) => {
    server.close(() => resolve())
    dropEverything()
  })

  const port = await listen(0)
  let closed = false
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode () { return mode },
    counts,
    async setMode (next: FaultMode, delay?: number) {
      if (closed) throw new Error('fault proxy is closed')
      if (delay !== undefined) delayMs = delay
      const wasDown = mode === 'down'
      mode = next
      if (next === 'down' && !wasDown) await stopListening()
      else if (next !== 'down' && wasDown) await listen(port)
    },
    async close () {
      if (closed) return
      closed = true
      if (mode !== 'down') await stopListening()
      agent.destroy()
    }
  }
}
