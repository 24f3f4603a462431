// A TCP proxy for the interop tests that records which API and version every request used, so that a test can
// check what a real client negotiated through ApiVersions (and what it did not send at all, such as the
// LeaveGroup a static member skips on close). Bytes go through unchanged; requests are parsed on the side.
//
// Clients learn the broker's address from Metadata and FindCoordinator, so the broker must advertise the
// proxy: `proxy.startBroker(options)` listens, starts the broker with `--advertised-listener` set to the proxy,
// and points the proxy at it.
//
// Not a test file: `node --test` only runs `*.test.ts`.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { apiByKey } from '../../src/protocol/apis.ts'
import { startBroker, type StartOptions, type TestBroker } from '../helpers/broker.ts'

export interface RecordedRequest {
  apiKey: number
  apiName: string
  apiVersion: number
  clientId: string | null
}

/**
 * A TCP proxy on a free loopback port that forwards each connection to the broker at `target(port)`; subclasses
 * decide what crosses, and see it on the way.
 */
export abstract class ForwardingProxy {
  readonly server: Server
  port = 0
  targetPort = 0
  readonly #sockets = new Set<Socket>()

  constructor () {
    this.server = createServer((client) => this.accept(client))
  }

  async listen (): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as { port: number }).port
  }

  target (port: number): void {
    this.targetPort = port
  }

  get bootstrap (): string {
    return `127.0.0.1:${this.port}`
  }

  /** Listens, then starts a broker (with `options`) that advertises this proxy, and forwards to it. */
  async startBroker (options: StartOptions): Promise<TestBroker> {
    await this.listen()
    const broker = await startBroker({ ...options, args: [...(options.args ?? []), '--advertised-listener', this.bootstrap] })
    this.target(broker.port)
    return broker
  }

  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** Connects `client` to the broker; either side closing or failing closes both (`cut` does it on demand). */
  protected connectUpstream (client: Socket): { upstream: Socket, cut: () => void } {
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort })
    this.#sockets.add(client).add(upstream)
    const cut = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', cut).on('close', cut)
    upstream.on('error', cut).on('close', cut)
    client.on('close', () => this.#sockets.delete(client))
    upstream.on('close', () => this.#sockets.delete(upstream))
    return { upstream, cut }
  }

  protected abstract accept (client: Socket): void
}

/** Forwards bytes unchanged and records every request's API, version and client id. */
export class ApiVersionProxy extends ForwardingProxy {
  readonly requests: RecordedRequest[] = []

  /** Versions seen per API name, for assertion messages and checks: `{ JoinGroup: [5], ... }`. */
  versions (filter: (request: RecordedRequest) => boolean = () => true): Record<string, number[]> {
    const out: Record<string, Set<number>> = {}
    for (const request of this.requests) {
      if (!filter(request)) continue
      ;(out[request.apiName] ??= new Set()).add(request.apiVersion)
    }
    return Object.fromEntries(Object.entries(out).map(([name, set]) => [name, [...set].sort((a, b) => a - b)]))
  }

  protected accept (client: Socket): void {
    const { upstream } = this.connectUpstream(client)
    upstream.pipe(client)
    let buffered: Buffer = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0)
        this.#record(buffered.subarray(4, 4 + size))
        buffered = buffered.subarray(4 + size)
      }
    })
  }

  #record (frame: Buffer): void {
    if (frame.length < 10) return
    const apiKey = frame.readInt16BE(0)
    const apiVersion = frame.readInt16BE(2)
    // Request header v1+: api key, version, correlation id, then the client id as a nullable int16 string.
    const idLength = frame.readInt16BE(8)
    const clientId = idLength < 0 ? null : frame.toString('utf8', 10, 10 + idLength)
    this.requests.push({ apiKey, apiName: apiByKey(apiKey)?.name ?? `api-${apiKey}`, apiVersion, clientId })
  }
}

/**
 * Forwards bytes unchanged and holds connections across a broker restart: after `hold()`, clients that connect
 * are accepted and kept waiting (their bytes buffered) until `target(port)` names the restarted broker. A client
 * therefore never sees a refused connection while the broker is between processes, only a slow answer, which is
 * what it would see from a broker that restarts behind a load balancer or a stable address.
 */
export class RestartProxy extends ForwardingProxy {
  readonly #held: Socket[] = []

  /** From now until the next `target`, new connections wait instead of reaching a broker. */
  hold (): void {
    this.targetPort = 0
  }

  override target (port: number): void {
    super.target(port)
    for (const client of this.#held.splice(0)) {
      if (!client.destroyed) this.#forward(client)
    }
  }

  protected accept (client: Socket): void {
    if (this.targetPort === 0) {
      client.pause()
      client.on('error', () => client.destroy())
      this.#held.push(client)
      return
    }
    this.#forward(client)
  }

  #forward (client: Socket): void {
    const { upstream } = this.connectUpstream(client)
    upstream.pipe(client)
    client.pipe(upstream)
    client.resume()
  }
}
