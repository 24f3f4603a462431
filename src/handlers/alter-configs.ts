// AlterConfigs (key 33), v0-2, and IncrementalAlterConfigs (key 44), v0-1. AlterConfigs replaces a resource's
// set with the given one; IncrementalAlterConfigs applies operations (0 set, 1 delete, 2 append to a list, 3
// subtract from a list). The controller persists the change and publishes it to every worker. Resources:
//   TOPIC (2): the topic's overrides (validated by the controller).
//   BROKER (4): dynamic broker configs (src/config/broker-configs.ts), resourceName "" for every broker or this
//     node's id for this broker alone. Unknown names: INVALID_CONFIG; Kafka broker configs that need a restart
//     (and every setting Shoal takes from flags): INVALID_REQUEST "Cannot update these configs dynamically".
//   BROKER_LOGGER (8): logger levels at run time, IncrementalAlterConfigs only (Kafka refuses AlterConfigs);
//     DELETE gives a logger root's level back, and root's own level cannot be deleted.
// validateOnly checks everything and changes nothing.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { isTopicConfig, kListTopicConfigs, kTopicConfigDefaults } from '../config/topic-config.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import { brokerConfigEntries, kBrokerLoggerResource, kBrokerResource, kTopicResource } from './describe-configs.ts'
import { brokerConfigChain, brokerConfigMode, isKafkaLogLevel, isListBrokerConfig, kKafkaLogLevels, kLoggerNames, kRootLogger, validateBrokerConfig } from '../config/broker-configs.ts'
import type { Shard } from '../shard/shard.ts'
import { repeatedKeys } from '../protocol/repeated.ts'
import { clipName } from '../protocol/clip.ts'

const alterApi = apiByKey(33)!
const incrementalApi = apiByKey(44)!

const kSet = 0
const kDelete = 1
const kAppend = 2
const kSubtract = 3

interface AlterRequest {
  resources: Array<{ resourceType: number, resourceName: string, configs: Array<{ name: string, configOperation: number, value: string | null }> }>
  validateOnly: boolean
}

function listOf (value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(',')
}

async function alter (context: RequestContext, request: AlterRequest, incremental: boolean): Promise<object> {
  const { shard } = context
  const responses = []
  const resourceKey = (resource: AlterRequest['resources'][number]): string => `${resource.resourceType}:${resource.resourceName}`
  const repeated = repeatedKeys(request.resources, resourceKey)
  for (const resource of request.resources) {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
    if (repeated.has(resourceKey(resource))) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate resource in request.' })
      continue
    }
    if (repeatedKeys(resource.configs ?? [], (config) => String(config.name)).size > 0) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' })
      continue
    }
    // Kafka's authorization: ALTER_CONFIGS on the topic, or on the cluster for broker and logger resources.
    if (shard.config.authorizer) {
      const isTopic = resource.resourceType === kTopicResource
      if ((isTopic || resource.resourceType === kBrokerResource || resource.resourceType === kBrokerLoggerResource) &&
        !allows(context, AclOperation.ALTER_CONFIGS, isTopic ? ResourceType.TOPIC : ResourceType.CLUSTER, isTopic ? resource.resourceName : kClusterName)) {
        responses.push(isTopic
          ? { ...base, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Topic authorization failed.' }
          : { ...base, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' })
        continue
      }
    }
    if (resource.resourceType === kBrokerResource) {
      responses.push({ ...base, ...await alterBroker(shard, resource, incremental, request.validateOnly) })
      continue
    }
    if (resource.resourceType === kBrokerLoggerResource) {
      responses.push({ ...base, ...await alterLoggers(shard, resource, incremental, request.validateOnly) })
      continue
    }
    if (resource.resourceType !== kTopicResource) {
      responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Resource type ${resource.resourceType} cannot be altered` })
      continue
    }
    const current = shard.table.topic(resource.resourceName)?.configs ?? {}
    // Names are checked here, before they index anything: `__proto__` or `constructor` must never become keys.
    const set: Record<string, string | null> = Object.create(null)
    let error: string | null = null
    let errorCode: number = ErrorCode.INVALID_REQUEST
    for (const config of resource.configs ?? []) {
      const operation = incremental ? config.configOperation : kSet
      if (typeof config.name !== 'string' || !isTopicConfig(config.name)) {
        error = `Unknown topic config name: ${clipName(String(config.name))}`
        errorCode = ErrorCode.INVALID_CONFIG
        break
      }
      if ((operation === kAppend || operation === kSubtract) && !kListTopicConfigs.has(config.name)) {
        error = `Config value ${operation === kAppend ? 'append' : 'subtract'} is not allowed for config key ${config.name}, which is not a list`
        errorCode = ErrorCode.INVALID_CONFIG
        break
      }
      const existing = Object.hasOwn(set, config.name) ? set[config.name] ?? undefined : Object.hasOwn(current, config.name) ? current[config.name] : kTopicConfigDefaults[config.name]
      switch (operation) {
        case kSet: set[config.name] = config.value; break
        case kDelete: set[config.name] = null; break
        case kAppend: set[config.name] = [...new Set([...listOf(existing), ...listOf(config.value ?? '')])].join(','); break
        case kSubtract: set[config.name] = listOf(existing).filter((item) => !listOf(config.value ?? '').includes(item)).join(','); break
        default: error = `Unknown config operation ${operation}`
      }
      if (error !== null) break
    }
    if (error !== null) {
      responses.push({ ...base, errorCode, errorMessage: error })
      continue
    }
    const result = await shard.admin<TopicResult>({ op: 'alterTopicConfigs', topic: resource.resourceName, set: { ...set }, incremental, validateOnly: request.validateOnly })
    responses.push({ ...base, errorCode: result.errorCode, errorMessage: result.errorMessage })
  }
  return { throttleTimeMs: 0, responses }
}

interface ResourceResult {
  readonly errorCode: number
  readonly errorMessage: string | null
}

const kOperationNames = ['SET', 'DELETE', 'APPEND', 'SUBTRACT']

/** BROKER: checks every name and value here (a refused resource changes nothing), then asks the controller. */
async function alterBroker (shard: Shard, resource: AlterRequest['resources'][number], incremental: boolean, validateOnly: boolean): Promise<ResourceResult> {
  const nodeId = String(shard.config.nodeId)
  const broker = resource.resourceName
  if (broker !== '' && broker !== nodeId) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown broker ${clipName(String(broker))}: this is broker ${nodeId}` }
  const configs = resource.configs ?? []
  const staticNames = new Set(brokerConfigEntries(shard.config, shard.advertised.host, shard.advertised.port).map((entry) => entry.name))
  const unknown: string[] = []
  const readOnly: string[] = []
  for (const config of configs) {
    const name = typeof config.name === 'string' ? config.name : String(config.name)
    const mode = brokerConfigMode(name, staticNames)
    if (mode === 'unknown') unknown.push(clipName(name))
    else if (mode === 'read-only') readOnly.push(name)
  }
  if (unknown.length > 0) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Unknown broker config name(s): ${unknown.join(', ')}` }
  if (readOnly.length > 0) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Cannot update these configs dynamically: Set(${readOnly.join(', ')})` }
  const dynamic = shard.table.brokerConfigs
  const current = broker === '' ? dynamic.clusterDefault : (Object.hasOwn(dynamic.perBroker, broker) ? dynamic.perBroker[broker] : {})
  // Only names in the dynamic table get here: never `__proto__` or `constructor`.
  const set: Record<string, string | null> = Object.create(null)
  for (const config of configs) {
    const name = config.name
    const operation = incremental ? config.configOperation : kSet
    if ((operation === kAppend || operation === kSubtract) && !isListBrokerConfig(name)) {
      return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Config value ${operation === kAppend ? 'append' : 'subtract'} is not allowed for config key ${name}, which is not a list` }
    }
    // What APPEND and SUBTRACT start from: this resource's own value, else what the broker has now.
    const existing = Object.hasOwn(set, name) ? set[name] ?? undefined : Object.hasOwn(current, name) ? current[name] : brokerConfigChain(name, dynamic, nodeId, shard.config)[0].value
    switch (operation) {
      case kSet: set[name] = config.value; break
      case kDelete: set[name] = null; break
      case kAppend: set[name] = [...new Set([...listOf(existing), ...listOf(config.value ?? '')])].join(','); break
      case kSubtract: set[name] = listOf(existing).filter((item) => !listOf(config.value ?? '').includes(item)).join(','); break
      default: return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown config operation ${operation}` }
    }
    const error = validateBrokerConfig(name, set[name])
    if (error !== null) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: error }
  }
  const result = await shard.admin<TopicResult>({ op: 'alterBrokerConfigs', broker, set: { ...set }, incremental, validateOnly })
  return { errorCode: result.errorCode, errorMessage: result.errorMessage }
}

/** BROKER_LOGGER: Kafka's checks and messages (ConfigAdminManager), then the controller spreads the levels. */
async function alterLoggers (shard: Shard, resource: AlterRequest['resources'][number], incremental: boolean, validateOnly: boolean): Promise<ResourceResult> {
  if (!incremental) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'AlterConfigs is deprecated and does not support the resource type BROKER_LOGGER' }
  const nodeId = String(shard.config.nodeId)
  if (resource.resourceName === '') return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker id must not be empty' }
  if (resource.resourceName !== nodeId) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${nodeId}, but received ${clipName(String(resource.resourceName))}` }
  const set: Record<string, string | null> = Object.create(null)
  for (const config of resource.configs ?? []) {
    const name = typeof config.name === 'string' ? config.name : String(config.name)
    if (!kLoggerNames.includes(name)) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Logger ${clipName(name)} does not exist!` }
    switch (config.configOperation) {
      case kSet:
        if (typeof config.value !== 'string' || !isKafkaLogLevel(config.value)) {
          return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Cannot set the log level of ${name} to ${clipName(String(config.value))} as it is not a supported log level. Valid log4j levels are ${kKafkaLogLevels.join(', ')}` }
        }
        set[name] = config.value
        break
      case kDelete:
        if (name === kRootLogger) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Removing the log level of the root logger is not allowed' }
        set[name] = null
        break
      default:
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `${kOperationNames[config.configOperation] ?? config.configOperation} operation is not allowed for the BROKER_LOGGER resource` }
    }
  }
  const result = await shard.admin<TopicResult>({ op: 'alterLoggers', set: { ...set }, validateOnly })
  return { errorCode: result.errorCode, errorMessage: result.errorMessage }
}

export const alterConfigsHandler: Handler = { api: alterApi, minVersion: 0, maxVersion: 2, handle: (context, request) => alter(context, request, false) }
export const incrementalAlterConfigsHandler: Handler = { api: incrementalApi, minVersion: 0, maxVersion: 1, handle: (context, request) => alter(context, request, true) }
