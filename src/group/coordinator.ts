// The group coordinator of one worker: it owns every group whose `__consumer_offsets` partition this worker
// owns (see offset-store.ts), so group state needs no locks. Requests for a group are routed here by the
// connection's worker (src/handlers/coordinated.ts). Offsets and group records are appended to the group's
// offsets partition and fsynced (one shared fsync for concurrent commits) before they are acknowledged.
//
// Transactional offsets (TxnOffsetCommit, KIP-98) are kept apart, per group and producer id, as pending: invisible
// to OffsetFetch (which answers UNSTABLE_OFFSET_COMMIT for them when asked for stable offsets) until the
// producer's COMMIT marker lands in the offsets partition (completeTransaction, called by the marker writer once
// the marker is durable, and the same step on replay), when they become the committed offsets, or its ABORT
// marker drops them. As in Kafka (GroupMetadata.completePendingTxnOffsetCommit, OffsetMetadataManager), the
// record later in the log wins: a pending offset that a non-transactional commit of the same partition follows
// is superseded and never applied; an offset or group tombstone removes the pending offsets before it. Positions
// are the batches' log offsets, so memory and a replay decide alike.

import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { count } from '../counters.ts'
import { ClassicGroup, type GroupHost, type GroupLimits } from './classic-group.ts'
import { ConsumerGroup, type ConsumerGroupHost, type ConsumerGroupLimits, type TopicCatalog } from './consumer-group.ts'
import { kOffsetsTopic, offsetsPartitionFor, replayStore, writeStoreRecords, type CommittedOffset, type GroupRecord, type StoreBatch, type StoreProducer, type StoreRecord } from './offset-store.ts'
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

/** A transactional offset awaiting its producer's marker. */
interface PendingOffset {
  readonly value: CommittedOffset
  /** Log offset of the batch that wrote it. */
  readonly at: number
  /** A later non-transactional commit of the same partition: the marker will not apply this one. */
  superseded: boolean
}

/** One producer's pending offsets in one group. */
interface PendingTransaction {
  producerEpoch: number
  /** offsetKey -> pending offset. */
  readonly offsets: Map<string, PendingOffset>
}

/** The pending transactional offsets of one group, by producer id. */
interface GroupPending {
  /** The group's offsets partition. */
  readonly partition: number
  readonly producers: Map<number, PendingTransaction>
}

export interface OffsetEntry {
  topic: string
  partition: number
  value: CommittedOffset
}

/** How often empty groups are checked for expired offsets. */
const kRetentionCheckMs = 60_000

export function offsetKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

/**
 * The codes of a failed offsets write: Kafka's for it (GroupCoordinatorService, and GroupMetadataManager before
 * it): KAFKA_STORAGE_ERROR, which OffsetCommit's error list lacks, becomes NOT_COORDINATOR, retriable in every
 * client (it looks the coordinator up again, finds this broker, and retries once space is back); a deleted
 * offsets partition, COORDINATOR_NOT_AVAILABLE. Entries refused before the write keep their codes.
 */
function failedCodes (codes: number[], error: unknown): number[] {
  const failed = error instanceof KafkaError && error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    ? ErrorCode.COORDINATOR_NOT_AVAILABLE
    : ErrorCode.NOT_COORDINATOR
  return codes.map((code) => code === ErrorCode.NONE ? failed : code)
}

/** A classic group that holds nothing (see GroupCoordinator.releaseIfUnused). */
function isUnused (group: ClassicGroup): boolean {
  return group.state === 'Empty' && group.generationId === 0 && group.members.size === 0 && group.pendingMembers.size === 0 &&
    group.staticMembers.size === 0 && group.offsets.size === 0
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
  /** groupId -> pending transactional offsets (see the header); kept apart from group objects, which come and go. */
  readonly #pending: Map<string, GroupPending>
  /** offsets partition -> producer id -> ids of the groups it has pending offsets in (for completeTransaction). */
  readonly #pendingGroups: Map<number, Map<number, Set<string>>>
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
    this.#pending = new Map()
    this.#pendingGroups = new Map()
    this.#retentionTimer = null
  }

  /** Loads the groups of an offsets partition this worker just opened. */
  loadPartition (partition: LocalPartition): void {
    this.#partitions.set(partition.index, partition)
    replayStore(partition, (record, batch) => this.#apply(partition.index, record, batch),
      (batch, commit) => this.completeTransaction(partition.index, batch.producerId, batch.producerEpoch, commit))
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

  #apply (partition: number, record: StoreRecord, batch: StoreBatch): void {
    if (record.kind === 'offset') {
      const key = offsetKey(record.topic, record.partition)
      if (batch.transactional && batch.producerId >= 0) {
        if (record.value === null) this.#pending.get(record.groupId)?.producers.get(batch.producerId)?.offsets.delete(key)
        else this.#addPending(partition, record.groupId, batch.producerId, batch.producerEpoch, key, record.value, batch.baseOffset)
        return
      }
      const group = this.consumerGroups.get(record.groupId) ?? this.#group(record.groupId, true) as ClassicGroup
      if (record.value === null) group.offsets.delete(key)
      else group.offsets.set(key, record.value)
      this.#supersedePending(record.groupId, key, batch.baseOffset, record.value === null)
      return
    }
    if (record.value === null) {
      this.#dropPending(record.groupId, batch.baseOffset)
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

  /**
   * Forgets classic group `groupId` when it holds nothing: Empty at generation 0, with no members, pending or static
   * members, offsets or pending transactional offsets. Such a group was made for a request that then failed (a
   * refused JoinGroup or OffsetCommit) and nothing was written for it. Kafka drops these in its periodic cleanup;
   * they go at once here (and in the periodic sweep), so that a client naming endless group ids holds no memory.
   */
  releaseIfUnused (groupId: string): void {
    const group = this.groups.get(groupId)
    if (group === undefined || !isUnused(group) || this.#pending.has(groupId)) return
    group.shutdown()
    this.groups.delete(groupId)
    count('groups-released-unused')
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
   * Appends records to an offsets partition and, once they are fsynced, applies them to memory (`apply`, given the
   * batch's log offset) before anything else can run. Every write of the coordinator goes through here, so that
   * "no write in flight" means "memory holds everything the partition holds", which is what a checkpoint relies
   * on. A transactional write (`producer`) is applied as soon as it is appended instead: its offsets are pending,
   * invisible until a marker, and that marker may follow them into the log before their fsync completes (a
   * transaction timing out, a client not waiting for the answer); completeTransaction must then find them. Its
   * records stay applied when the fsync fails, as they stay in the log (the next round retries them) and in the
   * log's producer state; the producer, answered with an error, aborts.
   */
  async #append (partition: LocalPartition, records: readonly StoreRecord[], apply: ((at: number) => void) | null, producer: StoreProducer | null = null): Promise<void> {
    const state = this.#compaction(partition.index)
    state.inFlight++
    try {
      const at = writeStoreRecords(partition, records, producer)
      if (producer !== null) apply?.(at)
      if (records.length > 0) await partition.log.flush()
      if (producer === null) apply?.(at)
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
   *
   * Pending transactional offsets are checkpointed as pending: one transactional batch per producer, with its
   * id and current epoch, so that its marker (still to come, after the checkpoint) settles them as it would have
   * settled the originals. Superseded ones go before the committed offsets, the others after, which keeps the
   * order that decides them (see the header); a superseded one whose committed offset is gone is dropped (it
   * could never apply).
   */
  async #checkpoint (partition: LocalPartition): Promise<void> {
    const records: StoreRecord[] = []
    const partitions = partition.topic.partitions
    const committedKeys = new Map<string, ReadonlyMap<string, CommittedOffset>>()
    const collect = (groupId: string, offsets: Map<string, CommittedOffset>, record: GroupRecord | null): void => {
      if (offsetsPartitionFor(groupId, partitions) !== partition.index) return
      committedKeys.set(groupId, offsets)
      for (const [key, value] of offsets) {
        const [topic, p] = splitOffsetKey(key)
        records.push({ kind: 'offset', groupId, topic, partition: p, value })
      }
      if (record !== null) records.push({ kind: 'group', groupId, value: record })
    }
    for (const group of this.groups.values()) collect(group.groupId, group.offsets, group.generationId > 0 ? group.toRecord() : null)
    for (const group of this.consumerGroups.values()) collect(group.groupId, group.offsets, group.toRecord())
    const before = new Map<number, StoreRecord[]>()
    const after = new Map<number, StoreRecord[]>()
    for (const [producerId, groupIds] of this.#pendingGroups.get(partition.index) ?? []) {
      for (const groupId of groupIds) {
        const transaction = this.#pending.get(groupId)?.producers.get(producerId)
        if (transaction === undefined) continue
        for (const [key, pending] of transaction.offsets) {
          if (pending.superseded && committedKeys.get(groupId)?.has(key) !== true) continue
          const into = pending.superseded ? before : after
          let list = into.get(producerId)
          if (list === undefined) { list = []; into.set(producerId, list) }
          const [topic, p] = splitOffsetKey(key)
          list.push({ kind: 'offset', groupId, topic, partition: p, value: pending.value })
        }
      }
    }
    const state = this.#compaction(partition.index)
    const checkpointStart = partition.log.nextOffset
    let written = records.length
    state.inFlight++
    try {
      const writeTransactional = (byProducer: Map<number, StoreRecord[]>): void => {
        for (const [producerId, list] of byProducer) {
          const epoch = partition.log.producers.get(producerId)?.epoch ?? this.#pending.get(list[0].groupId)!.producers.get(producerId)!.producerEpoch
          writeStoreRecords(partition, list, { producerId, producerEpoch: epoch })
          written += list.length
        }
      }
      writeTransactional(before)
      writeStoreRecords(partition, records)
      writeTransactional(after)
      await partition.log.flush()
    } finally {
      state.inFlight--
    }
    state.appendedSinceCheckpoint = 0
    state.liveAtCheckpoint = written
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
  async commitOffsets (group: ClassicGroup | ConsumerGroup, entries: OffsetEntry[]): Promise<number[]> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return entries.map(() => ErrorCode.NOT_COORDINATOR)
    const codes: number[] = []
    const records: StoreRecord[] = []
    this.#validateEntries(group.groupId, entries, codes, records)
    try {
      await this.#append(partition, records, (at) => {
        for (const record of records) {
          if (record.kind !== 'offset' || record.value === null) continue
          const key = offsetKey(record.topic, record.partition)
          group.offsets.set(key, record.value)
          this.#supersedePending(group.groupId, key, at, false)
        }
      })
    } catch (error) {
      // Nothing was applied to memory (#append applies only after the fsync), and the log undid the write, so
      // the group is as before (failedCodes has the codes).
      this.shard.logger.error(`offset commit for ${group.groupId} failed: ${(error as Error).message}`)
      return failedCodes(codes, error)
    }
    return codes
  }

  /**
   * Stores transactional offsets (TxnOffsetCommit) of `producerId` after validation by the caller: fsynced, and
   * pending until the producer's marker (see the header). Per-entry codes in input order, as commitOffsets; a
   * producer epoch older than the one the offsets partition has seen is INVALID_PRODUCER_EPOCH (the log's check
   * for a fenced producer, which Kafka's append makes).
   */
  async txnCommitOffsets (group: ClassicGroup | ConsumerGroup, producerId: number, producerEpoch: number, entries: OffsetEntry[]): Promise<number[]> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return entries.map(() => ErrorCode.NOT_COORDINATOR)
    const codes: number[] = []
    const records: StoreRecord[] = []
    this.#validateEntries(group.groupId, entries, codes, records)
    const known = partition.log.producers.get(producerId)
    if (known !== undefined && producerEpoch < known.epoch) return codes.map((code) => code === ErrorCode.NONE ? ErrorCode.INVALID_PRODUCER_EPOCH : code)
    try {
      await this.#append(partition, records, (at) => {
        for (const record of records) {
          if (record.kind === 'offset' && record.value !== null) {
            this.#addPending(partition.index, group.groupId, producerId, producerEpoch, offsetKey(record.topic, record.partition), record.value, at)
          }
        }
      }, { producerId, producerEpoch })
    } catch (error) {
      this.shard.logger.error(`transactional offset commit for ${group.groupId} (producer ${producerId}) failed: ${(error as Error).message}`)
      return failedCodes(codes, error)
    }
    return codes
  }

  /** Refuses entries for unknown topics or partitions or with oversized metadata; the rest become records. */
  #validateEntries (groupId: string, entries: OffsetEntry[], codes: number[], records: StoreRecord[]): void {
    for (const entry of entries) {
      const topic = this.shard.table.topic(entry.topic)
      if (topic === undefined || entry.partition < 0 || entry.partition >= topic.partitions) {
        codes.push(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      } else if (entry.value.metadata !== null && Buffer.byteLength(entry.value.metadata) > kOffsetMetadataMaxBytes) {
        codes.push(ErrorCode.OFFSET_METADATA_TOO_LARGE)
      } else {
        codes.push(ErrorCode.NONE)
        records.push({ kind: 'offset', groupId, topic: entry.topic, partition: entry.partition, value: entry.value })
      }
    }
  }

  // ---- pending transactional offsets ---------------------------------------------------------------------

  #addPending (partition: number, groupId: string, producerId: number, producerEpoch: number, key: string, value: CommittedOffset, at: number): void {
    let group = this.#pending.get(groupId)
    if (group === undefined) {
      group = { partition, producers: new Map() }
      this.#pending.set(groupId, group)
    }
    let transaction = group.producers.get(producerId)
    if (transaction === undefined) {
      transaction = { producerEpoch, offsets: new Map() }
      group.producers.set(producerId, transaction)
      let producers = this.#pendingGroups.get(partition)
      if (producers === undefined) { producers = new Map(); this.#pendingGroups.set(partition, producers) }
      let groupIds = producers.get(producerId)
      if (groupIds === undefined) { groupIds = new Set(); producers.set(producerId, groupIds) }
      groupIds.add(groupId)
    }
    transaction.producerEpoch = Math.max(transaction.producerEpoch, producerEpoch)
    transaction.offsets.set(key, { value, at, superseded: false })
  }

  /**
   * A non-transactional offset record (`deleted`: a tombstone) of `key` at log offset `at`: pending offsets of the
   * key written before it are superseded, or removed by a tombstone.
   */
  #supersedePending (groupId: string, key: string, at: number, deleted: boolean): void {
    const group = this.#pending.get(groupId)
    if (group === undefined) return
    for (const [producerId, transaction] of group.producers) {
      const pending = transaction.offsets.get(key)
      if (pending === undefined || pending.at >= at) continue
      if (!deleted) {
        pending.superseded = true
        continue
      }
      transaction.offsets.delete(key)
      if (transaction.offsets.size === 0) this.#forgetTransaction(groupId, group, producerId)
    }
  }

  /** The group's tombstone at log offset `at` removes its pending offsets written before it. */
  #dropPending (groupId: string, at: number): void {
    const group = this.#pending.get(groupId)
    if (group === undefined) return
    for (const [producerId, transaction] of group.producers) {
      for (const [key, pending] of transaction.offsets) if (pending.at < at) transaction.offsets.delete(key)
      if (transaction.offsets.size === 0) this.#forgetTransaction(groupId, group, producerId)
    }
  }

  #forgetTransaction (groupId: string, group: GroupPending, producerId: number): void {
    group.producers.delete(producerId)
    if (group.producers.size === 0) this.#pending.delete(groupId)
    const producers = this.#pendingGroups.get(group.partition)
    const groupIds = producers?.get(producerId)
    groupIds?.delete(groupId)
    if (groupIds?.size === 0) producers!.delete(producerId)
    if (producers?.size === 0) this.#pendingGroups.delete(group.partition)
  }

  /** Whether the group has pending transactional offsets for the partition (OffsetFetch's require_stable). */
  hasPendingOffset (groupId: string, topic: string, partition: number): boolean {
    const group = this.#pending.get(groupId)
    if (group === undefined) return false
    const key = offsetKey(topic, partition)
    for (const transaction of group.producers.values()) if (transaction.offsets.has(key)) return true
    return false
  }

  /** The group's pending offsets of `producerId` (tests, diagnostics): offsetKey -> offset. */
  pendingOffsets (groupId: string, producerId: number): ReadonlyMap<string, CommittedOffset> {
    const result = new Map<string, CommittedOffset>()
    for (const [key, pending] of this.#pending.get(groupId)?.producers.get(producerId)?.offsets ?? []) result.set(key, pending.value)
    return result
  }

  /**
   * A COMMIT/ABORT marker of producer `producerId` is durable in offsets partition `partition` (or replayed
   * from it): its pending transactional offset commits there become the committed ones (commit, those not
   * superseded) or are dropped (abort). The log checked the marker's epochs before writing it; any epoch of
   * the producer is settled, as in Kafka.
   */
  completeTransaction (partition: number, producerId: number, producerEpoch: number, commit: boolean): void {
    void producerEpoch
    const groupIds = this.#pendingGroups.get(partition)?.get(producerId)
    if (groupIds === undefined) return
    for (const groupId of [...groupIds]) {
      const pending = this.#pending.get(groupId)
      const transaction = pending?.producers.get(producerId)
      if (pending === undefined || transaction === undefined) continue
      this.#forgetTransaction(groupId, pending, producerId)
      if (!commit) continue
      const group = this.consumerGroups.get(groupId) ?? this.#group(groupId, true)
      if (group === undefined) continue
      for (const [key, offset] of transaction.offsets) if (!offset.superseded) group.offsets.set(key, offset.value)
    }
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
      await this.#append(partition, records, (at) => {
        consumer.shutdown()
        this.consumerGroups.delete(groupId)
        this.#dropPending(groupId, at)
      })
      return ErrorCode.NONE
    }
    const group = this.groups.get(groupId)
    if (group === undefined || (group.state === 'Empty' && group.offsets.size === 0 && group.generationId === 0)) {
      this.releaseIfUnused(groupId)
      return ErrorCode.GROUP_ID_NOT_FOUND
    }
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP
    const partition = this.partitionFor(groupId)
    if (partition === undefined) return ErrorCode.NOT_COORDINATOR
    const records: StoreRecord[] = []
    for (const key of group.offsets.keys()) {
      const [topic, p] = splitOffsetKey(key)
      records.push({ kind: 'offset', groupId, topic, partition: p, value: null })
    }
    records.push({ kind: 'group', groupId, value: null })
    await this.#append(partition, records, (at) => {
      group.shutdown()
      group.state = 'Dead'
      this.groups.delete(groupId)
      this.#dropPending(groupId, at)
    })
    return ErrorCode.NONE
  }

  async deleteOffsets (group: ClassicGroup | ConsumerGroup, keys: Array<[string, number]>): Promise<void> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return
    const records: StoreRecord[] = keys
      .filter(([topic, p]) => group.offsets.has(offsetKey(topic, p)))
      .map(([topic, p]) => ({ kind: 'offset', groupId: group.groupId, topic, partition: p, value: null }))
    await this.#append(partition, records, (at) => {
      for (const [topic, p] of keys) group.offsets.delete(offsetKey(topic, p))
      // Only the tombstones in the log remove pending offsets, as a replay would.
      for (const record of records) if (record.kind === 'offset') this.#supersedePending(group.groupId, offsetKey(record.topic, record.partition), at, true)
    })
  }

  /** offsets.retention.minutes: an empty group's offsets go once it has been empty that long. */
  expireOffsets (now: number): void {
    const retentionMs = this.shard.config.offsetsRetentionMinutes * 60_000
    for (const group of [...this.groups.values()]) if (isUnused(group)) this.releaseIfUnused(group.groupId)
    for (const group of this.groups.values()) {
      if (group.state !== 'Empty' || group.offsets.size === 0) continue
      let lastCommit = group.emptySince
      for (const value of group.offsets.values()) lastCommit = Math.max(lastCommit, value.commitTimestamp)
      if (now - lastCommit < retentionMs) continue
      const keys = this.#expirable(group.groupId, group.offsets)
      if (keys.length === 0) continue
      this.deleteOffsets(group, keys).then(() => {
        if (group.state === 'Empty' && group.offsets.size === 0 && group.members.size === 0) this.groups.delete(group.groupId)
      }, (error: Error) => this.shard.logger.warn(`expiring offsets of ${group.groupId}: ${error.message}`))
    }
    for (const group of this.consumerGroups.values()) {
      if (group.members.size > 0 || group.offsets.size === 0) continue
      let lastCommit = group.emptySince
      for (const value of group.offsets.values()) lastCommit = Math.max(lastCommit, value.commitTimestamp)
      if (now - lastCommit < retentionMs) continue
      const keys = this.#expirable(group.groupId, group.offsets)
      if (keys.length === 0) continue
      this.deleteOffsets(group, keys).then(() => {
        if (group.members.size === 0 && group.offsets.size === 0 && this.consumerGroups.get(group.groupId) === group) this.consumerGroups.delete(group.groupId)
      }, (error: Error) => this.shard.logger.warn(`expiring offsets of ${group.groupId}: ${error.message}`))
    }
  }

  /** The offsets that may expire: those without pending transactional offsets (as Kafka keeps them). */
  #expirable (groupId: string, offsets: Map<string, CommittedOffset>): Array<[string, number]> {
    const keys: Array<[string, number]> = []
    for (const key of offsets.keys()) {
      const [topic, p] = splitOffsetKey(key)
      if (!this.hasPendingOffset(groupId, topic, p)) keys.push([topic, p])
    }
    return keys
  }

  unloadPartition (index: number): void {
    const partition = this.#partitions.get(index)
    if (partition === undefined) return
    this.#partitions.delete(index)
    for (const groupIds of this.#pendingGroups.get(index)?.values() ?? []) for (const groupId of groupIds) this.#pending.delete(groupId)
    this.#pendingGroups.delete(index)
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

  /** Shutdown, step 1 (Shard#drain): members waiting for a rebalance or an assignment are answered now. */
  drain (): void {
    for (const group of this.groups.values()) group.answerWaiters(ErrorCode.NOT_COORDINATOR)
  }

  shutdown (): void {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer)
    for (const group of this.groups.values()) group.shutdown()
    for (const group of this.consumerGroups.values()) group.shutdown()
  }
}
