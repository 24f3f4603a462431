// DescribeGroups (key 15), v0-6: each group described by its coordinator. Unknown groups are reported as Dead
// (v0-5) or with GROUP_ID_NOT_FOUND (v6), as Kafka does. KIP-848 consumer groups are described in classic terms
// (describeConsumerGroup in consumer-group-describe.ts): protocol type "consumer", the assignor as protocol, each
// member's subscription and assignment in the embedded consumer protocol's encoding.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows, authorizedOperations, kOperationsNotRequested } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, groupsByCoordinator } from './coordinated.ts'
import { describeConsumerGroup } from './consumer-group-describe.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(15)!

interface DescribeGroupsRequest { groups: string[], includeAuthorizedOperations: boolean }

function serve (shard: Shard, request: DescribeGroupsRequest, apiVersion: number): object {
  return {
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => {
      const base = { groupId, errorMessage: null, protocolType: '', protocolData: '', members: [], authorizedOperations: -2147483648 }
      if (shard.groups.partitionFor(groupId) === undefined) return { ...base, errorCode: ErrorCode.NOT_COORDINATOR, groupState: '' }
      const consumerGroup = shard.groups.consumerGroup(groupId)
      if (consumerGroup !== undefined) return { ...base, errorCode: ErrorCode.NONE, ...describeConsumerGroup(shard, consumerGroup) }
      const group = shard.groups.group(groupId)
      if (group === undefined) {
        return { ...base, errorCode: apiVersion >= 6 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.NONE, groupState: 'Dead' }
      }
      const stable = group.state === 'Stable'
      return {
        ...base,
        errorCode: ErrorCode.NONE,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        protocolData: stable ? group.protocolName ?? '' : '',
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? m.metadataFor(group.protocolName) : Buffer.alloc(0),
          memberAssignment: stable ? m.assignment : Buffer.alloc(0)
        }))
      }
    })
  }
}

async function handle (context: RequestContext, request: DescribeGroupsRequest): Promise<object> {
  const { shard, apiVersion } = context
  // Kafka's authorization: DESCRIBE per group (GROUP_AUTHORIZATION_FAILED for each group without it).
  const describable = (groupId: string): boolean => allows(context, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)
  const asked = shard.config.authorizer ? request.groups.filter(describable) : request.groups
  const byOwner = await groupsByCoordinator(context, asked)
  const parts = await Promise.all([...byOwner].map(([owner, groups]) =>
    callWorker(shard, api, apiVersion, owner, { ...request, groups }, clientInfo(context), serve) as Promise<{ groups: object[] }>))
  const groups = parts.flatMap((part) => part.groups) as Array<{ groupId: string, errorCode: number, authorizedOperations: number }>
  if (request.includeAuthorizedOperations === true) {
    for (const group of groups) if (group.errorCode === ErrorCode.NONE) group.authorizedOperations = authorizedOperations(context, ResourceType.GROUP, group.groupId)
  }
  for (const groupId of request.groups) {
    if (asked !== request.groups && !asked.includes(groupId)) {
      groups.push({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: kOperationsNotRequested } as any)
    }
  }
  return { throttleTimeMs: 0, groups }
}

export const describeGroupsHandler: Handler = { api, minVersion: 0, maxVersion: 6, handle }
export const describeGroupsServer = coordinatorServer(api, serve)
