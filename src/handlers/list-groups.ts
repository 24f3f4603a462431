// ListGroups (key 16), v0-5: every worker lists the groups it coordinates; the answers are concatenated.
// v4 filters by state, v5 by type ("classic" or "consumer").
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, offsetsTopic } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(16)!

interface ListGroupsRequest { statesFilter: string[], typesFilter: string[] }

function serve (shard: Shard, request: ListGroupsRequest): object {
  const states = new Set(request.statesFilter.map((s) => s.toLowerCase()))
  const types = new Set(request.typesFilter.map((s) => s.toLowerCase()))
  const groups = []
  for (const group of shard.groups.groups.values()) {
    if (group.state === 'Dead') continue
    if (states.size > 0 && !states.has(group.state.toLowerCase())) continue
    if (types.size > 0 && !types.has('classic')) continue
    groups.push({ groupId: group.groupId, protocolType: group.protocolType ?? '', groupState: group.state, groupType: 'classic' })
  }
  for (const group of shard.groups.consumerGroups.values()) {
    if (states.size > 0 && !states.has(group.state.toLowerCase())) continue
    if (types.size > 0 && !types.has('consumer')) continue
    groups.push({ groupId: group.groupId, protocolType: 'consumer', groupState: group.state, groupType: 'consumer' })
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups }
}

async function handle (context: RequestContext, request: ListGroupsRequest): Promise<object> {
  const { shard, apiVersion } = context
  await offsetsTopic(shard)
  const parts = await Promise.all(Array.from({ length: shard.workers }, (_, worker) =>
    callWorker(shard, api, apiVersion, worker, request, clientInfo(context), serve) as Promise<{ groups: object[] }>))
  const groups = parts.flatMap((part) => part.groups) as Array<{ groupId: string }>
  // Kafka's authorization: DESCRIBE on the cluster lists every group, else only the groups the connection may DESCRIBE.
  if (shard.config.authorizer && !allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: groups.filter((g) => allows(context, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId)) }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups }
}

export const listGroupsHandler: Handler = { api, minVersion: 0, maxVersion: 5, handle }
export const listGroupsServer = coordinatorServer(api, serve)
