// Idempotent producer state of one partition (KIP-98): for every producer id, its epoch and the last five
// batches it appended, so that the broker can reject gaps and answer retries with the original offsets.
//
// Flow of a produce request for a batch with producerId >= 0 (the PartitionLog does the last step itself):
//   const code = log.producers.check(producerId, epoch, baseSequence, lastSequence)
//   kSequenceOk        -> log.append(batch, ...)      (append calls update(), also during replay on open)
//   kSequenceDuplicate -> answer NONE with log.producers.duplicateBaseOffset, append nothing
//   anything else      -> answer that Kafka error code
//
// The table lives in memory; PartitionLog persists it as snapshot files and rebuilds it on open by replaying
// batch headers from the latest snapshot (see PartitionLog).
//
// Transactions (KIP-98): a producer's transactional batches open a transaction in this partition at the first
// one's offset (`currentTxnFirstOffset`), and its COMMIT or ABORT marker closes it (completeTransaction). The
// earliest open transaction's first offset is the partition's first unstable offset, which bounds the last
// stable offset (LSO) that read_committed consumers read up to. A producer with an open transaction is never
// evicted: its first offset must survive until the marker comes.
import { crc32c } from '../protocol/crc32c.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { readInt64, writeInt64 } from '../protocol/int64.ts'

/** The batch follows the producer's last one: append it. Equal to ErrorCode.NONE. */
export const kSequenceOk = 0
/**
 * The batch is a retry of one of the producer's last batches: do not append, answer with the original offsets
 * (`duplicateBaseOffset`, `duplicateLastOffset`). Not a Kafka error code: Kafka uses no negative code but -1.
 */
export const kSequenceDuplicate = -2

/** How many of a producer's most recent batches a retry is recognised against (the client's max in flight). */
export const kRetainedBatchesPerProducer = 5

const kInt32Max = 0x7fffffff
const kSequenceSpace = 0x80000000

/** Sequence of the last record of a batch: sequences are int32 that wrap from 2^31 - 1 to 0. */
export function lastSequenceOf (baseSequence: number, recordCount: number): number {
  const lastSequence = baseSequence + recordCount - 1
  return lastSequence > kInt32Max ? lastSequence - kSequenceSpace : lastSequence
}

function sequenceAfter (sequence: number): number {
  return sequence === kInt32Max ? 0 : sequence + 1
}

// Slot layout of ProducerEntry.batches: [baseSequence, lastSequence, baseOffset, lastOffset] per batch.
const kSlotFields = 4

export class ProducerEntry {
  readonly producerId: number
  epoch: number
  /** Offset of the first batch of the producer's open transaction in this partition; -1 when none is open. */
  currentTxnFirstOffset = -1
  /** Epoch of the transaction coordinator that wrote the producer's last marker (-1: none yet). */
  coordinatorEpoch = -1
  /** Max timestamp of the producer's last batch; kept for producer expiration (not implemented yet). */
  lastTimestamp = -1
  /** Retained batches, a ring of kRetainedBatchesPerProducer slots; `newestSlot` is the last appended. */
  readonly batches = new Float64Array(kRetainedBatchesPerProducer * kSlotFields)
  batchCount = 0
  newestSlot = kRetainedBatchesPerProducer - 1

  constructor (producerId: number, epoch: number) {
    this.producerId = producerId
    this.epoch = epoch
  }

  get lastSequence (): number {
    return this.batchCount === 0 ? -1 : this.batches[this.newestSlot * kSlotFields + 1]
  }

  get lastOffset (): number {
    return this.batchCount === 0 ? -1 : this.batches[this.newestSlot * kSlotFields + 3]
  }

  /** Slot of the i-th retained batch, 0 being the oldest. */
  slotOf (index: number): number {
    return (this.newestSlot - this.batchCount + 1 + index + kRetainedBatchesPerProducer) % kRetainedBatchesPerProducer
  }

  push (baseSequence: number, lastSequence: number, baseOffset: number, lastOffset: number): void {
    const slot = (this.newestSlot + 1) % kRetainedBatchesPerProducer
    const at = slot * kSlotFields
    this.batches[at] = baseSequence
    this.batches[at + 1] = lastSequence
    this.batches[at + 2] = baseOffset
    this.batches[at + 3] = lastOffset
    this.newestSlot = slot
    if (this.batchCount < kRetainedBatchesPerProducer) this.batchCount++
  }

  clearBatches (): void {
    this.batchCount = 0
  }
}

export class ProducerStateTable {
  readonly producers = new Map<number, ProducerEntry>()
  /** Producers with an open transaction, to the first offset of it. */
  readonly #ongoing = new Map<number, number>()
  /** The least first offset of #ongoing, -1 for none; recomputed when an earliest one closes. */
  #firstUnstable = -1
  /** Offsets of the original batch after check() answered kSequenceDuplicate. */
  duplicateBaseOffset = -1
  duplicateLastOffset = -1
  /**
   * Whether producers may have been forgotten: set by the log when its start offset is above 0 (records were
   * deleted, and with them the batches a replay would rebuild an evicted producer from). Decides the answer to
   * an unknown producer whose first sequence is not 0: UNKNOWN_PRODUCER_ID when its state may have been lost
   * (the client then resets its sequence, KIP-360), OUT_OF_ORDER_SEQUENCE_NUMBER when it cannot have been.
   */
  stateMayBeIncomplete = false

  get size (): number {
    return this.producers.size
  }

  get (producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId)
  }

  /**
   * Validates a batch of an idempotent producer before it is appended. `lastSequence` is
   * lastSequenceOf(baseSequence, recordCount). Returns kSequenceOk, kSequenceDuplicate (and sets
   * duplicateBaseOffset / duplicateLastOffset), INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER or
   * UNKNOWN_PRODUCER_ID. Changes nothing: call update() (append does) once the batch is in the log.
   */
  check (producerId: number, producerEpoch: number, baseSequence: number, lastSequence: number): number {
    const entry = this.producers.get(producerId)
    if (entry === undefined) {
      if (baseSequence === 0) return kSequenceOk
      return this.stateMayBeIncomplete ? ErrorCode.UNKNOWN_PRODUCER_ID : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    }
    if (producerEpoch < entry.epoch) return ErrorCode.INVALID_PRODUCER_EPOCH
    // A new epoch (the producer was reinitialised or bumped its epoch) starts its sequences over at 0.
    if (producerEpoch > entry.epoch) return baseSequence === 0 ? kSequenceOk : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    const batches = entry.batches
    for (let index = 0; index < entry.batchCount; index++) {
      const at = entry.slotOf(index) * kSlotFields
      if (batches[at] === baseSequence && batches[at + 1] === lastSequence) {
        this.duplicateBaseOffset = batches[at + 2]
        this.duplicateLastOffset = batches[at + 3]
        return kSequenceDuplicate
      }
    }
    if (entry.batchCount === 0) return baseSequence === 0 ? kSequenceOk : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    // Anything but the next sequence is a gap or an older batch no longer retained: both out of order.
    return baseSequence === sequenceAfter(entry.lastSequence) ? kSequenceOk : ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
  }

  /**
   * Records a batch appended at [baseOffset, lastOffset]. A different epoch replaces the retained batches. A
   * transactional batch opens the producer's transaction here when none is open.
   */
  update (producerId: number, producerEpoch: number, baseSequence: number, lastSequence: number,
    baseOffset: number, lastOffset: number, timestamp: number, transactional = false): void {
    const entry = this.#entryFor(producerId, producerEpoch)
    entry.push(baseSequence, lastSequence, baseOffset, lastOffset)
    entry.lastTimestamp = timestamp
    if (transactional && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = baseOffset
      this.#ongoing.set(producerId, baseOffset)
      if (this.#firstUnstable < 0 || baseOffset < this.#firstUnstable) this.#firstUnstable = baseOffset
    }
  }

  #entryFor (producerId: number, producerEpoch: number): ProducerEntry {
    let entry = this.producers.get(producerId)
    if (entry === undefined) {
      entry = new ProducerEntry(producerId, producerEpoch)
      this.producers.set(producerId, entry)
    } else if (entry.epoch !== producerEpoch) {
      entry.epoch = producerEpoch
      entry.clearBatches()
    }
    return entry
  }

  /**
   * Validates a COMMIT or ABORT marker before it is appended, as Kafka does: a producer epoch older than the
   * producer's is INVALID_PRODUCER_EPOCH (a fenced producer's transaction is ended by a newer epoch), a
   * coordinator epoch older than the one of its last marker TRANSACTION_COORDINATOR_FENCED (a stale coordinator).
   */
  checkMarker (producerId: number, producerEpoch: number, coordinatorEpoch: number): number {
    const entry = this.producers.get(producerId)
    if (entry === undefined) return ErrorCode.NONE
    if (producerEpoch < entry.epoch) return ErrorCode.INVALID_PRODUCER_EPOCH
    if (coordinatorEpoch < entry.coordinatorEpoch) return ErrorCode.TRANSACTION_COORDINATOR_FENCED
    return ErrorCode.NONE
  }

  /**
   * A marker was appended at `markerOffset`: the producer's open transaction (if any) is closed. Returns its
   * first offset, or -1 when none was open here (a marker for a transaction that wrote nothing here).
   */
  completeTransaction (producerId: number, producerEpoch: number, coordinatorEpoch: number, timestamp: number): number {
    const entry = this.#entryFor(producerId, producerEpoch)
    entry.coordinatorEpoch = coordinatorEpoch
    entry.lastTimestamp = timestamp
    const first = entry.currentTxnFirstOffset
    if (first < 0) return -1
    entry.currentTxnFirstOffset = -1
    this.#ongoing.delete(producerId)
    if (first === this.#firstUnstable) this.#recomputeFirstUnstable()
    return first
  }

  /** The first offset of the earliest open transaction, -1 when none is open. */
  firstUnstableOffset (): number {
    return this.#firstUnstable
  }

  /** The open transactions: producer id to first offset (DescribeProducers, tests). */
  ongoingTransactions (): ReadonlyMap<number, number> {
    return this.#ongoing
  }

  #recomputeFirstUnstable (): void {
    let least = -1
    for (const first of this.#ongoing.values()) if (least < 0 || first < least) least = first
    this.#firstUnstable = least
  }

  /**
   * Forgets producers whose last batch lies wholly before `offset` (the new log start offset), as Kafka does,
   * except those with an open transaction.
   */
  evictBefore (offset: number): void {
    for (const [producerId, entry] of this.producers) {
      if (entry.lastOffset < offset && entry.currentTxnFirstOffset < 0) this.producers.delete(producerId)
    }
  }

  clear (): void {
    this.producers.clear()
    this.#ongoing.clear()
    this.#firstUnstable = -1
  }

  // Snapshot layout, all integers big-endian:
  //   0  int16 version (2; 1 is read too: it lacks the two transaction fields, read as -1)
  //   2  int32 CRC-32C of bytes [6, end)
  //   6  int32 producer count
  //   10 producers, each:
  //        int64 producerId, int16 epoch, int64 lastTimestamp, int8 batchCount,
  //        v2: int64 currentTxnFirstOffset (-1: none open), int32 coordinatorEpoch,
  //        batchCount x [int32 baseSequence][int32 lastSequence][int64 baseOffset][int64 lastOffset], oldest first

  serialize (): Buffer {
    let size = kSnapshotHeaderSize
    for (const entry of this.producers.values()) size += kSnapshotEntryHeaderSize + kSnapshotTxnFieldsSize + entry.batchCount * kSnapshotBatchSize
    const buffer = Buffer.alloc(size)
    buffer.writeInt16BE(kSnapshotVersion, 0)
    buffer.writeInt32BE(this.producers.size, 6)
    let at = kSnapshotHeaderSize
    for (const entry of this.producers.values()) {
      writeInt64(buffer, at, entry.producerId)
      buffer.writeInt16BE(entry.epoch, at + 8)
      writeInt64(buffer, at + 10, entry.lastTimestamp)
      buffer.writeInt8(entry.batchCount, at + 18)
      at += kSnapshotEntryHeaderSize
      writeInt64(buffer, at, entry.currentTxnFirstOffset)
      buffer.writeInt32BE(entry.coordinatorEpoch, at + 8)
      at += kSnapshotTxnFieldsSize
      for (let index = 0; index < entry.batchCount; index++) {
        const slot = entry.slotOf(index) * kSlotFields
        buffer.writeInt32BE(entry.batches[slot], at)
        buffer.writeInt32BE(entry.batches[slot + 1], at + 4)
        writeInt64(buffer, at + 8, entry.batches[slot + 2])
        writeInt64(buffer, at + 16, entry.batches[slot + 3])
        at += kSnapshotBatchSize
      }
    }
    buffer.writeUInt32BE(crc32c(buffer.subarray(6)), 2)
    return buffer
  }

  /** Replaces the table with a serialized one; throws (leaving the table empty) when the snapshot is invalid. */
  load (buffer: Buffer): void {
    this.clear()
    const version = buffer.length < kSnapshotHeaderSize ? -1 : buffer.readInt16BE(0)
    if (version !== kSnapshotVersion && version !== 1) {
      throw new Error('invalid producer state snapshot: bad header')
    }
    if (buffer.readUInt32BE(2) !== crc32c(buffer.subarray(6))) throw new Error('invalid producer state snapshot: bad CRC')
    const count = buffer.readInt32BE(6)
    let at = kSnapshotHeaderSize
    for (let index = 0; index < count; index++) {
      const entry = new ProducerEntry(readInt64(buffer, at), buffer.readInt16BE(at + 8))
      entry.lastTimestamp = readInt64(buffer, at + 10)
      const batchCount = buffer.readInt8(at + 18)
      at += kSnapshotEntryHeaderSize
      if (version >= 2) {
        entry.currentTxnFirstOffset = readInt64(buffer, at)
        entry.coordinatorEpoch = buffer.readInt32BE(at + 8)
        at += kSnapshotTxnFieldsSize
      }
      for (let batch = 0; batch < batchCount; batch++) {
        entry.push(buffer.readInt32BE(at), buffer.readInt32BE(at + 4), readInt64(buffer, at + 8), readInt64(buffer, at + 16))
        at += kSnapshotBatchSize
      }
      this.producers.set(entry.producerId, entry)
      if (entry.currentTxnFirstOffset >= 0) this.#ongoing.set(entry.producerId, entry.currentTxnFirstOffset)
    }
    if (at !== buffer.length) {
      this.clear()
      throw new Error('invalid producer state snapshot: bad length')
    }
    this.#recomputeFirstUnstable()
  }
}

const kSnapshotVersion = 2
const kSnapshotHeaderSize = 10
const kSnapshotEntryHeaderSize = 19
const kSnapshotTxnFieldsSize = 12
const kSnapshotBatchSize = 24
