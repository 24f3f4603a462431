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

/** Returns an error message when a value is not acceptable for the config, or null. */
export function validateTopicConfig (name: string, value: string | null): string | null {
  if (!(name in kTopicConfigDefaults)) return `Unknown topic config name: ${name}`
  if (value === null) return null
  switch (name) {
    case 'message.timestamp.type':
      return value === 'CreateTime' || value === 'LogAppendTime' ? null : `Invalid value ${value} for configuration ${name}`
    case 'cleanup.policy':
      return /^(delete|compact)(,(delete|compact))?$/.test(value) ? null : `Invalid value ${value} for configuration ${name}`
    case 'compression.type':
      return ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'].includes(value) ? null : `Invalid value ${value} for configuration ${name}`
    case 'min.cleanable.dirty.ratio':
      return Number.isFinite(Number(value)) ? null : `Invalid value ${value} for configuration ${name}`
    case 'preallocate': case 'unclean.leader.election.enable':
      return value === 'true' || value === 'false' ? null : `Invalid value ${value} for configuration ${name}`
    default:
      return /^-?\d+$/.test(value) ? null : `Invalid value ${value} for configuration ${name}`
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
