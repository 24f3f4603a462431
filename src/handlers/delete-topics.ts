// DeleteTopics (key 20), v0-6: by name (v0-5 `topicNames`, v6 `topics[].name`) or by id (v6). As Kafka's
// ControllerApis does, a v6 entry naming both a name and an id, or neither, and a name or id given twice answer
// INVALID_REQUEST and delete nothing for that entry; the rest go to the controller.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { repeatedKeys } from '../protocol/repeated.ts'
import { zeroUuid, type TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { kThrottlingQuotaExceededMessage, splitByMutationQuota } from '../quota/quota-sensors.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'

const api = apiByKey(20)!

interface DeleteTopicsRequest {
  topicNames: string[]
  topics: Array<{ name: string | null, topicId: string }>
}

/** The values given once, in order; each one given more than once is reported to `duplicate` once. */
function unique (values: readonly string[], duplicate: (value: string) => void): string[] {
  const repeated = repeatedKeys(values, (value) => value)
  for (const value of repeated) duplicate(value)
  return values.filter((value) => !repeated.has(value))
}

async function handle (context: RequestContext, request: DeleteTopicsRequest): Promise<object> {
  const refused: TopicResult[] = []
  const names: string[] = []
  const ids: string[] = []
  if (context.apiVersion >= 6) {
    for (const topic of request.topics ?? []) {
      const hasId = typeof topic.topicId === 'string' && topic.topicId !== zeroUuid()
      if (typeof topic.name !== 'string') {
        if (hasId) ids.push(topic.topicId)
        else refused.push({ name: null, topicId: zeroUuid(), errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Neither topic name nor id were specified.' })
      } else if (hasId) {
        refused.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'You may not specify both topic name and topic id.' })
      } else {
        names.push(topic.name)
      }
    }
  } else {
    for (const name of request.topicNames ?? []) if (typeof name === 'string') names.push(name)
  }
  let uniqueNames = unique(names, (name) => refused.push({ name, topicId: zeroUuid(), errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' }))
  let uniqueIds = unique(ids, (topicId) => refused.push({ name: null, topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic id.' }))
  // Kafka's authorization: DELETE per topic (by id: a topic this broker knows; an unknown id stays UNKNOWN_TOPIC_ID).
  const byName = splitByTopic(context, uniqueNames, AclOperation.DELETE, (name) => name)
  if (byName !== null) {
    uniqueNames = byName.allowed
    for (const name of byName.denied) refused.push({ name, topicId: zeroUuid(), errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' })
  }
  const byId = splitByTopic(context, uniqueIds, AclOperation.DELETE, (id) => context.shard.table.topicById(id)?.name)
  if (byId !== null) {
    uniqueIds = byId.allowed
    for (const topicId of byId.denied) refused.push({ name: null, topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' })
  }
  // controller_mutation_rate (KIP-599), strict from v5: a deleted topic's partitions are charged (none for one
  // that does not exist: the controller answers it).
  const table = context.shard.table
  const strict = context.apiVersion >= 5
  const user = context.connection.principal.name
  const namesByQuota = splitByMutationQuota(table.quotas, user, context.clientId, strict, context.shard.config, uniqueNames, (name) => table.topic(name)?.partitions ?? -1)
  const idsByQuota = namesByQuota === null ? null : splitByMutationQuota(table.quotas, user, context.clientId, strict, context.shard.config, uniqueIds, (id) => table.topicById(id)?.partitions ?? -1)
  let throttleTimeMs = 0
  if (namesByQuota !== null && idsByQuota !== null) {
    uniqueNames = namesByQuota.accepted
    uniqueIds = idsByQuota.accepted
    for (const name of namesByQuota.throttled) refused.push({ name, topicId: table.topic(name)?.id ?? zeroUuid(), errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, errorMessage: kThrottlingQuotaExceededMessage })
    for (const topicId of idsByQuota.throttled) refused.push({ name: table.topicById(topicId)?.name ?? null, topicId, errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, errorMessage: kThrottlingQuotaExceededMessage })
    throttleTimeMs = Math.max(namesByQuota.quota.finish(context.connection), idsByQuota.quota.finish(context.connection))
  }
  const results = uniqueNames.length + uniqueIds.length === 0
    ? []
    : await context.shard.admin<TopicResult[]>({ op: 'deleteTopics', names: uniqueNames, ids: uniqueIds })
  // Below v6 a response's name is not nullable; every entry there was asked for by name.
  return { throttleTimeMs, responses: [...results, ...refused] }
}

export const deleteTopicsHandler: Handler = { api, minVersion: 0, maxVersion: 6, handle }
