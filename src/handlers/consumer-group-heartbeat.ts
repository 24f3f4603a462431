// ConsumerGroupHeartbeat (key 68), v0-1 (KIP-848), on the group's coordinator (consumer-group.ts holds the
// protocol). v0: the coordinator names new members; v1: members name themselves (a UUID) and may subscribe with
// a regex. A group id held by a classic group with members answers GROUP_ID_NOT_FOUND, as Kafka does without
// online migration; an Empty classic group is converted, keeping its offsets.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { ConsumerHeartbeatRequest } from '../group/consumer-group.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator, type ClientInfo } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'
import { clipName } from '../protocol/clip.ts'

const api = apiByKey(68)!

async function serve (shard: Shard, request: ConsumerHeartbeatRequest, apiVersion: number, client: ClientInfo): Promise<object> {
  const fail = (errorCode: number, errorMessage: string | null = null): object => ({
    throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null
  })
  if (request.groupId === '') return fail(ErrorCode.INVALID_REQUEST, 'GroupId can\'t be empty.')
  if (shard.groups.partitionFor(request.groupId) === undefined) return fail(ErrorCode.NOT_COORDINATOR)
  // Only a join (epoch 0) creates the group; anything else for a missing group is from an unknown member.
  const group = request.memberEpoch === 0 ? shard.groups.claimConsumerGroup(request.groupId) : shard.groups.consumerGroup(request.groupId)
  if (group === null) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${clipName(request.groupId)} is not a consumer group.`)
  if (group === undefined) {
    return fail(shard.groups.group(request.groupId) === undefined ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.GROUP_ID_NOT_FOUND)
  }
  const response = await group.heartbeat(request, apiVersion, client.clientId, client.clientHost)
  return { throttleTimeMs: 0, ...response }
}

function handle (context: RequestContext, request: ConsumerHeartbeatRequest): Promise<object> {
  // Kafka's authorization: READ on the group (GROUP_AUTHORIZATION_FAILED for the whole request).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const consumerGroupHeartbeatHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
export const consumerGroupHeartbeatServer = coordinatorServer(api, serve)
