// Topic-level configs Shoal knows, with Kafka's names and broker defaults. CreateTopics rejects names not in
// this table with INVALID_CONFIG; DescribeConfigs and CreateTopics (v5+) report the effective values.

export const kTopicConfigDefaults: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'compression.type': 'producer',
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
  'unclean.leader.election.enable': 'false'
}

/** Whether `name` is a topic config Shoal knows (an own key of the table: never `constructor` or `__proto__`). */
export function isTopicConfig (name: string): boolean {
  return Object.hasOwn(kTopicConfigDefaults, name)
}

/** Configs whose values are comma-separated lists (IncrementalAlterConfigs may append to or subtract from them). */
export const kListTopicConfigs: ReadonlySet<string> = new Set(['cleanup.policy'])

const kInt32Max = 2n ** 31n - 1n
const kInt64Max = 2n ** 63n - 1n

/**
 * Numeric bounds, from Kafka's LogConfig (TopicConfig) validators; INT configs end at 2^31-1, LONG configs at
 * 2^63-1. segment.bytes follows Kafka 4 (KIP-1030): at least 1 MiB, so a topic cannot make every write roll a
 * segment (each segment holds a file and two indexes open).
 */
const kNumericBounds: Readonly<Record<string, readonly [bigint, bigint]>> = {
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
  'segment.ms': [1n, kInt64Max]
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
    case 'preallocate': case 'unclean.leader.election.enable':
      return value === 'true' || value === 'false' ? null : invalid
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
