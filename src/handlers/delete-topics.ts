// DeleteTopics (key 20), v0-6: by name (v0-5 `topicNames`, v6 `topics[].name`) or by id (v6).
import { apiByKey } from '../protocol/apis.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(20)!

interface DeleteTopicsRequest {
  topicNames: string[]
  topics: Array<{ name: string | null, topicId: string }>
}

async function handle (context: RequestContext, request: DeleteTopicsRequest): Promise<object> {
  const names = context.apiVersion >= 6 ? request.topics.filter((t) => t.name !== null).map((t) => t.name as string) : request.topicNames
  const ids = context.apiVersion >= 6 ? request.topics.filter((t) => t.name === null).map((t) => t.topicId) : []
  const results = await context.shard.admin<TopicResult[]>({ op: 'deleteTopics', names, ids })
  return { throttleTimeMs: 0, responses: results }
}

export const deleteTopicsHandler: Handler = { api, minVersion: 0, maxVersion: 6, handle }
