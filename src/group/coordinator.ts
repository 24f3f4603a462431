// The group coordinator of one worker: it owns every group whose `__consumer_offsets` partition this worker
// owns (see offset-store.ts), so group state needs no locks. Requests for a group are routed here by the
// connection's worker (src/handlers/coordinated.ts). Offsets and group records are appended to the group's
// offsets partition and fsynced (one shared fsync for concurrent commits) before they are acknowledged.

import { ErrorCode } from '../protocol/errors.ts'
import { ClassicGroup, type GroupHost, type GroupLimits } from './classic-group.ts'
import { appendStoreRecords, kOffsetsTopic, offsetsPartitionFor, replayStore, type CommittedOffset, type StoreRecord } from './offset-store.ts'
import type { LocalPartition, Shard } from '../shard/shard.ts'

/** Kafka's offset.metadata.max.bytes default. */
export const kOffsetMetadataMaxBytes = 4096
/** How often empty groups are checked for expired offsets. */
const kRetentionCheckMs = 60_000

export function offsetKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export function splitOffsetKey (key: string): [string, number] {
  const at = key.lastIndexOf('\u0000')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}

export class GroupCoordinator implements GroupHost {
  readonly shard: Shard
  readonly limits: GroupLimits
  readonly groups: Map<string, ClassicGroup>
  readonly #partitions: Map<number, LocalPartition>
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
    this.groups = new Map()
    this.#partitions = new Map()
    this.#retentionTimer = null
  }

  /** Loads the groups of an offsets partition this worker just opened. */
  loadPartition (partition: LocalPartition): void {
    this.#partitions.set(partition.index, partition)
    replayStore(partition, (record) => this.#apply(record))
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
      const group = this.#group(record.groupId, true) as ClassicGroup
      const key = offsetKey(record.topic, record.partition)
      if (record.value === null) group.offsets.delete(key)
      else group.offsets.set(key, record.value)
      return
    }
    if (record.value === null) {
      this.groups.get(record.groupId)?.shutdown()
      this.groups.delete(record.groupId)
      return
    }
    const existing = this.groups.get(record.groupId)
    existing?.shutdown()
    const group = new ClassicGroup(record.groupId, this)
    if (existing !== undefined) for (const [key, value] of existing.offsets) group.offsets.set(key, value)
    group.restore(record.value)
    this.groups.set(record.groupId, group)
  }

  /** The local offsets partition of a group, or undefined when another worker coordinates it. */
  partitionFor (groupId: string): LocalPartition | undefined {
    const topic = this.shard.table.topic(kOffsetsTopic)
    if (topic === undefined) return undefined
    return this.#partitions.get(offsetsPartitionFor(groupId, topic.partitions))
  }

  /** The group, created Empty when `create` (JoinGroup, commits); undefined if it does not exist. */
  #group (groupId: string, create: boolean): ClassicGroup | undefined {
    let group = this.groups.get(groupId)
    if (group === undefined && create) {
      group = new ClassicGroup(groupId, this)
      this.groups.set(groupId, group)
    }
    return group
  }

  group (groupId: string, create = false): ClassicGroup | undefined {
    return this.#group(groupId, create)
  }

  async persistGroup (group: ClassicGroup): Promise<void> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) throw new Error(`not the coordinator of ${group.groupId}`)
    await appendStoreRecords(partition, [{ kind: 'group', groupId: group.groupId, value: group.toRecord() }])
  }

  /**
   * Stores offsets after validation by the caller. Returns per-entry error codes in input order: entries for
   * unknown topics or partitions, or with oversized metadata, are refused; the rest is written in one batch.
   */
  async commitOffsets (group: ClassicGroup, entries: Array<{ topic: string, partition: number, value: CommittedOffset }>): Promise<number[]> {
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
      await appendStoreRecords(partition, records)
    } catch (error) {
      this.shard.logger.error(`offset commit for ${group.groupId} failed: ${(error as Error).message}`)
      return codes.map((code) => code === ErrorCode.NONE ? ErrorCode.KAFKA_STORAGE_ERROR : code)
    }
    for (const record of records) {
      if (record.kind === 'offset' && record.value !== null) group.offsets.set(offsetKey(record.topic, record.partition), record.value)
    }
    return codes
  }

  /** Deletes a group (must be Empty): its offsets and its record. */
  async deleteGroup (groupId: string): Promise<number> {
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
    await appendStoreRecords(partition, records)
    group.shutdown()
    group.state = 'Dead'
    this.groups.delete(groupId)
    return ErrorCode.NONE
  }

  async deleteOffsets (group: ClassicGroup, keys: Array<[string, number]>): Promise<void> {
    const partition = this.partitionFor(group.groupId)
    if (partition === undefined) return
    const records: StoreRecord[] = keys
      .filter(([topic, p]) => group.offsets.has(offsetKey(topic, p)))
      .map(([topic, p]) => ({ kind: 'offset', groupId: group.groupId, topic, partition: p, value: null }))
    await appendStoreRecords(partition, records)
    for (const [topic, p] of keys) group.offsets.delete(offsetKey(topic, p))
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
  }

  shutdown (): void {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer)
    for (const group of this.groups.values()) group.shutdown()
  }
}
