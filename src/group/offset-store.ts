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
//
// Transactional offset commits (TxnOffsetCommit) are offset records in a transactional batch carrying the
// producer's id and epoch and sequence -1 (Kafka's NO_SEQUENCE, as Kafka's coordinator writes them); they stay
// pending until that producer's COMMIT or ABORT control batch follows in the same partition. Replay hands each
// record its batch (base offset, producer, transactional flag) and each marker to the coordinator, which keeps
// the pending state (group/coordinator.ts).

import { buildRecordBatch, controlRecord, createBatchInfo, kControlTypeCommit, parseRecords, readBatchInfo, readControlRecord } from '../protocol/record-batch.ts'
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

/** The producer of a transactional write (TxnOffsetCommit): its batch carries this id and epoch. */
export interface StoreProducer {
  readonly producerId: number
  readonly producerEpoch: number
}

/** The batch a replayed record or marker came from. */
export interface StoreBatch {
  readonly baseOffset: number
  /** -1 for the coordinator's own (non-transactional) writes. */
  readonly producerId: number
  readonly producerEpoch: number
  readonly transactional: boolean
}

/**
 * Appends records to an offsets partition as one batch, transactional when `producer` is given (sequence -1:
 * the log's producer state records it without a sequence check, see ProducerStateTable.update), and returns its
 * base offset (-1 when there is nothing to write). Not yet durable: the caller flushes. Throws what
 * PartitionLog.append throws, having written nothing.
 */
export function writeStoreRecords (partition: LocalPartition, records: readonly StoreRecord[], producer: StoreProducer | null = null): number {
  if (records.length === 0) return -1
  const now = Date.now()
  const input = records.map((record) => ({ key: encodeKey(record), value: encodeValue(record), timestamp: now }))
  const batch = producer === null
    ? buildRecordBatch(input)
    : buildRecordBatch(input, { producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: -1, isTransactional: true })
  return partition.log.append(batch, -1)
}

/** Appends records to an offsets partition and resolves, with the batch's base offset, once they are fsynced. */
export async function appendStoreRecords (partition: LocalPartition, records: readonly StoreRecord[], producer: StoreProducer | null = null): Promise<number> {
  if (records.length === 0) return -1
  const at = writeStoreRecords(partition, records, producer)
  await partition.log.flush()
  return at
}

/**
 * Replays an offsets partition from its start, calling `apply` for every record in log order with the batch it
 * came from, and `marker` for every COMMIT or ABORT control batch.
 */
export function replayStore (partition: LocalPartition, apply: (record: StoreRecord, batch: StoreBatch) => void,
  marker: ((batch: StoreBatch, commit: boolean) => void) | null = null): void {
  const log = partition.log
  const info = createBatchInfo()
  const from = log.logStartOffset
  for (const batch of log.batches(from)) {
    readBatchInfo(batch, 0, info)
    const header: StoreBatch = { baseOffset: info.baseOffset, producerId: info.producerId, producerEpoch: info.producerEpoch, transactional: info.isTransactional }
    if (info.isControl) {
      if (info.baseOffset >= from && readControlRecord(batch, 0)) marker?.(header, controlRecord.type === kControlTypeCommit)
      continue
    }
    for (const record of parseRecords(batch)) {
      if (record.offset < from) continue
      try {
        const decoded = decode(record.key, record.value)
        if (decoded !== null) apply(decoded, header)
      } catch {
        // A record we cannot parse is skipped: group state is advisory, offsets in it are per key.
      }
    }
  }
}
