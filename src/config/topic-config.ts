// Topic-level configs Shoal knows, with Kafka's names and broker defaults. CreateTopics rejects names not in
// this table with INVALID_CONFIG; DescribeConfigs and CreateTopics (v5+) report the effective values.

/** Whether this broker has remote storage (--s3-bucket): remote.storage.enable=true is refused without it, as Kafka refuses it. */
let remoteStorageAvailable = false

/** Set once at start, on every thread that validates topic configs. */
export function setRemoteStorageAvailable (available: boolean): void {
  remoteStorageAvailable = available
}

export const kTopicConfigDefaults: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
  // KIP-390 (Kafka 3.8): levels used when the broker (re)compresses for compression.type. gzip -1 is zlib's
  // default level (6).
  'compression.gzip.level': '-1',
  'compression.lz4.level': '9',
  'compression.zstd.level': '3',
  'delete.retention.ms': '86400000',
  'file.delete.delay.ms': '60000',
  'flush.messages': '9223372036854775807',
  'flush.ms': '9223372036854775807',
  'index.interval.bytes': '4096',
  'max.compaction.lag.ms': '9223372036854775807',
  'max.message.bytes': '1048588',
  'message.timestamp.after.max.ms': '9223372036854775807',
  'message.timestamp.before.max.ms': '9223372036854775807',
  'message.timestamp.type': 'CreateTime',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '1',
  preallocate: 'false',
  'retention.bytes': '-1',
  'retention.ms': '604800000',
  'segment.bytes': '1073741824',
  'segment.index.bytes': '10485760',
  'segment.jitter.ms': '0',
  'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false',
  // Kafka 3.x topic configs that take no effect here (see kNoEffectTopicConfigs): accepted so that clients
  // written for 3.x can set them, validated as Kafka validates them, and described as having no effect.
  'follower.replication.throttled.replicas': '',
  'leader.replication.throttled.replicas': '',
  'local.retention.bytes': '-2',
  'local.retention.ms': '-2',
  'message.downconversion.enable': 'true',
  'message.format.version': '3.0-IV1',
  'message.timestamp.difference.max.ms': '9223372036854775807',
  'remote.log.copy.disable': 'false',
  'remote.log.delete.on.disable': 'false',
  'remote.storage.enable': 'false'
}

/**
 * Topic configs Kafka 3.x accepts that change nothing in Shoal, with the reason (DescribeConfigs' documentation
 * field says it). Deprecated in Kafka 3.x: message.format.version and message.downconversion.enable (KIP-724,
 * removed in 4.0), message.timestamp.difference.max.ms (KIP-937). The others belong to replication throttling
 * and tiered storage (KIP-405, KIP-950), which a single-node broker without remote storage does not have.
 */
export const kNoEffectTopicConfigs: ReadonlyMap<string, string> = new Map([
  ['follower.replication.throttled.replicas', 'Has no effect in Shoal: a single-node broker has no followers to throttle.'],
  ['leader.replication.throttled.replicas', 'Has no effect in Shoal: a single-node broker has no replication to throttle.'],
  // local.retention.*: documentation only (they do take effect): with --s3-bucket every topic has its S3 copy,
  // whatever remote.storage.enable says, so these evict local segments already in S3 (src/shard/log-maintenance.ts).
  ['local.retention.bytes', 'With --s3-bucket: the most bytes a partition keeps on the local disk (-2: as retention.bytes); older sealed segments already in S3 are evicted and served from S3 (cleanup.policy=delete topics only). Has no effect without a bucket.'],
  ['local.retention.ms', 'With --s3-bucket: how long a segment stays on the local disk (-2: as retention.ms); older sealed segments already in S3 are evicted and served from S3 (cleanup.policy=delete topics only). Has no effect without a bucket.'],
  ['message.downconversion.enable', 'Deprecated in Kafka 3.x and removed in 4.0; has no effect in Shoal, which never down-converts (Fetch v4+ only reads record batches v2).'],
  ['message.format.version', 'Deprecated in Kafka 3.x and removed in 4.0; has no effect in Shoal, which always writes record batches v2 (message format 3.0).'],
  ['message.timestamp.difference.max.ms', 'Deprecated in Kafka 3.6 (KIP-937) for message.timestamp.before.max.ms and message.timestamp.after.max.ms; has no effect in Shoal.'],
  ['remote.log.copy.disable', 'Has no effect in Shoal: it applies only to tiered storage, which Shoal does not have.'],
  ['remote.log.delete.on.disable', 'Has no effect in Shoal: it applies only to tiered storage, which Shoal does not have.'],
  ['remote.storage.enable', 'Kafka\'s per-topic switch for tiered storage. Without --s3-bucket only false is accepted; with one, true is accepted too, and either value has no effect: every topic has its S3 copy, and local.retention.* evict from the local disk.']
])

/** Whether `name` is a topic config Shoal knows (an own key of the table: never `constructor` or `__proto__`). */
export function isTopicConfig (name: string): boolean {
  return Object.hasOwn(kTopicConfigDefaults, name)
}

/** Configs whose values are comma-separated lists (IncrementalAlterConfigs may append to or subtract from them). */
export const kListTopicConfigs: ReadonlySet<string> = new Set(['cleanup.policy', 'follower.replication.throttled.replicas', 'leader.replication.throttled.replicas'])

const kInt32Max = 2n ** 31n - 1n
const kInt64Max = 2n ** 63n - 1n

/**
 * Numeric bounds, from Kafka's LogConfig (TopicConfig) validators; INT configs end at 2^31-1, LONG configs at
 * 2^63-1. segment.bytes follows Kafka 4 (KIP-1030): at least 1 MiB, so a topic cannot make every write roll a
 * segment (each segment holds a file and two indexes open).
 */
const kNumericBounds: Readonly<Record<string, readonly [bigint, bigint]>> = {
  // gzip: also -1 (zlib's default), checked in validateTopicConfig. zstd: ZSTD_minCLevel() (-2^17) to 22.
  'compression.gzip.level': [1n, 9n],
  'compression.lz4.level': [1n, 17n],
  'compression.zstd.level': [-131072n, 22n],
  'delete.retention.ms': [0n, kInt64Max],
  'file.delete.delay.ms': [0n, kInt64Max],
  'flush.messages': [1n, kInt64Max],
  'flush.ms': [0n, kInt64Max],
  'index.interval.bytes': [0n, kInt32Max],
  'max.compaction.lag.ms': [1n, kInt64Max],
  'max.message.bytes': [0n, kInt32Max],
  'message.timestamp.after.max.ms': [0n, kInt64Max],
  'message.timestamp.before.max.ms': [0n, kInt64Max],
  'min.compaction.lag.ms': [0n, kInt64Max],
  'min.insync.replicas': [1n, kInt32Max],
  'retention.bytes': [-1n, kInt64Max],
  'retention.ms': [-1n, kInt64Max],
  'segment.bytes': [1048576n, kInt32Max],
  'segment.index.bytes': [4n, kInt32Max],
  'segment.jitter.ms': [0n, kInt64Max],
  'segment.ms': [1n, kInt64Max],
  'local.retention.bytes': [-2n, kInt64Max],
  'local.retention.ms': [-2n, kInt64Max],
  'message.timestamp.difference.max.ms': [0n, kInt64Max]
}

/**
 * Returns an error message when a value is not acceptable for the config, or null. Every value that reaches a
 * log or the data path passes here first: unknown names, non-numbers ('abc', '1e400', ' 5'), and numbers out
 * of Kafka's range (segment.bytes=1) are refused (the caller answers INVALID_CONFIG).
 */
export function validateTopicConfig (name: string, value: string | null): string | null {
  if (!isTopicConfig(name)) return `Unknown topic config name: ${name}`
  if (value === null) return null
  const invalid = `Invalid value ${value} for configuration ${name}`
  switch (name) {
    case 'message.timestamp.type':
      return value === 'CreateTime' || value === 'LogAppendTime' ? null : invalid
    case 'cleanup.policy':
      return /^(delete|compact)(,(delete|compact))?$/.test(value) ? null : invalid
    case 'compression.type':
      return ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'].includes(value) ? null : invalid
    case 'min.cleanable.dirty.ratio': {
      const ratio = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
      return ratio >= 0 && ratio <= 1 ? null : `${invalid}: Value must be between 0 and 1`
    }
    case 'compression.gzip.level':
      if (value === '-1') return null
      if (!/^-?\d{1,19}$/.test(value)) return `${invalid}: Not a number of type INT`
      return Number(value) >= 1 && Number(value) <= 9 ? null : `${invalid}: Value must be between 1 and 9, or -1 (the default level)`
    case 'preallocate': case 'unclean.leader.election.enable': case 'message.downconversion.enable':
    case 'remote.log.copy.disable': case 'remote.log.delete.on.disable':
      return value === 'true' || value === 'false' ? null : invalid
    case 'remote.storage.enable':
      // Kafka's answer on a broker without remote storage; with --s3-bucket either value is taken (see kDocs).
      if (value === 'true' && !remoteStorageAvailable) return 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.'
      return value === 'false' || value === 'true' ? null : invalid
    case 'message.format.version':
      // Kafka's ApiVersion names: 0.8.0 to 3.x, optionally with an -IVn suffix (2.1-IV2, 3.0-IV1).
      return /^\d{1,2}\.\d{1,2}(\.\d{1,2})?(-IV\d{1,2})?$/.test(value) ? null : invalid
    case 'follower.replication.throttled.replicas': case 'leader.replication.throttled.replicas':
      // Kafka's ThrottledReplicaListValidator: empty, `*`, or partition:brokerId pairs separated by commas.
      return /^(|\*|\d+:\d+(,\d+:\d+)*)$/.test(value.replace(/\s/g, '')) ? null : `${invalid}: must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`
    default: {
      if (!/^-?\d{1,19}$/.test(value)) return `${invalid}: Not a number of type ${kNumericBounds[name]?.[1] === kInt32Max ? 'INT' : 'LONG'}`
      const bounds = kNumericBounds[name]
      const n = BigInt(value)
      if (bounds !== undefined && (n < bounds[0] || n > bounds[1])) {
        return n < bounds[0] ? `${invalid}: Value must be at least ${bounds[0]}` : `${invalid}: Value must be at most ${bounds[1]}`
      }
      return null
    }
  }
}

/** Kafka's rule: 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..". */
export function validateTopicName (name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty'
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."'
  if (name.length > 249) return 'Topic name is illegal, it can\'t be longer than 249 characters'
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  return null
}

/**
 * The effective value of a topic config: the topic's override, else the broker-wide default for it. Every
 * reader of a topic config that takes effect (log maintenance, produce, fetch) goes through here, so that
 * dynamic broker defaults (`log.retention.ms` and the like, set through AlterConfigs on the BROKER resource)
 * reach every topic without an override.
 */
export function topicConfigValue (overrides: Readonly<Record<string, string>>, name: string): string {
  return (Object.hasOwn(overrides, name) ? overrides[name] : undefined) ?? (Object.hasOwn(brokerTopicDefaults, name) ? brokerTopicDefaults[name] : undefined) ?? kTopicConfigDefaults[name]
}

/**
 * This thread's broker-level default of every topic config that has a broker synonym (per-broker dynamic, else
 * cluster-wide dynamic, else static, else Kafka's default), by topic config name. Each thread keeps its own:
 * src/config/broker-configs.ts (installBrokerConfigs) replaces it whenever a ClusterMetadata version arrives.
 */
let brokerTopicDefaults: Readonly<Record<string, string>> = kTopicConfigDefaults

/** Replaces this thread's broker-level topic defaults (only installBrokerConfigs calls it). */
export function setBrokerTopicDefaults (defaults: Readonly<Record<string, string>>): void {
  brokerTopicDefaults = defaults
}

/** The value a topic without an override of `name` gets: the broker-level default (see topicConfigValue). */
export function topicConfigDefault (name: string): string {
  return topicConfigValue(kNoOverrides, name)
}

const kNoOverrides: Readonly<Record<string, string>> = Object.freeze(Object.create(null))
