// OffsetFetch (key 9), v0-9: committed offsets of one group (v0-7) or of several (v8+, split by coordinator).
// A null topic list means every partition the group has offsets for. Unknown partitions answer offset -1.
// `requireStable` (v7+, read_committed consumers): a partition with pending transactional offsets (TxnOffsetCommit
// awaiting its marker, see group/coordinator.ts) answers UNSTABLE_OFFSET_COMMIT and offset -1, per partition as
// Kafka does, and the client retries; without it the committed offset is returned, pending ones unseen. v9
// carries a member id and epoch, checked for KIP-848 consumer groups (consumer-group.ts validateFetch).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows, requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, groupsByCoordinator } from './coordinated.ts'
import { offsetKey, splitOffsetKey } from '../group/coordinator.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(9)!

interface FetchTopic { name: string, partitionIndexes: number[] }
interface FetchGroup { groupId: string, memberId: string | null, memberEpoch: number, topics: FetchTopic[] | null }
interface OffsetFetchRequest { groupId: string, topics: FetchTopic[] | null, groups: FetchGroup[], requireStable: boolean }

function fetchGroup (shard: Shard, groupId: string, topics: FetchTopic[] | null, requireStable: boolean, member?: FetchGroup): { errorCode: number, topics: Array<{ name: string, partitions: object[] }> } {
  if (shard.groups.partitionFor(groupId) === undefined) return { errorCode: ErrorCode.NOT_COORDINATOR, topics: [] }
  const consumerGroup = shard.groups.consumerGroup(groupId)
  const memberCheck = consumerGroup === undefined || member === undefined ? ErrorCode.NONE : consumerGroup.validateFetch(member.memberId, member.memberEpoch)
  if (memberCheck !== ErrorCode.NONE) return { errorCode: memberCheck, topics: [] }
  const group = consumerGroup ?? shard.groups.group(groupId)
  const partition = (name: string, index: number): object => {
    if (requireStable && shard.groups.hasPendingOffset(groupId, name, index)) {
      return { partitionIndex: index, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
    }
    const committed = group?.offsets.get(offsetKey(name, index))
    return {
      partitionIndex: index,
      committedOffset: committed?.offset ?? -1,
      committedLeaderEpoch: committed?.leaderEpoch ?? -1,
      metadata: committed?.metadata ?? '',
      errorCode: ErrorCode.NONE
    }
  }
  if (topics !== null) {
    return { errorCode: ErrorCode.NONE, topics: topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((i) => partition(t.name, i)) })) }
  }
  const byTopic = new Map<string, object[]>()
  for (const key of group?.offsets.keys() ?? []) {
    const [name, index] = splitOffsetKey(key)
    let list = byTopic.get(name)
    if (list === undefined) { list = []; byTopic.set(name, list) }
    list.push(partition(name, index))
  }
  return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) }
}

function serve (shard: Shard, request: OffsetFetchRequest, apiVersion: number): object {
  if (apiVersion < 8) {
    const result = fetchGroup(shard, request.groupId, request.topics, request.requireStable)
    // v0-1 report errors per partition only.
    if (apiVersion < 2 && result.errorCode !== ErrorCode.NONE) {
      return { throttleTimeMs: 0, errorCode: result.errorCode, topics: (request.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((i) => ({ partitionIndex: i, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: result.errorCode })) })) }
    }
    return { throttleTimeMs: 0, errorCode: result.errorCode, topics: result.topics }
  }
  return {
    throttleTimeMs: 0,
    groups: request.groups.map((g) => {
      const result = fetchGroup(shard, g.groupId, g.topics, request.requireStable, apiVersion >= 9 ? g : undefined)
      return { groupId: g.groupId, topics: result.topics, errorCode: result.errorCode }
    })
  }
}

function handle (context: RequestContext, request: OffsetFetchRequest): Promise<object> {
  // Kafka's authorization: DESCRIBE on the group (below v8 the whole request; v8+ per group), then DESCRIBE per
  // topic: named topics without it answer TOPIC_AUTHORIZATION_FAILED, and an all-topics fetch leaves them out.
  return context.shard.config.authorizer ? authorizedFetch(context, request) : fetchOffsets(context, request)
}

async function fetchOffsets (context: RequestContext, request: OffsetFetchRequest): Promise<object> {
  const { shard, apiVersion } = context
  const ids = apiVersion < 8 ? [request.groupId] : request.groups.map((g) => g.groupId)
  const byOwner = await groupsByCoordinator(context, ids)
  if (apiVersion < 8) {
    const [owner] = byOwner.keys()
    return callWorker(shard, api, apiVersion, owner, request, clientInfo(context), serve)
  }
  const parts = await Promise.all([...byOwner].map(([owner, groupIds]) => callWorker(shard, api, apiVersion, owner,
    { ...request, groups: request.groups.filter((g) => groupIds.includes(g.groupId)) }, clientInfo(context), serve) as Promise<{ groups: object[] }>))
  return { throttleTimeMs: 0, groups: parts.flatMap((part) => part.groups) }
}

interface FetchedGroup { groupId?: string, errorCode: number, topics: Array<{ name: string, partitions: Array<{ partitionIndex: number }> }> }

/** handle with --authorizer on: the checks above around the same fan-out. */
async function authorizedFetch (context: RequestContext, request: OffsetFetchRequest): Promise<object> {
  const { apiVersion } = context
  const describable = (name: string): boolean => allows(context, AclOperation.DESCRIBE, ResourceType.TOPIC, name)
  const deniedPartition = (partitionIndex: number): object => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })
  /** The answer for `asked` (null: all topics) from `fetched`, with the topics the connection may not describe refused or left out. */
  const restrict = (asked: FetchTopic[] | null, fetched: FetchedGroup): void => {
    if (asked === null) {
      fetched.topics = fetched.topics.filter((t) => describable(t.name))
    } else {
      for (const t of asked) if (!describable(t.name)) fetched.topics.push({ name: t.name, partitions: t.partitionIndexes.map(deniedPartition) as Array<{ partitionIndex: number }> })
    }
  }
  const allowedTopics = (topics: FetchTopic[] | null): FetchTopic[] | null => topics === null ? null : topics.filter((t) => describable(t.name))
  if (apiVersion < 8) {
    requireAllowed(context, AclOperation.DESCRIBE, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
    const fetched = await fetchOffsets(context, { ...request, topics: allowedTopics(request.topics) }) as FetchedGroup
    restrict(request.topics, fetched)
    return fetched
  }
  const allowedGroups = request.groups.filter((g) => allows(context, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId))
  const fetched = allowedGroups.length === 0
    ? { throttleTimeMs: 0, groups: [] as FetchedGroup[] }
    : await fetchOffsets(context, { ...request, groups: allowedGroups.map((g) => ({ ...g, topics: allowedTopics(g.topics) })) }) as { throttleTimeMs: number, groups: FetchedGroup[] }
  for (const g of fetched.groups) restrict(request.groups.find((asked) => asked.groupId === g.groupId)?.topics ?? null, g)
  for (const g of request.groups) {
    if (!allowedGroups.includes(g)) fetched.groups.push({ groupId: g.groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] })
  }
  return fetched
}

export const offsetFetchHandler: Handler = { api, minVersion: 0, maxVersion: 9, handle }
export const offsetFetchServer = coordinatorServer(api, serve)
