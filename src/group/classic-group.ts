// One consumer group speaking the classic protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), with
// Kafka's states and error codes:
//
//   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance --leader sync--> Stable
//     ^                   ^                                            |                            |
//     +---last leaves-----+-------------- join, leave, expiry ---------+----------------------------+
//
// A group is owned by one coordinator (one worker thread); nothing here is shared across threads. Timers call
// back into the group; every callback checks the state it was armed for, since the group may have moved on.

import { randomUUID } from 'node:crypto'
import { ErrorCode } from '../protocol/errors.ts'
import type { CommittedOffset, GroupRecord } from './offset-store.ts'
import { clipName } from '../protocol/clip.ts'

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface GroupLimits {
  readonly minSessionTimeoutMs: number
  readonly maxSessionTimeoutMs: number
  readonly initialRebalanceDelayMs: number
  readonly maxSize: number
  /** Largest member metadata (subscription) accepted. */
  readonly maxMetadataBytes: number
}

export interface JoinRequest {
  groupId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string
  protocols: Array<{ name: string, metadata: Buffer }>
}

export interface JoinResponse {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  skipAssignment: boolean
  memberId: string
  members: Array<{ memberId: string, groupInstanceId: string | null, metadata: Buffer }>
}

export interface SyncResponse {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Buffer
}

const kEmpty = Buffer.alloc(0)

/**
 * Request buffers are views into the connection's read arena; a member keeps its metadata for as long as it is in
 * the group, so it keeps a copy of its own rather than pinning the arena.
 */
function ownedProtocols (protocols: ReadonlyArray<{ name: string, metadata: Buffer }>): Array<{ name: string, metadata: Buffer }> {
  return protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }))
}

export class Member {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: Array<{ name: string, metadata: Buffer }>
  assignment: Buffer
  joinWaiter: ((response: JoinResponse) => void) | null
  syncWaiter: ((response: SyncResponse) => void) | null
  sessionTimer: NodeJS.Timeout | null

  constructor (memberId: string, request: JoinRequest, clientId: string, clientHost: string) {
    this.memberId = memberId
    this.groupInstanceId = request.groupInstanceId
    this.clientId = clientId
    this.clientHost = clientHost
    this.sessionTimeoutMs = request.sessionTimeoutMs
    this.rebalanceTimeoutMs = request.rebalanceTimeoutMs
    this.protocolType = request.protocolType
    this.protocols = ownedProtocols(request.protocols)
    this.assignment = kEmpty
    this.joinWaiter = null
    this.syncWaiter = null
    this.sessionTimer = null
  }

  metadataFor (protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? kEmpty
  }

  sameProtocols (protocols: Array<{ name: string, metadata: Buffer }>): boolean {
    if (protocols.length !== this.protocols.length) return false
    return protocols.every((p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata))
  }
}

/** What a group needs from its coordinator: persistence and a place to say the group changed. */
export interface GroupHost {
  readonly limits: GroupLimits
  persistGroup (group: ClassicGroup): Promise<void>
}

export class ClassicGroup {
  readonly groupId: string
  readonly host: GroupHost
  state: GroupState
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leaderId: string | null
  readonly members: Map<string, Member>
  readonly staticMembers: Map<string, string>
  /** Member ids handed out with MEMBER_ID_REQUIRED and not yet joined, with their expiry timers. */
  readonly pendingMembers: Map<string, NodeJS.Timeout>
  readonly offsets: Map<string, CommittedOffset>
  /** When the group last became Empty (offsets retention counts from here). */
  emptySince: number
  #joinTimer: NodeJS.Timeout | null
  #initialDelayUntil: number
  #rebalanceDeadline: number

  constructor (groupId: string, host: GroupHost) {
    this.groupId = groupId
    this.host = host
    this.state = 'Empty'
    this.generationId = 0
    this.protocolType = null
    this.protocolName = null
    this.leaderId = null
    this.members = new Map()
    this.staticMembers = new Map()
    this.pendingMembers = new Map()
    this.offsets = new Map()
    this.emptySince = Date.now()
    this.#joinTimer = null
    this.#initialDelayUntil = 0
    this.#rebalanceDeadline = 0
  }

  // ---- JoinGroup ---------------------------------------------------------------------------------------

  join (request: JoinRequest, apiVersion: number, clientId: string, clientHost: string): Promise<JoinResponse> | JoinResponse {
    const limits = this.host.limits
    const fail = (errorCode: number, memberId = request.memberId): JoinResponse => ({
      errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: []
    })
    if (request.sessionTimeoutMs < limits.minSessionTimeoutMs || request.sessionTimeoutMs > limits.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT)
    }
    if (request.protocols.length === 0 || request.protocolType.length === 0) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    if (request.protocols.some((p) => p.metadata.length > limits.maxMetadataBytes)) return fail(ErrorCode.INVALID_REQUEST)
    if (this.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    if (!this.#supportsProtocols(request)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)

    if (request.memberId === '') {
      // Static member: a new member id replaces (fences) whatever member held this instance id.
      if (request.groupInstanceId !== null) return this.#joinStatic(request, clientId, clientHost)
      const memberId = `${clipName(clientId)}-${randomUUID()}`
      if (this.members.size + this.pendingMembers.size >= limits.maxSize) return fail(ErrorCode.GROUP_MAX_SIZE_REACHED, '')
      if (apiVersion >= 4) {
        // KIP-394: hand out the id, and expect the member back with it within its session timeout.
        this.pendingMembers.set(memberId, setTimeout(() => this.#expirePending(memberId), request.sessionTimeoutMs))
        return fail(ErrorCode.MEMBER_ID_REQUIRED, memberId)
      }
      return this.#addMember(memberId, request, clientId, clientHost)
    }

    const pending = this.pendingMembers.get(request.memberId)
    if (pending !== undefined) {
      clearTimeout(pending)
      this.pendingMembers.delete(request.memberId)
      return this.#addMember(request.memberId, request, clientId, clientHost)
    }
    if (request.groupInstanceId !== null && this.staticMembers.has(request.groupInstanceId) && this.staticMembers.get(request.groupInstanceId) !== request.memberId) {
      return fail(ErrorCode.FENCED_INSTANCE_ID)
    }
    const member = this.members.get(request.memberId)
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    return this.#rejoin(member, request, clientId, clientHost)
  }

  #supportsProtocols (request: JoinRequest): boolean {
    if (this.members.size === 0) return true
    if (this.protocolType !== null && this.protocolType !== request.protocolType) return false
    // At least one protocol must be supported by every member.
    const offered = new Set(request.protocols.map((p) => p.name))
    for (const member of this.members.values()) {
      if (member.memberId === request.memberId) continue
      for (const name of [...offered]) {
        if (!member.protocols.some((p) => p.name === name)) offered.delete(name)
      }
    }
    return offered.size > 0
  }

  #addMember (memberId: string, request: JoinRequest, clientId: string, clientHost: string): Promise<JoinResponse> {
    const member = new Member(memberId, request, clientId, clientHost)
    this.members.set(memberId, member)
    if (request.groupInstanceId !== null) this.staticMembers.set(request.groupInstanceId, memberId)
    if (this.protocolType === null) this.protocolType = request.protocolType
    const waiting = this.#awaitJoin(member)
    this.#prepareRebalance()
    this.#tryCompleteJoin()
    return waiting
  }

  #joinStatic (request: JoinRequest, clientId: string, clientHost: string): Promise<JoinResponse> | JoinResponse {
    const instanceId = request.groupInstanceId as string
    const oldId = this.staticMembers.get(instanceId)
    const newId = `${clipName(instanceId)}-${randomUUID()}`
    if (oldId === undefined) return this.#addMember(newId, request, clientId, clientHost)
    const old = this.members.get(oldId)
    if (old === undefined) {
      this.staticMembers.delete(instanceId)
      return this.#addMember(newId, request, clientId, clientHost)
    }
    // Replace the old member in place; its outstanding calls are fenced.
    this.#clearSession(old)
    old.joinWaiter?.({ errorCode: ErrorCode.FENCED_INSTANCE_ID, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: oldId, members: [] })
    old.joinWaiter = null
    old.syncWaiter?.({ errorCode: ErrorCode.FENCED_INSTANCE_ID, protocolType: null, protocolName: null, assignment: kEmpty })
    old.syncWaiter = null
    this.members.delete(oldId)
    const member = new Member(newId, request, clientId, clientHost)
    member.assignment = old.assignment
    this.members.set(newId, member)
    this.staticMembers.set(instanceId, newId)
    if (this.leaderId === oldId) this.leaderId = newId
    if (this.state === 'Stable' && old.sameProtocols(request.protocols)) {
      // KIP-345: a static member coming back with the same subscription gets its old assignment, no rebalance.
      this.#armSession(member)
      this.host.persistGroup(this).catch(() => {})
      return {
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolType: this.protocolType,
        protocolName: this.protocolName,
        leader: this.leaderId ?? '',
        skipAssignment: this.leaderId === newId,
        memberId: newId,
        members: this.leaderId === newId ? this.#memberList() : []
      }
    }
    member.protocols = ownedProtocols(request.protocols)
    const waiting = this.#awaitJoin(member)
    this.#prepareRebalance()
    this.#tryCompleteJoin()
    return waiting
  }

  #rejoin (member: Member, request: JoinRequest, clientId: string, clientHost: string): Promise<JoinResponse> | JoinResponse {
    member.clientId = clientId
    member.clientHost = clientHost
    member.sessionTimeoutMs = request.sessionTimeoutMs
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs
    if (this.state === 'Stable' && member.memberId !== this.leaderId && member.sameProtocols(request.protocols)) {
      // A follower rejoining with nothing new: answer with the current generation, no rebalance.
      this.#armSession(member)
      return {
        errorCode: ErrorCode.NONE, generationId: this.generationId, protocolType: this.protocolType, protocolName: this.protocolName,
        leader: this.leaderId ?? '', skipAssignment: false, memberId: member.memberId, members: []
      }
    }
    member.protocols = ownedProtocols(request.protocols)
    const waiting = this.#awaitJoin(member)
    this.#prepareRebalance()
    this.#tryCompleteJoin()
    return waiting
  }

  #awaitJoin (member: Member): Promise<JoinResponse> {
    // A second join from the same member replaces the first, which is answered as superseded.
    member.joinWaiter?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: member.memberId, members: [] })
    this.#clearSession(member)
    return new Promise((resolve) => { member.joinWaiter = resolve })
  }

  #prepareRebalance (): void {
    if (this.state === 'PreparingRebalance') return
    if (this.state === 'CompletingRebalance') {
      // Members still waiting for their assignment must rejoin.
      for (const member of this.members.values()) {
        member.syncWaiter?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, protocolType: null, protocolName: null, assignment: kEmpty })
        member.syncWaiter = null
      }
    }
    const wasEmpty = this.state === 'Empty'
    this.state = 'PreparingRebalance'
    const now = Date.now()
    let timeout = 0
    for (const member of this.members.values()) timeout = Math.max(timeout, member.rebalanceTimeoutMs)
    this.#rebalanceDeadline = now + timeout
    // group.initial.rebalance.delay.ms: the first members of an empty group wait a little for the others.
    this.#initialDelayUntil = wasEmpty ? now + Math.min(this.host.limits.initialRebalanceDelayMs, timeout) : 0
    this.#scheduleJoinCheck()
  }

  #scheduleJoinCheck (): void {
    if (this.#joinTimer !== null) clearTimeout(this.#joinTimer)
    const now = Date.now()
    const at = this.#initialDelayUntil > now ? Math.min(this.#initialDelayUntil, this.#rebalanceDeadline) : this.#rebalanceDeadline
    this.#joinTimer = setTimeout(() => {
      this.#joinTimer = null
      if (this.state !== 'PreparingRebalance') return
      if (Date.now() >= this.#rebalanceDeadline) this.#completeJoin()
      else { this.#initialDelayUntil = 0; this.#tryCompleteJoin(); if (this.state === 'PreparingRebalance') this.#scheduleJoinCheck() }
    }, Math.max(0, at - now))
  }

  #tryCompleteJoin (): void {
    if (this.state !== 'PreparingRebalance') return
    if (this.#initialDelayUntil > Date.now()) return
    if (this.pendingMembers.size > 0) return
    for (const member of this.members.values()) if (member.joinWaiter === null) return
    this.#completeJoin()
  }

  /** Ends the join phase: members that did not rejoin are dropped, a new generation starts. */
  #completeJoin (): void {
    if (this.#joinTimer !== null) { clearTimeout(this.#joinTimer); this.#joinTimer = null }
    for (const member of [...this.members.values()]) {
      if (member.joinWaiter === null) this.#removeMember(member)
    }
    for (const [memberId, timer] of this.pendingMembers) { clearTimeout(timer); this.pendingMembers.delete(memberId) }
    this.generationId++
    if (this.members.size === 0) {
      this.#becomeEmpty()
      this.host.persistGroup(this).catch(() => {})
      return
    }
    this.protocolName = this.#selectProtocol()
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value as string
    this.state = 'CompletingRebalance'
    const memberList = this.#memberList()
    for (const member of this.members.values()) {
      const resolve = member.joinWaiter
      member.joinWaiter = null
      member.assignment = kEmpty
      this.#armSession(member)
      resolve?.({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolType: this.protocolType,
        protocolName: this.protocolName,
        leader: this.leaderId,
        skipAssignment: false,
        memberId: member.memberId,
        members: member.memberId === this.leaderId ? memberList : []
      })
    }
  }

  #memberList (): Array<{ memberId: string, groupInstanceId: string | null, metadata: Buffer }> {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(this.protocolName) }))
  }

  /** Each member votes for the first protocol (in its own preference order) that every member supports. */
  #selectProtocol (): string {
    const members = [...this.members.values()]
    const common = members[0].protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)))
    const votes = new Map<string, number>()
    for (const member of members) {
      const choice = member.protocols.find((p) => common.includes(p.name))?.name
      if (choice !== undefined) votes.set(choice, (votes.get(choice) ?? 0) + 1)
    }
    let best = common[0]
    for (const name of common) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  // ---- SyncGroup ---------------------------------------------------------------------------------------

  sync (request: { generationId: number, memberId: string, groupInstanceId: string | null, protocolType: string | null, protocolName: string | null, assignments: Array<{ memberId: string, assignment: Buffer }> }): Promise<SyncResponse> | SyncResponse {
    const fail = (errorCode: number): SyncResponse => ({ errorCode, protocolType: null, protocolName: null, assignment: kEmpty })
    // Kafka checks fencing before membership: an old id of a static member is fenced, not unknown.
    if (request.groupInstanceId !== null && this.staticMembers.has(request.groupInstanceId) && this.staticMembers.get(request.groupInstanceId) !== request.memberId) return fail(ErrorCode.FENCED_INSTANCE_ID)
    const member = this.members.get(request.memberId)
    if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    if (request.generationId !== this.generationId) return fail(ErrorCode.ILLEGAL_GENERATION)
    if ((request.protocolType !== null && request.protocolType !== this.protocolType) || (request.protocolName !== null && request.protocolName !== this.protocolName)) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    }
    switch (this.state) {
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS)
      case 'Stable':
        this.#armSession(member)
        return { errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: member.assignment }
      case 'CompletingRebalance': {
        this.#armSession(member)
        const waiting = new Promise<SyncResponse>((resolve) => { member.syncWaiter = resolve })
        if (member.memberId === this.leaderId) {
          for (const entry of request.assignments) {
            const target = this.members.get(entry.memberId)
            if (target !== undefined) target.assignment = Buffer.from(entry.assignment)
          }
          const generation = this.generationId
          this.host.persistGroup(this).then(() => {
            if (this.state !== 'CompletingRebalance' || this.generationId !== generation) return
            this.state = 'Stable'
            for (const m of this.members.values()) {
              const resolve = m.syncWaiter
              m.syncWaiter = null
              resolve?.({ errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: m.assignment })
            }
          }, () => {
            for (const m of this.members.values()) {
              m.syncWaiter?.(fail(ErrorCode.COORDINATOR_NOT_AVAILABLE))
              m.syncWaiter = null
            }
            this.#prepareRebalance()
          })
        }
        return waiting
      }
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID)
    }
  }

  // ---- Heartbeat / LeaveGroup ----------------------------------------------------------------------------

  heartbeat (memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Empty' || this.state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID
    if (groupInstanceId !== null && this.staticMembers.has(groupInstanceId) && this.staticMembers.get(groupInstanceId) !== memberId) return ErrorCode.FENCED_INSTANCE_ID
    const member = this.members.get(memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION
    this.#armSession(member)
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE
  }

  /** One member leaving (LeaveGroup v0-2 by member id; v3+ by member id and/or instance id). */
  leave (memberId: string, groupInstanceId: string | null): number {
    let member: Member | undefined
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId)
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
      if (memberId !== '' && memberId !== current) return ErrorCode.FENCED_INSTANCE_ID
      member = this.members.get(current)
    } else {
      const pending = this.pendingMembers.get(memberId)
      if (pending !== undefined) {
        clearTimeout(pending)
        this.pendingMembers.delete(memberId)
        this.#tryCompleteJoin()
        return ErrorCode.NONE
      }
      member = this.members.get(memberId)
    }
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    this.#memberGone(member)
    return ErrorCode.NONE
  }

  // ---- sessions -----------------------------------------------------------------------------------------

  #armSession (member: Member): void {
    if (member.sessionTimer !== null) {
      member.sessionTimer.refresh()
      return
    }
    member.sessionTimer = setTimeout(() => this.#expire(member), member.sessionTimeoutMs)
  }

  #clearSession (member: Member): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer)
    member.sessionTimer = null
  }

  #expire (member: Member): void {
    member.sessionTimer = null
    if (this.members.get(member.memberId) !== member) return
    // Members parked in a join or sync are alive by definition (Kafka does not expire them either).
    if (member.joinWaiter !== null || member.syncWaiter !== null) {
      this.#armSession(member)
      return
    }
    this.#memberGone(member)
  }

  #expirePending (memberId: string): void {
    if (!this.pendingMembers.delete(memberId)) return
    this.#tryCompleteJoin()
  }

  #memberGone (member: Member): void {
    this.#removeMember(member)
    member.joinWaiter?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: member.memberId, members: [] })
    member.joinWaiter = null
    member.syncWaiter?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: kEmpty })
    member.syncWaiter = null
    if (this.state === 'PreparingRebalance') {
      if (this.members.size === 0) this.#completeJoin()
      else this.#tryCompleteJoin()
      return
    }
    if (this.members.size === 0) {
      this.generationId++
      this.#becomeEmpty()
      this.host.persistGroup(this).catch(() => {})
      return
    }
    this.#prepareRebalance()
  }

  #removeMember (member: Member): void {
    this.#clearSession(member)
    this.members.delete(member.memberId)
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) {
      this.staticMembers.delete(member.groupInstanceId)
    }
    if (this.leaderId === member.memberId) this.leaderId = null
  }

  #becomeEmpty (): void {
    this.state = 'Empty'
    this.protocolName = null
    this.leaderId = null
    this.emptySince = Date.now()
  }

  /** Offset commits from members must come from the current generation (classic protocol rules). */
  validateCommit (memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
    // A group used only to store offsets (no members) commits with generation -1.
    if (generationId < 0 && this.state === 'Empty') return ErrorCode.NONE
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS
    if (groupInstanceId !== null && this.staticMembers.has(groupInstanceId) && this.staticMembers.get(groupInstanceId) !== memberId) return ErrorCode.FENCED_INSTANCE_ID
    const member = this.members.get(memberId)
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION
    this.#armSession(member)
    return ErrorCode.NONE
  }

  /** Stops every timer (the coordinator is shutting down or the group is deleted). */
  /**
   * The broker is shutting down (Shard#drain): members waiting in a JoinGroup or SyncGroup are answered
   * NOT_COORDINATOR, as Kafka answers them when the coordinator resigns; they look for the coordinator again.
   * The rebalance they waited in does not complete now (its timer is stopped): the restart loads the group as it
   * was last persisted, and the members join again.
   */
  answerWaiters (errorCode: number): void {
    if (this.#joinTimer !== null) clearTimeout(this.#joinTimer)
    this.#joinTimer = null
    for (const member of this.members.values()) {
      const join = member.joinWaiter
      const sync = member.syncWaiter
      member.joinWaiter = null
      member.syncWaiter = null
      join?.({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: member.memberId, members: [] })
      sync?.({ errorCode, protocolType: null, protocolName: null, assignment: kEmpty })
    }
  }

  shutdown (): void {
    if (this.#joinTimer !== null) clearTimeout(this.#joinTimer)
    this.#joinTimer = null
    for (const member of this.members.values()) this.#clearSession(member)
    for (const timer of this.pendingMembers.values()) clearTimeout(timer)
    this.pendingMembers.clear()
  }

  // ---- persistence --------------------------------------------------------------------------------------

  toRecord (): GroupRecord {
    return {
      type: 'classic',
      protocolType: this.protocolType,
      generationId: this.generationId,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      members: this.state === 'Stable' || this.state === 'CompletingRebalance'
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            sessionTimeoutMs: m.sessionTimeoutMs,
            rebalanceTimeoutMs: m.rebalanceTimeoutMs,
            subscription: m.metadataFor(this.protocolName).toString('base64'),
            assignment: m.assignment.toString('base64')
          }))
        : []
    }
  }

  /**
   * Restores a group after a restart. Members come back Stable with fresh session timers: those that keep
   * heartbeating carry on in their generation, the others expire and trigger a rebalance, as after a
   * coordinator failover in Kafka.
   */
  restore (record: GroupRecord): void {
    this.protocolType = record.protocolType
    this.generationId = record.generationId
    this.protocolName = record.protocolName
    this.leaderId = record.leaderId
    for (const saved of record.members) {
      const member = new Member(saved.memberId, {
        groupId: this.groupId,
        sessionTimeoutMs: saved.sessionTimeoutMs,
        rebalanceTimeoutMs: saved.rebalanceTimeoutMs,
        memberId: saved.memberId,
        groupInstanceId: saved.groupInstanceId,
        protocolType: record.protocolType ?? '',
        protocols: [{ name: record.protocolName ?? '', metadata: Buffer.from(saved.subscription, 'base64') }]
      }, saved.clientId, saved.clientHost)
      member.assignment = Buffer.from(saved.assignment, 'base64')
      this.members.set(member.memberId, member)
      if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId)
      this.#armSession(member)
    }
    this.state = this.members.size > 0 ? 'Stable' : 'Empty'
  }
}
