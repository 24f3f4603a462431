// OffsetDelete (key 47), v0: deletes committed offsets of a group, refusing (GROUP_SUBSCRIBED_TO_TOPIC) topics
// an active consumer group is subscribed to (for KIP-848 consumer groups: any topic a member subscribes to).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed, splitByTopic } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import { subscribedTopics } from '../group/consumer-protocol.ts'
import { ConsumerGroup } from '../group/consumer-group.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(47)!

interface OffsetDeleteRequest { groupId: string, topics: Array<{ name: string, partitions: Array<{ partitionIndex: number }> }> }

async function serve (shard: Shard, request: OffsetDeleteRequest): Promise<object> {
  const answer = (errorCode: number, codeOf: (topic: string) => number = () => ErrorCode.NONE): object => ({
    errorCode,
    throttleTimeMs: 0,
    topics: errorCode !== ErrorCode.NONE ? [] : request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name) })) }))
  })
  if (shard.groups.partitionFor(request.groupId) === undefined) return answer(ErrorCode.NOT_COORDINATOR)
  const consumerGroup = shard.groups.consumerGroup(request.groupId)
  const group = consumerGroup ?? shard.groups.group(request.groupId)
  if (group === undefined) return answer(ErrorCode.GROUP_ID_NOT_FOUND)
  const subscribed = consumerGroup?.allSubscribedTopicNames() ?? new Set<string>()
  if (!(group instanceof ConsumerGroup) && group.state !== 'Empty' && group.protocolType === 'consumer') {
    for (const member of group.members.values()) for (const topic of subscribedTopics(member.metadataFor(group.protocolName))) subscribed.add(topic)
  }
  const keys: Array<[string, number]> = []
  for (const topic of request.topics) {
    if (subscribed.has(topic.name)) continue
    for (const p of topic.partitions) keys.push([topic.name, p.partitionIndex])
  }
  await shard.groups.deleteOffsets(group, keys)
  return answer(ErrorCode.NONE, (topic) => subscribed.has(topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE)
}

async function handle (context: RequestContext, request: OffsetDeleteRequest): Promise<object> {
  // Kafka's authorization: DELETE on the group (the whole request), then READ per topic (TOPIC_AUTHORIZATION_FAILED).
  requireAllowed(context, AclOperation.DELETE, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const authorized = splitByTopic(context, request.topics, AclOperation.READ, (t) => t.name)
  if (authorized === null) return routeToCoordinator(context, api, request.groupId, request, serve)
  const response = await routeToCoordinator(context, api, request.groupId, { ...request, topics: authorized.allowed }, serve) as { errorCode: number, topics: object[] }
  if (response.errorCode !== ErrorCode.NONE) return response
  const denied = authorized.denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }))
  return { ...response, topics: [...response.topics, ...denied] }
}

export const offsetDeleteHandler: Handler = { api, minVersion: 0, maxVersion: 0, handle }
export const offsetDeleteServer = coordinatorServer(api, serve)
