// Dynamic broker configs (Kafka's KIP-226) and the broker synonyms of topic configs.
//
// A topic config without a topic override takes its broker-level default, looked up along this chain (Kafka's
// order): the config set dynamically for this broker (AlterConfigs on BROKER, resourceName = node id:
// DYNAMIC_BROKER_CONFIG), else the one set dynamically for every broker (resourceName "":
// DYNAMIC_DEFAULT_BROKER_CONFIG), else the broker's static config (a flag, a SHOAL_* variable or the --config
// file: STATIC_BROKER_CONFIG), else Kafka's default (DEFAULT_CONFIG). The broker-level name is the topic
// config's synonym from Kafka's table (ServerTopicConfigSynonyms): retention.ms <- log.retention.ms,
// max.message.bytes <- message.max.bytes, ...
//
// Which can change at run time: Kafka's documentation gives each broker config an "Update Mode". The topic
// defaults (the first synonym of each topic config) are cluster-wide: settable for every broker or for one.
// Their other synonyms (log.retention.hours, log.roll.hours, ...) and every other broker setting are read-only:
// AlterConfigs answers INVALID_REQUEST "Cannot update these configs dynamically". log.message.format.version is
// read-only too (Kafka 3 ignores it and 4 removed it). Some settings of the broker's own are dynamic besides
// (kDynamicSettings: the connection limits and the log cleaner's), with the same chain.
//
// The dynamic configs live in ClusterMetadata (`brokerConfigs`: the controller persists them in
// meta/cluster.json); every thread installs them when a metadata version arrives (installBrokerConfigs), which
// replaces the per-thread table that topicConfigValue reads (src/config/topic-config.ts), so a topic default
// changed here reaches every reader of an effective topic config.
//
// Static broker configs: every synonym in the table below, except those with a flag of their own
// (log.segment.bytes, message.max.bytes), may be set in the --config file or with `--override NAME=VALUE`
// (src/config/config.ts); parseStaticBrokerConfig validates each as Kafka does (the broker config's type and
// range, then the topic config's rules on the value it gives), and the values sit in the chain as
// STATIC_BROKER_CONFIG, after the dynamic ones. A topic config with several static synonyms takes the first set
// (log.retention.ms, else log.retention.minutes, else log.retention.hours: Kafka's order); a synonym in another
// unit (minutes, hours) keeps its own name and value in the chain and is converted to the topic config's
// milliseconds where a value is read (chainValue). A negative retention in any unit means -1 (forever), as in Kafka.
//
// Loggers (BROKER_LOGGER, resource type 8): `root` (every thread), `shoal.main` (the acceptor and controller
// thread) and `shoal.worker` (the partition workers). A logger with no level of its own follows root. Kafka's
// levels map onto Shoal's four: ALL and TRACE to debug, FATAL and OFF to error (Shoal always logs errors).
import { isTopicConfig, kListTopicConfigs, kNoEffectTopicConfigs, kTopicConfigDefaults, setBrokerTopicDefaults, validateTopicConfig } from './topic-config.ts'
import type { BrokerConfig, LogLevel } from './config.ts'
import type { Logger } from '../logger.ts'

export interface DynamicBrokerConfigs {
  /** Set with resourceName "": the default for every broker, by broker config name. */
  readonly clusterDefault: Readonly<Record<string, string>>
  /** Set with resourceName = a node id: by node id, then broker config name. */
  readonly perBroker: Readonly<Record<string, Readonly<Record<string, string>>>>
}

export const kNoDynamicBrokerConfigs: DynamicBrokerConfigs = { clusterDefault: {}, perBroker: {} }

/** Kafka's DescribeConfigsResponse ConfigSource values. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6
} as const

/** Kafka's DescribeConfigsResponse ConfigType values (v3+). */
export const ConfigType = { UNKNOWN: 0, BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7, CLASS: 8, PASSWORD: 9 } as const

/** One link of a config's chain, as DescribeConfigs reports it in `synonyms`. */
export interface ConfigSynonym {
  readonly name: string
  readonly value: string
  readonly source: number
}

/**
 * Topic config -> its broker synonyms (Kafka's ServerTopicConfigSynonyms), the first being the broker-level
 * default that can change at run time. Topic configs without a synonym (the throttles, remote storage) are not
 * listed. Filtered below to the topic configs Shoal knows.
 */
const kSynonyms: Readonly<Record<string, readonly string[]>> = {
  'cleanup.policy': ['log.cleanup.policy'],
  'compression.type': ['compression.type'],
  'compression.gzip.level': ['compression.gzip.level'],
  'compression.lz4.level': ['compression.lz4.level'],
  'compression.zstd.level': ['compression.zstd.level'],
  'delete.retention.ms': ['log.cleaner.delete.retention.ms'],
  'file.delete.delay.ms': ['log.segment.delete.delay.ms'],
  'flush.messages': ['log.flush.interval.messages'],
  'flush.ms': ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'],
  'index.interval.bytes': ['log.index.interval.bytes'],
  'local.retention.bytes': ['log.local.retention.bytes'],
  'local.retention.ms': ['log.local.retention.ms'],
  'max.compaction.lag.ms': ['log.cleaner.max.compaction.lag.ms'],
  'max.message.bytes': ['message.max.bytes'],
  'message.downconversion.enable': ['log.message.downconversion.enable'],
  'message.format.version': ['log.message.format.version'],
  'message.timestamp.after.max.ms': ['log.message.timestamp.after.max.ms'],
  'message.timestamp.before.max.ms': ['log.message.timestamp.before.max.ms'],
  'message.timestamp.difference.max.ms': ['log.message.timestamp.difference.max.ms'],
  'message.timestamp.type': ['log.message.timestamp.type'],
  'min.cleanable.dirty.ratio': ['log.cleaner.min.cleanable.ratio'],
  'min.compaction.lag.ms': ['log.cleaner.min.compaction.lag.ms'],
  'min.insync.replicas': ['min.insync.replicas'],
  preallocate: ['log.preallocate'],
  'retention.bytes': ['log.retention.bytes'],
  'retention.ms': ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  'segment.bytes': ['log.segment.bytes'],
  'segment.index.bytes': ['log.index.size.max.bytes'],
  'segment.jitter.ms': ['log.roll.jitter.ms', 'log.roll.jitter.hours'],
  'segment.ms': ['log.roll.ms', 'log.roll.hours'],
  'unclean.leader.election.enable': ['unclean.leader.election.enable']
}

/** Broker synonyms that are read-only although they are the first of their topic config. */
const kReadOnlyPrimaries: ReadonlySet<string> = new Set(['log.message.format.version'])

/** Broker config name -> the topic config it is the default of, for every broker-level topic default. */
const kTopicConfigOfBrokerConfig: ReadonlyMap<string, string> = new Map(
  Object.entries(kSynonyms).filter(([topic]) => isTopicConfig(topic)).map(([topic, names]) => [names[0], topic])
)

/**
 * Broker settings of their own (not topic defaults) that Kafka marks cluster-wide and that Shoal applies at run
 * time: name -> the flag's value and the least value the flag takes (the same range at start and at run time).
 * The acceptor (main thread) reads the connection limits at each new connection (src/broker.ts applies them when
 * a metadata version arrives); a lower limit refuses new connections and closes none, as in Kafka (KIP-308,
 * KIP-402). The log cleaner's settings are cluster-wide in Kafka too: every worker applies them when a metadata
 * version arrives (src/shard/shard.ts applyMetadata): the I/O rate limit from the cleaner's next slice, the dedupe
 * buffer size from its next clean, the backoff from the compaction pass scheduled after the pending one.
 * log.retention.check.interval.ms is read-only in Kafka, and so here. `type` is Kafka's type of the config
 * (how a value is checked, and what DescribeConfigs reports).
 */
const kDynamicSettings: Readonly<Record<string, { readonly value: (config: BrokerConfig) => number, readonly min: number, readonly type: 'INT' | 'LONG' | 'DOUBLE', readonly documentation: string }>> = {
  'max.connections': { value: (config) => config.maxConnections, min: 1, type: 'INT', documentation: 'Most connections open at once; beyond it the acceptor closes new ones at once (open ones stay when it is lowered).' },
  'max.connections.per.ip': { value: (config) => config.maxConnectionsPerIp, min: 1, type: 'INT', documentation: 'Most connections open at once from one IP; beyond it new ones are closed at once (open ones stay when it is lowered).' },
  'log.cleaner.backoff.ms': { value: (config) => config.logCleanerBackoffMs, min: 1, type: 'LONG', documentation: 'How often each worker looks for logs of compacted topics to clean (a change applies from the pass after the one scheduled).' },
  'log.cleaner.dedupe.buffer.size': { value: (config) => config.logCleanerDedupeBufferSize, min: 1024, type: 'LONG', documentation: 'Bytes of each worker\'s cleaner key map, 16 a key (a change applies from the next clean).' },
  'log.cleaner.io.max.bytes.per.second': { value: (config) => config.logCleanerIoMaxBytesPerSecond, min: 0, type: 'DOUBLE', documentation: 'Bytes each worker\'s cleaner reads plus writes a second; 0 = unlimited (a change applies from the next slice of a clean).' }
}

/** Whether `name` is one of kDynamicSettings (a broker setting, not a topic default, that can change at run time). */
export function isDynamicBrokerSetting (name: string): boolean {
  return Object.hasOwn(kDynamicSettings, name)
}

/** Broker configs AlterConfigs may change (cluster-wide update mode). */
export const kDynamicBrokerConfigs: ReadonlySet<string> = new Set([
  ...[...kTopicConfigOfBrokerConfig.keys()].filter((name) => !kReadOnlyPrimaries.has(name)),
  ...Object.keys(kDynamicSettings)
])

/** Kafka broker configs that exist but cannot change at run time (besides those DescribeConfigs lists). */
const kReadOnlySynonyms: ReadonlySet<string> = new Set([
  ...kReadOnlyPrimaries,
  ...Object.values(kSynonyms).flatMap((names) => names.slice(1))
])

/** The broker-level default of `topicConfig`'s name (`log.retention.ms` for retention.ms), or undefined. */
export function brokerSynonymOf (topicConfig: string): string | undefined {
  return Object.hasOwn(kSynonyms, topicConfig) && isTopicConfig(topicConfig) ? kSynonyms[topicConfig][0] : undefined
}

/** The topic config `brokerConfig` is the default of, or undefined. */
export function topicConfigOf (brokerConfig: string): string | undefined {
  return kTopicConfigOfBrokerConfig.get(brokerConfig)
}

/**
 * Whether AlterConfigs may change broker config `name`: 'dynamic', 'read-only' (a Kafka broker config that needs
 * a restart, or one of `staticNames`: what DescribeConfigs lists), or 'unknown'.
 */
export function brokerConfigMode (name: string, staticNames: ReadonlySet<string>): 'dynamic' | 'read-only' | 'unknown' {
  if (kDynamicBrokerConfigs.has(name)) return 'dynamic'
  if (kReadOnlySynonyms.has(name) || kTopicConfigOfBrokerConfig.has(name) || staticNames.has(name)) return 'read-only'
  return 'unknown'
}

/** Whether the dynamic broker config's value is a comma-separated list (IncrementalAlterConfigs APPEND/SUBTRACT). */
export function isListBrokerConfig (name: string): boolean {
  const topic = kTopicConfigOfBrokerConfig.get(name)
  return topic !== undefined && kListTopicConfigs.has(topic)
}

/** An error message when `value` is not acceptable for dynamic broker config `name` (its topic config's rules), or null. */
export function validateBrokerConfig (name: string, value: string | null): string | null {
  if (isDynamicBrokerSetting(name)) {
    if (value === null) return null
    const invalid = `Invalid value ${value} for configuration ${name}`
    const { min, type } = kDynamicSettings[name]
    if (type === 'INT' && (!/^-?\d{1,10}$/.test(value) || Number(value) > 2 ** 31 - 1 || Number(value) < -(2 ** 31))) return `${invalid}: Not a number of type INT`
    // A LONG past 2^53 would lose digits in a number; no cleaner setting needs one, so it is refused as out of range.
    if (type === 'LONG' && (!/^-?\d{1,19}$/.test(value) || !Number.isSafeInteger(Number(value)))) return `${invalid}: Not a number of type LONG`
    if (type === 'DOUBLE' && (value.trim() === '' || !Number.isFinite(Number(value)))) return `${invalid}: Not a number of type DOUBLE`
    return Number(value) < min ? `${invalid}: Value must be at least ${min}` : null
  }
  const topic = kTopicConfigOfBrokerConfig.get(name)
  if (topic === undefined || !kDynamicBrokerConfigs.has(name)) return `Cannot update these configs dynamically: Set(${name})`
  if (value === null) return null
  const error = validateTopicConfig(topic, value)
  return error === null ? null : error.replace(`configuration ${topic}`, `configuration ${name}`)
}

/** Broker configs that flags set (kFlags property -> the BrokerConfig value), so that they are STATIC_BROKER_CONFIG. */
const kStaticValues: Readonly<Record<string, (config: BrokerConfig) => number>> = {
  'log.segment.bytes': (config) => config.segmentBytes,
  'message.max.bytes': (config) => config.messageMaxBytes
}

// ---- static broker configs --------------------------------------------------------------------------------

/** Every broker synonym of a topic config Shoal knows (all of each one's names) -> that topic config. */
const kTopicConfigOfSynonym: ReadonlyMap<string, string> = new Map(
  Object.entries(kSynonyms).filter(([topic]) => isTopicConfig(topic)).flatMap(([topic, names]) => names.map((name) => [name, topic] as const))
)

/**
 * Synonyms in another unit than their topic config's milliseconds: the factor to milliseconds and the least value
 * Kafka's broker config accepts (null: none). All four are Kafka INTs (KafkaConfig / ServerLogConfigs).
 */
const kUnitSynonyms: Readonly<Record<string, { readonly toMs: bigint, readonly min: bigint | null }>> = {
  'log.retention.minutes': { toMs: 60_000n, min: null },
  'log.retention.hours': { toMs: 3_600_000n, min: null },
  'log.roll.hours': { toMs: 3_600_000n, min: 1n },
  'log.roll.jitter.hours': { toMs: 3_600_000n, min: 0n }
}

/** Kafka's retention synonyms, whose negative values all mean -1 (KafkaConfig.logRetentionTimeMillis). */
const kRetentionSynonyms: ReadonlySet<string> = new Set(['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'])

const kInt32Min = -(2n ** 31n)
const kInt32Max = 2n ** 31n - 1n

/** Whether `name` may be set statically through the table of synonyms (a config file line or --override). */
export function isStaticBrokerConfig (name: string): boolean {
  return kTopicConfigOfSynonym.has(name) && !Object.hasOwn(kStaticValues, name)
}

/** `value` of broker synonym `name` in its topic config's terms: minutes and hours to milliseconds, negative retention to -1. */
function inTopicUnits (name: string, value: string): string {
  const unit = Object.hasOwn(kUnitSynonyms, name) ? kUnitSynonyms[name] : undefined
  if ((unit === undefined && !kRetentionSynonyms.has(name)) || !/^-?\d{1,19}$/.test(value)) return value
  const ms = BigInt(value) * (unit?.toMs ?? 1n)
  return String(kRetentionSynonyms.has(name) && ms < 0n ? -1n : ms)
}

/**
 * The value chain `chain` gives config `name`: its first link's, in `name`'s units (a link under another name,
 * log.retention.hours, is converted to milliseconds for retention.ms or log.retention.ms; a link under `name`
 * itself is its value as set).
 */
export function chainValue (chain: readonly ConfigSynonym[], name: string): string {
  return chain[0].name === name ? chain[0].value : inTopicUnits(chain[0].name, chain[0].value)
}

/**
 * Parses static broker config `name` (isStaticBrokerConfig) as Kafka does: the value as stored (booleans
 * lower-cased, list items trimmed), or an error message (`Invalid value V for configuration NAME: ...`).
 * Kafka checks a broker config's own type and range, then builds the default topic config from it; so do we:
 * an hours value must be an INT (and log.roll.hours at least 1), and what it gives in milliseconds must pass the
 * topic config's rules (validateTopicConfig), as a value from AlterConfigs would.
 */
export function parseStaticBrokerConfig (name: string, given: string): { value: string } | { error: string } {
  const topic = kTopicConfigOfSynonym.get(name)
  if (topic === undefined) return { error: `Unknown broker config ${name}` }
  const invalid = `Invalid value ${given} for configuration ${name}`
  let value = given
  const type = topicConfigType(topic)
  if (type === ConfigType.BOOLEAN) value = given.toLowerCase()
  else if (type === ConfigType.LIST) value = given.split(',').map((item) => item.trim()).join(',')
  const unit = Object.hasOwn(kUnitSynonyms, name) ? kUnitSynonyms[name] : undefined
  if (unit !== undefined) {
    if (!/^-?\d{1,10}$/.test(value) || BigInt(value) < kInt32Min || BigInt(value) > kInt32Max) return { error: `${invalid}: Not a number of type INT` }
    if (unit.min !== null && BigInt(value) < unit.min) return { error: `${invalid}: Value must be at least ${unit.min}` }
  } else if (kRetentionSynonyms.has(name) && /^-\d{1,19}$/.test(value) && BigInt(value) >= -(2n ** 63n)) {
    // log.retention.ms has no range of its own in Kafka: any negative LONG means forever.
    return { value }
  }
  const converted = inTopicUnits(name, value)
  const error = validateTopicConfig(topic, converted)
  if (error === null) return { value }
  // The topic config's message, about this broker config and the value as given.
  const topicPrefix = `Invalid value ${converted} for configuration ${topic}`
  return { error: error.startsWith(topicPrefix) ? invalid + error.slice(topicPrefix.length) : `${invalid}: ${error}` }
}

/** The static synonyms of topic config `topic` that `config` sets, in precedence order, as chain links. */
function staticLinks (topic: string | undefined, config: BrokerConfig): ConfigSynonym[] {
  if (topic === undefined || !Object.hasOwn(kSynonyms, topic)) return []
  const given = config.staticBrokerConfigs
  return kSynonyms[topic].filter((name) => Object.hasOwn(given, name)).map((name) => ({ name, value: given[name], source: ConfigSource.STATIC_BROKER_CONFIG }))
}

/** The static synonyms `config` sets that are not a topic config's broker-level default (log.retention.hours, ...). */
export function staticSecondarySynonyms (config: BrokerConfig): Array<{ name: string, value: string }> {
  return Object.entries(config.staticBrokerConfigs).filter(([name]) => !kTopicConfigOfBrokerConfig.has(name)).map(([name, value]) => ({ name, value }))
}

/** Kafka's ConfigType of broker synonym or dynamic setting `name`: its topic config's, but INT for the minutes and hours, the setting's own for a setting. */
export function brokerSynonymType (name: string): number {
  if (isDynamicBrokerSetting(name)) return ConfigType[kDynamicSettings[name].type]
  if (Object.hasOwn(kUnitSynonyms, name)) return ConfigType.INT
  return topicConfigType(kTopicConfigOfSynonym.get(name) ?? '')
}

/**
 * The chain of broker config `name` (a broker-level topic default) for broker `nodeId`, highest precedence first;
 * the last link is always DEFAULT_CONFIG.
 */
export function brokerConfigChain (name: string, dynamic: DynamicBrokerConfigs, nodeId: string, config: BrokerConfig): ConfigSynonym[] {
  const chain: ConfigSynonym[] = []
  const own = Object.hasOwn(dynamic.perBroker, nodeId) ? dynamic.perBroker[nodeId] : undefined
  if (own !== undefined && Object.hasOwn(own, name)) chain.push({ name, value: own[name], source: ConfigSource.DYNAMIC_BROKER_CONFIG })
  if (Object.hasOwn(dynamic.clusterDefault, name)) chain.push({ name, value: dynamic.clusterDefault[name], source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG })
  const valueOf = Object.hasOwn(kStaticValues, name) ? kStaticValues[name] : Object.hasOwn(kDynamicSettings, name) ? kDynamicSettings[name].value : undefined
  const fromFlag = valueOf === undefined ? undefined : String(valueOf(config))
  if (fromFlag !== undefined && (config.sources[name] ?? 'default') !== 'default') chain.push({ name, value: fromFlag, source: ConfigSource.STATIC_BROKER_CONFIG })
  const topic = kTopicConfigOfBrokerConfig.get(name)
  chain.push(...staticLinks(topic, config))
  chain.push({ name, value: fromFlag ?? (topic === undefined ? '' : kTopicConfigDefaults[topic]), source: ConfigSource.DEFAULT_CONFIG })
  return chain
}

/**
 * The chain of topic config `name` for a topic with `overrides`: its override (DYNAMIC_TOPIC_CONFIG), then its
 * broker synonym's chain, or Kafka's default when it has no synonym. Highest precedence first.
 */
export function topicConfigChain (name: string, overrides: Readonly<Record<string, string>>, dynamic: DynamicBrokerConfigs, nodeId: string, config: BrokerConfig): ConfigSynonym[] {
  const chain: ConfigSynonym[] = []
  if (Object.hasOwn(overrides, name)) chain.push({ name, value: overrides[name], source: ConfigSource.DYNAMIC_TOPIC_CONFIG })
  const synonym = brokerSynonymOf(name)
  if (synonym === undefined) chain.push({ name, value: kTopicConfigDefaults[name], source: ConfigSource.DEFAULT_CONFIG })
  else chain.push(...brokerConfigChain(synonym, dynamic, nodeId, config))
  return chain
}

/** The value broker setting `name` (isDynamicBrokerSetting) has now on broker `config.nodeId`: dynamic, else its flag's. */
export function dynamicBrokerSetting (name: string, dynamic: DynamicBrokerConfigs | undefined, config: BrokerConfig): number {
  return Number(brokerConfigChain(name, dynamic ?? kNoDynamicBrokerConfigs, String(config.nodeId), config)[0].value)
}

/** Every broker-level topic default (the broker config names), in the table's order. */
export function brokerTopicDefaultNames (): IterableIterator<string> {
  return kTopicConfigOfBrokerConfig.keys()
}

// ---- loggers ----------------------------------------------------------------------------------------------

export const kRootLogger = 'root'
export const kMainLogger = 'shoal.main'
export const kWorkerLogger = 'shoal.worker'
export const kLoggerNames: readonly string[] = [kRootLogger, kMainLogger, kWorkerLogger]

/** Kafka's (log4j's) levels, and the Shoal level each one means. */
const kShoalLevelOf: Readonly<Record<string, LogLevel>> = {
  ALL: 'debug', TRACE: 'debug', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error', FATAL: 'error', OFF: 'error'
}

export function isKafkaLogLevel (level: string): boolean {
  return Object.hasOwn(kShoalLevelOf, level)
}

export const kKafkaLogLevels: readonly string[] = Object.keys(kShoalLevelOf)

/** Every logger's level in Kafka's names: its own, else root's; root's own, else --log-level's. */
export function loggerLevels (loggers: Readonly<Record<string, string>> | undefined, config: BrokerConfig): Record<string, string> {
  const own = (name: string): string | undefined => loggers !== undefined && Object.hasOwn(loggers, name) ? loggers[name] : undefined
  const root = own(kRootLogger) ?? config.logLevel.toUpperCase()
  const levels: Record<string, string> = {}
  for (const name of kLoggerNames) levels[name] = own(name) ?? root
  return levels
}

// ---- installing a metadata version ------------------------------------------------------------------------

/**
 * Installs the dynamic configs of a metadata version in this thread: the broker-level topic defaults that
 * topicConfigValue reads, and the level of this thread's logger (`thread`: which logger it follows).
 */
export function installBrokerConfigs (metadata: { readonly brokerConfigs?: DynamicBrokerConfigs, readonly loggers?: Readonly<Record<string, string>> }, config: BrokerConfig, logger: Logger, thread: 'main' | 'worker'): void {
  const dynamic = metadata.brokerConfigs ?? kNoDynamicBrokerConfigs
  const nodeId = String(config.nodeId)
  const defaults: Record<string, string> = Object.create(null)
  for (const [name, topic] of kTopicConfigOfBrokerConfig) defaults[topic] = chainValue(brokerConfigChain(name, dynamic, nodeId, config), topic)
  setBrokerTopicDefaults(defaults)
  const level = loggerLevels(metadata.loggers, config)[thread === 'main' ? kMainLogger : kWorkerLogger]
  logger.setLevel(kShoalLevelOf[level] ?? config.logLevel)
}

// ---- describing -------------------------------------------------------------------------------------------

const kBooleanConfigs: ReadonlySet<string> = new Set(['preallocate', 'unclean.leader.election.enable', 'message.downconversion.enable', 'remote.storage.enable', 'remote.log.copy.disable', 'remote.log.delete.on.disable'])
const kStringConfigs: ReadonlySet<string> = new Set(['compression.type', 'message.timestamp.type', 'message.format.version'])
const kIntConfigs: ReadonlySet<string> = new Set(['index.interval.bytes', 'max.message.bytes', 'min.insync.replicas', 'segment.bytes', 'segment.index.bytes', 'compression.gzip.level', 'compression.lz4.level', 'compression.zstd.level'])

/** Kafka's ConfigType of a topic config (its broker synonym has the same). */
export function topicConfigType (name: string): number {
  if (kBooleanConfigs.has(name)) return ConfigType.BOOLEAN
  if (kListTopicConfigs.has(name)) return ConfigType.LIST
  if (kStringConfigs.has(name)) return ConfigType.STRING
  if (name === 'min.cleanable.dirty.ratio') return ConfigType.DOUBLE
  if (kIntConfigs.has(name)) return ConfigType.INT
  return isTopicConfig(name) ? ConfigType.LONG : ConfigType.UNKNOWN
}

/** What each topic config does, in a sentence (DescribeConfigs v3+ with includeDocumentation). */
const kTopicDocumentation: Readonly<Record<string, string>> = {
  'cleanup.policy': 'What happens to old segments: delete (by retention.ms and retention.bytes), compact (keep the latest record of each key), or both.',
  'compression.type': 'The codec batches are stored with: producer keeps the producer\'s; uncompressed, gzip, snappy, lz4 or zstd recompress.',
  'compression.gzip.level': 'The gzip level used when the broker compresses with gzip.',
  'compression.lz4.level': 'The lz4 level used when the broker compresses with lz4.',
  'compression.zstd.level': 'The zstd level used when the broker compresses with zstd.',
  'delete.retention.ms': 'How long tombstones (records with a null value) are kept after compaction reached them.',
  'file.delete.delay.ms': 'How long a deleted segment\'s files stay on disk before they are removed.',
  'flush.messages': 'Records appended between two forced fsyncs of the log.',
  'flush.ms': 'Most milliseconds between two forced fsyncs of the log.',
  'index.interval.bytes': 'Bytes of records between two offset index entries.',
  'max.compaction.lag.ms': 'Longest a record may stay uncompacted.',
  'max.message.bytes': 'Largest record batch the topic accepts, after compression.',
  'message.timestamp.after.max.ms': 'How far into the future a CreateTime timestamp may be before the batch is refused.',
  'message.timestamp.before.max.ms': 'How far into the past a CreateTime timestamp may be before the batch is refused.',
  'message.timestamp.type': 'CreateTime keeps the producer\'s timestamps; LogAppendTime stamps batches with the broker\'s clock.',
  'min.cleanable.dirty.ratio': 'Share of a log not yet compacted at which compaction starts.',
  'min.compaction.lag.ms': 'Shortest a record stays uncompacted.',
  'min.insync.replicas': 'Replicas that must acknowledge an acks=all write (a single-node broker has one).',
  preallocate: 'Whether segment files are preallocated when created.',
  'retention.bytes': 'Largest a partition may grow before its oldest segments are deleted (-1: no limit).',
  'retention.ms': 'How long records are kept before their segment is deleted (-1: forever).',
  'segment.bytes': 'Size at which a partition\'s active segment is rolled.',
  'segment.index.bytes': 'Size of a segment\'s offset and time index files.',
  'segment.jitter.ms': 'Most random milliseconds subtracted from segment.ms, so that partitions do not roll at once.',
  'segment.ms': 'Age at which the active segment is rolled even if not full.',
  'unclean.leader.election.enable': 'Whether a replica outside the ISR may become leader (no effect on a single node).'
}

/** DescribeConfigs' documentation for topic config `name`. */
export function topicConfigDocumentation (name: string): string | null {
  return kNoEffectTopicConfigs.get(name) ?? (Object.hasOwn(kTopicDocumentation, name) ? kTopicDocumentation[name] : null)
}

/** DescribeConfigs' documentation for broker config `name`. */
export function brokerConfigDocumentation (name: string): string | null {
  if (isDynamicBrokerSetting(name)) return `${kDynamicSettings[name].documentation} Can change at run time (cluster-wide).`
  const topic = kTopicConfigOfSynonym.get(name)
  if (topic === undefined) return null
  const what = topicConfigDocumentation(topic)
  const unit = Object.hasOwn(kUnitSynonyms, name) ? `, in ${name.endsWith('.hours') ? 'hours' : 'minutes'}` : ''
  const before = kSynonyms[topic].slice(0, kSynonyms[topic].indexOf(name))
  const primary = before.length === 0 ? '' : `; read-only, and ${before.join(' or ')} set wins over it`
  return `The default of the topic config ${topic} for topics without an override${unit}${primary}${kDynamicBrokerConfigs.has(name) ? '; can change at run time (cluster-wide)' : ''}.${what === null ? '' : ` ${what}`}`
}
