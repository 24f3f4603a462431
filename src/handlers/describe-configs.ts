// DescribeConfigs (key 32), v0-4. Resource types: 2 topic, 4 broker, 8 broker logger.
//   Topic: every topic config with its effective value and source: the topic's override (DYNAMIC_TOPIC_CONFIG),
//     else its broker synonym's chain (src/config/broker-configs.ts: per-broker dynamic, cluster-wide dynamic,
//     static, default). With includeSynonyms (v1+) the whole chain, highest precedence first.
//   Broker (resourceName = this node id): the broker's own settings in Kafka's names, read-only (a setting given
//     by the --config file, a flag or a SHOAL_* variable is STATIC_BROKER_CONFIG: Kafka has no source for flags,
//     they are static config too; one left at its default, or fixed in Shoal, is DEFAULT_CONFIG), and the
//     broker-level topic defaults (log.retention.ms, ...), which AlterConfigs may change. resourceName "" (the
//     cluster-wide default) describes only what was set dynamically for every broker, as Kafka does.
//   Broker logger (resourceName = this node id): each logger's level (src/config/broker-configs.ts).
// configType and documentation (v3+, documentation only with includeDocumentation) come from the same table.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { kTopicConfigDefaults } from '../config/topic-config.ts'
import {
  ConfigSource, ConfigType, brokerConfigChain, brokerConfigDocumentation, brokerSynonymType, brokerTopicDefaultNames, chainValue, isDynamicBrokerSetting, kDynamicBrokerConfigs,
  loggerLevels, staticSecondarySynonyms, topicConfigChain, topicConfigDocumentation, topicConfigOf, topicConfigType, type ConfigSynonym
} from '../config/broker-configs.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'
import type { BrokerConfig } from '../config/config.ts'
import { describeAdvertisedListeners, describeListeners, describeSecurityProtocolMap } from '../config/listeners.ts'
import { clipName } from '../protocol/clip.ts'

const api = apiByKey(32)!

export const kTopicResource = 2
export const kBrokerResource = 4
export const kBrokerLoggerResource = 8

interface DescribeConfigsRequest {
  resources: Array<{ resourceType: number, resourceName: string, configurationKeys: string[] | null }>
  includeSynonyms: boolean
  includeDocumentation: boolean
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
export function brokerConfigEntries (config: BrokerConfig, advertisedHost: string, advertisedPort: number,
  advertisedListeners: Readonly<Record<string, { host: string, port: number }>> = {}): BrokerConfigEntry[] {
  const entry = (name: string, value: string | number | boolean, property: string | null = name): BrokerConfigEntry => ({ name, value: String(value), property })
  return [
    entry('node.id', config.nodeId),
    entry('broker.id', config.nodeId, 'node.id'),
    entry('listeners', config.listeners.length > 1 ? describeListeners(config.listeners) : listener(config.listenHost, config.listenPort)),
    entry('advertised.listeners', config.listeners.length > 1
      ? describeAdvertisedListeners(config.listeners, advertisedListeners)
      : listener(advertisedHost, advertisedPort)),
    entry('listener.security.protocol.map', describeSecurityProtocolMap(config.listeners)),
    entry('sasl.enabled.mechanisms', config.saslEnabledMechanisms.join(',')),
    entry('connections.max.reauth.ms', config.connectionsMaxReauthMs),
    entry('sasl.server.max.receive.size', config.saslServerMaxReceiveSize),
    entry('connection.failed.authentication.delay.ms', config.connectionFailedAuthenticationDelayMs),
    entry('sasl.oauthbearer.jwks.endpoint.url', config.oauthBearer?.jwksEndpointUrl ?? ''),
    entry('sasl.oauthbearer.jwks.endpoint.refresh.ms', config.oauthBearer?.jwksRefreshMs ?? 3600000),
    entry('sasl.oauthbearer.expected.audience', config.oauthBearer?.expectedAudience.join(',') ?? ''),
    entry('sasl.oauthbearer.expected.issuer', config.oauthBearer?.expectedIssuer ?? ''),
    entry('sasl.oauthbearer.sub.claim.name', config.oauthBearer?.subClaimName ?? 'sub'),
    entry('sasl.oauthbearer.clock.skew.seconds', config.oauthBearer?.clockSkewSeconds ?? 30),
    entry('ssl.keystore.location', config.sslCertificateChain ?? ''),
    entry('ssl.truststore.location', config.sslTruststore ?? ''),
    entry('ssl.client.auth', config.sslClientAuth),
    entry('ssl.principal.mapping.rules', config.sslPrincipalMappingRules),
    entry('quota.window.num', config.quotaWindowNum),
    entry('quota.window.size.seconds', config.quotaWindowSizeSeconds),
    entry('log.dirs', config.dataDir),
    entry('num.partitions', config.defaultPartitions),
    entry('auto.create.topics.enable', config.autoCreateTopics),
    entry('message.max.bytes', config.messageMaxBytes),
    entry('log.segment.bytes', config.segmentBytes),
    entry('log.retention.check.interval.ms', config.logRetentionCheckIntervalMs),
    entry('log.cleaner.backoff.ms', config.logCleanerBackoffMs),
    entry('log.cleaner.dedupe.buffer.size', config.logCleanerDedupeBufferSize),
    entry('log.cleaner.io.max.bytes.per.second', config.logCleanerIoMaxBytesPerSecond),
    entry('log.cleaner.enable', config.logCleanerEnable),
    entry('max.incremental.fetch.session.cache.slots', config.maxIncrementalFetchSessionCacheSlots),
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
    entry('transaction.remove.expired.transaction.cleanup.interval.ms', config.transactionRemoveExpiredIntervalMs),
    entry('authorizer.class.name', config.authorizer ? 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' : ''),
    entry('super.users', config.superUsers.join(';')),
    entry('allow.everyone.if.no.acl.found', config.allowEveryoneIfNoAclFound)
  ]
}

function brokerSource (config: BrokerConfig, property: string | null): number {
  return property === null || (config.sources[property] ?? 'default') === 'default' ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG
}

/** One described config: `chain` is its value's synonyms, highest precedence first (the first is the value). */
interface Described {
  readonly name: string
  readonly chain: readonly ConfigSynonym[]
  readonly readOnly: boolean
  readonly configType: number
  readonly documentation: string | null
}

/** The response entries for `described`, restricted to `keys` (null: all) in their order, as `apiVersion` carries them. */
function entries (described: readonly Described[], keys: string[] | null, apiVersion: number, request: DescribeConfigsRequest): object[] {
  const byName = new Map(described.map((d) => [d.name, d]))
  const chosen = keys === null ? described : keys.flatMap((key) => typeof key === 'string' && byName.has(key) ? [byName.get(key) as Described] : [])
  return chosen.map((d) => {
    // The value in the config's own units: a chain led by log.retention.hours=168 gives retention.ms 604800000.
    const value = chainValue(d.chain, d.name)
    const { source } = d.chain[0]
    return {
      name: d.name,
      value,
      readOnly: d.readOnly,
      isDefault: source === ConfigSource.DEFAULT_CONFIG,
      configSource: source,
      isSensitive: false,
      synonyms: request.includeSynonyms === true && apiVersion >= 1 ? d.chain.map((link) => ({ name: link.name, value: link.value, source: link.source })) : [],
      configType: d.configType,
      documentation: request.includeDocumentation === true ? d.documentation : null
    }
  })
}

/** A static broker setting's ConfigType, from its value (Shoal's settings are numbers, booleans and strings). */
function staticType (value: string): number {
  if (value === 'true' || value === 'false') return ConfigType.BOOLEAN
  if (/^-?\d{1,10}$/.test(value)) return Math.abs(Number(value)) <= 2 ** 31 - 1 ? ConfigType.INT : ConfigType.LONG
  if (/^-?\d+$/.test(value)) return ConfigType.LONG
  return ConfigType.STRING
}

function describeTopic (shard: Shard, overrides: Readonly<Record<string, string>>): Described[] {
  const dynamic = shard.table.brokerConfigs
  const nodeId = String(shard.config.nodeId)
  return Object.keys(kTopicConfigDefaults).map((name) => ({
    name,
    chain: topicConfigChain(name, overrides, dynamic, nodeId, shard.config),
    readOnly: false,
    configType: topicConfigType(name),
    documentation: topicConfigDocumentation(name)
  }))
}

function describeBroker (shard: Shard, resourceName: string): Described[] {
  const dynamic = shard.table.brokerConfigs
  const { config } = shard
  const dynamicEntry = (name: string, chain: ConfigSynonym[]): Described => ({
    name,
    chain,
    readOnly: !kDynamicBrokerConfigs.has(name),
    configType: brokerSynonymType(name),
    documentation: brokerConfigDocumentation(name)
  })
  if (resourceName === '') {
    // The cluster-wide default resource: only what was set for every broker.
    return Object.entries(dynamic.clusterDefault).map(([name, value]) => dynamicEntry(name, [{ name, value, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }]))
  }
  const described: Described[] = []
  const seen = new Set<string>()
  for (const e of brokerConfigEntries(config, shard.advertised.host, shard.advertised.port, shard.advertisedListeners)) {
    seen.add(e.name)
    if (topicConfigOf(e.name) !== undefined || isDynamicBrokerSetting(e.name)) {
      described.push(dynamicEntry(e.name, brokerConfigChain(e.name, dynamic, resourceName, config)))
      continue
    }
    described.push({ name: e.name, chain: [{ name: e.name, value: e.value, source: brokerSource(config, e.property) }], readOnly: true, configType: staticType(e.value), documentation: null })
  }
  for (const name of brokerTopicDefaultNames()) {
    if (!seen.has(name)) described.push(dynamicEntry(name, brokerConfigChain(name, dynamic, resourceName, config)))
  }
  // Static synonyms that are not the broker-level default itself (log.retention.hours, log.roll.hours, ...), as set.
  for (const { name, value } of staticSecondarySynonyms(config)) {
    described.push({ name, chain: [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }], readOnly: true, configType: brokerSynonymType(name), documentation: brokerConfigDocumentation(name) })
  }
  return described
}

function describeLoggers (shard: Shard): Described[] {
  const levels = loggerLevels(shard.table.loggers, shard.config)
  return Object.entries(levels).map(([name, value]) => ({
    name,
    chain: [{ name, value, source: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG }],
    readOnly: false,
    configType: ConfigType.STRING,
    documentation: null
  }))
}

function describeConfigsAllowed (context: RequestContext, resourceType: number, resourceName: string): boolean {
  if (!context.shard.config.authorizer) return true
  if (resourceType === kTopicResource) return allows(context, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, resourceName)
  if (resourceType === kBrokerResource || resourceType === kBrokerLoggerResource) return allows(context, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER, kClusterName)
  return true
}

function handle (context: RequestContext, request: DescribeConfigsRequest): object {
  const { shard, apiVersion } = context
  const nodeId = String(shard.config.nodeId)
  const results = request.resources.map((resource) => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName, errorMessage: null }
    const keys = resource.configurationKeys
    // Kafka's authorization: DESCRIBE_CONFIGS on the topic, or on the cluster for broker and logger resources.
    if (!describeConfigsAllowed(context, resource.resourceType, resource.resourceName)) {
      return resource.resourceType === kTopicResource
        ? { ...base, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Topic authorization failed.', configs: [] }
        : { ...base, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', configs: [] }
    }
    if (resource.resourceType === kTopicResource) {
      const topic = shard.table.topic(resource.resourceName)
      if (topic === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${clipName(resource.resourceName)} does not exist.`, configs: [] }
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(describeTopic(shard, topic.configs), keys, apiVersion, request) }
    }
    if (resource.resourceType === kBrokerResource) {
      if (resource.resourceName !== '' && resource.resourceName !== nodeId) {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown broker ${clipName(resource.resourceName)}`, configs: [] }
      }
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(describeBroker(shard, resource.resourceName), keys, apiVersion, request) }
    }
    if (resource.resourceType === kBrokerLoggerResource) {
      if (resource.resourceName !== nodeId) {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${nodeId}, but received ${clipName(resource.resourceName)}`, configs: [] }
      }
      return { ...base, errorCode: ErrorCode.NONE, configs: entries(describeLoggers(shard), keys, apiVersion, request) }
    }
    return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Resource type ${resource.resourceType} is not supported`, configs: [] }
  })
  return { throttleTimeMs: 0, results }
}

export const describeConfigsHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
