// DeleteGroups (key 42), v0-2: only empty groups can go (NON_EMPTY_GROUP otherwise); unknown ones answer
// GROUP_ID_NOT_FOUND.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, groupsByCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(42)!

interface DeleteGroupsRequest { groupsNames: string[] }

async function serve (shard: Shard, request: DeleteGroupsRequest): Promise<object> {
  const results = []
  for (const groupId of request.groupsNames) {
    const errorCode = shard.groups.partitionFor(groupId) === undefined ? ErrorCode.NOT_COORDINATOR : await shard.groups.deleteGroup(groupId)
    results.push({ groupId, errorCode })
  }
  return { throttleTimeMs: 0, results }
}

async function handle (context: RequestContext, request: DeleteGroupsRequest): Promise<object> {
  const { shard, apiVersion } = context
  // Kafka's authorization: DELETE per group (GROUP_AUTHORIZATION_FAILED for each group without it).
  const asked = shard.config.authorizer ? request.groupsNames.filter((groupId) => allows(context, AclOperation.DELETE, ResourceType.GROUP, groupId)) : request.groupsNames
  const byOwner = await groupsByCoordinator(context, asked)
  const parts = await Promise.all([...byOwner].map(([owner, groupsNames]) =>
    callWorker(shard, api, apiVersion, owner, { groupsNames }, clientInfo(context), serve) as Promise<{ results: object[] }>))
  const results = parts.flatMap((part) => part.results)
  for (const groupId of request.groupsNames) if (!asked.includes(groupId)) results.push({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED })
  return { throttleTimeMs: 0, results }
}

export const deleteGroupsHandler: Handler = { api, minVersion: 0, maxVersion: 2, handle }
export const deleteGroupsServer = coordinatorServer(api, serve)
