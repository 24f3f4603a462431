// CreatePartitions (key 37), v0-3: grows a topic; the new partitions go to their owners like any other. A manual
// assignment (one replica list per partition added) may name this broker only, the one registered broker: the
// controller checks it as Kafka's does (src/admin/controller.ts). A null or empty assignment list means none: Java
// sends null, but a client that always writes the array sends it empty when the caller gave none.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import { kThrottlingQuotaExceededMessage, splitByMutationQuota } from '../quota/quota-sensors.ts'

const api = apiByKey(37)!

interface CreatePartitionsRequest {
  topics: Array<{ name: string, count: number, assignments: Array<{ brokerIds: number[] }> | null }>
  validateOnly: boolean
}

async function handle (context: RequestContext, request: CreatePartitionsRequest): Promise<object> {
  // Kafka's authorization: ALTER per topic.
  const authorized = splitByTopic(context, request.topics, AclOperation.ALTER, (t) => t.name)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  // controller_mutation_rate (KIP-599), strict from v3: the partitions added are charged (none for an unknown
  // topic or a count that does not grow it: the controller refuses those), unless the request only validates.
  const table = context.shard.table
  const mutations = request.validateOnly
    ? null
    : splitByMutationQuota(table.quotas, context.connection.principal.name, context.clientId, context.apiVersion >= 3, context.shard.config, request.topics, (t) => {
      const partitions = table.topic(t.name)?.partitions
      return partitions === undefined || !(t.count > partitions) ? -1 : t.count - partitions
    })
  if (mutations !== null) request = { ...request, topics: mutations.accepted }
  const results = request.topics.length === 0 ? [] : await context.shard.admin<TopicResult[]>({
    op: 'createPartitions',
    topics: request.topics.map((t) => ({ name: t.name, count: t.count, assignments: t.assignments === null ? null : t.assignments.map((a) => a.brokerIds) })),
    validateOnly: request.validateOnly,
    brokers: [context.shard.config.nodeId]
  })
  return {
    throttleTimeMs: mutations === null ? 0 : mutations.quota.finish(context.connection),
    results: [
      ...results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage })),
      ...(mutations?.throttled ?? []).map((t) => ({ name: t.name, errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, errorMessage: kThrottlingQuotaExceededMessage })),
      ...(authorized?.denied ?? []).map((t) => ({ name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' }))
    ]
  }
}

export const createPartitionsHandler: Handler = { api, minVersion: 0, maxVersion: 3, handle }
