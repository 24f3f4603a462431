// SyncGroup (key 14), v0-5, on the group's coordinator.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(14)!

interface SyncRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string | null
  protocolName: string | null
  assignments: Array<{ memberId: string, assignment: Buffer }>
}

async function serve (shard: Shard, request: SyncRequest): Promise<object> {
  const empty = Buffer.alloc(0)
  if (shard.groups.partitionFor(request.groupId) === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, protocolType: null, protocolName: null, assignment: empty }
  const group = shard.groups.group(request.groupId)
  if (group === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: empty }
  return { throttleTimeMs: 0, ...(await group.sync(request)) }
}

function handle (context: RequestContext, request: SyncRequest): Promise<object> {
  // Kafka's authorization: READ on the group (GROUP_AUTHORIZATION_FAILED for the whole request).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const syncGroupHandler: Handler = { api, minVersion: 0, maxVersion: 5, handle }
export const syncGroupServer = coordinatorServer(api, serve)
