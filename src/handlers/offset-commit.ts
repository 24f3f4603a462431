// OffsetCommit (key 8), v0-9, on the group's coordinator: validated against the group's generation (classic
// rules: stale generations ILLEGAL_GENERATION, unknown members UNKNOWN_MEMBER_ID, fenced static members
// FENCED_INSTANCE_ID, a rebalance awaiting its assignment REBALANCE_IN_PROGRESS), then fsynced in the offsets
// partition before the answer. KIP-848 consumer groups check member epochs instead (v9: STALE_MEMBER_EPOCH,
// FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID; see consumer-group.ts validateCommit).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed, splitByTopic } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(8)!

interface CommitPartition { partitionIndex: number, committedOffset: number, committedLeaderEpoch: number, commitTimestamp: number, committedMetadata: string | null }
interface CommitRequest {
  groupId: string
  generationIdOrMemberEpoch: number
  memberId: string
  groupInstanceId: string | null
  topics: Array<{ name: string, partitions: CommitPartition[] }>
}

function answer (request: CommitRequest, codeOf: (topic: string, index: number) => number): object {
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })) }))
  }
}

async function serve (shard: Shard, request: CommitRequest, apiVersion: number): Promise<object> {
  if (request.groupId === '') return answer(request, () => ErrorCode.INVALID_GROUP_ID)
  if (shard.groups.partitionFor(request.groupId) === undefined) return answer(request, () => ErrorCode.NOT_COORDINATOR)
  // v0 commits are "simple" (no generation): they are accepted for groups without members only.
  const generation = apiVersion === 0 ? -1 : request.generationIdOrMemberEpoch
  const memberId = apiVersion === 0 ? '' : request.memberId
  // A KIP-848 consumer group checks member epochs instead (consumer-group.ts validateCommit).
  const consumerGroup = shard.groups.consumerGroup(request.groupId)
  const classicGroup = consumerGroup === undefined ? shard.groups.group(request.groupId, true)! : undefined
  const group = consumerGroup ?? classicGroup!
  const validation = consumerGroup !== undefined
    ? consumerGroup.validateCommit(memberId, generation, apiVersion)
    : classicGroup!.validateCommit(memberId, request.groupInstanceId, generation)
  if (validation !== ErrorCode.NONE) {
    // A refused commit leaves nothing behind (a group made for it is forgotten).
    shard.groups.releaseIfUnused(request.groupId)
    return answer(request, () => validation)
  }
  const now = Date.now()
  const entries = []
  for (const topic of request.topics) {
    for (const p of topic.partitions) {
      entries.push({
        topic: topic.name,
        partition: p.partitionIndex,
        value: { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestamp: apiVersion === 1 && p.commitTimestamp >= 0 ? p.commitTimestamp : now }
      })
    }
  }
  const codes = await shard.groups.commitOffsets(group, entries)
  shard.groups.releaseIfUnused(request.groupId)
  let i = 0
  return answer(request, () => codes[i++])
}

async function handle (context: RequestContext, request: CommitRequest): Promise<object> {
  // Kafka's authorization: READ on the group (the whole request), then READ per topic (TOPIC_AUTHORIZATION_FAILED).
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  const authorized = splitByTopic(context, request.topics, AclOperation.READ, (t) => t.name)
  if (authorized === null) return routeToCoordinator(context, api, request.groupId, request, serve)
  const response = await routeToCoordinator(context, api, request.groupId, { ...request, topics: authorized.allowed }, serve) as { topics: object[] }
  const denied = answer({ ...request, topics: authorized.denied }, () => ErrorCode.TOPIC_AUTHORIZATION_FAILED) as { topics: object[] }
  return { ...response, topics: [...response.topics, ...denied.topics] }
}

export const offsetCommitHandler: Handler = { api, minVersion: 0, maxVersion: 9, handle }
export const offsetCommitServer = coordinatorServer(api, serve)
