// CreatePartitions (key 37), v0-3: grows a topic; the new partitions go to their owners like any other. A manual
// assignment (one replica list per partition added) may name this broker only, the one registered broker: the
// controller checks it as Kafka's does (src/admin/controller.ts). A null or empty assignment list means none: Java
// sends null, but a client that always writes the array sends it empty when the caller gave none.
import { apiByKey } from '../protocol/apis.ts'
import type { TopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(37)!

interface CreatePartitionsRequest {
  topics: Array<{ name: string, count: number, assignments: Array<{ brokerIds: number[] }> | null }>
  validateOnly: boolean
}

async function handle (context: RequestContext, request: CreatePartitionsRequest): Promise<object> {
  const results = await context.shard.admin<TopicResult[]>({
    op: 'createPartitions',
    topics: request.topics.map((t) => ({ name: t.name, count: t.count, assignments: t.assignments === null ? null : t.assignments.map((a) => a.brokerIds) })),
    validateOnly: request.validateOnly,
    brokers: [context.shard.config.nodeId]
  })
  return {
    throttleTimeMs: 0,
    results: results.map((r) => ({ name: r.name, errorCode: r.errorCode, errorMessage: r.errorMessage }))
  }
}

export const createPartitionsHandler: Handler = { api, minVersion: 0, maxVersion: 3, handle }
