// DeleteTopics (key 20), v0-6: by name (v0-5 `topicNames`, v6 `topics[].name`) or by id (v6). As Kafka's
// ControllerApis does, a v6 entry naming both a name and an id, or neither, and a name or id given twice answer
// INVALID_REQUEST and delete nothing for that entry; the rest go to the controller.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { repeatedKeys } from '../protocol/repeated.ts'
import { zeroUuid, type TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

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
  const uniqueNames = unique(names, (name) => refused.push({ name, topicId: zeroUuid(), errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' }))
  const uniqueIds = unique(ids, (topicId) => refused.push({ name: null, topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic id.' }))
  const results = uniqueNames.length + uniqueIds.length === 0
    ? []
    : await context.shard.admin<TopicResult[]>({ op: 'deleteTopics', names: uniqueNames, ids: uniqueIds })
  // Below v6 a response's name is not nullable; every entry there was asked for by name.
  return { throttleTimeMs: 0, responses: [...results, ...refused] }
}

export const deleteTopicsHandler: Handler = { api, minVersion: 0, maxVersion: 6, handle }
