// Connection limits of the acceptor (main thread): Kafka's `max.connections`, `max.connections.per.ip` and a
// per-IP connection creation rate. The acceptor asks `admit` before it hands a socket to a worker, and the
// worker's 'connection-closed' message gives the connection back (`released`). Connections are counted per
// worker and per IP, so that when a worker dies all of its connections can be given back at once
// (`releaseWorker`).
//
// The rate is a fixed one-second window per IP (the count of admissions since the window opened): cheap, and
// an IP that opens connections in a tight loop is refused for the rest of its window. Kafka delays such
// connections (it throttles the acceptor); we close them, which a client sees as a failed connection attempt
// and retries with its reconnect backoff. An IP's rate is its `connection_creation_rate` client quota (KIP-612,
// AlterClientQuotas on an ip entity), else the default ip entity's, else --max-connection-creation-rate-per-ip.

export interface AcceptorLimitsOptions {
  /** Most connections open at once (Kafka's `max.connections`). */
  readonly maxConnections: number
  /** Most connections open at once from one IP (Kafka's `max.connections.per.ip`). */
  readonly maxConnectionsPerIp: number
  /** Most connections one IP may open in a second; 0 = unlimited. */
  readonly maxConnectionCreationRatePerIp: number
}

/** Why a connection was refused: also its counter name and its log key. */
export type RefusalReason = 'max-connections' | 'max-connections-per-ip' | 'max-connection-creation-rate-per-ip'

const kWindowMs = 1000

interface RateWindow {
  start: number
  admitted: number
}

export class AcceptorLimits {
  readonly options: AcceptorLimitsOptions
  #total: number
  /** Open connections by IP (all workers). */
  readonly #byIp: Map<string, number>
  /** Open connections by worker, then by IP: what a worker's death gives back. */
  readonly #byWorker: Map<number, Map<string, number>>
  /** Connection creation windows by IP; windows that ended are swept at most once a window. */
  readonly #rates: Map<string, RateWindow>
  #lastSweep: number
  /** connection_creation_rate quotas: by IP, and the default ip entity's (null: none). */
  #ipRates: ReadonlyMap<string, number> = new Map()
  #defaultIpRate: number | null = null

  constructor (options: AcceptorLimitsOptions) {
    this.options = options
    this.#total = 0
    this.#byIp = new Map()
    this.#byWorker = new Map()
    this.#rates = new Map()
    this.#lastSweep = 0
  }

  /**
   * The connection_creation_rate quotas in force (the ip entities of the client quotas): `byIp` by address, and
   * the default ip entity's rate (null when there is none). Replaces the previous set.
   */
  setCreationRates (byIp: ReadonlyMap<string, number>, defaultRate: number | null): void {
    this.#ipRates = byIp
    this.#defaultIpRate = defaultRate
  }

  /**
   * New connections `ip` may open in a second (Infinity: unlimited): its quota, else the default ip quota (a
   * quota of 0 refuses every connection, as a Kafka quota of 0 does), else the flag (where 0 means unlimited).
   */
  creationRateOf (ip: string): number {
    // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; its quota is set for a.b.c.d.
    const quota = this.#ipRates.get(ip) ?? (ip.startsWith('::ffff:') ? this.#ipRates.get(ip.slice(7)) : undefined) ?? this.#defaultIpRate
    if (quota !== null && quota !== undefined) return quota
    const flag = this.options.maxConnectionCreationRatePerIp
    return flag > 0 ? flag : Infinity
  }

  /** Open connections in all. */
  get total (): number {
    return this.#total
  }

  /** Open connections from `ip`. */
  connectionsFrom (ip: string): number {
    return this.#byIp.get(ip) ?? 0
  }

  /** Open connections handed to `worker`. */
  connectionsOf (worker: number): number {
    let sum = 0
    for (const n of this.#byWorker.get(worker)?.values() ?? []) sum += n
    return sum
  }

  /**
   * Whether a new connection from `ip` may go to `worker`: null when it is admitted (and counted from now on),
   * else the limit it breaches (and nothing is counted but the attempt against the rate).
   */
  admit (ip: string, worker: number, now = Date.now()): RefusalReason | null {
    const rate = this.creationRateOf(ip)
    if (rate !== Infinity) {
      if (now - this.#lastSweep >= kWindowMs) this.#sweep(now)
      let window = this.#rates.get(ip)
      if (window === undefined || now - window.start >= kWindowMs) {
        window = { start: now, admitted: 0 }
        this.#rates.set(ip, window)
      }
      // Refused attempts count too: an IP retrying in a tight loop stays refused until its window ends.
      if (window.admitted++ >= rate) return 'max-connection-creation-rate-per-ip'
    }
    if (this.#total >= this.options.maxConnections) return 'max-connections'
    const fromIp = this.#byIp.get(ip) ?? 0
    if (fromIp >= this.options.maxConnectionsPerIp) return 'max-connections-per-ip'
    this.#total++
    this.#byIp.set(ip, fromIp + 1)
    let ips = this.#byWorker.get(worker)
    if (ips === undefined) {
      ips = new Map()
      this.#byWorker.set(worker, ips)
    }
    ips.set(ip, (ips.get(ip) ?? 0) + 1)
    return null
  }

  /**
   * A connection from `ip` on `worker` closed. When the worker does not know the IP (`undefined`, or one it
   * holds no connection from: the peer was gone before the worker could ask), one of its connections is given
   * back anyway, so that the totals stay right.
   */
  released (ip: string | undefined, worker: number): void {
    const ips = this.#byWorker.get(worker)
    if (ips === undefined || ips.size === 0) return
    this.#drop(ips, keyIn(ips, ip), 1)
  }

  /**
   * A connection from `ip` moved from worker `from` to worker `to` (src/net/connection.ts, "Moving a
   * connection"): the totals stay; what each worker's death would give back follows it.
   */
  moved (ip: string | undefined, from: number, to: number): void {
    const ips = this.#byWorker.get(from)
    if (ips === undefined || ips.size === 0) return
    const key = keyIn(ips, ip)
    const left = (ips.get(key) ?? 0) - 1
    if (left > 0) ips.set(key, left)
    else ips.delete(key)
    let target = this.#byWorker.get(to)
    if (target === undefined) {
      target = new Map()
      this.#byWorker.set(to, target)
    }
    target.set(key, (target.get(key) ?? 0) + 1)
  }

  /** Every connection of `worker` is gone (it died): gives them all back. Returns how many there were. */
  releaseWorker (worker: number): number {
    const ips = this.#byWorker.get(worker)
    if (ips === undefined) return 0
    let released = 0
    for (const [ip, n] of ips) {
      released += n
      this.#drop(ips, ip, n)
    }
    this.#byWorker.delete(worker)
    return released
  }

  #drop (ips: Map<string, number>, ip: string, n: number): void {
    const onWorker = (ips.get(ip) ?? 0) - n
    if (onWorker > 0) ips.set(ip, onWorker)
    else ips.delete(ip)
    const fromIp = (this.#byIp.get(ip) ?? 0) - n
    if (fromIp > 0) this.#byIp.set(ip, fromIp)
    else this.#byIp.delete(ip)
    this.#total -= n
  }

  /** Forgets the windows that ended, so that the map holds only IPs seen in the last second. */
  #sweep (now: number): void {
    this.#lastSweep = now
    for (const [ip, window] of this.#rates) if (now - window.start >= kWindowMs) this.#rates.delete(ip)
  }
}

/** `ip` when the worker holds a connection from it, else one it does (a worker that could not read the IP). */
function keyIn (ips: ReadonlyMap<string, number>, ip: string | undefined): string {
  return ip !== undefined && ips.has(ip) ? ip : ips.keys().next().value as string
}
