// Heartbeat (key 12), v0-4, on the group's coordinator.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(12)!

interface HeartbeatRequest { groupId: string, generationId: number, memberId: string, groupInstanceId: string | null }

function serve (shard: Shard, request: HeartbeatRequest): object {
  if (shard.groups.partitionFor(request.groupId) === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR }
  const group = shard.groups.group(request.groupId)
  const errorCode = group === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : group.heartbeat(request.memberId, request.groupInstanceId, request.generationId)
  return { throttleTimeMs: 0, errorCode }
}

function handle (context: RequestContext, request: HeartbeatRequest): Promise<object> {
  // Kafka's authorization: READ on the group (GROUP_AUTHORIZATION_FAILED for the whole request).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const heartbeatHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
export const heartbeatServer = coordinatorServer(api, serve)
