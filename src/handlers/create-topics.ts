// CreateTopics (key 19), v2-7. Validated and applied by the controller; v5+ answers carry the partition
// count, replication factor and the effective configs, which the Java AdminClient reads back. A manual replica
// assignment may name this broker only (the one registered broker): the controller checks it as Kafka's does
// (src/admin/controller.ts, topicAssignmentError) and creates one partition per assigned partition.
import { apiByKey } from '../protocol/apis.ts'
import { ConfigSource, topicConfigChain } from '../config/broker-configs.ts'
import type { CreateTopicResult, ReplicaAssignment } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

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
  const results = await context.shard.admin<CreateTopicResult[]>({
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
  const overrides = new Map<string, Set<string>>()
  for (const t of request.topics) overrides.set(t.name, new Set(t.configs.filter((config) => config.value !== null).map((config) => config.name)))
  const overridden = (topic: string, name: string): boolean => overrides.get(topic)?.has(name) === true
  // A value the request set is the topic's own; any other comes from the broker's chain (a dynamic default, a flag, Kafka's default).
  const sourceOf = (topic: string, name: string): number => overridden(topic, name)
    ? ConfigSource.DYNAMIC_TOPIC_CONFIG
    : topicConfigChain(name, {}, shard.table.brokerConfigs, String(shard.config.nodeId), shard.config)[0].source
  return {
    throttleTimeMs: 0,
    topics: results.map((result) => ({
      name: result.name,
      topicId: result.topicId,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      numPartitions: result.numPartitions,
      replicationFactor: result.replicationFactor,
      configs: result.errorCode !== 0
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
