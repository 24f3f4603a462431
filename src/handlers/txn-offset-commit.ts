// TxnOffsetCommit (key 28), v0-4, on the group's coordinator (coordinated.ts): a transactional producer's offset
// commit, sent after AddOffsetsToTxn put the group's `__consumer_offsets` partition into its transaction. The
// offsets are written there as a transactional batch of the producer (fsynced before the answer) and stay pending
// until the transaction's marker (group/coordinator.ts txnCommitOffsets, completeTransaction).
//
// Validation is Kafka's for transactional commits (GroupCoordinator.doTxnCommitOffsets, and ClassicGroup /
// ConsumerGroup.validateOffsetCommit with isTransactional in the KIP-848 coordinator). v0-2 carry no member, and
// from v3 the member id, generation and instance id are checked only when given: a fenced static member is
// FENCED_INSTANCE_ID, a member id the group does not know UNKNOWN_MEMBER_ID, a generation other than the group's
// ILLEGAL_GENERATION; no REBALANCE_IN_PROGRESS (unlike OffsetCommit). An unknown group is created Empty, as
// Kafka does, so a producer that commits for a group without members (generation -1, empty member id) is
// accepted. A KIP-848 consumer group checks member epochs, a stale one answering ILLEGAL_GENERATION. Every code
// is per partition. v5 (KIP-890 part 2) is not served.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToCoordinator } from './coordinated.ts'
import type { ClassicGroup } from '../group/classic-group.ts'
import type { ConsumerGroup } from '../group/consumer-group.ts'
import type { OffsetEntry } from '../group/coordinator.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(28)!

interface TxnCommitPartition { partitionIndex: number, committedOffset: number, committedLeaderEpoch: number, committedMetadata: string | null }
interface TxnOffsetCommitRequest {
  transactionalId: string
  groupId: string
  producerId: number
  producerEpoch: number
  generationId: number
  memberId: string
  groupInstanceId: string | null
  topics: Array<{ name: string, partitions: TxnCommitPartition[] }>
}

function answer (request: TxnOffsetCommitRequest, codeOf: (topic: string, index: number) => number): object {
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })) }))
  }
}

/** Kafka's checks of a transactional commit against a classic group (see the header). */
function validateClassic (group: ClassicGroup, memberId: string, groupInstanceId: string | null, generationId: number): number {
  if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
  if (groupInstanceId !== null && group.staticMembers.has(groupInstanceId) && group.staticMembers.get(groupInstanceId) !== memberId) return ErrorCode.FENCED_INSTANCE_ID
  if (memberId !== '' && !group.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID
  if (generationId >= 0 && generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
  return ErrorCode.NONE
}

/** Kafka's checks against a KIP-848 consumer group: member epochs, none needed when no member is named. */
function validateConsumer (group: ConsumerGroup, memberId: string, groupInstanceId: string | null, generationId: number): number {
  if (generationId < 0 && memberId === '' && groupInstanceId === null) return ErrorCode.NONE
  // Version 9 is OffsetCommit's with member epochs, the rules TxnOffsetCommit shares.
  const code = group.validateCommit(memberId, generationId, 9)
  return code === ErrorCode.STALE_MEMBER_EPOCH ? ErrorCode.ILLEGAL_GENERATION : code
}

async function serve (shard: Shard, request: TxnOffsetCommitRequest, apiVersion: number): Promise<object> {
  if (request.groupId === '') return answer(request, () => ErrorCode.INVALID_GROUP_ID)
  if (shard.groups.partitionFor(request.groupId) === undefined) return answer(request, () => ErrorCode.NOT_COORDINATOR)
  const generationId = apiVersion < 3 ? -1 : request.generationId
  const memberId = apiVersion < 3 ? '' : request.memberId
  const groupInstanceId = apiVersion < 3 ? null : request.groupInstanceId
  const consumerGroup = shard.groups.consumerGroup(request.groupId)
  let group: ClassicGroup | ConsumerGroup
  let validation: number
  if (consumerGroup !== undefined) {
    group = consumerGroup
    validation = validateConsumer(consumerGroup, memberId, groupInstanceId, generationId)
  } else {
    const classicGroup = shard.groups.group(request.groupId, true)
    if (classicGroup === undefined) return answer(request, () => ErrorCode.COORDINATOR_NOT_AVAILABLE)
    group = classicGroup
    validation = validateClassic(classicGroup, memberId, groupInstanceId, generationId)
  }
  if (validation !== ErrorCode.NONE) {
    shard.groups.releaseIfUnused(request.groupId)
    return answer(request, () => validation)
  }
  const now = Date.now()
  const entries: OffsetEntry[] = []
  for (const topic of request.topics) {
    for (const p of topic.partitions) {
      entries.push({
        topic: topic.name,
        partition: p.partitionIndex,
        value: { offset: p.committedOffset, leaderEpoch: apiVersion < 2 ? -1 : p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestamp: now }
      })
    }
  }
  const codes = await shard.groups.txnCommitOffsets(group, request.producerId, request.producerEpoch, entries)
  shard.groups.releaseIfUnused(request.groupId)
  let i = 0
  return answer(request, () => codes[i++])
}

function handle (context: RequestContext, request: TxnOffsetCommitRequest): Promise<object> {
  // Kafka's authorization: WRITE on the transactional id, READ on the group (each fails the whole request).
  requireAllowed(context, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  requireAllowed(context, AclOperation.READ, ResourceType.GROUP, request.groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
  return routeToCoordinator(context, api, request.groupId, request, serve)
}

export const txnOffsetCommitHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
export const txnOffsetCommitServer = coordinatorServer(api, serve)
