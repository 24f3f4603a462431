// DescribeConfigs (key 32), v0-4: a topic's effective configs (Kafka's defaults, overridden by the topic's own),
// and the broker's own settings (read-only; they come from flags). Resource types: 2 topic, 4 broker.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { kTopicConfigDefaults } from '../config/topic-config.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import type { Shard } from '../shard/shard.ts'
import { clipName } from '../group/clip.ts'

const api = apiByKey(32)!

export const kTopicResource = 2
export const kBrokerResource = 4
/** Kafka's ConfigSource values. */
const kDynamicTopicConfig = 1
const kStaticBrokerConfig = 4
const kDefaultConfig = 5

interface DescribeConfigsRequest {
  resources: Array<{ resourceType: number, resourceName: string, configurationKeys: string[] | null }>
  includeSynonyms: boolean
}

/** The broker settings a client may ask about, in Kafka's names. */
function brokerConfigs (shard: Shard): Record<string, string> {
  const config = shard.config
  return {
    'broker.id': String(config.nodeId),
    'num.partitions': String(config.defaultPartitions),
    'auto.create.topics.enable': String(config.autoCreateTopics),
    'message.max.bytes': String(config.messageMaxBytes),
    'log.segment.bytes': String(config.segmentBytes),
    'default.replication.factor': '1',
    'offsets.topic.num.partitions': '50',
    'offsets.retention.minutes': String(config.offsetsRetentionMinutes),
    'group.initial.rebalance.delay.ms': String(config.groupInitialRebalanceDelayMs),
    'group.min.session.timeout.ms': String(config.groupMinSessionTimeoutMs),
    'group.max.session.timeout.ms': String(config.groupMaxSessionTimeoutMs),
    'group.max.size': String(config.groupMaxSize)
  }
}

function entries (values: Record<string, string>, keys: string[] | null, sourceOf: (name: string) => number, readOnly: boolean, apiVersion: number, synonyms: boolean): object[] {
  const names = keys === null ? Object.keys(values) : keys.filter((key) => typeof key === 'string' && Object.hasOwn(values, key))
  return names.map((name) => {
    const source = sourceOf(name)
    return {
      name,
      value: values[name],
      readOnly,
      isDefault: source === kDefaultConfig,
      configSource: source,
      isSensitive: false,
      synonyms: synonyms && apiVersion >= 1 ? [{ name, value: values[name], source }] : [],
      configType: 0,
      documentation: null
    }
  })
}

function handle (context: RequestContext, request: DescribeConfigsRequest): object {
  const { shard, apiVersion } = context
  const results = request.resources.map((resource) => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName, errorMessage: null }
    if (resource.resourceType === kTopicResource) {
      const topic = shard.table.topic(resource.resourceName)
      if (topic === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${clipName(resource.resourceName)} does not exist.`, configs: [] }
      const values = { ...kTopicConfigDefaults, ...topic.configs }
      const source = (name: string): number => name in topic.configs ? kDynamicTopicConfig : kDefaultConfig
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(values, resource.configurationKeys, source, false, apiVersion, request.includeSynonyms) }
    }
    if (resource.resourceType === kBrokerResource) {
      if (resource.resourceName !== '' && resource.resourceName !== String(shard.config.nodeId)) {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown broker ${clipName(resource.resourceName)}`, configs: [] }
      }
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(brokerConfigs(shard), resource.configurationKeys, () => kStaticBrokerConfig, true, apiVersion, request.includeSynonyms) }
    }
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Resource type ${resource.resourceType} is not supported`, configs: [] }
  })
  return { throttleTimeMs: 0, results }
}

export const describeConfigsHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
