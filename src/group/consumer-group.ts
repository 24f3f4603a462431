// One consumer group speaking the KIP-848 protocol (group type "consumer"): members send ConsumerGroupHeartbeat,
// the coordinator computes the assignment with a server-side assignor and hands it out one heartbeat at a time.
//
//   group epoch       bumped when membership, a subscription, the preferred assignor or the metadata of a
//                     subscribed topic (id, partition count) changes;
//   assignment epoch  the group epoch the target assignment was computed for (computed at once here, so it
//                     catches up with the group epoch within the heartbeat that bumped it);
//   member epoch      the assignment epoch a member has reconciled to.
//
// Reconciliation (per member, on each of its heartbeats), as Kafka's CurrentAssignmentBuilder:
//   - partitions the member holds that are no longer in its target are revoked first: the member keeps its
//     epoch, its assignment shrinks to (held ∩ target), and it stays `unrevoked` until a heartbeat reports owned
//     partitions without them (or it leaves, expires, or overruns its rebalance timeout and is removed);
//   - partitions of its target still held by another member (assigned or pending revocation) are `unreleased`:
//     they are handed out on a later heartbeat, once free. A partition is never held by two members at once
//     (`#owners` maps each held partition to its one holder);
//   - otherwise the member gets its whole target and the assignment epoch.
//
// A group is owned by one coordinator (one worker thread): no locks. Timers (session, revocation) call back
// into the group and check that the member they were armed for is still the current one.
//
// Subscriptions: topic names, and/or a regular expression (KIP-848 v1) evaluated here with JavaScript's
// RegExp, anchored (the whole topic name must match, as RE2J's matches() in Kafka); internal topics are never
// matched. A regex JavaScript cannot compile answers INVALID_REGULAR_EXPRESSION.

import { randomUUID } from 'node:crypto'
import { ErrorCode } from '../protocol/errors.ts'
import type { CommittedOffset, GroupRecord } from './offset-store.ts'
import { clipName } from '../protocol/clip.ts'

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable'
/** Kafka's MemberState: stable, unrevoked_partitions, unreleased_partitions. */
export type MemberState = 'stable' | 'unrevoked' | 'unreleased'

/** Member epoch sent to leave the group. */
export const kLeaveEpoch = -1
/** Member epoch sent by a static member leaving temporarily (it keeps its assignment until its session ends). */
export const kStaticLeaveEpoch = -2
export const kDefaultAssignor = 'uniform'

export interface ConsumerGroupLimits {
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly maxSize: number
}

export interface TopicInfo {
  readonly name: string
  /** 32 lowercase hex characters. */
  readonly id: string
  readonly partitions: number
  readonly internal: boolean
}

/** The topics known to the broker (ShardTable satisfies this). */
export interface TopicCatalog {
  topic (name: string): TopicInfo | undefined
  topicById (id: string): TopicInfo | undefined
  topics (): Iterable<TopicInfo>
}

/** What a consumer group needs from its coordinator. */
export interface ConsumerGroupHost {
  readonly consumerLimits: ConsumerGroupLimits
  /** The current topic metadata: a new object whenever topics change (as ShardTable is replaced, never mutated). */
  topicCatalog (): TopicCatalog
  persistGroup (group: ConsumerGroup): Promise<void>
}

export interface TopicPartitions {
  topicId: string
  partitions: number[]
}

/** ConsumerGroupHeartbeat request fields; nullable fields null mean "unchanged since the last heartbeat". */
export interface ConsumerHeartbeatRequest {
  groupId: string
  memberId: string
  memberEpoch: number
  instanceId: string | null
  rackId: string | null
  /** -1 means unchanged. */
  rebalanceTimeoutMs: number
  subscribedTopicNames: string[] | null
  subscribedTopicRegex?: string | null
  serverAssignor: string | null
  /** The partitions the member owns now; null when unchanged. */
  topicPartitions: TopicPartitions[] | null
}

export interface ConsumerHeartbeatResponse {
  errorCode: number
  errorMessage: string | null
  memberId: string | null
  memberEpoch: number
  heartbeatIntervalMs: number
  /** Present when the request was a full one (a join) or the member's assignment changed. */
  assignment: { topicPartitions: TopicPartitions[] } | null
}

// ---- partition keys and assignments ------------------------------------------------------------------------

/** A partition of a topic, by topic id: `<topicId>:<partition>`. */
export function partitionKey (topicId: string, partition: number): string {
  return `${topicId}:${partition}`
}

function splitPartitionKey (key: string): [string, number] {
  const at = key.lastIndexOf(':')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}

/** Keys grouped by topic id, both sorted: the wire form of an assignment. */
export function toTopicPartitions (keys: Iterable<string>): TopicPartitions[] {
  const byTopic = new Map<string, number[]>()
  for (const key of keys) {
    const [topicId, partition] = splitPartitionKey(key)
    let list = byTopic.get(topicId)
    if (list === undefined) { list = []; byTopic.set(topicId, list) }
    list.push(partition)
  }
  return [...byTopic.keys()].sort().map((topicId) => ({ topicId, partitions: byTopic.get(topicId)!.sort((a, b) => a - b) }))
}

export function fromTopicPartitions (list: readonly TopicPartitions[]): Set<string> {
  const keys = new Set<string>()
  for (const entry of list) for (const partition of entry.partitions) keys.add(partitionKey(entry.topicId, partition))
  return keys
}

// ---- assignors -----------------------------------------------------------------------------------------------

export interface AssignorMember {
  readonly memberId: string
  /** Ids of the existing topics the member subscribes to. */
  readonly topicIds: ReadonlySet<string>
  /** The member's previous target (sticky assignors keep what they can of it). */
  readonly previous: ReadonlySet<string>
}

/** Computes a target: every partition of a subscribed topic goes to exactly one member subscribed to it. */
export type Assignor = (members: readonly AssignorMember[], partitionCounts: ReadonlyMap<string, number>) => Map<string, Set<string>>

function eligibleMembers (members: readonly AssignorMember[], partitionCounts: ReadonlyMap<string, number>): Map<string, AssignorMember[]> {
  const byTopic = new Map<string, AssignorMember[]>()
  for (const topicId of [...partitionCounts.keys()].sort()) {
    const subscribed = members.filter((m) => m.topicIds.has(topicId))
    if (subscribed.length > 0) byTopic.set(topicId, subscribed)
  }
  return byTopic
}

/**
 * `uniform`: balanced (among the members subscribed to a partition's topic, counts differ by at most one when
 * subscriptions are the same) and sticky (a partition stays with its previous owner unless balance needs it
 * elsewhere). Members are taken in member id order, partitions in topic id then index order: deterministic.
 */
export const uniformAssignor: Assignor = (members, partitionCounts) => {
  const ordered = [...members].sort((a, b) => a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)
  const byTopic = eligibleMembers(ordered, partitionCounts)
  const result = new Map<string, Set<string>>(ordered.map((m) => [m.memberId, new Set()]))
  const owner = new Map<string, string>()
  const keys: Array<[string, string]> = []
  for (const topicId of byTopic.keys()) {
    for (let p = 0; p < partitionCounts.get(topicId)!; p++) keys.push([partitionKey(topicId, p), topicId])
  }
  // Sticky: previous owners keep what they still subscribe to.
  for (const member of ordered) {
    for (const key of member.previous) {
      const [topicId, partition] = splitPartitionKey(key)
      if (!member.topicIds.has(topicId) || partition >= (partitionCounts.get(topicId) ?? 0) || owner.has(key)) continue
      owner.set(key, member.memberId)
      result.get(member.memberId)!.add(key)
    }
  }
  const count = (memberId: string): number => result.get(memberId)!.size
  const leastLoaded = (eligible: readonly AssignorMember[]): AssignorMember => {
    let best = eligible[0]
    for (const member of eligible) if (count(member.memberId) < count(best.memberId)) best = member
    return best
  }
  // New partitions go to the least loaded eligible member.
  for (const [key, topicId] of keys) {
    if (owner.has(key)) continue
    const to = leastLoaded(byTopic.get(topicId)!)
    owner.set(key, to.memberId)
    result.get(to.memberId)!.add(key)
  }
  // Balance: move a partition while its owner holds two more than some other eligible member. Every move lowers
  // the sum of squared counts, so this ends.
  for (let moved = true; moved;) {
    moved = false
    for (const [key, topicId] of keys) {
      const from = owner.get(key)!
      const to = leastLoaded(byTopic.get(topicId)!)
      if (count(from) <= count(to.memberId) + 1) continue
      result.get(from)!.delete(key)
      result.get(to.memberId)!.add(key)
      owner.set(key, to.memberId)
      moved = true
    }
  }
  return result
}

/**
 * `range`: per topic, the members subscribed to it (in member id order) get contiguous ranges of partitions,
 * the first `partitions % members` one more. Not sticky.
 */
export const rangeAssignor: Assignor = (members, partitionCounts) => {
  const ordered = [...members].sort((a, b) => a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)
  const result = new Map<string, Set<string>>(ordered.map((m) => [m.memberId, new Set()]))
  for (const [topicId, eligible] of eligibleMembers(ordered, partitionCounts)) {
    const partitions = partitionCounts.get(topicId)!
    const each = Math.floor(partitions / eligible.length)
    const extra = partitions % eligible.length
    eligible.forEach((member, i) => {
      const start = i * each + Math.min(i, extra)
      const end = start + each + (i < extra ? 1 : 0)
      for (let p = start; p < end; p++) result.get(member.memberId)!.add(partitionKey(topicId, p))
    })
  }
  return result
}

export const kAssignors: ReadonlyMap<string, Assignor> = new Map([['uniform', uniformAssignor], ['range', rangeAssignor]])

// ---- members -------------------------------------------------------------------------------------------------

const kNoPartitions: ReadonlySet<string> = new Set()

export class ConsumerMember {
  readonly memberId: string
  instanceId: string | null
  rackId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  subscribedTopicNames: string[]
  subscribedTopicRegex: string | null
  /** The compiled `subscribedTopicRegex`. */
  pattern: RegExp | null
  serverAssignor: string | null
  memberEpoch: number
  /** The epoch before the last bump: a heartbeat with it is accepted when its response may have been lost. */
  previousMemberEpoch: number
  state: MemberState
  /** Partitions given to the member (it may be fetching them). */
  assigned: Set<string>
  /** Partitions taken from the member that it has not yet acknowledged giving up. */
  pendingRevocation: Set<string>
  sessionTimer: NodeJS.Timeout | null
  revocationTimer: NodeJS.Timeout | null

  constructor (memberId: string, clientId: string, clientHost: string) {
    this.memberId = memberId
    this.instanceId = null
    this.rackId = null
    this.clientId = clientId
    this.clientHost = clientHost
    this.rebalanceTimeoutMs = 300_000
    this.subscribedTopicNames = []
    this.subscribedTopicRegex = null
    this.pattern = null
    this.serverAssignor = null
    this.memberEpoch = 0
    this.previousMemberEpoch = -1
    this.state = 'stable'
    this.assigned = new Set()
    this.pendingRevocation = new Set()
    this.sessionTimer = null
    this.revocationTimer = null
  }
}

/** Compiles a subscription regex, anchored; null when JavaScript cannot compile it. */
export function compileTopicRegex (source: string): RegExp | null {
  try {
    return new RegExp(`^(?:${source})$`, 'u')
  } catch {
    return null
  }
}

/** The persisted form of a consumer group (GroupRecord.consumer). */
interface SavedConsumerGroup {
  groupEpoch: number
  assignmentEpoch: number
  assignorName: string
  topicsFingerprint: string
  members: Array<{
    memberId: string
    instanceId: string | null
    rackId: string | null
    clientId: string
    clientHost: string
    rebalanceTimeoutMs: number
    subscribedTopicNames: string[]
    subscribedTopicRegex: string | null
    serverAssignor: string | null
    memberEpoch: number
    previousMemberEpoch: number
    state: MemberState
    assigned: string[]
    pendingRevocation: string[]
    target: string[]
  }>
}

function sameNames (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const sorted = [...b].sort()
  return [...a].sort().every((name, i) => name === sorted[i])
}

function sameSet (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false
  for (const key of a) if (!b.has(key)) return false
  return true
}

// ---- the group -----------------------------------------------------------------------------------------------

export class ConsumerGroup {
  readonly type = 'consumer'
  readonly groupId: string
  readonly host: ConsumerGroupHost
  groupEpoch: number
  assignmentEpoch: number
  /** The assignor of the current target. */
  assignorName: string
  readonly members: Map<string, ConsumerMember>
  /** instance id -> member id of static members. */
  readonly staticMembers: Map<string, string>
  /** Target assignment by member id (computed for `assignmentEpoch`). */
  target: Map<string, Set<string>>
  readonly offsets: Map<string, CommittedOffset>
  /** When the group last became empty (offsets retention counts from here). */
  emptySince: number
  /** Partition key -> the one member holding it (assigned or pending revocation). */
  readonly #owners: Map<string, string>
  /** The subscribed topics' names, ids and partition counts the target was computed with. */
  #topicsFingerprint: string
  /** The catalog `#topicsFingerprint` was last checked against. */
  #checkedCatalog: TopicCatalog | null
  /** Counts state changes: a heartbeat that moved it persists the group. */
  #changes: number

  constructor (groupId: string, host: ConsumerGroupHost) {
    this.groupId = groupId
    this.host = host
    this.groupEpoch = 0
    this.assignmentEpoch = 0
    this.assignorName = kDefaultAssignor
    this.members = new Map()
    this.staticMembers = new Map()
    this.target = new Map()
    this.offsets = new Map()
    this.emptySince = Date.now()
    this.#owners = new Map()
    this.#topicsFingerprint = ''
    this.#checkedCatalog = null
    this.#changes = 0
  }

  get state (): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty'
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning'
    for (const member of this.members.values()) {
      if (member.state !== 'stable' || member.memberEpoch !== this.assignmentEpoch) return 'Reconciling'
    }
    return 'Stable'
  }

  /** The member holding a partition (assigned or pending revocation), if any. */
  ownerOf (topicId: string, partition: number): string | undefined {
    return this.#owners.get(partitionKey(topicId, partition))
  }

  // ---- ConsumerGroupHeartbeat ------------------------------------------------------------------------------

  /**
   * Serves one heartbeat. State changes are made at once (synchronously) and persisted before the answer; if
   * persisting fails the answer is COORDINATOR_NOT_AVAILABLE and the client retries.
   */
  async heartbeat (request: ConsumerHeartbeatRequest, apiVersion: number, clientId: string, clientHost: string): Promise<ConsumerHeartbeatResponse> {
    const changesBefore = this.#changes
    const response = this.#heartbeat(request, apiVersion, clientId, clientHost)
    if (response.errorCode === ErrorCode.NONE && this.#changes !== changesBefore) {
      try {
        await this.host.persistGroup(this)
      } catch {
        return this.#fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group could not be persisted')
      }
    }
    return response
  }

  #changed (): void {
    this.#changes++
  }

  #fail (errorCode: number, errorMessage: string | null = null): ConsumerHeartbeatResponse {
    return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null }
  }

  #heartbeat (request: ConsumerHeartbeatRequest, apiVersion: number, clientId: string, clientHost: string): ConsumerHeartbeatResponse {
    const invalid = this.#validate(request, apiVersion)
    if (invalid !== null) return invalid
    const epoch = request.memberEpoch
    if (epoch === kLeaveEpoch || epoch === kStaticLeaveEpoch) return this.#leave(request)

    let member: ConsumerMember
    const sizeBefore = this.members.size
    if (epoch === 0) {
      const joined = this.#join(request, clientId, clientHost)
      if (!(joined instanceof ConsumerMember)) return joined
      member = joined
    } else {
      const known = this.members.get(request.memberId)
      if (known === undefined) return this.#fail(ErrorCode.UNKNOWN_MEMBER_ID, `unknown member ${clipName(request.memberId)}`)
      if (request.instanceId !== null && this.staticMembers.get(request.instanceId) !== known.memberId) return this.#fail(ErrorCode.FENCED_INSTANCE_ID)
      const fenced = this.#checkEpoch(known, epoch, request.topicPartitions)
      if (fenced !== null) return fenced
      member = known
      member.clientId = clientId
      member.clientHost = clientHost
    }
    const previousAssigned = new Set(member.assigned)
    const previousEpoch = member.memberEpoch

    // One group epoch bump for whatever changed: a new member, a subscription, or the metadata of subscribed
    // topics (created, deleted, grown). The metadata is only looked at again when the catalog (immutable,
    // replaced on change) or a subscription changed; `#topicsFingerprint` is what the target was computed with.
    let bump = this.members.size > sizeBefore
    if (this.#updateSubscription(member, request)) bump = true
    const catalog = this.host.topicCatalog()
    if (bump || catalog !== this.#checkedCatalog) {
      if (this.#fingerprint(catalog) !== this.#topicsFingerprint) bump = true
      this.#checkedCatalog = catalog
    }
    if (bump) this.#bumpGroupEpoch()
    this.#armSession(member)
    if (this.groupEpoch > this.assignmentEpoch) this.#computeTarget()
    this.#reconcile(member, request.topicPartitions === null ? null : fromTopicPartitions(request.topicPartitions))

    const fullRequest = epoch === 0 || (request.rebalanceTimeoutMs !== -1 && (request.subscribedTopicNames !== null || (request.subscribedTopicRegex ?? null) !== null) && request.topicPartitions !== null)
    const assignmentChanged = !sameSet(previousAssigned, member.assigned)
    if (assignmentChanged || previousEpoch !== member.memberEpoch) this.#changed()
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.host.consumerLimits.heartbeatIntervalMs,
      assignment: fullRequest || assignmentChanged ? { topicPartitions: toTopicPartitions(member.assigned) } : null
    }
  }

  /** Kafka's request checks (throwIfConsumerGroupHeartbeatRequestIsInvalid), then the assignor and regex. */
  #validate (request: ConsumerHeartbeatRequest, apiVersion: number): ConsumerHeartbeatResponse | null {
    const invalid = (message: string): ConsumerHeartbeatResponse => this.#fail(ErrorCode.INVALID_REQUEST, message)
    const epoch = request.memberEpoch
    const regex = request.subscribedTopicRegex ?? null
    if (request.instanceId !== null && request.instanceId === '') return invalid('InstanceId can\'t be empty.')
    if (request.rackId !== null && request.rackId === '') return invalid('RackId can\'t be empty.')
    if (epoch === 0) {
      if (request.memberId === '' && apiVersion >= 1) return invalid('MemberId can\'t be empty.')
      if (request.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in first request.')
      if (request.topicPartitions === null || request.topicPartitions.length > 0) return invalid('TopicPartitions must be empty when (re-)joining.')
      if (request.subscribedTopicNames === null && regex === null) return invalid('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.')
    } else if (epoch === kStaticLeaveEpoch) {
      if (request.instanceId === null) return invalid('InstanceId can\'t be null.')
      if (request.memberId === '') return invalid('MemberId can\'t be empty.')
    } else if (epoch > 0 || epoch === kLeaveEpoch) {
      if (request.memberId === '') return invalid('MemberId can\'t be empty.')
    } else {
      return invalid(`MemberEpoch ${epoch} is invalid.`)
    }
    if (request.serverAssignor !== null && !kAssignors.has(request.serverAssignor)) {
      return this.#fail(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${clipName(String(request.serverAssignor))} is not supported (${[...kAssignors.keys()].join(', ')}).`)
    }
    if (regex !== null && regex !== '' && compileTopicRegex(regex) === null) {
      return this.#fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${clipName(regex)} is not a valid regular expression.`)
    }
    return null
  }

  /** Epoch 0: a new member, a known member that lost its state, or a static member replacing its old self. */
  #join (request: ConsumerHeartbeatRequest, clientId: string, clientHost: string): ConsumerMember | ConsumerHeartbeatResponse {
    const memberId = request.memberId === '' ? randomUUID() : request.memberId
    const instanceId = request.instanceId
    if (instanceId !== null) {
      const currentId = this.staticMembers.get(instanceId)
      const current = currentId === undefined ? undefined : this.members.get(currentId)
      if (current !== undefined && current.memberId !== memberId) {
        if (current.memberEpoch !== kStaticLeaveEpoch) {
          return this.#fail(ErrorCode.UNRELEASED_INSTANCE_ID, `instance ${clipName(instanceId)} is still in use by member ${clipName(current.memberId)}`)
        }
        return this.#replaceStatic(current, memberId, clientId, clientHost)
      }
    }
    const existing = this.members.get(memberId)
    if (existing !== undefined) {
      // The member rejoins from scratch (it was fenced, or restarted with a client-chosen id): it owns nothing.
      this.#setHolding(existing, 'stable', kNoPartitions, kNoPartitions)
      this.#setEpoch(existing, 0)
      existing.clientId = clientId
      existing.clientHost = clientHost
      this.#changed()
      return existing
    }
    if (this.members.size >= this.host.consumerLimits.maxSize) return this.#fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `the group has reached its maximum size of ${this.host.consumerLimits.maxSize}`)
    // A new member: the caller moves the group epoch.
    const member = new ConsumerMember(memberId, clientId, clientHost)
    member.instanceId = instanceId
    this.members.set(memberId, member)
    if (instanceId !== null) this.staticMembers.set(instanceId, memberId)
    return member
  }

  /** A static member back under a new member id takes over its old self: assignment, epoch, target. */
  #replaceStatic (old: ConsumerMember, memberId: string, clientId: string, clientHost: string): ConsumerMember {
    const member = new ConsumerMember(memberId, clientId, clientHost)
    member.instanceId = old.instanceId
    member.rackId = old.rackId
    member.rebalanceTimeoutMs = old.rebalanceTimeoutMs
    member.subscribedTopicNames = old.subscribedTopicNames
    member.subscribedTopicRegex = old.subscribedTopicRegex
    member.pattern = old.pattern
    member.serverAssignor = old.serverAssignor
    member.memberEpoch = old.previousMemberEpoch
    member.previousMemberEpoch = old.previousMemberEpoch
    const { state, assigned, pendingRevocation } = old
    this.#setHolding(old, 'stable', kNoPartitions, kNoPartitions)
    this.#removeTimers(old)
    this.members.delete(old.memberId)
    this.members.set(memberId, member)
    this.staticMembers.set(member.instanceId!, memberId)
    const target = this.target.get(old.memberId)
    this.target.delete(old.memberId)
    if (target !== undefined) this.target.set(memberId, target)
    this.#setHolding(member, state, assigned, pendingRevocation)
    this.#changed()
    return member
  }

  /** Updates what the member subscribes to from the non-null fields; true when the group epoch must move. */
  #updateSubscription (member: ConsumerMember, request: ConsumerHeartbeatRequest): boolean {
    let bump = false
    if (request.rackId !== null && request.rackId !== member.rackId) { member.rackId = request.rackId; this.#changed() }
    if (request.rebalanceTimeoutMs !== -1 && request.rebalanceTimeoutMs !== member.rebalanceTimeoutMs) { member.rebalanceTimeoutMs = request.rebalanceTimeoutMs; this.#changed() }
    const names = request.subscribedTopicNames === null ? null : [...new Set(request.subscribedTopicNames)]
    if (names !== null && !sameNames(names, member.subscribedTopicNames)) {
      member.subscribedTopicNames = names
      bump = true
    }
    const regex = request.subscribedTopicRegex ?? null
    if (regex !== null && (regex === '' ? null : regex) !== member.subscribedTopicRegex) {
      // An empty regex clears it.
      member.subscribedTopicRegex = regex === '' ? null : regex
      member.pattern = regex === '' ? null : compileTopicRegex(regex)
      bump = true
    }
    if (request.serverAssignor !== null && request.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = request.serverAssignor
      bump = true
    }
    return bump
  }

  /** Kafka's throwIfMemberEpochIsInvalid. */
  #checkEpoch (member: ConsumerMember, received: number, owned: TopicPartitions[] | null): ConsumerHeartbeatResponse | null {
    if (received > member.memberEpoch) {
      return this.#fail(ErrorCode.FENCED_MEMBER_EPOCH, `member epoch ${received} is newer than the coordinator's ${member.memberEpoch}; rejoin with epoch 0`)
    }
    if (received < member.memberEpoch) {
      // The member may have missed the response that bumped its epoch: accept the previous epoch if it owns
      // nothing beyond its current assignment.
      const subset = owned !== null && [...fromTopicPartitions(owned)].every((key) => member.assigned.has(key))
      if (received !== member.previousMemberEpoch || !subset) {
        return this.#fail(ErrorCode.FENCED_MEMBER_EPOCH, `member epoch ${received} is older than the coordinator's ${member.memberEpoch}; rejoin with epoch 0`)
      }
    }
    return null
  }

  #leave (request: ConsumerHeartbeatRequest): ConsumerHeartbeatResponse {
    let member: ConsumerMember | undefined
    if (request.instanceId !== null) {
      const currentId = this.staticMembers.get(request.instanceId)
      member = currentId === undefined ? undefined : this.members.get(currentId)
      if (member === undefined) return this.#fail(ErrorCode.UNKNOWN_MEMBER_ID, `unknown instance ${request.instanceId}`)
      if (member.memberId !== request.memberId) return this.#fail(ErrorCode.FENCED_INSTANCE_ID, `instance ${request.instanceId} belongs to another member`)
    } else {
      member = this.members.get(request.memberId)
      if (member === undefined) return this.#fail(ErrorCode.UNKNOWN_MEMBER_ID, `unknown member ${clipName(request.memberId)}`)
    }
    const answer = (memberEpoch: number): ConsumerHeartbeatResponse => ({
      errorCode: ErrorCode.NONE, errorMessage: null, memberId: request.memberId, memberEpoch, heartbeatIntervalMs: 0, assignment: null
    })
    if (request.memberEpoch === kStaticLeaveEpoch) {
      // Temporary: the member keeps its partitions and target until it is back (replaced under a new member id)
      // or its session ends.
      if (member.memberEpoch !== kStaticLeaveEpoch) this.#setEpoch(member, kStaticLeaveEpoch)
      this.#changed()
      return answer(kStaticLeaveEpoch)
    }
    this.#removeMember(member)
    return answer(kLeaveEpoch)
  }

  // ---- assignment ------------------------------------------------------------------------------------------

  #bumpGroupEpoch (): void {
    this.groupEpoch++
    this.#changed()
  }

  /** The names of the existing topics a member subscribes to (by name, or matching its regex). */
  subscribedTopics (member: ConsumerMember, catalog: TopicCatalog = this.host.topicCatalog()): string[] {
    const names = new Set<string>()
    for (const name of member.subscribedTopicNames) {
      const topic = catalog.topic(name)
      if (topic !== undefined && !topic.internal) names.add(name)
    }
    if (member.pattern !== null) {
      for (const topic of catalog.topics()) if (!topic.internal && member.pattern.test(topic.name)) names.add(topic.name)
    }
    return [...names]
  }

  /** Every topic name some member subscribes to, existing or not (OffsetDelete refuses these). */
  allSubscribedTopicNames (): Set<string> {
    const names = new Set<string>()
    const catalog = this.host.topicCatalog()
    for (const member of this.members.values()) {
      for (const name of member.subscribedTopicNames) names.add(name)
      for (const name of this.subscribedTopics(member, catalog)) names.add(name)
    }
    return names
  }

  #fingerprint (catalog: TopicCatalog): string {
    const names = new Set<string>()
    for (const member of this.members.values()) for (const name of this.subscribedTopics(member, catalog)) names.add(name)
    return [...names].sort().map((name) => {
      const topic = catalog.topic(name)!
      return `${name}/${topic.id}/${topic.partitions}`
    }).join(',')
  }

  /** The assignor most members ask for (ties: the first in kAssignors order); uniform when none asks. */
  #preferredAssignor (): string {
    const votes = new Map<string, number>()
    for (const member of this.members.values()) {
      if (member.serverAssignor !== null) votes.set(member.serverAssignor, (votes.get(member.serverAssignor) ?? 0) + 1)
    }
    let best = kDefaultAssignor
    let bestVotes = 0
    for (const name of kAssignors.keys()) {
      const count = votes.get(name) ?? 0
      if (count > bestVotes) { best = name; bestVotes = count }
    }
    return best
  }

  #computeTarget (): void {
    const catalog = this.host.topicCatalog()
    const partitionCounts = new Map<string, number>()
    const assignorMembers: AssignorMember[] = []
    for (const member of this.members.values()) {
      const topicIds = new Set<string>()
      for (const name of this.subscribedTopics(member, catalog)) {
        const topic = catalog.topic(name)!
        topicIds.add(topic.id)
        partitionCounts.set(topic.id, topic.partitions)
      }
      assignorMembers.push({ memberId: member.memberId, topicIds, previous: this.target.get(member.memberId) ?? kNoPartitions })
    }
    this.assignorName = this.#preferredAssignor()
    this.target = kAssignors.get(this.assignorName)!(assignorMembers, partitionCounts)
    this.assignmentEpoch = this.groupEpoch
    this.#topicsFingerprint = this.#fingerprint(catalog)
    this.#changed()
  }

  /** Moves a member one step towards its target (Kafka's CurrentAssignmentBuilder.build). */
  #reconcile (member: ConsumerMember, owned: ReadonlySet<string> | null): void {
    switch (member.state) {
      case 'stable':
        if (member.memberEpoch === this.assignmentEpoch) return
        break
      case 'unrevoked':
        if (ownsAny(owned, member.pendingRevocation)) return
        break
      case 'unreleased':
        break
    }
    this.#computeNext(member, owned)
  }

  #computeNext (member: ConsumerMember, owned: ReadonlySet<string> | null): void {
    const target = this.target.get(member.memberId) ?? kNoPartitions
    const kept = new Set<string>()
    const revoked = new Set<string>()
    for (const key of member.assigned) (target.has(key) ? kept : revoked).add(key)
    const free: string[] = []
    let unreleased = false
    for (const key of target) {
      if (kept.has(key)) continue
      const holder = this.#owners.get(key)
      if (holder !== undefined && holder !== member.memberId) unreleased = true
      else free.push(key)
    }
    if (revoked.size > 0 && ownsAny(owned, revoked)) {
      // Revoke first: the member keeps its epoch and gets nothing new until it acknowledges.
      this.#setHolding(member, 'unrevoked', kept, revoked)
      return
    }
    for (const key of free) kept.add(key)
    this.#setHolding(member, unreleased ? 'unreleased' : 'stable', kept, kNoPartitions)
    this.#setEpoch(member, this.assignmentEpoch)
  }

  /** Sets what a member holds, keeping `#owners` exact. Never takes a partition another member holds. */
  #setHolding (member: ConsumerMember, state: MemberState, assigned: ReadonlySet<string>, pendingRevocation: ReadonlySet<string>): void {
    for (const key of member.assigned) if (this.#owners.get(key) === member.memberId) this.#owners.delete(key)
    for (const key of member.pendingRevocation) if (this.#owners.get(key) === member.memberId) this.#owners.delete(key)
    const take = (keys: ReadonlySet<string>): Set<string> => {
      const taken = new Set<string>()
      for (const key of keys) {
        const holder = this.#owners.get(key)
        if (holder !== undefined && holder !== member.memberId) continue
        this.#owners.set(key, member.memberId)
        taken.add(key)
      }
      return taken
    }
    member.assigned = take(assigned)
    member.pendingRevocation = take(pendingRevocation)
    if (member.state !== state) this.#changed()
    member.state = state
    if (state === 'unrevoked') this.#armRevocation(member)
    else this.#clearRevocation(member)
  }

  #setEpoch (member: ConsumerMember, epoch: number): void {
    if (member.memberEpoch === epoch) return
    member.previousMemberEpoch = member.memberEpoch
    member.memberEpoch = epoch
    this.#changed()
  }

  // ---- removal and timers ----------------------------------------------------------------------------------

  /** Removes a member (left, expired, or too slow to revoke): its partitions are free, the group epoch moves. */
  #removeMember (member: ConsumerMember): void {
    this.#setHolding(member, 'stable', kNoPartitions, kNoPartitions)
    this.#removeTimers(member)
    this.members.delete(member.memberId)
    this.target.delete(member.memberId)
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === member.memberId) this.staticMembers.delete(member.instanceId)
    this.#bumpGroupEpoch()
    if (this.members.size === 0) {
      this.emptySince = Date.now()
      this.assignmentEpoch = this.groupEpoch
      this.target = new Map()
    } else {
      this.#computeTarget()
    }
  }

  #removeTimers (member: ConsumerMember): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer)
    member.sessionTimer = null
    this.#clearRevocation(member)
  }

  #armSession (member: ConsumerMember): void {
    if (member.sessionTimer !== null) {
      member.sessionTimer.refresh()
      return
    }
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null
      this.#expire(member)
    }, this.host.consumerLimits.sessionTimeoutMs)
    member.sessionTimer.unref()
  }

  /** rebalance timeout: a member that does not give up revoked partitions in time is removed. */
  #armRevocation (member: ConsumerMember): void {
    if (member.revocationTimer !== null) return
    const timeout = member.rebalanceTimeoutMs > 0 ? member.rebalanceTimeoutMs : this.host.consumerLimits.sessionTimeoutMs
    member.revocationTimer = setTimeout(() => {
      member.revocationTimer = null
      if (member.state === 'unrevoked') this.#expire(member)
    }, timeout)
    member.revocationTimer.unref()
  }

  #clearRevocation (member: ConsumerMember): void {
    if (member.revocationTimer !== null) clearTimeout(member.revocationTimer)
    member.revocationTimer = null
  }

  #expire (member: ConsumerMember): void {
    if (this.members.get(member.memberId) !== member) return
    this.#removeMember(member)
    this.host.persistGroup(this).catch(() => {})
  }

  // ---- offsets ---------------------------------------------------------------------------------------------

  /**
   * OffsetCommit rules for consumer groups (Kafka's validateOffsetCommit): epoch -1 without a member is a simple
   * commit, allowed while the group is empty; otherwise the member must exist, use OffsetCommit v9+, and send its
   * current epoch (older: STALE_MEMBER_EPOCH, newer: FENCED_MEMBER_EPOCH).
   */
  validateCommit (memberId: string, memberEpoch: number, apiVersion: number): number {
    if (memberEpoch < 0 && this.members.size === 0) return ErrorCode.NONE
    const member = this.members.get(memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION
    return checkMemberEpoch(memberEpoch, member.memberEpoch)
  }

  /** OffsetFetch v9 rules: no member id and epoch -1 (admin clients) always reads; otherwise as commits. */
  validateFetch (memberId: string | null, memberEpoch: number): number {
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE
    const member = memberId === null ? undefined : this.members.get(memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    return checkMemberEpoch(memberEpoch, member.memberEpoch)
  }

  /** Stops every timer (coordinator shutdown, group deleted or converted). */
  shutdown (): void {
    for (const member of this.members.values()) this.#removeTimers(member)
  }

  // ---- persistence -----------------------------------------------------------------------------------------

  toRecord (): GroupRecord {
    const consumer: SavedConsumerGroup = {
      groupEpoch: this.groupEpoch,
      assignmentEpoch: this.assignmentEpoch,
      assignorName: this.assignorName,
      topicsFingerprint: this.#topicsFingerprint,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        serverAssignor: m.serverAssignor,
        memberEpoch: m.memberEpoch,
        previousMemberEpoch: m.previousMemberEpoch,
        state: m.state,
        assigned: [...m.assigned],
        pendingRevocation: [...m.pendingRevocation],
        target: [...(this.target.get(m.memberId) ?? [])]
      }))
    }
    return { type: 'consumer', protocolType: 'consumer', generationId: this.groupEpoch, protocolName: null, leaderId: null, members: [], consumer }
  }

  /**
   * Restores a group after a restart. Members come back with fresh session timers: those that keep
   * heartbeating carry on in their epoch, the others expire and free their partitions.
   */
  restore (record: GroupRecord): void {
    const saved = record.consumer as SavedConsumerGroup | undefined
    if (saved === undefined) return
    this.groupEpoch = saved.groupEpoch
    this.assignmentEpoch = saved.assignmentEpoch
    this.assignorName = kAssignors.has(saved.assignorName) ? saved.assignorName : kDefaultAssignor
    this.#topicsFingerprint = saved.topicsFingerprint
    for (const s of saved.members) {
      const member = new ConsumerMember(s.memberId, s.clientId, s.clientHost)
      member.instanceId = s.instanceId
      member.rackId = s.rackId
      member.rebalanceTimeoutMs = s.rebalanceTimeoutMs
      member.subscribedTopicNames = s.subscribedTopicNames
      member.subscribedTopicRegex = s.subscribedTopicRegex
      member.pattern = s.subscribedTopicRegex === null ? null : compileTopicRegex(s.subscribedTopicRegex)
      member.serverAssignor = s.serverAssignor
      member.memberEpoch = s.memberEpoch
      member.previousMemberEpoch = s.previousMemberEpoch
      this.members.set(member.memberId, member)
      if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId)
      this.target.set(member.memberId, new Set(s.target))
      this.#setHolding(member, s.state, new Set(s.assigned), new Set(s.pendingRevocation))
      this.#armSession(member)
    }
    if (this.members.size === 0) this.emptySince = Date.now()
  }
}

function ownsAny (owned: ReadonlySet<string> | null, keys: ReadonlySet<string>): boolean {
  // Owned partitions not reported: assume the member still has everything.
  if (owned === null) return keys.size > 0
  for (const key of keys) if (owned.has(key)) return true
  return false
}

function checkMemberEpoch (received: number, expected: number): number {
  if (received > expected) return ErrorCode.FENCED_MEMBER_EPOCH
  if (received < expected) return ErrorCode.STALE_MEMBER_EPOCH
  return ErrorCode.NONE
}

/** ConsumerProtocolSubscription v0 (topics, null user data), for DescribeGroups of a consumer group. */
export function encodeSubscription (topics: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(topics.length)]
  for (const topic of topics) parts.push(string16(topic))
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

/** ConsumerProtocolAssignment v0 (partitions by topic name, null user data), for DescribeGroups. */
export function encodeAssignment (byTopic: ReadonlyMap<string, readonly number[]>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(byTopic.size)]
  for (const [topic, partitions] of byTopic) {
    parts.push(string16(topic), int32(partitions.length))
    for (const partition of partitions) parts.push(int32(partition))
  }
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

function int32 (value: number): Buffer {
  const buffer = Buffer.alloc(4)
  buffer.writeInt32BE(value)
  return buffer
}

function string16 (text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  const length = Buffer.alloc(2)
  length.writeInt16BE(bytes.length)
  return Buffer.concat([length, bytes])
}
