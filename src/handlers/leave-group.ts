// LeaveGroup (key 13), v0-5: one member by id (v0-2), or a batch by member id and/or instance id (v3+).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(13)!

interface LeaveRequest { groupId: string, memberId: string, members: Array<{ memberId: string, groupInstanceId: string | null }> }

function serve (shard: Shard, request: LeaveRequest, apiVersion: number): object {
  if (shard.groups.partitionFor(request.groupId) === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] }
  const group = shard.groups.group(request.groupId)
  if (apiVersion < 3) {
    const errorCode = group === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : group.leave(request.memberId, null)
    return { throttleTimeMs: 0, errorCode, members: [] }
  }
  const members = request.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    errorCode: group === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : group.leave(m.memberId, m.groupInstanceId)
  }))
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members }
}

function handle (context: RequestContext, request: LeaveRequest): Promise<object> {
  // Kafka's authorization: READ on the group (GROUP_AUTHORIZATION_FAILED for the whole request).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const leaveGroupHandler: Handler = { api, minVersion: 0, maxVersion: 5, handle }
export const leaveGroupServer = coordinatorServer(api, serve)
