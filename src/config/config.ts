// Broker configuration: command-line flags, each with a SHOAL_* environment equivalent and a property name for a
// `--config` file (server.properties syntax, src/config/properties.ts). One table, kFlags, names all three.
// Precedence, highest first: flag, environment variable, config file (where an `--override NAME=VALUE` replaces
// the file's line of NAME), default. The file also takes the broker synonyms of topic configs, which have no flags
// (log.retention.hours, log.cleanup.policy, ...: src/config/broker-configs.ts, BrokerConfig.staticBrokerConfigs).
// `parseConfig` is pure (argv, env and a file reader in, config out) so tests can check it without a process.
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { ConfigError } from './config-error.ts'
import { parseProperties } from './properties.ts'
import { isStaticBrokerConfig, parseStaticBrokerConfig } from './broker-configs.ts'
import { checkKafkaListenerProperty, isSaslListener, isTlsListener, parseHostPort, parseListeners, type ListenerConfig } from './listeners.ts'
import { parsePrincipalMappingRules } from '../auth/principal-mapping.ts'
import { parseSaslMechanisms, parseScramUsers, type SaslMechanismName, type StoredScramCredentials } from '../auth/credentials.ts'
import type { OAuthBearerConfig } from '../auth/oauthbearer.ts'

export { ConfigError }

/** Where and how the S3 copy is kept (--s3-*; src/storage/). */
export interface S3Config {
  readonly bucket: string
  /** Key prefix, '' or ending in '/'. */
  readonly prefix: string
  readonly region: string
  /** A custom endpoint (MinIO, Ceph, s3rver): path-style addressing; null = AWS's endpoint for the region. */
  readonly endpoint: string | null
  /** Each worker uploads what its partitions got at least this often. */
  readonly flushIntervalMs: number
  /** ... and as soon as this many bytes wait, whatever the interval. */
  readonly flushBytes: number
  /** Bytes a worker may hold not yet in S3: past half of it produce is throttled, past all of it refused (NOT_ENOUGH_REPLICAS). */
  readonly backlogMaxBytes: number
  /** The bucket prefix's lease (one broker per prefix): renewed every third of it; a start waits this long for a dead owner's lease to lapse. */
  readonly leaseMs: number
  /** One S3 request (PUT, GET, LIST, DELETE) not answered in this long is abandoned and retried. */
  readonly requestTimeoutMs: number
  /** How often the background step rewrites small shared objects into per-partition ones. */
  readonly mergeIntervalMs: number
  /** Target size of a per-partition object written by that step. */
  readonly mergeBytes: number
  /** Tiered reads: bytes of S3 data a worker keeps in memory (evicted offsets), and what one miss reads ahead. */
  readonly cacheBytes: number
  readonly readAheadBytes: number
}

export interface BrokerConfig {
  /** Address the acceptor listens on; port 0 picks a free port (the chosen one is logged and advertised). */
  readonly listenHost: string
  readonly listenPort: number
  /** host:port given to clients in Metadata; defaults to the listen address. */
  readonly advertisedHost: string | null
  readonly advertisedPort: number | null
  /**
   * Every listener (src/config/listeners.ts), the first being the one listenHost/listenPort and
   * advertisedHost/advertisedPort describe. `--listen host:port` alone is one PLAINTEXT listener.
   */
  readonly listeners: readonly ListenerConfig[]
  /** Kafka's `sasl.enabled.mechanisms`: what SaslHandshake offers on SASL listeners. */
  readonly saslEnabledMechanisms: readonly SaslMechanismName[]
  /** Kafka's `connections.max.reauth.ms` (KIP-368): a SASL session's lifetime; 0 = sessions do not expire. */
  readonly connectionsMaxReauthMs: number
  /** Kafka's `sasl.server.max.receive.size`: the largest frame a SASL listener reads before authentication. */
  readonly saslServerMaxReceiveSize: number
  /** Kafka's `connection.failed.authentication.delay.ms`: how long a failed authentication waits for its answer and close. */
  readonly connectionFailedAuthenticationDelayMs: number
  /**
   * SCRAM users given at start (--scram-users, --scram-users-file), already salted and derived: no password is
   * kept. The controller adds those not stored yet (src/broker.ts).
   */
  readonly initialScramCredentials: StoredScramCredentials
  /** Start a SASL listener even with no SCRAM user at all (nobody can log in until one is added). */
  readonly saslAllowNoUsers: boolean
  /** A connection on a SASL listener not authenticated this long after it was accepted is closed (0 = no limit). */
  readonly saslAuthenticationTimeoutMs: number
  /** SASL/OAUTHBEARER's JWT validation (Kafka's sasl.oauthbearer.*, KIP-768); null unless a JWKS URL is given. */
  readonly oauthBearer: OAuthBearerConfig | null
  /** TLS listeners (src/net/tls.ts): PEM files, read at start and again on SIGHUP; null where not given. */
  readonly sslCertificateChain: string | null
  readonly sslPrivateKey: string | null
  readonly sslTruststore: string | null
  /** Kafka's `ssl.client.auth`. */
  readonly sslClientAuth: 'none' | 'requested' | 'required'
  /** Kafka's `ssl.principal.mapping.rules`, as given (src/auth/principal-mapping.ts parses it). */
  readonly sslPrincipalMappingRules: string
  readonly sslHandshakeTimeoutMs: number
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
  /** text (`time LEVEL [thread] message`) or json (one pino-style object per line); see src/logger.ts. */
  readonly logFormat: LogFormat
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
  /**
   * A connection whose last this many Produce/Fetch requests all went to partitions of one other worker moves to
   * that worker (src/net/connection.ts, "Moving a connection"); 0 = never.
   */
  readonly connectionMoveAfterRequests: number
  /** Kafka's `queued.max.request.bytes`, per worker: request bytes held before its connections stop reading. */
  readonly queuedMaxRequestBytes: number
  /** Kafka's `message.max.bytes` (the broker default of a topic's `max.message.bytes`). */
  readonly messageMaxBytes: number
  /** Most bytes a compressed batch may inflate to when it is validated (MESSAGE_TOO_LARGE beyond). */
  readonly maxDecompressedBatchBytes: number
  readonly segmentBytes: number
  /** Cap of each worker's LRU of open sealed segment files (active segments stay open besides). */
  readonly maxOpenSegmentFiles: number
  /** Kafka's log.retention.check.interval.ms: how often each worker runs retention over its partitions. */
  readonly logRetentionCheckIntervalMs: number
  /** Kafka's log.cleaner.backoff.ms: how often each worker looks for compacted topics' logs to clean. */
  readonly logCleanerBackoffMs: number
  /** Kafka's log.cleaner.dedupe.buffer.size, per worker: bytes of the cleaner's key -> offset map (16 a key). */
  readonly logCleanerDedupeBufferSize: number
  /** Kafka's log.cleaner.io.max.bytes.per.second, per worker: cleaner reads plus writes a second (0 = unlimited). */
  readonly logCleanerIoMaxBytesPerSecond: number
  /** Kafka's log.cleaner.enable: false leaves compacted topics uncompacted (their logs only grow). */
  readonly logCleanerEnable: boolean
  /**
   * The broker synonyms of topic configs set in the --config file or with --override, by Kafka broker config name
   * (`log.retention.hours` -> `168`), validated (src/config/broker-configs.ts: parseStaticBrokerConfig). They are
   * the STATIC_BROKER_CONFIG link of each topic default's chain. Those with a flag of their own
   * (log.segment.bytes, message.max.bytes) are not here but in their fields.
   */
  readonly staticBrokerConfigs: Readonly<Record<string, string>>
  /**
   * Kafka's `max.incremental.fetch.session.cache.slots`: KIP-227 fetch sessions kept by the broker, split over the
   * workers (each keeps ceil(N / workers)); 0 = no sessions (every fetch is a full one).
   */
  readonly maxIncrementalFetchSessionCacheSlots: number
  /** Kafka's quota.window.num: windows client quota rates are measured over (src/quota/rate.ts); also controller mutation bursts. */
  readonly quotaWindowNum: number
  /** Kafka's quota.window.size.seconds: the length of each quota window. */
  readonly quotaWindowSizeSeconds: number
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
  /** How long a SIGTERM/SIGINT shutdown may take (drain, flush, clean-shutdown markers) before the process exits 1. */
  readonly shutdownTimeoutMs: number
  /** Where the Prometheus /metrics, /healthz and /readyz endpoints listen (null: off); port 0 = any free port. */
  readonly metricsHost: string | null
  readonly metricsPort: number
  /** S3 copy of the data (src/storage/); null without --s3-bucket (then the broker keeps data on local disk only). */
  readonly s3: S3Config | null
  /** --durability: when acks=-1 is answered (after the local fsync, or once the data is in S3 too). */
  readonly durability: 'local' | 's3'
  /** --flushers: threads of the S3 upload pool (piscina), 0 without a bucket. */
  readonly flushers: number
  /** Kafka's authorizer.class.name set (--authorizer): every API checks ACLs (src/auth/authorizer.ts). */
  readonly authorizer: boolean
  /** Kafka's super.users (`User:alice;User:bob`): principals every check allows. */
  readonly superUsers: readonly string[]
  /** Kafka's allow.everyone.if.no.acl.found: a resource no ACL names is open to everyone (default false). */
  readonly allowEveryoneIfNoAclFound: boolean
  /**
   * Where each setting's value came from, by its property name (kFlags' `property`, e.g. `num.partitions`); every
   * flag with a property has an entry. DescribeConfigs reports file, flag and environment values as static broker
   * config and the rest as defaults.
   */
  readonly sources: Readonly<Record<string, ConfigSource>>
}

/** Where a setting's value came from, highest precedence first. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

export type LogFormat = 'text' | 'json'

interface FlagSpec {
  readonly flag: string
  readonly env: string
  /**
   * Its name in a --config file: Kafka's broker property where one means the same thing, else `shoal.*`; null
   * only for --config itself.
   */
  readonly property: string | null
  /** Other names the file accepts for it (Kafka's older spellings); setting two of them is a duplicate. */
  readonly aliases?: readonly string[]
  /**
   * Turns a file value in Kafka's syntax into the flag's (`PLAINTEXT://host:port` into `host:port`); throws a
   * ConfigError prefixed with `where` (`FILE:LINE: property`) when it cannot.
   */
  readonly fromProperty?: (value: string, where: string) => string
  readonly help: string
  readonly boolean?: boolean
  /** Other flag names for it (`--listeners` for `--listen`), named in its help. */
  readonly flagAliases?: readonly string[]
}

export const kFlags: readonly FlagSpec[] = [
  { flag: '--config', env: 'SHOAL_CONFIG', property: null, help: 'a server.properties-style file of settings, in Kafka\'s property names where they mean the same (flags and SHOAL_* variables win over it)' },
  { flag: '--listen', flagAliases: ['--listeners'], env: 'SHOAL_LISTEN', property: 'listeners', fromProperty: (value, where) => checkKafkaListenerProperty(value, where, false), help: 'host:port to accept Kafka clients on, or (also as --listeners) Kafka\'s list NAME://host:port,... e.g. PLAINTEXT://0.0.0.0:9092,SASL_PLAINTEXT://0.0.0.0:9094 (default 127.0.0.1:9092; port 0 = any free port)' },
  { flag: '--advertised-listener', flagAliases: ['--advertised-listeners'], env: 'SHOAL_ADVERTISED_LISTENER', property: 'advertised.listeners', fromProperty: (value, where) => checkKafkaListenerProperty(value, where, true), help: 'host:port clients are told to connect to, or (also as --advertised-listeners) NAME://host:port,... per listener (default: each listener\'s address)' },
  { flag: '--listener-security-protocol-map', env: 'SHOAL_LISTENER_SECURITY_PROTOCOL_MAP', property: 'listener.security.protocol.map', help: 'NAME:PROTOCOL,... security protocol of each listener name, PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (default: each protocol\'s name maps to itself)' },
  { flag: '--sasl-enabled-mechanisms', env: 'SHOAL_SASL_ENABLED_MECHANISMS', property: 'sasl.enabled.mechanisms', help: 'SASL mechanisms SASL listeners offer: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, OAUTHBEARER (default SCRAM-SHA-256,SCRAM-SHA-512)' },
  { flag: '--connections-max-reauth-ms', env: 'SHOAL_CONNECTIONS_MAX_REAUTH_MS', property: 'connections.max.reauth.ms', help: 'lifetime of a SASL session (KIP-368); a connection not re-authenticated by then is closed at its next request; 0 = no expiry (default 0)' },
  { flag: '--sasl-server-max-receive-size', env: 'SHOAL_SASL_SERVER_MAX_RECEIVE_SIZE', property: 'sasl.server.max.receive.size', help: 'largest frame a SASL listener reads before authentication; a larger one closes the connection (default 524288)' },
  { flag: '--connection-failed-authentication-delay-ms', env: 'SHOAL_CONNECTION_FAILED_AUTHENTICATION_DELAY_MS', property: 'connection.failed.authentication.delay.ms', help: 'how long a failed SASL authentication waits before it is answered and the connection closed (default 100)' },
  { flag: '--scram-users', env: 'SHOAL_SCRAM_USERS', property: 'shoal.scram.users', help: 'SCRAM users to create at start if not stored yet, kafka-storage --add-scram\'s syntax: SCRAM-SHA-256=[name=alice,password=secret],SCRAM-SHA-512=[name=bob,password=x,iterations=8192]' },
  { flag: '--scram-users-file', env: 'SHOAL_SCRAM_USERS_FILE', property: 'shoal.scram.users.file', help: 'a file of SCRAM users to create at start if not stored yet, one --scram-users entry a line (# comments)' },
  { flag: '--sasl-allow-no-users', env: 'SHOAL_SASL_ALLOW_NO_USERS', property: 'shoal.sasl.allow.no.users', help: 'start a SASL listener with no SCRAM user stored or given (default false: that is an error)', boolean: true },
  { flag: '--sasl-authentication-timeout-ms', env: 'SHOAL_SASL_AUTHENTICATION_TIMEOUT_MS', property: 'shoal.sasl.authentication.timeout.ms', help: 'a connection on a SASL listener that has not authenticated this long after it was accepted is closed, however slowly it keeps sending; 0 = no limit (default 30000)' },
  { flag: '--sasl-oauthbearer-jwks-endpoint-url', env: 'SHOAL_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL', property: 'sasl.oauthbearer.jwks.endpoint.url', help: 'the JWKS OAUTHBEARER tokens are verified against (RS256, ES256): file:///path or an https URL, read at start and refreshed; needed when --sasl-enabled-mechanisms has OAUTHBEARER' },
  { flag: '--sasl-oauthbearer-jwks-endpoint-refresh-ms', env: 'SHOAL_SASL_OAUTHBEARER_JWKS_ENDPOINT_REFRESH_MS', property: 'sasl.oauthbearer.jwks.endpoint.refresh.ms', help: 'how often the JWKS is read again; a failed read keeps the last good keys (default 3600000)' },
  { flag: '--sasl-oauthbearer-expected-audience', env: 'SHOAL_SASL_OAUTHBEARER_EXPECTED_AUDIENCE', property: 'sasl.oauthbearer.expected.audience', help: 'comma-separated audiences; a token whose aud names none of them is refused (default: any audience)' },
  { flag: '--sasl-oauthbearer-expected-issuer', env: 'SHOAL_SASL_OAUTHBEARER_EXPECTED_ISSUER', property: 'sasl.oauthbearer.expected.issuer', help: 'the iss a token must carry (default: any issuer)' },
  { flag: '--sasl-oauthbearer-sub-claim-name', env: 'SHOAL_SASL_OAUTHBEARER_SUB_CLAIM_NAME', property: 'sasl.oauthbearer.sub.claim.name', help: 'the token claim that names the principal User:NAME (default sub)' },
  { flag: '--sasl-oauthbearer-clock-skew-seconds', env: 'SHOAL_SASL_OAUTHBEARER_CLOCK_SKEW_SECONDS', property: 'sasl.oauthbearer.clock.skew.seconds', help: 'leeway when checking a token\'s exp and nbf against the clock (default 30)' },
  { flag: '--ssl-certificate-chain', env: 'SHOAL_SSL_CERTIFICATE_CHAIN', property: 'ssl.keystore.location', help: 'PEM file of the certificate chain SSL and SASL_SSL listeners present (server certificate first), and of its private key unless --ssl-private-key names another file; Kafka\'s ssl.keystore.location with ssl.keystore.type=PEM. Reread on SIGHUP' },
  { flag: '--ssl-private-key', env: 'SHOAL_SSL_PRIVATE_KEY', property: 'shoal.ssl.private.key.location', help: 'PEM file of the private key of --ssl-certificate-chain (unencrypted; default: the key in that file)' },
  { flag: '--ssl-truststore', env: 'SHOAL_SSL_TRUSTSTORE', property: 'ssl.truststore.location', help: 'PEM file of the CA certificates that client certificates are checked against; Kafka\'s ssl.truststore.location with ssl.truststore.type=PEM (default: Node\'s bundled CAs)' },
  { flag: '--ssl-client-auth', env: 'SHOAL_SSL_CLIENT_AUTH', property: 'ssl.client.auth', help: 'none | requested | required: whether TLS listeners ask clients for a certificate, and refuse those without one (default none)' },
  { flag: '--ssl-principal-mapping-rules', env: 'SHOAL_SSL_PRINCIPAL_MAPPING_RULES', property: 'ssl.principal.mapping.rules', help: 'how a client certificate\'s subject (RFC 2253, CN=alice,O=Acme) becomes the principal on SSL listeners: RULE:pattern/replacement/[LU],...,DEFAULT (default DEFAULT: the subject as it is)' },
  { flag: '--ssl-handshake-timeout-ms', env: 'SHOAL_SSL_HANDSHAKE_TIMEOUT_MS', property: 'shoal.ssl.handshake.timeout.ms', help: 'a TLS handshake not done this long after the connection is accepted closes it, counted in tls-handshake-failures (default 10000)' },
  { flag: '--data-dir', env: 'SHOAL_DATA_DIR', property: 'log.dirs', aliases: ['log.dir'], fromProperty: oneLogDir, help: 'directory for partition logs and metadata (default ./data)' },
  { flag: '--workers', env: 'SHOAL_WORKERS', property: 'shoal.workers', help: 'partition worker threads (default: number of cores)' },
  { flag: '--default-partitions', env: 'SHOAL_DEFAULT_PARTITIONS', property: 'num.partitions', help: 'partitions of auto-created topics and of CreateTopics with -1 (default 1)' },
  { flag: '--max-partitions-per-topic', env: 'SHOAL_MAX_PARTITIONS_PER_TOPIC', property: 'shoal.max.partitions.per.topic', help: 'most partitions one topic may have; CreateTopics/CreatePartitions beyond it answer POLICY_VIOLATION (default 4000)' },
  { flag: '--max-broker-partitions', env: 'SHOAL_MAX_BROKER_PARTITIONS', property: 'max.broker.partitions', help: 'most partitions of all topics together, Kafka max.broker.partitions; each holds about 3 open files (default 5000)' },
  { flag: '--max-topics', env: 'SHOAL_MAX_TOPICS', property: 'shoal.max.topics', help: 'most topics on the broker, internal ones included (default 5000)' },
  { flag: '--auto-create-topics', env: 'SHOAL_AUTO_CREATE_TOPICS', property: 'auto.create.topics.enable', help: 'create unknown topics when a client asks for their metadata (default true; =false to turn off)', boolean: true },
  { flag: '--log-level', env: 'SHOAL_LOG_LEVEL', property: 'shoal.log.level', help: 'error | warn | info | debug (default info)' },
  { flag: '--log-format', env: 'SHOAL_LOG_FORMAT', property: 'shoal.log.format', help: 'text | json: json writes one object per line, pino\'s fields (default text)' },
  { flag: '--max-frame-bytes', env: 'SHOAL_MAX_FRAME_BYTES', property: 'socket.request.max.bytes', help: 'largest request frame accepted (default 104857600)' },
  { flag: '--max-connections', env: 'SHOAL_MAX_CONNECTIONS', property: 'max.connections', help: 'connections open at once, Kafka max.connections; more are closed at once (default 10000)' },
  { flag: '--max-connections-per-ip', env: 'SHOAL_MAX_CONNECTIONS_PER_IP', property: 'max.connections.per.ip', help: 'connections open at once from one IP, Kafka max.connections.per.ip (default 1000)' },
  { flag: '--max-connection-creation-rate-per-ip', env: 'SHOAL_MAX_CONNECTION_CREATION_RATE_PER_IP', property: 'shoal.max.connection.creation.rate.per.ip', help: 'new connections a second from one IP, more are closed; 0 = unlimited (default 0)' },
  { flag: '--connections-max-idle-ms', env: 'SHOAL_CONNECTIONS_MAX_IDLE_MS', property: 'connections.max.idle.ms', help: 'close a connection idle this long, Kafka connections.max.idle.ms; 0 = never (default 600000)' },
  { flag: '--max-in-flight-requests-per-connection', env: 'SHOAL_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION', property: 'shoal.max.in.flight.requests.per.connection', help: 'requests handled at once per connection before it stops reading (default 128)' },
  { flag: '--connection-move-after-requests', env: 'SHOAL_CONNECTION_MOVE_AFTER_REQUESTS', property: 'shoal.connection.move.after.requests', help: 'move a connection to the worker that owns the partitions of its last N produce/fetch requests; 0 = never (default 32)' },
  { flag: '--queued-max-request-bytes', env: 'SHOAL_QUEUED_MAX_REQUEST_BYTES', property: 'queued.max.request.bytes', help: 'request bytes each worker holds before its connections stop reading, Kafka queued.max.request.bytes (default 268435456)' },
  { flag: '--message-max-bytes', env: 'SHOAL_MESSAGE_MAX_BYTES', property: 'message.max.bytes', help: 'largest record batch accepted, Kafka message.max.bytes (default 1048588)' },
  { flag: '--max-decompressed-batch-bytes', env: 'SHOAL_MAX_DECOMPRESSED_BATCH_BYTES', property: 'shoal.max.decompressed.batch.bytes', help: 'most bytes a compressed batch may inflate to; beyond it MESSAGE_TOO_LARGE (default 134217728)' },
  { flag: '--segment-bytes', env: 'SHOAL_SEGMENT_BYTES', property: 'log.segment.bytes', help: 'log segment size before rolling (default 1073741824)' },
  { flag: '--max-open-segment-files', env: 'SHOAL_MAX_OPEN_SEGMENT_FILES', property: 'shoal.max.open.segment.files', help: 'sealed segment files each worker keeps open, least recently read closed first (default 256)' },
  { flag: '--log-retention-check-interval-ms', env: 'SHOAL_LOG_RETENTION_CHECK_INTERVAL_MS', property: 'log.retention.check.interval.ms', help: 'how often each worker deletes segments past their topic\'s retention.ms / retention.bytes and rolls segments past segment.ms, Kafka log.retention.check.interval.ms (default 300000)' },
  { flag: '--log-cleaner-backoff-ms', env: 'SHOAL_LOG_CLEANER_BACKOFF_MS', property: 'log.cleaner.backoff.ms', help: 'how often each worker looks for logs of compacted topics to clean, Kafka log.cleaner.backoff.ms (default 15000)' },
  { flag: '--log-cleaner-dedupe-buffer-size', env: 'SHOAL_LOG_CLEANER_DEDUPE_BUFFER_SIZE', property: 'log.cleaner.dedupe.buffer.size', help: 'bytes of each worker\'s log cleaner key map, 16 per key; a clean covers the keys that fit (default 33554432)' },
  { flag: '--log-cleaner-io-max-bytes-per-second', env: 'SHOAL_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND', property: 'log.cleaner.io.max.bytes.per.second', help: 'bytes each worker\'s log cleaner reads plus writes a second; 0 = unlimited (default 0)' },
  { flag: '--log-cleaner-enable', env: 'SHOAL_LOG_CLEANER_ENABLE', property: 'log.cleaner.enable', help: 'run the log cleaner on topics whose cleanup.policy has compact, Kafka log.cleaner.enable (default true; =false to turn off)', boolean: true },
  { flag: '--max-incremental-fetch-session-cache-slots', env: 'SHOAL_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS', property: 'max.incremental.fetch.session.cache.slots', help: 'KIP-227 fetch sessions the broker keeps, split over the workers; 0 = none (default 1000)' },
  { flag: '--quota-window-num', env: 'SHOAL_QUOTA_WINDOW_NUM', property: 'quota.window.num', help: 'windows client quota rates are measured over, Kafka quota.window.num (default 11)' },
  { flag: '--quota-window-size-seconds', env: 'SHOAL_QUOTA_WINDOW_SIZE_SECONDS', property: 'quota.window.size.seconds', help: 'seconds of each client quota window, Kafka quota.window.size.seconds (default 1)' },
  { flag: '--ring-bytes', env: 'SHOAL_RING_BYTES', property: 'shoal.ring.bytes', help: 'bytes of each worker-to-worker ring buffer, a power of two (default 1048576)' },
  { flag: '--node-id', env: 'SHOAL_NODE_ID', property: 'node.id', aliases: ['broker.id'], help: 'broker id reported to clients (default 1)' },
  { flag: '--group-initial-rebalance-delay-ms', env: 'SHOAL_GROUP_INITIAL_REBALANCE_DELAY_MS', property: 'group.initial.rebalance.delay.ms', help: 'how long the first rebalance of an empty group waits for more members (default 3000)' },
  { flag: '--group-min-session-timeout-ms', env: 'SHOAL_GROUP_MIN_SESSION_TIMEOUT_MS', property: 'group.min.session.timeout.ms', help: 'smallest consumer session timeout accepted (default 6000)' },
  { flag: '--group-max-session-timeout-ms', env: 'SHOAL_GROUP_MAX_SESSION_TIMEOUT_MS', property: 'group.max.session.timeout.ms', help: 'largest consumer session timeout accepted (default 1800000)' },
  { flag: '--group-max-size', env: 'SHOAL_GROUP_MAX_SIZE', property: 'group.max.size', help: 'most members in one group (default 2147483647)' },
  { flag: '--group-consumer-session-timeout-ms', env: 'SHOAL_GROUP_CONSUMER_SESSION_TIMEOUT_MS', property: 'group.consumer.session.timeout.ms', help: 'how long a KIP-848 consumer group member may stay silent (default 45000)' },
  { flag: '--group-consumer-heartbeat-interval-ms', env: 'SHOAL_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS', property: 'group.consumer.heartbeat.interval.ms', help: 'heartbeat interval given to KIP-848 consumer group members (default 5000)' },
  { flag: '--transaction-max-timeout-ms', env: 'SHOAL_TRANSACTION_MAX_TIMEOUT_MS', property: 'transaction.max.timeout.ms', help: 'longest transaction timeout a producer may ask, Kafka transaction.max.timeout.ms; longer ones answer INVALID_TRANSACTION_TIMEOUT (default 900000)' },
  { flag: '--transactional-id-expiration-ms', env: 'SHOAL_TRANSACTIONAL_ID_EXPIRATION_MS', property: 'transactional.id.expiration.ms', help: 'how long an idle transactional id is kept, Kafka transactional.id.expiration.ms (default 604800000)' },
  { flag: '--transaction-abort-timed-out-transaction-cleanup-interval-ms', env: 'SHOAL_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS', property: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', help: 'how often transactions past their timeout are aborted, Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms (default 10000)' },
  { flag: '--transaction-remove-expired-transaction-cleanup-interval-ms', env: 'SHOAL_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS', property: 'transaction.remove.expired.transaction.cleanup.interval.ms', help: 'how often transactional ids idle past their expiration are removed, Kafka transaction.remove.expired.transaction.cleanup.interval.ms (default 3600000)' },
  { flag: '--offsets-retention-minutes', env: 'SHOAL_OFFSETS_RETENTION_MINUTES', property: 'offsets.retention.minutes', help: 'how long an empty group keeps its committed offsets (default 10080)' },
  { flag: '--memory-reclaim-interval-ms', env: 'SHOAL_MEMORY_RECLAIM_INTERVAL_MS', property: 'shoal.memory.reclaim.interval.ms', help: 'how often a thread checks whether it went quiet after a burst, then gives its peak memory back; 0 = never (default 30000)' },
  { flag: '--shutdown-timeout-ms', env: 'SHOAL_SHUTDOWN_TIMEOUT_MS', property: 'shoal.shutdown.timeout.ms', help: 'how long a SIGTERM/SIGINT shutdown may answer requests in flight, flush and close the logs before the process exits 1 (default 30000)' },
  { flag: '--authorizer', env: 'SHOAL_AUTHORIZER', property: 'authorizer.class.name', fromProperty: authorizerClass, help: 'check every request against the ACLs (CreateAcls/DescribeAcls/DeleteAcls), Kafka authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer (default false)', boolean: true },
  { flag: '--super-users', env: 'SHOAL_SUPER_USERS', property: 'super.users', help: 'principals every authorization check allows, Kafka super.users, e.g. User:admin;User:ops (default none)' },
  { flag: '--allow-everyone-if-no-acl-found', env: 'SHOAL_ALLOW_EVERYONE_IF_NO_ACL_FOUND', property: 'allow.everyone.if.no.acl.found', help: 'with --authorizer, a resource no ACL names is open to every principal, Kafka allow.everyone.if.no.acl.found (default false)', boolean: true },
  { flag: '--s3-bucket', env: 'SHOAL_S3_BUCKET', property: 'shoal.s3.bucket', help: 'keep a copy of every partition, the metadata and the internal topics in this S3 bucket, serve evicted data from it and restore an empty data directory from it (default: none, local disk only)' },
  { flag: '--s3-prefix', env: 'SHOAL_S3_PREFIX', property: 'shoal.s3.prefix', help: 'key prefix inside --s3-bucket; one broker per prefix (default none)' },
  { flag: '--s3-region', env: 'SHOAL_S3_REGION', property: 'shoal.s3.region', help: 'the bucket\'s region (default $AWS_REGION, else us-east-1)' },
  { flag: '--s3-endpoint', env: 'SHOAL_S3_ENDPOINT', property: 'shoal.s3.endpoint', help: 'URL of an S3-compatible endpoint (MinIO, Ceph, s3rver), addressed path-style (default AWS)' },
  { flag: '--flushers', env: 'SHOAL_FLUSHERS', property: 'shoal.flushers', help: 'threads uploading to S3 (piscina pool; default half the cores, at least 1, at most 4)' },
  { flag: '--s3-flush-interval-ms', env: 'SHOAL_S3_FLUSH_INTERVAL_MS', property: 'shoal.s3.flush.interval.ms', help: 'each worker uploads what its partitions got at least this often, all partitions in one object (default 1000)' },
  { flag: '--s3-flush-bytes', env: 'SHOAL_S3_FLUSH_BYTES', property: 'shoal.s3.flush.bytes', help: 'a worker uploads as soon as this many bytes wait (default 8388608)' },
  { flag: '--durability', env: 'SHOAL_DURABILITY', property: 'shoal.durability', help: 'local | s3: acks=-1 is answered after the local fsync (S3 follows within --s3-flush-interval-ms), or only once the data is in S3 too (default local)' },
  { flag: '--s3-backlog-max-bytes', env: 'SHOAL_S3_BACKLOG_MAX_BYTES', property: 'shoal.s3.backlog.max.bytes', help: 'bytes a worker may hold not yet in S3: past half, produce is throttled (throttle_time_ms); past all, refused with NOT_ENOUGH_REPLICAS, retriable (default 1073741824)' },
  { flag: '--s3-lease-ms', env: 'SHOAL_S3_LEASE_MS', property: 'shoal.s3.lease.ms', help: 'the bucket prefix\'s ownership lease: a second broker on the same prefix is refused; a start waits this long for a dead broker\'s lease (default 15000)' },
  { flag: '--s3-request-timeout-ms', env: 'SHOAL_S3_REQUEST_TIMEOUT_MS', property: 'shoal.s3.request.timeout.ms', help: 'an S3 request not answered in this long is abandoned and retried (default 10000)' },
  { flag: '--s3-merge-interval-ms', env: 'SHOAL_S3_MERGE_INTERVAL_MS', property: 'shoal.s3.merge.interval.ms', help: 'how often small shared S3 objects are rewritten into per-partition ones (default 60000)' },
  { flag: '--s3-merge-bytes', env: 'SHOAL_S3_MERGE_BYTES', property: 'shoal.s3.merge.bytes', help: 'target size of a per-partition S3 object (default 33554432)' },
  { flag: '--s3-cache-bytes', env: 'SHOAL_S3_CACHE_BYTES', property: 'shoal.s3.cache.bytes', help: 'bytes of S3 data each worker caches for fetches of evicted offsets (default 67108864)' },
  { flag: '--s3-read-ahead-bytes', env: 'SHOAL_S3_READ_AHEAD_BYTES', property: 'shoal.s3.read.ahead.bytes', help: 'bytes one fetch of evicted offsets reads from S3 past what it asked for (default 4194304)' },
  { flag: '--metrics-listen', env: 'SHOAL_METRICS_LISTEN', property: 'shoal.metrics.listen', help: 'host:port serving Prometheus /metrics, /healthz and /readyz over HTTP; port 0 = any free port (default off)' }
]

/** Property names of a config file (aliases included) to their flags; --config itself has none. */
const kFlagByProperty: ReadonlyMap<string, FlagSpec> = new Map(kFlags.flatMap((spec) =>
  spec.property === null ? [] : [spec.property, ...(spec.aliases ?? [])].map((name) => [name, spec] as const)))

/**
 * Kafka broker properties Shoal knows but does not implement. A config file naming one is refused at start, like
 * an unknown property, but with a message saying so: a setting silently ignored (a retention that never deletes,
 * a TLS listener that never listens) would be worse than a broker that does not start.
 */
const kUnimplementedKafkaProperties: ReadonlySet<string> = new Set([
  'delete.topic.enable',
  'num.network.threads', 'num.io.threads', 'num.recovery.threads.per.data.dir', 'num.replica.fetchers', 'background.threads',
  'socket.send.buffer.bytes', 'socket.receive.buffer.bytes', 'max.connection.creation.rate',
  'default.replication.factor',
  'offsets.topic.replication.factor', 'offsets.topic.num.partitions', 'offsets.topic.segment.bytes', 'offsets.commit.timeout.ms',
  'transaction.state.log.replication.factor', 'transaction.state.log.min.isr', 'transaction.state.log.num.partitions',
  'process.roles', 'controller.quorum.voters', 'controller.quorum.bootstrap.servers', 'controller.listener.names',
  'inter.broker.listener.name', 'zookeeper.connect', 'zookeeper.connection.timeout.ms',
  'auto.leader.rebalance.enable', 'log.dir.failure.timeout.ms',
  'log.cleaner.threads', 'log.cleaner.io.buffer.size', 'log.cleaner.io.buffer.load.factor', 'log.cleaner.dedupe.buffer.load.factor',
  'log.flush.offset.checkpoint.interval.ms', 'log.flush.start.offset.checkpoint.interval.ms'
])
const kUnimplementedKafkaPrefixes: readonly string[] = ['ssl.', 'sasl.', 'listener.name.', 'remote.log.', 'replica.', 'controller.']

function isUnimplementedKafkaProperty (name: string): boolean {
  return kUnimplementedKafkaProperties.has(name) || kUnimplementedKafkaPrefixes.some((prefix) => name.startsWith(prefix))
}

/**
 * Kafka's `authorizer.class.name`: the class names of Kafka's own ACL authorizers turn --authorizer on (Shoal's
 * authorizer keeps their rules); any other class cannot be loaded here.
 */
function authorizerClass (value: string, where: string): string {
  if (value === 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' || value === 'kafka.security.authorizer.AclAuthorizer') return 'true'
  throw new ConfigError(`${where}: Shoal's authorizer is Kafka's StandardAuthorizer (org.apache.kafka.metadata.authorizer.StandardAuthorizer); cannot load "${value}"`)
}

/** Kafka's super.users: principals separated by `;`, each `Type:name`. */
function parseSuperUsers (value: string, what: string): string[] {
  const users = value.split(';').map((part) => part.trim()).filter((part) => part !== '')
  for (const user of users) {
    const colon = user.indexOf(':')
    if (colon <= 0 || colon === user.length - 1) throw new ConfigError(`${what}: expected principals like User:alice separated by ';', got "${user}"`)
  }
  return users
}

/** Kafka's `log.dirs` is a comma-separated list; Shoal keeps all its data in one directory. */
function oneLogDir (value: string, where: string): string {
  const dirs = value.split(',').map((part) => part.trim()).filter((part) => part !== '')
  if (dirs.length !== 1) throw new ConfigError(`${where}: Shoal keeps its data in one directory, got ${dirs.length}: "${value}"`)
  return dirs[0]
}

/** Decimal digits only: Number() would also take '', ' 5', '0x10' and '1e3'. */
function parseInteger (value: string, what: string, min: number): number {
  const n = Number(value)
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new ConfigError(`${what}: expected an integer >= ${min}, got "${value}"`)
  return n
}

/** A setting's value, null where absent or empty. */
/** The --s3-* settings; null without a bucket (then the others are not read). */
function parseS3Config (get: (flag: string) => string | undefined, where: (flag: string) => string, env: NodeJS.ProcessEnv): S3Config | null {
  const bucket = nonEmpty(get('--s3-bucket'))
  if (bucket === null) return null
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError(`${where('--s3-bucket')}: ${JSON.stringify(bucket)} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')`)
  let prefix = get('--s3-prefix') ?? ''
  if (prefix.startsWith('/')) throw new ConfigError(`${where('--s3-prefix')}: must not start with /`)
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/'
  const endpoint = nonEmpty(get('--s3-endpoint'))
  if (endpoint !== null && !/^https?:\/\/[^/]+/.test(endpoint)) throw new ConfigError(`${where('--s3-endpoint')}: expected an http:// or https:// URL`)
  const flushBytes = parseInteger(get('--s3-flush-bytes') ?? String(8 * 1024 * 1024), where('--s3-flush-bytes'), 1024)
  const backlogMaxBytes = parseInteger(get('--s3-backlog-max-bytes') ?? String(1024 * 1024 * 1024), where('--s3-backlog-max-bytes'), 1024 * 1024)
  if (backlogMaxBytes < 2 * flushBytes) throw new ConfigError(`${where('--s3-backlog-max-bytes')}: must be at least twice --s3-flush-bytes (${flushBytes})`)
  return {
    bucket,
    prefix,
    region: nonEmpty(get('--s3-region')) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
    endpoint,
    flushIntervalMs: parseInteger(get('--s3-flush-interval-ms') ?? '1000', where('--s3-flush-interval-ms'), 1),
    flushBytes,
    backlogMaxBytes,
    leaseMs: parseInteger(get('--s3-lease-ms') ?? '15000', where('--s3-lease-ms'), 100),
    requestTimeoutMs: parseInteger(get('--s3-request-timeout-ms') ?? '10000', where('--s3-request-timeout-ms'), 100),
    mergeIntervalMs: parseInteger(get('--s3-merge-interval-ms') ?? '60000', where('--s3-merge-interval-ms'), 100),
    mergeBytes: parseInteger(get('--s3-merge-bytes') ?? String(32 * 1024 * 1024), where('--s3-merge-bytes'), 1024),
    cacheBytes: parseInteger(get('--s3-cache-bytes') ?? String(64 * 1024 * 1024), where('--s3-cache-bytes'), 0),
    readAheadBytes: parseInteger(get('--s3-read-ahead-bytes') ?? String(4 * 1024 * 1024), where('--s3-read-ahead-bytes'), 0)
  }
}

function nonEmpty (value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value
}

function parseBoolean (value: string, what: string): boolean {
  const lower = value.toLowerCase()
  if (lower === 'true' || lower === '1' || lower === 'yes' || lower === '') return true
  if (lower === 'false' || lower === '0' || lower === 'no') return false
  throw new ConfigError(`${what}: expected true or false, got "${value}"`)
}

export function usage (): string {
  const lines = [
    'Usage: shoal [flags]',
    '',
    'Each flag also reads a SHOAL_* environment variable and a property of the --config file (server.properties',
    'syntax), both shown in brackets. A flag wins over the variable, the variable over the file, the file over',
    'the default.',
    '',
    '--override NAME=VALUE (repeatable, e.g. --override log.retention.hours=24) is a line of the --config file',
    'given on the command line: it takes every property the file takes, the broker synonyms of topic configs',
    '(log.retention.*, log.roll.*, log.cleanup.policy, compression.type, ...) included, and replaces the file\'s',
    'line of that property.',
    ''
  ]
  for (const spec of kFlags) {
    const names = spec.property === null ? spec.env : `${spec.env}, ${spec.property}`
    lines.push(`  ${(spec.flag + (spec.boolean ? '[=bool]' : ' VALUE')).padEnd(28)} ${spec.help}  [${names}]`)
  }
  return lines.join('\n')
}

/** A setting's text as given, where it came from, and how errors name it (`--workers`, `SHOAL_WORKERS`, `FILE:LINE: shoal.workers`). */
interface RawSetting {
  readonly value: string
  readonly source: ConfigSource
  readonly where: string
}

/** Returns a config file's text, or throws (its message is reported) when the file cannot be read. */
export type ReadConfigFile = (path: string) => string

const readConfigFileUtf8: ReadConfigFile = (path) => readFileSync(path, 'utf8')

/**
 * `--override NAME=VALUE`, repeatable: Kafka's `kafka-server-start --override`. It is a line of the config file
 * given on the command line (any property the file takes, checked the same way), which replaces the file's own
 * line of that property; flags and SHOAL_* variables still win over it as over the file. Not in kFlags: it has
 * no property or variable of its own, and it names the setting it changes in its value.
 */
const kOverrideFlag = '--override'

/** One config-file-like line: from the file (`line` set) or from --override (`line` null). */
interface SettingLine {
  readonly key: string
  readonly value: string
  /** `FILE:LINE` or `--override`, the prefix of every error about it. */
  readonly at: string
  readonly line: number | null
}

/**
 * Flag name to its text (`--flag=value`, `--flag value`, and a bare boolean flag meaning true), and the
 * --override lines in order.
 */
function parseFlags (argv: readonly string[]): { values: Map<string, string>, overrides: SettingLine[], spelled: Map<string, string> } {
  const values = new Map<string, string>()
  /** The name each flag was given by (`--listeners` for --listen), for errors. */
  const spelled = new Map<string, string>()
  const overrides: SettingLine[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    if (name === kOverrideFlag) {
      const text = eq === -1 ? argv[++i] : arg.slice(eq + 1)
      if (text === undefined) throw new ConfigError(`${kOverrideFlag} needs a value`)
      const sep = text.indexOf('=')
      if (sep <= 0) throw new ConfigError(`${kOverrideFlag}: expected NAME=VALUE, got "${text}"`)
      overrides.push({ key: text.slice(0, sep).trim(), value: text.slice(sep + 1).trim(), at: kOverrideFlag, line: null })
      continue
    }
    const spec = kFlags.find((s) => s.flag === name || s.flagAliases?.includes(name) === true)
    if (spec === undefined) throw new ConfigError(`unknown flag ${arg}\n\n${usage()}`)
    if (spelled.has(spec.flag) && spelled.get(spec.flag) !== name) throw new ConfigError(`${name}: ${spelled.get(spec.flag)} is already set (they are one setting)`)
    spelled.set(spec.flag, name)
    if (eq !== -1) values.set(spec.flag, arg.slice(eq + 1))
    else if (spec.boolean === true && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) values.set(spec.flag, 'true')
    else if (argv[i + 1] === undefined) throw new ConfigError(`${name} needs a value`)
    else values.set(spec.flag, argv[++i])
  }
  return { values, overrides, spelled }
}

/**
 * The settings of config-file lines, by slot: a flag name (`--workers`) for a property with a flag, else the
 * static broker config's name (`log.retention.hours`, src/config/broker-configs.ts). An unknown or unimplemented
 * property, a property set twice (or under two of its names), an empty value or a value its property cannot take
 * is a ConfigError naming the file and line (or --override).
 */
function collectSettings (lines: readonly SettingLine[]): Map<string, RawSetting> {
  const settings = new Map<string, RawSetting>()
  const firstSet = new Map<string, SettingLine>()
  for (const setting of lines) {
    const { key, value, at } = setting
    const spec = kFlagByProperty.get(key)
    const slot = spec?.flag ?? (isStaticBrokerConfig(key) ? key : undefined)
    if (slot === undefined) {
      throw new ConfigError(isUnimplementedKafkaProperty(key) ? `${at}: "${key}" is a Kafka broker property Shoal does not implement; remove it` : `${at}: unknown property "${key}"`)
    }
    const earlier = firstSet.get(slot)
    if (earlier !== undefined) {
      const how = earlier.line === null ? 'by an earlier --override' : `on line ${earlier.line}`
      throw new ConfigError(`${at}: duplicate property "${key}" (already set ${how}${earlier.key === key ? '' : ` as "${earlier.key}"`})`)
    }
    firstSet.set(slot, setting)
    const where = `${at}: ${key}`
    if (value === '') throw new ConfigError(`${where}: empty value (remove the line to keep the default)`)
    if (spec !== undefined) {
      settings.set(slot, { value: spec.fromProperty === undefined ? value : spec.fromProperty(value, where), source: 'file', where })
      continue
    }
    const parsed = parseStaticBrokerConfig(key, value)
    if ('error' in parsed) throw new ConfigError(`${where}: ${parsed.error}`)
    settings.set(slot, { value: parsed.value, source: 'file', where })
  }
  return settings
}

/**
 * The settings of the config file at `path` (named as given in every error; undefined: none) with `overrides`
 * replacing its lines of the same properties, by slot (collectSettings).
 */
function readConfigFile (path: string | undefined, readFile: ReadConfigFile, overrides: readonly SettingLine[]): Map<string, RawSetting> {
  let lines: SettingLine[] = []
  if (path !== undefined) {
    let text: string
    try {
      text = readFile(path)
    } catch (error) {
      throw new ConfigError(`${path}: cannot read the config file: ${(error as Error).message}`)
    }
    lines = parseProperties(text, path).map(({ key, value, line }) => ({ key, value, at: `${path}:${line}`, line }))
  }
  const settings = collectSettings(lines)
  for (const [slot, setting] of collectSettings(overrides)) settings.set(slot, setting)
  return settings
}

/**
 * The broker's configuration from `argv`, `env` (SHOAL_* variables) and the file named by --config or
 * SHOAL_CONFIG, read through `readFile` (tests pass their own). Throws ConfigError for anything it cannot use.
 */
export function parseConfig (argv: readonly string[], env: NodeJS.ProcessEnv = {}, readFile: ReadConfigFile = readConfigFileUtf8): BrokerConfig {
  const { values: fromFlags, overrides, spelled } = parseFlags(argv)
  const values = new Map<string, RawSetting>()
  const staticBrokerConfigs: Record<string, string> = {}
  const configPath = fromFlags.get('--config') ?? env.SHOAL_CONFIG
  for (const [slot, setting] of readConfigFile(configPath === '' ? undefined : configPath, readFile, overrides)) {
    if (slot.startsWith('--')) values.set(slot, setting)
    else staticBrokerConfigs[slot] = setting.value
  }
  for (const spec of kFlags) {
    const fromEnv = env[spec.env]
    if (fromEnv !== undefined) values.set(spec.flag, { value: fromEnv, source: 'env', where: spec.env })
  }
  for (const [flag, value] of fromFlags) values.set(flag, { value, source: 'flag', where: spelled.get(flag) ?? flag })
  const get = (flag: string): string | undefined => values.get(flag)?.value
  /** How an error names the setting: the flag, variable or file line its value came from. */
  const where = (flag: string): string => values.get(flag)?.where ?? flag
  const sources: Record<string, ConfigSource> = {}
  for (const spec of kFlags) if (spec.property !== null) sources[spec.property] = values.get(spec.flag)?.source ?? 'default'
  const listeners = parseListeners({
    listeners: get('--listen') ?? '127.0.0.1:9092',
    listenersWhere: where('--listen'),
    advertised: get('--advertised-listener'),
    advertisedWhere: where('--advertised-listener'),
    protocolMap: get('--listener-security-protocol-map'),
    protocolMapWhere: where('--listener-security-protocol-map')
  })
  const { host: listenHost, port: listenPort, advertisedHost, advertisedPort } = listeners[0]
  const saslEnabledMechanisms = parseSaslMechanisms(get('--sasl-enabled-mechanisms') ?? 'SCRAM-SHA-256,SCRAM-SHA-512', where('--sasl-enabled-mechanisms'))
  const scramUsersFile = get('--scram-users-file')
  let scramUsersFileText: string | undefined
  if (scramUsersFile !== undefined && scramUsersFile !== '') {
    try {
      scramUsersFileText = readFile(scramUsersFile)
    } catch (error) {
      throw new ConfigError(`${where('--scram-users-file')}: cannot read ${scramUsersFile}: ${(error as Error).message}`)
    }
  }
  const initialScramCredentials = parseScramUsers([
    { text: get('--scram-users') ?? '', where: where('--scram-users') },
    { text: scramUsersFileText ?? '', where: scramUsersFile ?? '--scram-users-file' }
  ])
  const anySasl = listeners.some(isSaslListener)
  if (anySasl && saslEnabledMechanisms.length === 0) throw new ConfigError(`${where('--sasl-enabled-mechanisms')}: a SASL listener needs at least one mechanism`)
  const jwksEndpointUrl = nonEmpty(get('--sasl-oauthbearer-jwks-endpoint-url'))
  if (jwksEndpointUrl !== null && !/^(file|https?):/i.test(jwksEndpointUrl)) throw new ConfigError(`${where('--sasl-oauthbearer-jwks-endpoint-url')}: expected a file:// or https:// URL, got "${jwksEndpointUrl}"`)
  if (anySasl && saslEnabledMechanisms.includes('OAUTHBEARER') && jwksEndpointUrl === null) throw new ConfigError(`${where('--sasl-enabled-mechanisms')}: OAUTHBEARER needs --sasl-oauthbearer-jwks-endpoint-url (sasl.oauthbearer.jwks.endpoint.url)`)
  const oauthBearer: OAuthBearerConfig | null = jwksEndpointUrl === null
    ? null
    : {
        jwksEndpointUrl,
        jwksRefreshMs: parseInteger(get('--sasl-oauthbearer-jwks-endpoint-refresh-ms') ?? '3600000', where('--sasl-oauthbearer-jwks-endpoint-refresh-ms'), 0),
        expectedAudience: (get('--sasl-oauthbearer-expected-audience') ?? '').split(',').map((part) => part.trim()).filter((part) => part !== ''),
        expectedIssuer: nonEmpty(get('--sasl-oauthbearer-expected-issuer')),
        subClaimName: nonEmpty(get('--sasl-oauthbearer-sub-claim-name')) ?? 'sub',
        clockSkewSeconds: parseInteger(get('--sasl-oauthbearer-clock-skew-seconds') ?? '30', where('--sasl-oauthbearer-clock-skew-seconds'), 0)
      }
  const sslClientAuth = (get('--ssl-client-auth') ?? 'none').toLowerCase()
  if (sslClientAuth !== 'none' && sslClientAuth !== 'requested' && sslClientAuth !== 'required') throw new ConfigError(`${where('--ssl-client-auth')}: expected none, requested or required, got "${sslClientAuth}"`)
  const sslPrincipalMappingRules = get('--ssl-principal-mapping-rules') ?? 'DEFAULT'
  parsePrincipalMappingRules(sslPrincipalMappingRules, where('--ssl-principal-mapping-rules'))
  const sslCertificateChain = nonEmpty(get('--ssl-certificate-chain'))
  const tlsListeners = listeners.filter(isTlsListener)
  if (tlsListeners.length > 0 && sslCertificateChain === null) throw new ConfigError(`${where('--listen')}: TLS listener ${tlsListeners.map((listener) => listener.name).join(', ')} needs a certificate: --ssl-certificate-chain (ssl.keystore.location)`)
  const logLevel = (get('--log-level') ?? 'info') as LogLevel
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) throw new ConfigError(`${where('--log-level')}: unknown level "${logLevel}"`)
  const logFormat = (get('--log-format') ?? 'text') as LogFormat
  if (!['text', 'json'].includes(logFormat)) throw new ConfigError(`${where('--log-format')}: unknown format "${logFormat}"`)
  const metricsListen = get('--metrics-listen')
  const [metricsHost, metricsPort] = metricsListen === undefined || metricsListen === '' ? [null, 0] : parseHostPort(metricsListen, where('--metrics-listen'))
  const s3 = parseS3Config(get, where, env)
  const durability = get('--durability') ?? 'local'
  if (durability !== 'local' && durability !== 's3') throw new ConfigError(`${where('--durability')}: expected local or s3, got ${JSON.stringify(durability)}`)
  if (durability === 's3' && s3 === null) throw new ConfigError(`${where('--durability')}: s3 needs --s3-bucket`)
  const ringBytes = parseInteger(get('--ring-bytes') ?? String(1 << 20), where('--ring-bytes'), 4096)
  if ((ringBytes & (ringBytes - 1)) !== 0) throw new ConfigError(`${where('--ring-bytes')}: must be a power of two, got ${ringBytes}`)
  return {
    listenHost,
    listenPort,
    advertisedHost,
    advertisedPort,
    listeners,
    saslEnabledMechanisms,
    connectionsMaxReauthMs: parseInteger(get('--connections-max-reauth-ms') ?? '0', where('--connections-max-reauth-ms'), 0),
    saslServerMaxReceiveSize: parseInteger(get('--sasl-server-max-receive-size') ?? '524288', where('--sasl-server-max-receive-size'), 1024),
    connectionFailedAuthenticationDelayMs: parseInteger(get('--connection-failed-authentication-delay-ms') ?? '100', where('--connection-failed-authentication-delay-ms'), 0),
    initialScramCredentials,
    saslAllowNoUsers: parseBoolean(get('--sasl-allow-no-users') ?? 'false', where('--sasl-allow-no-users')),
    oauthBearer,
    saslAuthenticationTimeoutMs: parseInteger(get('--sasl-authentication-timeout-ms') ?? '30000', where('--sasl-authentication-timeout-ms'), 0),
    sslCertificateChain: sslCertificateChain === null ? null : resolve(sslCertificateChain),
    sslPrivateKey: nonEmpty(get('--ssl-private-key')) === null ? null : resolve(get('--ssl-private-key') as string),
    sslTruststore: nonEmpty(get('--ssl-truststore')) === null ? null : resolve(get('--ssl-truststore') as string),
    sslClientAuth,
    sslPrincipalMappingRules,
    sslHandshakeTimeoutMs: parseInteger(get('--ssl-handshake-timeout-ms') ?? '10000', where('--ssl-handshake-timeout-ms'), 1),
    dataDir: resolve(get('--data-dir') ?? './data'),
    workers: parseInteger(get('--workers') ?? String(availableParallelism()), where('--workers'), 1),
    defaultPartitions: parseInteger(get('--default-partitions') ?? '1', where('--default-partitions'), 1),
    maxPartitionsPerTopic: parseInteger(get('--max-partitions-per-topic') ?? '4000', where('--max-partitions-per-topic'), 1),
    maxBrokerPartitions: parseInteger(get('--max-broker-partitions') ?? '5000', where('--max-broker-partitions'), 1),
    maxTopics: parseInteger(get('--max-topics') ?? '5000', where('--max-topics'), 1),
    autoCreateTopics: parseBoolean(get('--auto-create-topics') ?? 'true', where('--auto-create-topics')),
    logLevel,
    logFormat,
    maxFrameBytes: parseInteger(get('--max-frame-bytes') ?? String(100 * 1024 * 1024), where('--max-frame-bytes'), 1024),
    maxConnections: parseInteger(get('--max-connections') ?? '10000', where('--max-connections'), 1),
    maxConnectionsPerIp: parseInteger(get('--max-connections-per-ip') ?? '1000', where('--max-connections-per-ip'), 1),
    maxConnectionCreationRatePerIp: parseInteger(get('--max-connection-creation-rate-per-ip') ?? '0', where('--max-connection-creation-rate-per-ip'), 0),
    connectionsMaxIdleMs: parseInteger(get('--connections-max-idle-ms') ?? '600000', where('--connections-max-idle-ms'), 0),
    maxInFlightRequestsPerConnection: parseInteger(get('--max-in-flight-requests-per-connection') ?? '128', where('--max-in-flight-requests-per-connection'), 1),
    connectionMoveAfterRequests: parseInteger(get('--connection-move-after-requests') ?? '32', where('--connection-move-after-requests'), 0),
    queuedMaxRequestBytes: parseInteger(get('--queued-max-request-bytes') ?? String(256 * 1024 * 1024), where('--queued-max-request-bytes'), 64 * 1024),
    messageMaxBytes: parseInteger(get('--message-max-bytes') ?? '1048588', where('--message-max-bytes'), 64),
    maxDecompressedBatchBytes: parseInteger(get('--max-decompressed-batch-bytes') ?? String(128 * 1024 * 1024), where('--max-decompressed-batch-bytes'), 1024),
    segmentBytes: parseInteger(get('--segment-bytes') ?? String(1024 * 1024 * 1024), where('--segment-bytes'), 1024),
    maxOpenSegmentFiles: parseInteger(get('--max-open-segment-files') ?? '256', where('--max-open-segment-files'), 1),
    logRetentionCheckIntervalMs: parseInteger(get('--log-retention-check-interval-ms') ?? '300000', where('--log-retention-check-interval-ms'), 1),
    logCleanerBackoffMs: parseInteger(get('--log-cleaner-backoff-ms') ?? '15000', where('--log-cleaner-backoff-ms'), 1),
    logCleanerDedupeBufferSize: parseInteger(get('--log-cleaner-dedupe-buffer-size') ?? String(32 * 1024 * 1024), where('--log-cleaner-dedupe-buffer-size'), 1024),
    logCleanerIoMaxBytesPerSecond: parseInteger(get('--log-cleaner-io-max-bytes-per-second') ?? '0', where('--log-cleaner-io-max-bytes-per-second'), 0),
    logCleanerEnable: parseBoolean(get('--log-cleaner-enable') ?? 'true', where('--log-cleaner-enable')),
    staticBrokerConfigs,
    maxIncrementalFetchSessionCacheSlots: parseInteger(get('--max-incremental-fetch-session-cache-slots') ?? '1000', where('--max-incremental-fetch-session-cache-slots'), 0),
    quotaWindowNum: parseInteger(get('--quota-window-num') ?? '11', where('--quota-window-num'), 1),
    quotaWindowSizeSeconds: parseInteger(get('--quota-window-size-seconds') ?? '1', where('--quota-window-size-seconds'), 1),
    ringBytes,
    nodeId: parseInteger(get('--node-id') ?? '1', where('--node-id'), 0),
    groupInitialRebalanceDelayMs: parseInteger(get('--group-initial-rebalance-delay-ms') ?? '3000', where('--group-initial-rebalance-delay-ms'), 0),
    groupMinSessionTimeoutMs: parseInteger(get('--group-min-session-timeout-ms') ?? '6000', where('--group-min-session-timeout-ms'), 1),
    groupMaxSessionTimeoutMs: parseInteger(get('--group-max-session-timeout-ms') ?? '1800000', where('--group-max-session-timeout-ms'), 1),
    groupMaxSize: parseInteger(get('--group-max-size') ?? '2147483647', where('--group-max-size'), 1),
    groupConsumerSessionTimeoutMs: parseInteger(get('--group-consumer-session-timeout-ms') ?? '45000', where('--group-consumer-session-timeout-ms'), 1),
    groupConsumerHeartbeatIntervalMs: parseInteger(get('--group-consumer-heartbeat-interval-ms') ?? '5000', where('--group-consumer-heartbeat-interval-ms'), 1),
    offsetsRetentionMinutes: parseInteger(get('--offsets-retention-minutes') ?? '10080', where('--offsets-retention-minutes'), 1),
    transactionMaxTimeoutMs: parseInteger(get('--transaction-max-timeout-ms') ?? '900000', where('--transaction-max-timeout-ms'), 1),
    transactionAbortTimedOutIntervalMs: parseInteger(get('--transaction-abort-timed-out-transaction-cleanup-interval-ms') ?? '10000', where('--transaction-abort-timed-out-transaction-cleanup-interval-ms'), 1),
    transactionRemoveExpiredIntervalMs: parseInteger(get('--transaction-remove-expired-transaction-cleanup-interval-ms') ?? '3600000', where('--transaction-remove-expired-transaction-cleanup-interval-ms'), 1),
    transactionalIdExpirationMs: parseInteger(get('--transactional-id-expiration-ms') ?? '604800000', where('--transactional-id-expiration-ms'), 1),
    memoryReclaimIntervalMs: parseInteger(get('--memory-reclaim-interval-ms') ?? '30000', where('--memory-reclaim-interval-ms'), 0),
    shutdownTimeoutMs: parseInteger(get('--shutdown-timeout-ms') ?? '30000', where('--shutdown-timeout-ms'), 1),
    metricsHost,
    metricsPort,
    s3,
    durability,
    flushers: s3 === null ? 0 : parseInteger(get('--flushers') ?? String(Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)))), where('--flushers'), 1),
    authorizer: parseBoolean(get('--authorizer') ?? 'false', where('--authorizer')),
    superUsers: parseSuperUsers(get('--super-users') ?? '', where('--super-users')),
    allowEveryoneIfNoAclFound: parseBoolean(get('--allow-everyone-if-no-acl-found') ?? 'false', where('--allow-everyone-if-no-acl-found')),
    sources
  }
}
