// CreateTopics (key 19), v2-7. Validated and applied by the controller; v5+ answers carry the partition
// count, replication factor and the effective configs, which the Java AdminClient reads back.
import { apiByKey } from '../protocol/apis.ts'
import { kTopicConfigDefaults } from '../config/topic-config.ts'
import type { CreateTopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(19)!

interface CreateTopicsRequest {
  topics: Array<{
    name: string
    numPartitions: number
    replicationFactor: number
    assignments: unknown[]
    configs: Array<{ name: string, value: string | null }>
  }>
  timeoutMs: number
  validateOnly: boolean
}

/** Kafka's ConfigSource: 1 topic override, 5 default. */
const kDynamicTopicConfig = 1
const kDefaultConfig = 5

async function handle (context: RequestContext, request: CreateTopicsRequest): Promise<object> {
  const results = await context.shard.admin<CreateTopicResult[]>({
    op: 'createTopics',
    topics: request.topics.map((t) => ({ name: t.name, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor, configs: t.configs, hasAssignments: t.assignments.length > 0 })),
    validateOnly: request.validateOnly
  })
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
          configSource: kTopicConfigDefaults[name] === value ? kDefaultConfig : kDynamicTopicConfig,
          isSensitive: false
        }))
    }))
  }
}

export const createTopicsHandler: Handler = { api, minVersion: 2, maxVersion: 7, handle }
