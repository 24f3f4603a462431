// Durable group state in the internal `__consumer_offsets` topic, as Kafka keeps it: a group lives on the
// partition javaHashCode(groupId) % partitions, and its coordinator is that partition's owner worker. Every
// offset commit and every group change is a record appended to that partition (and fsynced before it is
// acknowledged); on load the partition is replayed, last record per key wins, a null value deletes. Because
// these are ordinary partitions, whatever makes partitions durable elsewhere (S3 upload of sealed segments)
// covers group state too.
//
// Record layout (ours, JSON for inspectability; the topic is internal):
//   offset commit: key {"t":"o","g":group,"tp":topic,"p":partition}
//                  value {"o":offset,"e":leaderEpoch,"m":metadata,"c":commitTimestamp} or null
//   group:         key {"t":"g","g":group}   value GroupRecord or null (deleted)

import { buildRecordBatch, nextBatchEnd, parseRecords } from '../protocol/record-batch.ts'
import type { LocalPartition } from '../shard/shard.ts'

export const kOffsetsTopic = '__consumer_offsets'
/** Kafka's offsets.topic.num.partitions default. */
export const kOffsetsTopicPartitions = 50

// The hash lives in protocol/ so that the transaction coordinator (src/txn) can share it without depending on
// group code; these names are kept for the callers that already use them.
export { javaStringHash, partitionForKey as offsetsPartitionFor } from '../protocol/java-hash.ts'

export interface CommittedOffset {
  offset: number
  leaderEpoch: number
  metadata: string | null
  commitTimestamp: number
}

export interface GroupRecordMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  /** Base64 of the selected protocol's metadata and of the assignment. */
  subscription: string
  assignment: string
}

export interface GroupRecord {
  type: 'classic' | 'consumer'
  protocolType: string | null
  generationId: number
  protocolName: string | null
  leaderId: string | null
  members: GroupRecordMember[]
  /** For KIP-848 groups: the serialized group, owned by consumer-group.ts. */
  consumer?: unknown
}

export type StoreRecord =
  | { readonly kind: 'offset', readonly groupId: string, readonly topic: string, readonly partition: number, readonly value: CommittedOffset | null }
  | { readonly kind: 'group', readonly groupId: string, readonly value: GroupRecord | null }

function encodeKey (record: StoreRecord): Buffer {
  return Buffer.from(JSON.stringify(record.kind === 'offset'
    ? { t: 'o', g: record.groupId, tp: record.topic, p: record.partition }
    : { t: 'g', g: record.groupId }))
}

function encodeValue (record: StoreRecord): Buffer | null {
  if (record.value === null) return null
  if (record.kind === 'group') return Buffer.from(JSON.stringify(record.value))
  const v = record.value
  return Buffer.from(JSON.stringify({ o: v.offset, e: v.leaderEpoch, m: v.metadata, c: v.commitTimestamp }))
}

function decode (key: Buffer | null, value: Buffer | null): StoreRecord | null {
  if (key === null) return null
  const k = JSON.parse(key.toString('utf8'))
  const v = value === null ? null : JSON.parse(value.toString('utf8'))
  if (k.t === 'o') {
    return { kind: 'offset', groupId: k.g, topic: k.tp, partition: k.p, value: v === null ? null : { offset: v.o, leaderEpoch: v.e, metadata: v.m, commitTimestamp: v.c } }
  }
  if (k.t === 'g') return { kind: 'group', groupId: k.g, value: v }
  return null
}

/** Appends records to an offsets partition and resolves once they are fsynced. */
export async function appendStoreRecords (partition: LocalPartition, records: readonly StoreRecord[]): Promise<void> {
  if (records.length === 0) return
  const now = Date.now()
  const batch = buildRecordBatch(records.map((record) => ({ key: encodeKey(record), value: encodeValue(record), timestamp: now })))
  partition.log.append(batch, -1)
  await partition.log.flush()
}

/** Replays an offsets partition from its start, calling `apply` for every record in log order. */
export function replayStore (partition: LocalPartition, apply: (record: StoreRecord) => void): void {
  const log = partition.log
  let offset = log.logStartOffset
  while (offset < log.nextOffset) {
    const result = log.read(offset, 4 * 1024 * 1024, true)
    if (result.records === null || result.records.length === 0) break
    const records = result.records
    let position = 0
    let last = offset
    while (position < records.length) {
      const end = nextBatchEnd(records, position, records.length)
      if (end < 0) break
      const batch = records.subarray(position, end)
      for (const record of parseRecords(batch)) {
        last = record.offset
        if (record.offset < offset) continue
        try {
          const decoded = decode(record.key, record.value)
          if (decoded !== null) apply(decoded)
        } catch {
          // A record we cannot parse is skipped: group state is advisory, offsets in it are per key.
        }
      }
      position = end
    }
    if (last + 1 <= offset) break
    offset = last + 1
  }
}
