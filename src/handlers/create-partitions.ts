// CreatePartitions (key 37), v0-3: grows a topic; the new partitions go to their owners like any other.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(37)!

interface CreatePartitionsRequest {
  topics: Array<{ name: string, count: number, assignments: unknown[] | null }>
  validateOnly: boolean
}

async function handle (context: RequestContext, request: CreatePartitionsRequest): Promise<object> {
  const manual = request.topics.filter((t) => t.assignments !== null && t.assignments.length > 0)
  const results = await context.shard.admin<TopicResult[]>({
    op: 'createPartitions',
    topics: request.topics.filter((t) => !manual.includes(t)).map((t) => ({ name: t.name, count: t.count })),
    validateOnly: request.validateOnly
  })
  return {
    throttleTimeMs: 0,
    results: [
      ...results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage })),
      ...manual.map((t) => ({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Manual replica assignment is not supported by a single-node broker' }))
    ]
  }
}

export const createPartitionsHandler: Handler = { api, minVersion: 0, maxVersion: 3, handle }
