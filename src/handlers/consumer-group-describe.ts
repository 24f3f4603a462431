// ConsumerGroupDescribe (key 69), v0-1 (KIP-848): each consumer group described by its coordinator. Unknown
// groups, and groups of the classic protocol, answer GROUP_ID_NOT_FOUND, as Kafka does. Assignments name each
// topic by id and name (a topic deleted meanwhile keeps its id and an empty name).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { encodeAssignment, encodeSubscription, toTopicPartitions, type ConsumerGroup } from '../group/consumer-group.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows, authorizedOperations, kOperationsNotRequested } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, groupsByCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'
import { clipName } from '../protocol/clip.ts'

const api = apiByKey(69)!

interface ConsumerGroupDescribeRequest { groupIds: string[], includeAuthorizedOperations: boolean }

/** KIP-1099 MemberType: 1 = a member speaking the consumer protocol. */
const kConsumerMemberType = 1

function describeAssignment (shard: Shard, keys: Iterable<string>): object {
  return {
    topicPartitions: toTopicPartitions(keys).map((entry) => ({
      topicId: entry.topicId,
      topicName: shard.table.topicById(entry.topicId)?.name ?? '',
      partitions: entry.partitions
    }))
  }
}

function describe (shard: Shard, group: ConsumerGroup): object {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    groupId: group.groupId,
    groupState: group.state,
    groupEpoch: group.groupEpoch,
    assignmentEpoch: group.assignmentEpoch,
    assignorName: group.assignorName,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      memberEpoch: m.memberEpoch,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      assignment: describeAssignment(shard, m.assigned),
      targetAssignment: describeAssignment(shard, group.target.get(m.memberId) ?? []),
      memberType: kConsumerMemberType
    })),
    authorizedOperations: -2147483648
  }
}

/** A consumer group in DescribeGroups terms (for classic admin tools). */
export function describeConsumerGroup (shard: Shard, group: ConsumerGroup): { groupState: string, protocolType: string, protocolData: string, members: object[] } {
  const byName = (keys: Iterable<string>): Map<string, number[]> => new Map(toTopicPartitions(keys).map((entry) => [shard.table.topicById(entry.topicId)?.name ?? '', entry.partitions]))
  return {
    groupState: group.state,
    protocolType: 'consumer',
    protocolData: group.members.size > 0 ? group.assignorName : '',
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: encodeSubscription(group.subscribedTopics(m)),
      memberAssignment: encodeAssignment(byName(m.assigned))
    }))
  }
}

function serve (shard: Shard, request: ConsumerGroupDescribeRequest): object {
  return {
    throttleTimeMs: 0,
    groups: request.groupIds.map((groupId) => {
      const fail = (errorCode: number, errorMessage: string | null = null): object => ({
        errorCode, errorMessage, groupId, groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [], authorizedOperations: -2147483648
      })
      if (shard.groups.partitionFor(groupId) === undefined) return fail(ErrorCode.NOT_COORDINATOR)
      const group = shard.groups.consumerGroup(groupId)
      if (group === undefined) {
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, shard.groups.group(groupId) === undefined ? `Group ${clipName(groupId)} not found.` : `Group ${clipName(groupId)} is not a consumer group.`)
      }
      return describe(shard, group)
    })
  }
}

async function handle (context: RequestContext, request: ConsumerGroupDescribeRequest): Promise<object> {
  const { shard, apiVersion } = context
  // Kafka's authorization: DESCRIBE per group (GROUP_AUTHORIZATION_FAILED for each group without it).
  const describable = (groupId: string): boolean => allows(context, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)
  const asked = shard.config.authorizer ? request.groupIds.filter(describable) : request.groupIds
  const byOwner = await groupsByCoordinator(context, asked)
  const parts = await Promise.all([...byOwner].map(([owner, groupIds]) =>
    callWorker(shard, api, apiVersion, owner, { ...request, groupIds }, clientInfo(context), serve) as Promise<{ groups: object[] }>))
  const groups = parts.flatMap((part) => part.groups) as Array<{ groupId: string, errorCode: number, authorizedOperations: number }>
  if (request.includeAuthorizedOperations === true) {
    for (const group of groups) if (group.errorCode === ErrorCode.NONE) group.authorizedOperations = authorizedOperations(context, ResourceType.GROUP, group.groupId)
  }
  for (const groupId of request.groupIds) {
    if (asked !== request.groupIds && !asked.includes(groupId)) {
      groups.push({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupId, groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [], authorizedOperations: kOperationsNotRequested } as any)
    }
  }
  return { throttleTimeMs: 0, groups }
}

export const consumerGroupDescribeHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
export const consumerGroupDescribeServer = coordinatorServer(api, serve)
