// CreateTopics (key 19), v2-7. Validated and applied by the controller; v5+ answers carry the partition
// count, replication factor and the effective configs, which the Java AdminClient reads back. A manual replica
// assignment may name this broker only (the one registered broker): the controller checks it as Kafka's does
// (src/admin/controller.ts, topicAssignmentError) and creates one partition per assigned partition.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { ConfigSource, topicConfigChain } from '../config/broker-configs.ts'
import type { CreateTopicResult, ReplicaAssignment } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows, splitByTopic } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import { kThrottlingQuotaExceededMessage, splitByMutationQuota } from '../quota/quota-sensors.ts'

const api = apiByKey(19)!

interface CreateTopicsRequest {
  topics: Array<{
    name: string
    numPartitions: number
    replicationFactor: number
    assignments: ReplicaAssignment[]
    configs: Array<{ name: string, value: string | null }>
  }>
  timeoutMs: number
  validateOnly: boolean
}

async function handle (context: RequestContext, request: CreateTopicsRequest): Promise<object> {
  // Kafka's authorization: CREATE on the cluster, or else on each topic (TOPIC_AUTHORIZATION_FAILED without).
  const authorized = allows(context, AclOperation.CREATE, ResourceType.CLUSTER, kClusterName)
    ? null
    : splitByTopic(context, request.topics, AclOperation.CREATE, (t) => typeof t.name === 'string' ? t.name : undefined)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  // controller_mutation_rate (KIP-599), strict from v6: a topic's partitions are charged unless it already
  // exists (the controller refuses it) or the request only validates.
  const table = context.shard.table
  const mutations = request.validateOnly
    ? null
    : splitByMutationQuota(table.quotas, context.connection.principal.name, context.clientId, context.apiVersion >= 6, context.shard.config, request.topics,
      (t) => typeof t.name !== 'string' || table.topic(t.name) !== undefined ? -1 : t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? context.shard.config.defaultPartitions : Math.max(0, t.numPartitions))
  if (mutations !== null) request = { ...request, topics: mutations.accepted }
  const results = request.topics.length === 0 ? [] : await context.shard.admin<CreateTopicResult[]>({
    op: 'createTopics',
    topics: request.topics.map((t) => ({
      name: t.name,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      configs: t.configs,
      hasAssignments: t.assignments.length > 0,
      assignments: t.assignments.map((a) => ({ partitionIndex: a.partitionIndex, brokerIds: a.brokerIds }))
    })),
    validateOnly: request.validateOnly,
    brokers: [context.shard.config.nodeId]
  })
  const { shard } = context
  if (authorized !== null) {
    for (const t of authorized.denied) results.push({ name: t.name, topicId: '0'.repeat(32), errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.', numPartitions: -1, replicationFactor: -1, configs: {} })
  }
  if (mutations !== null) {
    for (const t of mutations.throttled) results.push({ name: t.name, topicId: '0'.repeat(32), errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, errorMessage: kThrottlingQuotaExceededMessage, numPartitions: -1, replicationFactor: -1, configs: {} })
  }
  const throttleTimeMs = mutations === null ? 0 : mutations.quota.finish(context.connection)
  const overrides = new Map<string, Set<string>>()
  for (const t of request.topics) overrides.set(t.name, new Set(t.configs.filter((config) => config.value !== null).map((config) => config.name)))
  const overridden = (topic: string, name: string): boolean => overrides.get(topic)?.has(name) === true
  // A value the request set is the topic's own; any other comes from the broker's chain (a dynamic default, a flag, Kafka's default).
  const sourceOf = (topic: string, name: string): number => overridden(topic, name)
    ? ConfigSource.DYNAMIC_TOPIC_CONFIG
    : topicConfigChain(name, {}, shard.table.brokerConfigs, String(shard.config.nodeId), shard.config)[0].source
  return {
    throttleTimeMs,
    topics: results.map((result) => ({
      name: result.name,
      topicId: result.topicId,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      numPartitions: result.numPartitions,
      replicationFactor: result.replicationFactor,
      // Kafka answers a created topic's configs only to a connection that may DESCRIBE_CONFIGS it.
      ...(result.errorCode === 0 && !allows(context, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, result.name) ? { topicConfigErrorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED } : {}),
      configs: result.errorCode !== 0 || !allows(context, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, result.name)
        ? null
        : Object.entries(result.configs).map(([name, value]) => ({
          name,
          value,
          readOnly: false,
          configSource: sourceOf(result.name, name),
          isSensitive: false
        }))
    }))
  }
}

export const createTopicsHandler: Handler = { api, minVersion: 2, maxVersion: 7, handle }
