// Listeners in Kafka's syntax (`listeners`, `advertised.listeners`, `listener.security.protocol.map`).
//
// `listeners` is a comma-separated list of `NAME://host:port`. NAME is a listener name: its security protocol is
// what `listener.security.protocol.map` (`NAME:PROTOCOL,...`) maps it to; Kafka's default map maps each of the
// four protocols' names to itself, so `SASL_PLAINTEXT://:9094` needs no map. Names are case-insensitive
// (Kafka upper-cases them) and each may appear once, as may each port. An empty host binds every interface.
// `advertised.listeners` names, per listener, the host:port given to clients that came in on it (Metadata,
// DescribeCluster, FindCoordinator); a listener it does not name advertises its own address.
//
// Shoal's own `--listen host:port` is one PLAINTEXT listener named PLAINTEXT (and `--advertised-listener host:port`
// its advertised address). SSL and SASL_SSL listeners speak TLS (src/net/tls.ts), with the --ssl-* settings.

import { ConfigError } from './config-error.ts'

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'

const kKnownProtocols: ReadonlySet<string> = new Set(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'])

export interface ListenerConfig {
  /** Upper-case listener name (`PLAINTEXT`, `SASL_PLAINTEXT`, `CLIENT`, ...). */
  readonly name: string
  readonly securityProtocol: SecurityProtocol
  readonly host: string
  /** 0: any free port (the one chosen is advertised unless advertised.listeners names one). */
  readonly port: number
  /** From advertised.listeners; null: advertise the listen address. */
  readonly advertisedHost: string | null
  readonly advertisedPort: number | null
}

/** Whether a listener authenticates its connections with SASL before serving them. */
export function isSaslListener (listener: { readonly securityProtocol: string }): boolean {
  return listener.securityProtocol === 'SASL_PLAINTEXT' || listener.securityProtocol === 'SASL_SSL'
}

/** Whether a listener's connections speak TLS (SSL, SASL_SSL): src/net/tls.ts wraps them on their worker. */
export function isTlsListener (listener: { readonly securityProtocol: string }): boolean {
  return listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL'
}

interface Entry {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly text: string
}

/** `host:port` (IPv6 hosts in brackets); `what` prefixes errors. */
export function parseHostPort (value: string, what: string): [string, number] {
  const colon = value.lastIndexOf(':')
  if (colon <= 0) throw new ConfigError(`${what}: expected host:port, got "${value}"`)
  const host = value.slice(0, colon).replace(/^\[|\]$/g, '')
  const portText = value.slice(colon + 1)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`${what}: bad port in "${value}"`)
  return [host, port]
}

/** Whether a value is in Kafka's `NAME://host:port,...` syntax rather than Shoal's `host:port`. */
export function isKafkaListenerSyntax (value: string): boolean {
  return value.includes('://')
}

/**
 * The entries of a `NAME://host:port,...` list. An empty host is `emptyHost`, or an error where null (an
 * advertised listener must name a host).
 */
function parseEntries (value: string, where: string, emptyHost: string | null): Entry[] {
  const entries: Entry[] = []
  for (const text of value.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^([A-Za-z0-9_]+):\/\/(.*)$/.exec(text)
    if (match === null) throw new ConfigError(`${where}: expected PLAINTEXT://host:port, got "${text}"`)
    const name = match[1].toUpperCase()
    let address = match[2]
    if (address.startsWith(':')) {
      if (emptyHost === null) throw new ConfigError(`${where}: an advertised listener needs a host, got "${value}"`)
      address = emptyHost + address
    }
    const [host, port] = parseHostPort(address, where)
    if (entries.some((entry) => entry.name === name)) throw new ConfigError(`${where}: listener name ${name} appears twice ("${text}"); each listener needs a name of its own`)
    entries.push({ name, host, port, text })
  }
  if (entries.length === 0) throw new ConfigError(`${where}: expected PLAINTEXT://host:port, got "${value}"`)
  return entries
}

/** `listener.security.protocol.map`: `NAME:PROTOCOL,...`, over Kafka's default (each protocol's name to itself). */
export function parseSecurityProtocolMap (value: string | undefined, where: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const protocol of kKnownProtocols) map.set(protocol, protocol)
  if (value === undefined) return map
  const named = new Set<string>()
  for (const part of value.split(',').map((text) => text.trim()).filter((text) => text !== '')) {
    const match = /^([A-Za-z0-9_]+):([A-Za-z_]+)$/.exec(part)
    if (match === null) throw new ConfigError(`${where}: expected NAME:PROTOCOL, got "${part}"`)
    const name = match[1].toUpperCase()
    const protocol = match[2].toUpperCase()
    if (!kKnownProtocols.has(protocol)) throw new ConfigError(`${where}: unknown security protocol "${match[2]}" for listener ${name} (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)`)
    if (named.has(name)) throw new ConfigError(`${where}: listener ${name} is mapped twice`)
    named.add(name)
    map.set(name, protocol)
  }
  return map
}

export interface ListenerSettings {
  /** `--listen`/`listeners`: Shoal's `host:port` or Kafka's list; `where` names it in errors. */
  readonly listeners: string
  readonly listenersWhere: string
  readonly advertised: string | undefined
  readonly advertisedWhere: string
  readonly protocolMap: string | undefined
  readonly protocolMapWhere: string
}

/**
 * The listeners to serve, in the order given (the first is the one `listenHost`/`listenPort` and the
 * `listening on` line report). Throws a ConfigError naming the setting for anything it cannot serve.
 */
export function parseListeners (settings: ListenerSettings): ListenerConfig[] {
  const map = parseSecurityProtocolMap(settings.protocolMap, settings.protocolMapWhere)
  const entries = isKafkaListenerSyntax(settings.listeners)
    ? parseEntries(settings.listeners, settings.listenersWhere, '0.0.0.0')
    : [{ name: 'PLAINTEXT', ...hostPort(settings.listeners, settings.listenersWhere), text: settings.listeners }]
  const advertised = new Map<string, { host: string, port: number }>()
  if (settings.advertised !== undefined) {
    if (isKafkaListenerSyntax(settings.advertised)) {
      for (const entry of parseEntries(settings.advertised, settings.advertisedWhere, null)) {
        if (!entries.some((listener) => listener.name === entry.name)) {
          throw new ConfigError(`${settings.advertisedWhere}: advertised listener ${entry.name} ("${entry.text}") is not one of the listeners (${entries.map((listener) => listener.name).join(', ')})`)
        }
        advertised.set(entry.name, { host: entry.host, port: entry.port })
      }
    } else {
      // Shoal's `host:port`: the address of the first listener.
      advertised.set(entries[0].name, hostPort(settings.advertised, settings.advertisedWhere))
    }
  }
  const ports = new Set<number>()
  return entries.map((entry) => {
    const protocol = map.get(entry.name)
    if (protocol === undefined) {
      throw new ConfigError(`${settings.listenersWhere}: cannot serve listener "${entry.text}": no security protocol for listener name ${entry.name} (map it in listener.security.protocol.map / --listener-security-protocol-map)`)
    }
    if (entry.port !== 0) {
      if (ports.has(entry.port)) throw new ConfigError(`${settings.listenersWhere}: two listeners on port ${entry.port}`)
      ports.add(entry.port)
    }
    const address = advertised.get(entry.name)
    return {
      name: entry.name,
      securityProtocol: protocol as SecurityProtocol,
      host: entry.host,
      port: entry.port,
      advertisedHost: address?.host ?? null,
      advertisedPort: address?.port ?? null
    }
  })
}

function hostPort (value: string, where: string): { host: string, port: number } {
  const [host, port] = parseHostPort(value, where)
  return { host, port }
}

/**
 * A `listeners` or `advertised.listeners` line of a config file: Kafka's syntax only (Shoal's `host:port` is for
 * the flag), checked here so that the error names the file line; returned as given.
 */
export function checkKafkaListenerProperty (value: string, where: string, advertised: boolean): string {
  parseEntries(value, where, advertised ? null : '0.0.0.0')
  return value
}

function listenerAddress (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * `listeners` as DescribeConfigs tells it: `NAME://host:port,...`, with `ports` (by name) replacing port 0 once
 * the broker listens.
 */
export function describeListeners (listeners: readonly ListenerConfig[], ports: Readonly<Record<string, { host: string, port: number }>> = {}): string {
  return listeners.map((listener) => `${listener.name}://${listenerAddress(listener.host, listener.port === 0 ? (ports[listener.name]?.port ?? 0) : listener.port)}`).join(',')
}

/** `advertised.listeners` as DescribeConfigs tells it, from each listener's advertised address (Shard#advertisedListeners). */
export function describeAdvertisedListeners (listeners: readonly ListenerConfig[], advertised: Readonly<Record<string, { host: string, port: number }>>): string {
  return listeners.map((listener) => {
    const address = advertised[listener.name] ?? { host: listener.advertisedHost ?? listener.host, port: listener.advertisedPort ?? listener.port }
    return `${listener.name}://${listenerAddress(address.host, address.port)}`
  }).join(',')
}

/** `listener.security.protocol.map` as DescribeConfigs tells it: each listener's name and protocol. */
export function describeSecurityProtocolMap (listeners: readonly ListenerConfig[]): string {
  return listeners.map((listener) => `${listener.name}:${listener.securityProtocol}`).join(',')
}
