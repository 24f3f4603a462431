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
  /** Most partitions one topic may have (CreateTopics and CreatePartitions beyond it: POLICY_VIOLATION). */
  readonly maxPartitionsPerTopic: number
  /** KIP-578's `max.broker.partitions`: most partitions of all topics together (about 3 open files each). */
  readonly maxBrokerPartitions: number
  /** Most topics on this broker, internal ones included. */
  readonly maxTopics: number
  readonly autoCreateTopics: boolean
  readonly logLevel: LogLevel
  /** Largest request frame accepted; a larger size prefix closes the connection. */
  readonly maxFrameBytes: number
  /** Kafka's `max.connections`: connections open at once; the acceptor closes one beyond it. */
  readonly maxConnections: number
  /** Kafka's `max.connections.per.ip`. */
  readonly maxConnectionsPerIp: number
  /** New connections a second from one IP (0 = unlimited); beyond it they are closed (Kafka delays them). */
  readonly maxConnectionCreationRatePerIp: number
  /** Kafka's `connections.max.idle.ms`: a connection with no request in flight that sends nothing this long is closed (0 = never). */
  readonly connectionsMaxIdleMs: number
  /** Requests handled at once on one connection before it stops reading (back-pressure). */
  readonly maxInFlightRequestsPerConnection: number
  /** Kafka's `queued.max.request.bytes`, per worker: request bytes held before its connections stop reading. */
  readonly queuedMaxRequestBytes: number
  /** Kafka's `message.max.bytes` (the broker default of a topic's `max.message.bytes`). */
  readonly messageMaxBytes: number
  /** Most bytes a compressed batch may inflate to when it is validated (MESSAGE_TOO_LARGE beyond). */
  readonly maxDecompressedBatchBytes: number
  readonly segmentBytes: number
  /** Cap of each worker's LRU of open sealed segment files (active segments stay open besides). */
  readonly maxOpenSegmentFiles: number
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
  /** Kafka's transaction.max.timeout.ms: a producer asking a longer transaction timeout gets INVALID_TRANSACTION_TIMEOUT. */
  readonly transactionMaxTimeoutMs: number
  /** Kafka's transactional.id.expiration.ms: an idle transactional id is forgotten after this long. */
  readonly transactionalIdExpirationMs: number
  /** Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions are aborted. */
  readonly transactionAbortTimedOutIntervalMs: number
  /** Kafka's transaction.remove.expired.transaction.cleanup.interval.ms: how often expired transactional ids are removed. */
  readonly transactionRemoveExpiredIntervalMs: number
  /** How often each thread checks whether it is quiet after a burst, to give memory back (0 = never). */
  readonly memoryReclaimIntervalMs: number
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
  { flag: '--max-partitions-per-topic', env: 'SHOAL_MAX_PARTITIONS_PER_TOPIC', help: 'most partitions one topic may have; CreateTopics/CreatePartitions beyond it answer POLICY_VIOLATION (default 4000)' },
  { flag: '--max-broker-partitions', env: 'SHOAL_MAX_BROKER_PARTITIONS', help: 'most partitions of all topics together, Kafka max.broker.partitions; each holds about 3 open files (default 5000)' },
  { flag: '--max-topics', env: 'SHOAL_MAX_TOPICS', help: 'most topics on the broker, internal ones included (default 5000)' },
  { flag: '--auto-create-topics', env: 'SHOAL_AUTO_CREATE_TOPICS', help: 'create unknown topics when a client asks for their metadata (default true; =false to turn off)', boolean: true },
  { flag: '--log-level', env: 'SHOAL_LOG_LEVEL', help: 'error | warn | info | debug (default info)' },
  { flag: '--max-frame-bytes', env: 'SHOAL_MAX_FRAME_BYTES', help: 'largest request frame accepted (default 104857600)' },
  { flag: '--max-connections', env: 'SHOAL_MAX_CONNECTIONS', help: 'connections open at once, Kafka max.connections; more are closed at once (default 10000)' },
  { flag: '--max-connections-per-ip', env: 'SHOAL_MAX_CONNECTIONS_PER_IP', help: 'connections open at once from one IP, Kafka max.connections.per.ip (default 1000)' },
  { flag: '--max-connection-creation-rate-per-ip', env: 'SHOAL_MAX_CONNECTION_CREATION_RATE_PER_IP', help: 'new connections a second from one IP, more are closed; 0 = unlimited (default 0)' },
  { flag: '--connections-max-idle-ms', env: 'SHOAL_CONNECTIONS_MAX_IDLE_MS', help: 'close a connection idle this long, Kafka connections.max.idle.ms; 0 = never (default 600000)' },
  { flag: '--max-in-flight-requests-per-connection', env: 'SHOAL_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION', help: 'requests handled at once per connection before it stops reading (default 128)' },
  { flag: '--queued-max-request-bytes', env: 'SHOAL_QUEUED_MAX_REQUEST_BYTES', help: 'request bytes each worker holds before its connections stop reading, Kafka queued.max.request.bytes (default 268435456)' },
  { flag: '--message-max-bytes', env: 'SHOAL_MESSAGE_MAX_BYTES', help: 'largest record batch accepted, Kafka message.max.bytes (default 1048588)' },
  { flag: '--max-decompressed-batch-bytes', env: 'SHOAL_MAX_DECOMPRESSED_BATCH_BYTES', help: 'most bytes a compressed batch may inflate to; beyond it MESSAGE_TOO_LARGE (default 134217728)' },
  { flag: '--segment-bytes', env: 'SHOAL_SEGMENT_BYTES', help: 'log segment size before rolling (default 1073741824)' },
  { flag: '--max-open-segment-files', env: 'SHOAL_MAX_OPEN_SEGMENT_FILES', help: 'sealed segment files each worker keeps open, least recently read closed first (default 256)' },
  { flag: '--ring-bytes', env: 'SHOAL_RING_BYTES', help: 'bytes of each worker-to-worker ring buffer, a power of two (default 1048576)' },
  { flag: '--node-id', env: 'SHOAL_NODE_ID', help: 'broker id reported to clients (default 1)' },
  { flag: '--group-initial-rebalance-delay-ms', env: 'SHOAL_GROUP_INITIAL_REBALANCE_DELAY_MS', help: 'how long the first rebalance of an empty group waits for more members (default 3000)' },
  { flag: '--group-min-session-timeout-ms', env: 'SHOAL_GROUP_MIN_SESSION_TIMEOUT_MS', help: 'smallest consumer session timeout accepted (default 6000)' },
  { flag: '--group-max-session-timeout-ms', env: 'SHOAL_GROUP_MAX_SESSION_TIMEOUT_MS', help: 'largest consumer session timeout accepted (default 1800000)' },
  { flag: '--group-max-size', env: 'SHOAL_GROUP_MAX_SIZE', help: 'most members in one group (default 2147483647)' },
  { flag: '--group-consumer-session-timeout-ms', env: 'SHOAL_GROUP_CONSUMER_SESSION_TIMEOUT_MS', help: 'how long a KIP-848 consumer group member may stay silent (default 45000)' },
  { flag: '--group-consumer-heartbeat-interval-ms', env: 'SHOAL_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS', help: 'heartbeat interval given to KIP-848 consumer group members (default 5000)' },
  { flag: '--transaction-max-timeout-ms', env: 'SHOAL_TRANSACTION_MAX_TIMEOUT_MS', help: 'longest transaction timeout a producer may ask, Kafka transaction.max.timeout.ms; longer ones answer INVALID_TRANSACTION_TIMEOUT (default 900000)' },
  { flag: '--transactional-id-expiration-ms', env: 'SHOAL_TRANSACTIONAL_ID_EXPIRATION_MS', help: 'how long an idle transactional id is kept, Kafka transactional.id.expiration.ms (default 604800000)' },
  { flag: '--transaction-abort-timed-out-transaction-cleanup-interval-ms', env: 'SHOAL_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS', help: 'how often transactions past their timeout are aborted, Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms (default 10000)' },
  { flag: '--transaction-remove-expired-transaction-cleanup-interval-ms', env: 'SHOAL_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS', help: 'how often transactional ids idle past their expiration are removed, Kafka transaction.remove.expired.transaction.cleanup.interval.ms (default 3600000)' },
  { flag: '--offsets-retention-minutes', env: 'SHOAL_OFFSETS_RETENTION_MINUTES', help: 'how long an empty group keeps its committed offsets (default 10080)' },
  { flag: '--memory-reclaim-interval-ms', env: 'SHOAL_MEMORY_RECLAIM_INTERVAL_MS', help: 'how often a thread checks whether it went quiet after a burst, then gives its peak memory back; 0 = never (default 30000)' }
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
    maxPartitionsPerTopic: parseInteger(get('--max-partitions-per-topic') ?? '4000', '--max-partitions-per-topic', 1),
    maxBrokerPartitions: parseInteger(get('--max-broker-partitions') ?? '5000', '--max-broker-partitions', 1),
    maxTopics: parseInteger(get('--max-topics') ?? '5000', '--max-topics', 1),
    autoCreateTopics: parseBoolean(get('--auto-create-topics') ?? 'true', '--auto-create-topics'),
    logLevel,
    maxFrameBytes: parseInteger(get('--max-frame-bytes') ?? String(100 * 1024 * 1024), '--max-frame-bytes', 1024),
    maxConnections: parseInteger(get('--max-connections') ?? '10000', '--max-connections', 1),
    maxConnectionsPerIp: parseInteger(get('--max-connections-per-ip') ?? '1000', '--max-connections-per-ip', 1),
    maxConnectionCreationRatePerIp: parseInteger(get('--max-connection-creation-rate-per-ip') ?? '0', '--max-connection-creation-rate-per-ip', 0),
    connectionsMaxIdleMs: parseInteger(get('--connections-max-idle-ms') ?? '600000', '--connections-max-idle-ms', 0),
    maxInFlightRequestsPerConnection: parseInteger(get('--max-in-flight-requests-per-connection') ?? '128', '--max-in-flight-requests-per-connection', 1),
    queuedMaxRequestBytes: parseInteger(get('--queued-max-request-bytes') ?? String(256 * 1024 * 1024), '--queued-max-request-bytes', 64 * 1024),
    messageMaxBytes: parseInteger(get('--message-max-bytes') ?? '1048588', '--message-max-bytes', 64),
    maxDecompressedBatchBytes: parseInteger(get('--max-decompressed-batch-bytes') ?? String(128 * 1024 * 1024), '--max-decompressed-batch-bytes', 1024),
    segmentBytes: parseInteger(get('--segment-bytes') ?? String(1024 * 1024 * 1024), '--segment-bytes', 1024),
    maxOpenSegmentFiles: parseInteger(get('--max-open-segment-files') ?? '256', '--max-open-segment-files', 1),
    ringBytes,
    nodeId: parseInteger(get('--node-id') ?? '1', '--node-id', 0),
    groupInitialRebalanceDelayMs: parseInteger(get('--group-initial-rebalance-delay-ms') ?? '3000', '--group-initial-rebalance-delay-ms', 0),
    groupMinSessionTimeoutMs: parseInteger(get('--group-min-session-timeout-ms') ?? '6000', '--group-min-session-timeout-ms', 1),
    groupMaxSessionTimeoutMs: parseInteger(get('--group-max-session-timeout-ms') ?? '1800000', '--group-max-session-timeout-ms', 1),
    groupMaxSize: parseInteger(get('--group-max-size') ?? '2147483647', '--group-max-size', 1),
    groupConsumerSessionTimeoutMs: parseInteger(get('--group-consumer-session-timeout-ms') ?? '45000', '--group-consumer-session-timeout-ms', 1),
    groupConsumerHeartbeatIntervalMs: parseInteger(get('--group-consumer-heartbeat-interval-ms') ?? '5000', '--group-consumer-heartbeat-interval-ms', 1),
    offsetsRetentionMinutes: parseInteger(get('--offsets-retention-minutes') ?? '10080', '--offsets-retention-minutes', 1),
    transactionMaxTimeoutMs: parseInteger(get('--transaction-max-timeout-ms') ?? '900000', '--transaction-max-timeout-ms', 1),
    transactionAbortTimedOutIntervalMs: parseInteger(get('--transaction-abort-timed-out-transaction-cleanup-interval-ms') ?? '10000', '--transaction-abort-timed-out-transaction-cleanup-interval-ms', 1),
    transactionRemoveExpiredIntervalMs: parseInteger(get('--transaction-remove-expired-transaction-cleanup-interval-ms') ?? '3600000', '--transaction-remove-expired-transaction-cleanup-interval-ms', 1),
    transactionalIdExpirationMs: parseInteger(get('--transactional-id-expiration-ms') ?? '604800000', '--transactional-id-expiration-ms', 1),
    memoryReclaimIntervalMs: parseInteger(get('--memory-reclaim-interval-ms') ?? '30000', '--memory-reclaim-interval-ms', 0)
  }
}
