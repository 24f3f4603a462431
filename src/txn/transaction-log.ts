// Durable transaction state in the internal `__transaction_state` topic, kept the way src/group/offset-store.ts
// keeps group state in `__consumer_offsets`: a transactional id lives on partition
// Utils.abs(javaHashCode(id)) % 50 (Kafka's transaction.state.log.num.partitions default), every transition of the
// id is one record appended there, and loading replays the partition: the last record per key wins and a null
// value (tombstone) deletes the id. Nothing here does I/O; the caller reads and appends the records.
//
// Record layout (ours, JSON for inspectability; the topic is internal and Kafka's binary schema buys nothing here):
//   key   {"t":"x","id":transactionalId}
//   value {"producerId":n,"lastProducerId":n,"producerEpoch":n,"lastProducerEpoch":n,"timeoutMs":n,
//          "state":"Ongoing","partitions":{"topic":[0,3]},"startTimestamp":n,"lastUpdateTimestamp":n}
//         or null when the id expires.
// `partitions` maps each topic to its partitions in ascending order, topics in ascending order, so one metadata
// always encodes to the same bytes. Decoding ignores fields it does not know, so a later format may add some.

import { partitionForKey } from '../protocol/java-hash.ts'
import { kMaxProducerEpoch, kNoProducerEpoch, kNoProducerId, kPersistedStates, type TransactionMetadata, type TransactionStateName } from './transaction-metadata.ts'

export const kTransactionStateTopic = '__transaction_state'
/** Kafka's transaction.state.log.num.partitions default. */
export const kTransactionStateTopicPartitions = 50

/** The `__transaction_state` partition that holds `transactionalId` (and whose owner coordinates it). */
export function transactionPartitionFor (transactionalId: string, partitions = kTransactionStateTopicPartitions): number {
  return partitionForKey(transactionalId, partitions)
}

/** One record of the topic: the id's metadata, or null for the tombstone that expires it. */
export interface TransactionLogRecord {
  readonly transactionalId: string
  readonly value: TransactionMetadata | null
}

export interface EncodedRecord {
  readonly key: Buffer
  readonly value: Buffer | null
}

export function encodeTransactionLogKey (transactionalId: string): Buffer {
  return Buffer.from(JSON.stringify({ t: 'x', id: transactionalId }))
}

export function encodeTransactionLogValue (metadata: TransactionMetadata | null): Buffer | null {
  if (metadata === null) return null
  const topics = [...metadata.partitions.keys()].sort()
  // Object.fromEntries defines own properties, so a topic named "__proto__" (a legal Kafka name) stays a key.
  const partitions = Object.fromEntries(topics.map((topic) => [topic, [...metadata.partitions.get(topic)!].sort((a, b) => a - b)]))
  return Buffer.from(JSON.stringify({
    producerId: metadata.producerId,
    lastProducerId: metadata.lastProducerId,
    producerEpoch: metadata.producerEpoch,
    lastProducerEpoch: metadata.lastProducerEpoch,
    timeoutMs: metadata.timeoutMs,
    state: metadata.state,
    partitions,
    startTimestamp: metadata.startTimestamp,
    lastUpdateTimestamp: metadata.lastUpdateTimestamp
  }))
}

export function encodeTransactionLogRecord (record: TransactionLogRecord): EncodedRecord {
  return { key: encodeTransactionLogKey(record.transactionalId), value: encodeTransactionLogValue(record.value) }
}

export type DecodeResult =
  | { readonly ok: true, readonly record: TransactionLogRecord }
  | { readonly ok: false, readonly error: string }

class InvalidRecord extends Error {}

/**
 * Decodes and validates one record. Never throws: a record that is not valid JSON, not a transaction key, or whose
 * value breaks an invariant the coordinator relies on is reported as `{ ok: false, error }`.
 */
export function decodeTransactionLogRecord (key: Buffer | null, value: Buffer | null): DecodeResult {
  try {
    const transactionalId = decodeKey(key)
    return { ok: true, record: { transactionalId, value: value === null ? null : decodeValue(transactionalId, value) } }
  } catch (error) {
    if (error instanceof InvalidRecord || error instanceof SyntaxError) return { ok: false, error: error.message }
    return { ok: false, error: String(error) }
  }
}

function decodeKey (key: Buffer | null): string {
  if (key === null) throw new InvalidRecord('record has no key')
  const parsed: unknown = JSON.parse(key.toString('utf8'))
  if (!isObject(parsed) || parsed.t !== 'x') throw new InvalidRecord('key is not a transaction key')
  if (typeof parsed.id !== 'string' || parsed.id === '') throw new InvalidRecord('key has no transactional id')
  return parsed.id
}

function decodeValue (transactionalId: string, value: Buffer): TransactionMetadata {
  const parsed: unknown = JSON.parse(value.toString('utf8'))
  if (!isObject(parsed)) throw new InvalidRecord('value is not an object')
  // A persisted transition always carries an allocated producer id and a real epoch: the in-memory placeholder
  // (epoch -1) is never written.
  const producerId = integer(parsed, 'producerId', 0, Number.MAX_SAFE_INTEGER)
  const lastProducerId = integer(parsed, 'lastProducerId', kNoProducerId, Number.MAX_SAFE_INTEGER)
  const producerEpoch = integer(parsed, 'producerEpoch', 0, kMaxProducerEpoch)
  const lastProducerEpoch = integer(parsed, 'lastProducerEpoch', kNoProducerEpoch, kMaxProducerEpoch)
  const timeoutMs = integer(parsed, 'timeoutMs', 1, 2147483647)
  const startTimestamp = integer(parsed, 'startTimestamp', -1, Number.MAX_SAFE_INTEGER)
  const lastUpdateTimestamp = integer(parsed, 'lastUpdateTimestamp', 0, Number.MAX_SAFE_INTEGER)
  const state = parsed.state
  if (typeof state !== 'string' || !kPersistedStates.has(state as TransactionStateName)) {
    throw new InvalidRecord(`state ${JSON.stringify(state)} is not one that is persisted`)
  }
  const partitions = decodePartitions(parsed.partitions)
  if ((state === 'Empty' || state === 'CompleteCommit' || state === 'CompleteAbort') && partitions.size > 0) {
    throw new InvalidRecord(`state ${state} holds partitions`)
  }
  return {
    transactionalId,
    producerId,
    lastProducerId,
    producerEpoch,
    lastProducerEpoch,
    timeoutMs,
    state: state as TransactionStateName,
    partitions,
    startTimestamp,
    lastUpdateTimestamp
  }
}

function decodePartitions (raw: unknown): Map<string, readonly number[]> {
  if (!isObject(raw)) throw new InvalidRecord('partitions is not an object')
  const partitions = new Map<string, readonly number[]>()
  for (const topic of Object.keys(raw).sort()) {
    const list = raw[topic]
    if (topic === '' || !Array.isArray(list) || list.length === 0) throw new InvalidRecord(`partitions of topic ${JSON.stringify(topic)} are not a list`)
    for (const partition of list) {
      if (!Number.isInteger(partition) || partition < 0 || partition > 2147483647) throw new InvalidRecord(`topic ${JSON.stringify(topic)} has partition ${JSON.stringify(partition)}`)
    }
    // Written sorted and distinct; normalised anyway, since order carries no meaning.
    partitions.set(topic, [...new Set(list as number[])].sort((a, b) => a - b))
  }
  return partitions
}

function integer (source: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = source[field]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRecord(`${field} ${JSON.stringify(value)} is not an integer in [${min}, ${max}]`)
  }
  return value
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A record as read from the partition; `offset` only serves to report a bad record. */
export interface RawRecord {
  readonly offset?: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

export interface SkippedRecord {
  readonly offset: number | null
  readonly error: string
}

export interface ReplayResult {
  readonly transactions: Map<string, TransactionMetadata>
  /** Records that did not decode, in log order. They are skipped: the id keeps what earlier records said. */
  readonly skipped: SkippedRecord[]
}

/** Rebuilds the state of a partition from its records in log order. */
export function replayTransactionLog (records: Iterable<RawRecord>): ReplayResult {
  const transactions = new Map<string, TransactionMetadata>()
  const skipped: SkippedRecord[] = []
  for (const raw of records) {
    const decoded = decodeTransactionLogRecord(raw.key, raw.value)
    if (!decoded.ok) {
      skipped.push({ offset: raw.offset ?? null, error: decoded.error })
      continue
    }
    const { transactionalId, value } = decoded.record
    if (value === null) transactions.delete(transactionalId)
    else transactions.set(transactionalId, value)
  }
  return { transactions, skipped }
}
