// DescribeConfigs (key 32), v0-4: a topic's effective configs (Kafka's defaults, overridden by the topic's own),
// and the broker's own settings in Kafka's names (read-only). A broker setting given by the --config file, a flag
// or a SHOAL_* variable is STATIC_BROKER_CONFIG (Kafka has no source for flags: they are static config too); one
// left at its default, or fixed in Shoal, is DEFAULT_CONFIG with isDefault true. Resource types: 2 topic, 4 broker.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { kTopicConfigDefaults } from '../config/topic-config.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import type { Shard } from '../shard/shard.ts'
import type { BrokerConfig } from '../config/config.ts'
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

/** A broker setting as described: its Kafka name, its value, and the kFlags property whose source it reports (null: fixed in Shoal). */
interface BrokerConfigEntry {
  readonly name: string
  readonly value: string
  readonly property: string | null
}

function listener (host: string, port: number): string {
  return `PLAINTEXT://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * The broker settings a client may ask about, in Kafka's names: every kFlags property that is Kafka's (a test
 * checks none is missing), and the fixed values of a one-node broker that clients commonly read.
 */
export function brokerConfigEntries (config: BrokerConfig, advertisedHost: string, advertisedPort: number): BrokerConfigEntry[] {
  const entry = (name: string, value: string | number | boolean, property: string | null = name): BrokerConfigEntry => ({ name, value: String(value), property })
  return [
    entry('node.id', config.nodeId),
    entry('broker.id', config.nodeId, 'node.id'),
    entry('listeners', listener(config.listenHost, config.listenPort)),
    entry('advertised.listeners', listener(advertisedHost, advertisedPort)),
    entry('log.dirs', config.dataDir),
    entry('num.partitions', config.defaultPartitions),
    entry('auto.create.topics.enable', config.autoCreateTopics),
    entry('message.max.bytes', config.messageMaxBytes),
    entry('log.segment.bytes', config.segmentBytes),
    entry('socket.request.max.bytes', config.maxFrameBytes),
    entry('max.connections', config.maxConnections),
    entry('max.connections.per.ip', config.maxConnectionsPerIp),
    entry('connections.max.idle.ms', config.connectionsMaxIdleMs),
    entry('queued.max.request.bytes', config.queuedMaxRequestBytes),
    entry('max.broker.partitions', config.maxBrokerPartitions),
    entry('default.replication.factor', 1, null),
    entry('offsets.topic.num.partitions', 50, null),
    entry('transaction.state.log.num.partitions', 50, null),
    entry('offsets.retention.minutes', config.offsetsRetentionMinutes),
    entry('group.initial.rebalance.delay.ms', config.groupInitialRebalanceDelayMs),
    entry('group.min.session.timeout.ms', config.groupMinSessionTimeoutMs),
    entry('group.max.session.timeout.ms', config.groupMaxSessionTimeoutMs),
    entry('group.max.size', config.groupMaxSize),
    entry('group.consumer.session.timeout.ms', config.groupConsumerSessionTimeoutMs),
    entry('group.consumer.heartbeat.interval.ms', config.groupConsumerHeartbeatIntervalMs),
    entry('transaction.max.timeout.ms', config.transactionMaxTimeoutMs),
    entry('transactional.id.expiration.ms', config.transactionalIdExpirationMs),
    entry('transaction.abort.timed.out.transaction.cleanup.interval.ms', config.transactionAbortTimedOutIntervalMs),
    entry('transaction.remove.expired.transaction.cleanup.interval.ms', config.transactionRemoveExpiredIntervalMs)
  ]
}

function brokerSource (config: BrokerConfig, property: string | null): number {
  return property === null || (config.sources[property] ?? 'default') === 'default' ? kDefaultConfig : kStaticBrokerConfig
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
      const described = brokerConfigEntries(shard.config, shard.advertised.host, shard.advertised.port)
      const values = Object.fromEntries(described.map((e) => [e.name, e.value]))
      const sources = new Map(described.map((e) => [e.name, brokerSource(shard.config, e.property)]))
      const source = (name: string): number => sources.get(name) ?? kDefaultConfig
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(values, resource.configurationKeys, source, true, apiVersion, request.includeSynonyms) }
    }
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Resource type ${resource.resourceType} is not supported`, configs: [] }
  })
  return { throttleTimeMs: 0, results }
}

export const describeConfigsHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
