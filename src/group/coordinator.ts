// The group coordinator of one worker: it owns every group whose `__consumer_offsets` partition this worker
// owns (see offset-store.ts), so group state needs no locks. Requests for a group are routed here by the
// connection's worker (src/handlers/coordinated.ts). Offsets and group records are appended to the group's
// offsets partition and fsynced (one shared fsync for concurrent commits) before they are acknowledged.

import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { ClassicGroup, type GroupHost, type GroupLimits } from './classic-group.ts'
import { ConsumerGroup, type ConsumerGroupHost, type ConsumerGroupLimits, type TopicCatalog } from './consumer-group.ts'
import { appendStoreRecords, kOffsetsTopic, offsetsPartitionFor, replayStore, type CommittedOffset, type GroupRecord, type StoreRecord } from './offset-store.ts'
import type { LocalPartition, Shard } from '../shard/shard.ts'

/** Kafka's offset.metadata.max.bytes default. */
export const kOffsetMetadataMaxBytes = 4096
/** An offsets partition is checkpointed once it holds this many records more than its live state, and 4x it. */
const kCheckpointMinRecords = 10_000

interface CompactionState {
  /** Appends to the partition not yet applied to memory. */
  inFlight: number
  appendedSinceCheckpoint: number
  /** Records the last checkpoint wrote: the live state's size then. */
  liveAtCheckpoint: number
}

/** How often empty groups are checked for expired offsets. */
const kRetentionCheckMs = 60_000

export function offsetKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export function splitOffsetKey (key: string): [string, number] {
  const at = key.lastIndexOf('\u0000')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}

/**
 * A group id names either a classic group (`groups`) or a KIP-848 consumer group (`consumerGroups`), never both:
 * an Empty group of one type is converted (keeping its offsets) when the other protocol claims the id; a group
 * with members refuses the other protocol (join-group.ts, consumer-group-heartbeat.ts).
 */
export class GroupCoordinator implements GroupHost, ConsumerGroupHost {
  readonly shard: Shard
  readonly limits: GroupLimits
  readonly consumerLimits: ConsumerGroupLimits
  readonly groups: Map<string, ClassicGroup>
  readonly consumerGroups: Map<string, ConsumerGroup>
  readonly #partitions: Map<number, LocalPartition>
  readonly #compactionStates: Map<number, CompactionState>
  #retentionTimer: NodeJS.Timeout | null

  constructor (shard: Shard) {
    this.shard = shard
    const config = shard.config
    this.limits = {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      maxSize: config.groupMaxSize,
      maxMetadataBytes: 1024 * 1024
    }
    this.consumerLimits = {
      sessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
      heartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
      maxSize: config.groupMaxSize
    }
    this.groups = new Map()
    this.consumerGroups = new Map()
    this.#partitions = new Map()
    this.#compactionStates = new Map()
    this.#retentionTimer = null
  }

  /** Loads the groups of an offsets partition this worker just opened. */
  loadPartition (partition: LocalPartition): void {
    this.#partitions.set(partition.index, partition)
    replayStore(partition, (record) => this.#apply(record))
    this.#compaction(partition.index).appendedSinceCheckpoint = partition.log.nextOffset - partition.log.logStartOffset
    for (const group of this.groups.values()) {
      if (offsetsPartitionFor(group.groupId, partition.topic.partitions) === partition.index && group.state === 'Empty' && group.offsets.size === 0 && group.members.size === 0 && group.generationId === 0) {
        this.groups.delete(group.groupId)
      }
    }
    if (this.#retentionTimer === null) {
      this.#retentionTimer = setInterval(() => this.expireOffsets(Date.now()), kRetentionCheckMs)
      this.#retentionTimer.unref()
    }
  }

  #apply (record: StoreRecord): void {
    if (record.kind === 'offset') {
      const group = this.consumerGroups.get(record.groupId) ?? this.#group(record.groupId, true) as ClassicGroup
      const key = offsetKey(record.topic, record.partition)
      if (record.value === null) group.offsets.delete(key)
      else group.offsets.set(key, record.value)
      return
    }
    if (record.value === null) {
      this.groups.get(record.groupId)?.shutdown()
      this.groups.delete(record.groupId)
      this.consumerGroups.get(record.groupId)?.shutdown()
      this.consumerGroups.delete(record.groupId)
      return
    }
    if (record.value.type === 'consumer') {
      const group = new ConsumerGroup(record.groupId, this)
      this.#moveOffsets(record.groupId, group)
      group.restore(record.value)
      this.consumerGroups.set(record.groupId, group)
      return
    }
    const existing = this.groups.get(record.groupId)
    existing?.shutdown()
    const group = new ClassicGroup(record.groupId, this)
    if (existing !== undefined) for (const [key, value] of existing.offsets) group.offsets.set(key, value)
    // The id was a consumer group's until now.
    if (this.consumerGroups.has(record.groupId)) this.#moveOffsets(record.groupId, group)
    group.restore(record.value)
    this.groups.set(record.groupId, group)
  }

  /** The local offsets partition of a group, or undefined when another worker coordinates it. */
  partitionFor (groupId: string): LocalPartition | undefined {
    const topic = this.shard.table.topic(kOffsetsTopic)
    if (topic === undefined) return undefined
    return this.#partitions.get(offsetsPartitionFor(groupId, topic.partitions))
  }

  /**
   * The classic group, created Empty when `create` (JoinGroup, commits); undefined if it does not exist, or when
   * a consumer group with members holds the id. An empty consumer group is converted, keeping its offsets.
   */
  #group (groupId: string, create: boolean): ClassicGroup | undefined {
    let group = this.groups.get(groupId)
    if (group === undefined && create) {
      const consumer = this.consumerGroups.get(groupId)
      if (consumer !== undefined && consumer.members.size > 0) return undefined
      group = new ClassicGroup(groupId, this)
      if (consumer !== undefined) {
        this.#moveOffsets(groupId, group)
        this.persistGroup(group).catch(() => {})
      }
      this.groups.set(groupId, group)
    }
    return group
  }

  group (groupId: string, create = false): ClassicGroup | undefined {
    return this.#group(groupId, create)
  }

  consumerGroup (groupId: string): ConsumerGroup | undefined {
    return this.consumerGroups.get(groupId)
  }

  /**
   * The consumer group, created if missing (a ConsumerGroupHeartbeat join). An Empty classic group is converted,
   * keeping its offsets; null when a classic group with members holds the id.
   */
  claimConsumerGroup (groupId: string): ConsumerGroup | null {
    let group = this.consumerGroups.get(groupId)
    if (group !== undefined) return group
    const classic = this.groups.get(groupId)
    if (classic !== undefined && (classic.state !== 'Empty' || classic.members.size > 0 || classic.pendingMembers.size > 0)) return null
    group = new ConsumerGroup(groupId, this)
    this.#moveOffsets(groupId, group)
    this.consumerGroups.set(groupId, group)
    return group
  }

  /** Moves the offsets of whatever group holds `groupId` into `to` (a conversion), retiring the old group. */
  #moveOffsets (groupId: string, to: ClassicGroup | ConsumerGroup): void {
    for (const from of [this.groups.get(groupId), this.consumerGroups.get(groupId)]) {
      if (from === undefined || from === to) continue
      for (const [key, value] of from.offsets) to.offsets.set(key, value)
      from.shutdown()
      if (from instanceof ClassicGroup) this.groups.delete(groupId)
      else this.consumerGroups.delete(groupId)
    }
  }

  topicCatalog (): TopicCatalog {
    return this.shard.table
  }

  /**
   * Appends records to an offsets partition and, once they are fsynced, applies them to memory (`apply`) before
   * anything else can run. Every write of the coordinator goes through here, so that "no write in flight" means
   * "memory holds everything the partition holds", which is what a checkpoint relies on.
   */
  async #append (partition: LocalPartition, records: readonly StoreRecord[], apply: (() => void) | null): Promise<void> {
    const state = this.#compaction(partition.index)
    state.inFlight++
    try {
      await appendStoreRecords(partition, records)
      apply?.()
      state.appendedSinceCheckpoint += records.length
    } finally {
      state.inFlight--
    }
    if (state.inFlight === 0 && state.appendedSinceCheckpoint > Math.max(kCheckpointMinRecords, 4 * state.liveAtCheckpoint)) {
      this.#checkpoint(partition).catch((error: Error) => this.shard.logger.warn(`checkpoint of ${kOffsetsTopic}-${partition.index}: ${error.message}`))
    }
  }

  #compaction (index: number): CompactionState {
    let state = this.#compactionStates.get(index)
    if (state === undefined) {
      state = { inFlight: 0, appendedSinceCheckpoint: 0, liveAtCheckpoint: 0 }
      this.#compactionStates.set(index, state)
    }
    return state
  }

  /**
   * Compaction by checkpoint: appends the live state of every group of the partition (its offsets and its group
   * record) as fresh records, then moves the log start past everything older, so replay on start reads only the
   * checkpoint and what follows, and sealed segments before it are deleted. Runs only with no write in flight
   * (see #append): memory then holds every acknowledged record, so none is dropped. A crash between the append
   * and the move replays the old records followed by the checkpoint; the last record of a key wins either way.
   */
  async #checkpoint (partition: LocalPartition): Promise<void> {
    const records: StoreRecord[] = []
    const partitions = partition.topic.partitions
    const collect = (groupId: string, offsets: Map<string, CommittedOffset>, record: GroupRecord | null): void => {
      if (offsetsPartitionFor(groupId, partitions) !== partition.index) return
      for (const [key, value] of offsets) {
        const [topic, p] = splitOffsetKey(key)
        records.push({ kind: 'offset', groupId, topic, partition: p, value })
      }
      if (record !== null) records.push({ kind: 'group', groupId, value: record })
    }
    for (const group of this.groups.values()) collect(group.groupId, group.offsets, group.generationId > 0 ? group.toRecord() : null)
    for (const group of this.consumerGroups.values()) collect(group.groupId, group.offsets, group.toRecord())
    const state = this.#compaction(partition.index)
    const checkpointStart = partition.log.nextOffset
    state.inFlight++
    try {
      await appendStoreRecords(partition, records)
    } finally {
      state.inFlight--
    }
    state.appendedSinceCheckpoint = 0
    state.liveAtCheckpoint = records.length
    partition.log.deleteRecordsBefore(checkpointStart)
  }

  async persistGroup (group: ClassicGroup | ConsumerGroup): Promise<void> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) throw new Error(`not the coordinator of ${group.groupId}`)
    await this.#append(partition, [{ kind: 'group', groupId: group.groupId, value: group.toRecord() }], null)
  }

  /**
   * Stores offsets after validation by the caller. Returns per-entry error codes in input order: entries for
   * unknown topics or partitions, or with oversized metadata, are refused; the rest is written in one batch.
   */
  async commitOffsets (group: ClassicGroup | ConsumerGroup, entries: Array<{ topic: string, partition: number, value: CommittedOffset }>): Promise<number[]> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return entries.map(() => ErrorCode.NOT_COORDINATOR)
    const codes: number[] = []
    const records: StoreRecord[] = []
    for (const entry of entries) {
      const topic = this.shard.table.topic(entry.topic)
      if (topic === undefined || entry.partition < 0 || entry.partition >= topic.partitions) {
        codes.push(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      } else if (entry.value.metadata !== null && Buffer.byteLength(entry.value.metadata) > kOffsetMetadataMaxBytes) {
        codes.push(ErrorCode.OFFSET_METADATA_TOO_LARGE)
      } else {
        codes.push(ErrorCode.NONE)
        records.push({ kind: 'offset', groupId: group.groupId, topic: entry.topic, partition: entry.partition, value: entry.value })
      }
    }
    try {
      await this.#append(partition, records, () => {
        for (const record of records) {
          if (record.kind === 'offset' && record.value !== null) group.offsets.set(offsetKey(record.topic, record.partition), record.value)
        }
      })
    } catch (error) {
      // Nothing was applied to memory (#append applies only after the fsync), and the log undid the write, so
      // the group is as before. The code is Kafka's for a failed write of the offsets partition
      // (GroupCoordinatorService, and GroupMetadataManager before it): KAFKA_STORAGE_ERROR, which OffsetCommit's
      // error list lacks, becomes NOT_COORDINATOR, retriable in every client (it looks the coordinator up again,
      // finds this broker, and retries once space is back); a deleted offsets partition, COORDINATOR_NOT_AVAILABLE.
      this.shard.logger.error(`offset commit for ${group.groupId} failed: ${(error as Error).message}`)
      const failed = error instanceof KafkaError && error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        ? ErrorCode.COORDINATOR_NOT_AVAILABLE
        : ErrorCode.NOT_COORDINATOR
      return codes.map((code) => code === ErrorCode.NONE ? failed : code)
    }
    return codes
  }

  /** Deletes a group (must be Empty): its offsets and its record. */
  async deleteGroup (groupId: string): Promise<number> {
    const consumer = this.consumerGroups.get(groupId)
    if (consumer !== undefined) {
      if (consumer.members.size > 0) return ErrorCode.NON_EMPTY_GROUP
      const partition = this.partitionFor(groupId)
      if (partition === undefined) return ErrorCode.NOT_COORDINATOR
      const records: StoreRecord[] = [...consumer.offsets.keys()].map(splitOffsetKey).map(([topic, p]) => ({ kind: 'offset', groupId, topic, partition: p, value: null }))
      records.push({ kind: 'group', groupId, value: null })
      await this.#append(partition, records, () => {
        consumer.shutdown()
        this.consumerGroups.delete(groupId)
      })
      return ErrorCode.NONE
    }
    const group = this.groups.get(groupId)
    if (group === undefined || (group.state === 'Empty' && group.offsets.size === 0 && group.generationId === 0)) return ErrorCode.GROUP_ID_NOT_FOUND
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP
    const partition = this.partitionFor(groupId)
    if (partition === undefined) return ErrorCode.NOT_COORDINATOR
    const records: StoreRecord[] = []
    for (const key of group.offsets.keys()) {
      const [topic, p] = splitOffsetKey(key)
      records.push({ kind: 'offset', groupId, topic, partition: p, value: null })
    }
    records.push({ kind: 'group', groupId, value: null })
    await this.#append(partition, records, () => {
      group.shutdown()
      group.state = 'Dead'
      this.groups.delete(groupId)
    })
    return ErrorCode.NONE
  }

  async deleteOffsets (group: ClassicGroup | ConsumerGroup, keys: Array<[string, number]>): Promise<void> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return
    const records: StoreRecord[] = keys
      .filter(([topic, p]) => group.offsets.has(offsetKey(topic, p)))
      .map(([topic, p]) => ({ kind: 'offset', groupId: group.groupId, topic, partition: p, value: null }))
    await this.#append(partition, records, () => {
      for (const [topic, p] of keys) group.offsets.delete(offsetKey(topic, p))
    })
  }

  /** offsets.retention.minutes: an empty group's offsets go once it has been empty that long. */
  expireOffsets (now: number): void {
    const retentionMs = this.shard.config.offsetsRetentionMinutes * 60_000
    for (const group of this.groups.values()) {
      if (group.state !== 'Empty' || group.offsets.size === 0) continue
      let lastCommit = group.emptySince
      for (const value of group.offsets.values()) lastCommit = Math.max(lastCommit, value.commitTimestamp)
      if (now - lastCommit < retentionMs) continue
      const keys = [...group.offsets.keys()].map(splitOffsetKey)
      this.deleteOffsets(group, keys).then(() => {
        if (group.state === 'Empty' && group.offsets.size === 0 && group.members.size === 0) this.groups.delete(group.groupId)
      }, (error: Error) => this.shard.logger.warn(`expiring offsets of ${group.groupId}: ${error.message}`))
    }
    for (const group of this.consumerGroups.values()) {
      if (group.members.size > 0 || group.offsets.size === 0) continue
      let lastCommit = group.emptySince
      for (const value of group.offsets.values()) lastCommit = Math.max(lastCommit, value.commitTimestamp)
      if (now - lastCommit < retentionMs) continue
      this.deleteOffsets(group, [...group.offsets.keys()].map(splitOffsetKey)).then(() => {
        if (group.members.size === 0 && group.offsets.size === 0 && this.consumerGroups.get(group.groupId) === group) this.consumerGroups.delete(group.groupId)
      }, (error: Error) => this.shard.logger.warn(`expiring offsets of ${group.groupId}: ${error.message}`))
    }
  }

  unloadPartition (index: number): void {
    const partition = this.#partitions.get(index)
    if (partition === undefined) return
    this.#partitions.delete(index)
    for (const group of [...this.groups.values()]) {
      if (offsetsPartitionFor(group.groupId, partition.topic.partitions) === index) {
        group.shutdown()
        this.groups.delete(group.groupId)
      }
    }
    for (const group of [...this.consumerGroups.values()]) {
      if (offsetsPartitionFor(group.groupId, partition.topic.partitions) === index) {
        group.shutdown()
        this.consumerGroups.delete(group.groupId)
      }
    }
  }

  shutdown (): void {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer)
    for (const group of this.groups.values()) group.shutdown()
    for (const group of this.consumerGroups.values()) group.shutdown()
  }
}
