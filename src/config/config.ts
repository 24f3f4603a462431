// Broker configuration: command-line flags, each with a SHOAL_* environment equivalent (flags win).
// `parseConfig` is pure (argv and env in, config out) so tests can check it without a process.
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'

export interface BrokerConfig {
  /** Address the acceptor listens on; port 0 picks a free port (the chosen one is logged and advertised). */
  readonly listenHost: string
  readonly listenPort: number
  /** host:port given to clients in Metadata; defaults to the listen address. */
  readonly advertisedHost: string | null
  readonly advertisedPort: number | null
  readonly dataDir: string
  readonly workers: number
  readonly defaultPartitions: number
  readonly autoCreateTopics: boolean
  readonly logLevel: LogLevel
  /** Largest request frame accepted; a larger size prefix closes the connection. */
  readonly maxFrameBytes: number
  /** Kafka's `message.max.bytes` (the broker default of a topic's `max.message.bytes`). */
  readonly messageMaxBytes: number
  readonly segmentBytes: number
  /** Bytes of each worker-to-worker ring (a power of two). */
  readonly ringBytes: number
  readonly nodeId: number
  readonly groupInitialRebalanceDelayMs: number
  readonly groupMinSessionTimeoutMs: number
  readonly groupMaxSessionTimeoutMs: number
  readonly groupMaxSize: number
  /** KIP-848 consumer groups: a member silent this long is removed (Kafka's group.consumer.session.timeout.ms). */
  readonly groupConsumerSessionTimeoutMs: number
  /** KIP-848 consumer groups: the heartbeat interval given to members (group.consumer.heartbeat.interval.ms). */
  readonly groupConsumerHeartbeatIntervalMs: number
  readonly offsetsRetentionMinutes: number
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

interface FlagSpec {
  readonly flag: string
  readonly env: string
  readonly help: string
  readonly boolean?: boolean
}

export const kFlags: readonly FlagSpec[] = [
  { flag: '--listen', env: 'SHOAL_LISTEN', help: 'host:port to accept Kafka clients on (default 127.0.0.1:9092; port 0 = any free port)' },
  { flag: '--advertised-listener', env: 'SHOAL_ADVERTISED_LISTENER', help: 'host:port clients are told to connect to (default: the listen address)' },
  { flag: '--data-dir', env: 'SHOAL_DATA_DIR', help: 'directory for partition logs and metadata (default ./data)' },
  { flag: '--workers', env: 'SHOAL_WORKERS', help: 'partition worker threads (default: number of cores)' },
  { flag: '--default-partitions', env: 'SHOAL_DEFAULT_PARTITIONS', help: 'partitions of auto-created topics and of CreateTopics with -1 (default 1)' },
  { flag: '--auto-create-topics', env: 'SHOAL_AUTO_CREATE_TOPICS', help: 'create unknown topics when a client asks for their metadata (default true; =false to turn off)', boolean: true },
  { flag: '--log-level', env: 'SHOAL_LOG_LEVEL', help: 'error | warn | info | debug (default info)' },
  { flag: '--max-frame-bytes', env: 'SHOAL_MAX_FRAME_BYTES', help: 'largest request frame accepted (default 104857600)' },
  { flag: '--message-max-bytes', env: 'SHOAL_MESSAGE_MAX_BYTES', help: 'largest record batch accepted, Kafka message.max.bytes (default 1048588)' },
  { flag: '--segment-bytes', env: 'SHOAL_SEGMENT_BYTES', help: 'log segment size before rolling (default 1073741824)' },
  { flag: '--ring-bytes', env: 'SHOAL_RING_BYTES', help: 'bytes of each worker-to-worker ring buffer, a power of two (default 1048576)' },
  { flag: '--node-id', env: 'SHOAL_NODE_ID', help: 'broker id reported to clients (default 1)' },
  { flag: '--group-initial-rebalance-delay-ms', env: 'SHOAL_GROUP_INITIAL_REBALANCE_DELAY_MS', help: 'how long the first rebalance of an empty group waits for more members (default 3000)' },
  { flag: '--group-min-session-timeout-ms', env: 'SHOAL_GROUP_MIN_SESSION_TIMEOUT_MS', help: 'smallest consumer session timeout accepted (default 6000)' },
  { flag: '--group-max-session-timeout-ms', env: 'SHOAL_GROUP_MAX_SESSION_TIMEOUT_MS', help: 'largest consumer session timeout accepted (default 1800000)' },
  { flag: '--group-max-size', env: 'SHOAL_GROUP_MAX_SIZE', help: 'most members in one group (default 2147483647)' },
  { flag: '--group-consumer-session-timeout-ms', env: 'SHOAL_GROUP_CONSUMER_SESSION_TIMEOUT_MS', help: 'how long a KIP-848 consumer group member may stay silent (default 45000)' },
  { flag: '--group-consumer-heartbeat-interval-ms', env: 'SHOAL_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS', help: 'heartbeat interval given to KIP-848 consumer group members (default 5000)' },
  { flag: '--offsets-retention-minutes', env: 'SHOAL_OFFSETS_RETENTION_MINUTES', help: 'how long an empty group keeps its committed offsets (default 10080)' }
]

export class ConfigError extends Error {
  readonly code = 'SHOAL_CONFIG'
}

function parseHostPort (value: string, what: string): [string, number] {
  const colon = value.lastIndexOf(':')
  if (colon <= 0) throw new ConfigError(`${what}: expected host:port, got "${value}"`)
  const host = value.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = Number(value.slice(colon + 1))
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`${what}: bad port in "${value}"`)
  return [host, port]
}

function parseInteger (value: string, what: string, min: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${what}: expected an integer >= ${min}, got "${value}"`)
  return n
}

function parseBoolean (value: string, what: string): boolean {
  if (value === 'true' || value === '1' || value === 'yes' || value === '') return true
  if (value === 'false' || value === '0' || value === 'no') return false
  throw new ConfigError(`${what}: expected true or false, got "${value}"`)
}

export function usage (): string {
  const lines = ['Usage: shoal [flags]', '']
  for (const spec of kFlags) lines.push(`  ${(spec.flag + (spec.boolean ? '[=bool]' : ' VALUE')).padEnd(28)} ${spec.help}  [${spec.env}]`)
  return lines.join('\n')
}

export function parseConfig (argv: readonly string[], env: NodeJS.ProcessEnv = {}): BrokerConfig {
  const values = new Map<string, string>()
  for (const spec of kFlags) {
    const fromEnv = env[spec.env]
    if (fromEnv !== undefined) values.set(spec.flag, fromEnv)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const spec = kFlags.find((s) => s.flag === name)
    if (spec === undefined) throw new ConfigError(`unknown flag ${arg}\n\n${usage()}`)
    if (eq !== -1) values.set(name, arg.slice(eq + 1))
    else if (spec.boolean === true && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) values.set(name, 'true')
    else if (argv[i + 1] === undefined) throw new ConfigError(`${name} needs a value`)
    else values.set(name, argv[++i])
  }
  const get = (flag: string): string | undefined => values.get(flag)
  const [listenHost, listenPort] = parseHostPort(get('--listen') ?? '127.0.0.1:9092', '--listen')
  const advertised = get('--advertised-listener')
  const [advertisedHost, advertisedPort] = advertised === undefined ? [null, null] : parseHostPort(advertised, '--advertised-listener')
  const logLevel = (get('--log-level') ?? 'info') as LogLevel
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) throw new ConfigError(`--log-level: unknown level "${logLevel}"`)
  const ringBytes = parseInteger(get('--ring-bytes') ?? String(1 << 20), '--ring-bytes', 4096)
  if ((ringBytes & (ringBytes - 1)) !== 0) throw new ConfigError('--ring-bytes must be a power of two')
  return {
    listenHost,
    listenPort,
    advertisedHost,
    advertisedPort,
    dataDir: resolve(get('--data-dir') ?? './data'),
    workers: parseInteger(get('--workers') ?? String(availableParallelism()), '--workers', 1),
    defaultPartitions: parseInteger(get('--default-partitions') ?? '1', '--default-partitions', 1),
    autoCreateTopics: parseBoolean(get('--auto-create-topics') ?? 'true', '--auto-create-topics'),
    logLevel,
    maxFrameBytes: parseInteger(get('--max-frame-bytes') ?? String(100 * 1024 * 1024), '--max-frame-bytes', 1024),
    messageMaxBytes: parseInteger(get('--message-max-bytes') ?? '1048588', '--message-max-bytes', 64),
    segmentBytes: parseInteger(get('--segment-bytes') ?? String(1024 * 1024 * 1024), '--segment-bytes', 1024),
    ringBytes,
    nodeId: parseInteger(get('--node-id') ?? '1', '--node-id', 0),
    groupInitialRebalanceDelayMs: parseInteger(get('--group-initial-rebalance-delay-ms') ?? '3000', '--group-initial-rebalance-delay-ms', 0),
    groupMinSessionTimeoutMs: parseInteger(get('--group-min-session-timeout-ms') ?? '6000', '--group-min-session-timeout-ms', 1),
    groupMaxSessionTimeoutMs: parseInteger(get('--group-max-session-timeout-ms') ?? '1800000', '--group-max-session-timeout-ms', 1),
    groupMaxSize: parseInteger(get('--group-max-size') ?? '2147483647', '--group-max-size', 1),
    groupConsumerSessionTimeoutMs: parseInteger(get('--group-consumer-session-timeout-ms') ?? '45000', '--group-consumer-session-timeout-ms', 1),
    groupConsumerHeartbeatIntervalMs: parseInteger(get('--group-consumer-heartbeat-interval-ms') ?? '5000', '--group-consumer-heartbeat-interval-ms', 1),
    offsetsRetentionMinutes: parseInteger(get('--offsets-retention-minutes') ?? '10080', '--offsets-retention-minutes', 1)
  }
}
