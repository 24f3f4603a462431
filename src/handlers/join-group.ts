// JoinGroup (key 11), v0-9, on the group's coordinator (classic-group.ts holds the protocol).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { JoinRequest, JoinResponse } from '../group/classic-group.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator, type ClientInfo } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(11)!

async function serve (shard: Shard, request: JoinRequest, apiVersion: number, client: ClientInfo): Promise<object> {
  const fail = (errorCode: number): object => ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: request.memberId, members: [] })
  if (request.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID)
  if (shard.groups.partitionFor(request.groupId) === undefined) return fail(ErrorCode.NOT_COORDINATOR)
  // v0 has no rebalance timeout: it is the session timeout.
  const joinRequest = apiVersion === 0 ? { ...request, rebalanceTimeoutMs: request.sessionTimeoutMs } : request
  // A KIP-848 consumer group with members keeps its id (Kafka without online migration answers the same).
  const group = shard.groups.group(request.groupId, true)
  if (group === undefined) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
  try {
    const response: JoinResponse = await group.join(joinRequest, apiVersion, client.clientId, client.clientHost)
    // Before v7 the protocol name is not nullable.
    return { throttleTimeMs: 0, ...response, protocolName: response.protocolName ?? (apiVersion >= 7 ? null : '') }
  } finally {
    // A refused join leaves nothing behind (a group made for it is forgotten).
    shard.groups.releaseIfUnused(request.groupId)
  }
}

function handle (context: RequestContext, request: JoinRequest): Promise<object> {
  // Kafka's authorization: READ on the group (GROUP_AUTHORIZATION_FAILED for the whole request).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const joinGroupHandler: Handler = { api, minVersion: 0, maxVersion: 9, handle }
export const joinGroupServer = coordinatorServer(api, serve)
