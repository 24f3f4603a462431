// The worker's side of the transaction coordinator (src/txn/coordinator.ts): the TransactionHost it runs over, the
// ownership of `__transaction_state` partitions, and the marker writes of every transaction, local or for a
// coordinator on another worker.
//
// State records go into the coordinator's own `__transaction_state` partition as one batch per transition and are
// fsynced before the coordinator answers. Markers for partitions of other workers travel over the rings as a
// WriteTxnMarkers v1 request (op 27) holding only that worker's partitions; the owner appends each control batch
// (PartitionLog.appendMarker, which refuses an older producer or coordinator epoch), fsyncs, wakes the partition's
// long polls (the last stable offset moved) and answers one code per partition. A marker written to a
// `__consumer_offsets` partition also settles the transaction's pending offset commits there (the group
// coordinator's completeTransaction).
//
// Coordinator epochs: each load of a `__transaction_state` partition takes the next epoch from the file
// `coordinator-epoch` in the partition's directory (fsynced before the load starts), so that a marker of an
// earlier load, or of the process before a crash, never overrides the current one's in a partition's producer
// state (which keeps the highest epoch it saw).

import { readFileSync } from 'node:fs'
import { writeFileDurable } from '../log/files.ts'
import { join } from 'node:path'
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { buildRecordBatch, parseRecords } from '../protocol/record-batch.ts'
import { kAttributesOffset, kControlBit } from '../protocol/record-batch-layout.ts'
import { TransactionCoordinator, type MarkerRequest, type MarkerResult, type StateRecord, type TransactionHost } from '../txn/coordinator.ts'
import { kTransactionStateTopic } from '../txn/transaction-log.ts'
import type { EncodedRecord } from '../txn/transaction-log.ts'
import type { TopicPartitions } from '../txn/transaction-metadata.ts'
import { kOffsetsTopic } from '../group/offset-store.ts'
import { count } from '../counters.ts'
import { CallFailedError, type LocalPartition, type RemoteServer, type Shard } from './shard.ts'

const writeTxnMarkersApi = apiByKey(27)!
const kMarkerVersion = 1
/** How often the coordinator's retries, timeouts and expiry run (Kafka's retry.backoff.ms). */
const kTickMs = 100
const kEpochFile = 'coordinator-epoch'
/** A state partition is checkpointed once it holds this many records more than its live state, and 4x it. */
const kCheckpointMinRecords = 10_000

interface CheckpointState {
  readonly local: LocalPartition
  appendedSinceCheckpoint: number
  liveAtCheckpoint: number
  running: boolean
  /**
   * Over the threshold but not yet written: a checkpoint waits while any id has a transition in flight (the
   * append that crossed the threshold is one of them), and the tick tries again until one is written.
   */
  due: boolean
}

/** One WriteTxnMarkers marker as its codec reads and writes it. */
export interface WritableMarker {
  producerId: number
  producerEpoch: number
  transactionResult: boolean
  topics: Array<{ name: string, partitionIndexes: number[] }>
  coordinatorEpoch: number
}

export interface MarkerTopicResult {
  name: string
  partitions: Array<{ partitionIndex: number, errorCode: number }>
}

/**
 * The coordinator's clock: monotonic within the process (a wall-clock step never times a transaction out early or
 * late), anchored at the wall clock when the process started so that timestamps written to the state log still
 * compare across restarts.
 */
function monotonicNow (): number {
  return Math.floor(performance.timeOrigin + performance.now())
}

export class ShardTransactionHost implements TransactionHost {
  readonly #shard: Shard
  #ticker: NodeJS.Timeout | null = null
  readonly #checkpoints = new Map<number, CheckpointState>()
  coordinator: TransactionCoordinator | null = null

  constructor (shard: Shard) {
    this.#shard = shard
  }

  #statePartition (partition: number): LocalPartition {
    const topic = this.#shard.table.topic(kTransactionStateTopic)
    const local = topic === undefined ? undefined : this.#shard.partition(topic, partition)
    if (local === undefined) throw new KafkaError(ErrorCode.NOT_COORDINATOR, `${kTransactionStateTopic}-${partition} is not on this worker`)
    return local
  }

  async appendState (partition: number, records: readonly EncodedRecord[], durable = true): Promise<void> {
    const local = this.#statePartition(partition)
    const timestamp = Date.now()
    const batch = buildRecordBatch(records.map((record) => ({ key: record.key, value: record.value, timestamp })))
    try {
      local.log.append(batch, -1)
    } catch (error) {
      throw error instanceof KafkaError ? error : new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, (error as Error).message)
    }
    if (durable) {
      await local.log.flush()
    } else {
      local.log.flush().catch((error: unknown) => {
        this.#shard.logger.limited('txn-state-flush', 'warn', `transactions: fsync of ${kTransactionStateTopic}-${partition} failed: ${(error as Error).message}`)
      })
    }
    const state = this.#checkpoints.get(partition)
    if (state === undefined) return
    state.appendedSinceCheckpoint += records.length
    if (state.appendedSinceCheckpoint > Math.max(kCheckpointMinRecords, 4 * state.liveAtCheckpoint)) {
      state.due = true
      this.#tryCheckpoint(state)
    }
  }

  #tryCheckpoint (state: CheckpointState): void {
    if (state.running || !state.due) return
    this.#checkpoint(state).catch((error: unknown) => {
      this.#shard.logger.limited('txn-checkpoint', 'warn', `transactions: checkpoint of ${kTransactionStateTopic}-${state.local.index} failed: ${(error as Error).message}`)
    })
  }

  /**
   * Compaction by checkpoint, as the group coordinator does for `__consumer_offsets`: the live state of every id of
   * the partition is appended as fresh records, then the log start moves past everything older, so that replay
   * reads only the checkpoint and what follows. Skipped (tried again after the next append) while any id of the
   * partition has a transition in flight. A crash between the append and the move replays the old records and
   * then the checkpoint; the last record of an id wins either way.
   */
  async #checkpoint (state: CheckpointState): Promise<void> {
    const local = state.local
    const records = this.coordinator?.checkpointRecords(local.index) ?? null
    if (records === null) return
    state.running = true
    try {
      const checkpointStart = local.log.nextOffset
      if (records.length > 0) {
        const timestamp = Date.now()
        local.log.append(buildRecordBatch(records.map((record) => ({ key: record.key, value: record.value, timestamp }))), -1)
        await local.log.flush()
      }
      state.appendedSinceCheckpoint = 0
      state.liveAtCheckpoint = records.length
      state.due = false
      local.log.deleteRecordsBefore(checkpointStart)
      count('txn-state-checkpoints')
    } finally {
      state.running = false
    }
  }

  * readState (partition: number): Iterable<StateRecord> {
    const log = this.#statePartition(partition).log
    const from = log.logStartOffset
    for (const batch of log.batches(from)) {
      // A marker (a client may add a state partition to its transaction, as Kafka allows): not state.
      if ((batch.readInt16BE(kAttributesOffset) & kControlBit) !== 0) continue
      for (const record of parseRecords(batch)) {
        if (record.offset >= from) yield { key: record.key, value: record.value, offset: record.offset }
      }
    }
  }

  async writeMarkers (request: MarkerRequest): Promise<MarkerResult[]> {
    const shard = this.#shard
    const results: MarkerResult[] = []
    const byOwner = new Map<number, TopicPartitions[]>()
    for (const { topic, partitions } of request.partitions) {
      const entry = shard.table.topic(topic)
      for (const partition of partitions) {
        if (entry === undefined || partition < 0 || partition >= entry.partitions) {
          results.push({ topic, partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
          continue
        }
        const owner = shard.table.ownerOf(entry, partition)
        let list = byOwner.get(owner)
        if (list === undefined) { list = []; byOwner.set(owner, list) }
        const last = list[list.length - 1]
        if (last !== undefined && last.topic === topic) (last.partitions as number[]).push(partition)
        else list.push({ topic, partitions: [partition] })
      }
    }
    const marker = (topics: readonly TopicPartitions[]): WritableMarker => ({
      producerId: request.producerId,
      producerEpoch: request.producerEpoch,
      transactionResult: request.commit,
      topics: topics.map(({ topic, partitions }) => ({ name: topic, partitionIndexes: [...partitions] })),
      coordinatorEpoch: request.coordinatorEpoch
    })
    await Promise.all([...byOwner].map(async ([owner, topics]) => {
      let answered: MarkerTopicResult[]
      if (owner === shard.index) {
        answered = await writeMarkerHere(shard, marker(topics))
      } else {
        const writer = new Writer()
        writeTxnMarkersApi.request(kMarkerVersion).encode(writer, { markers: [marker(topics)] })
        writer.finishFrame()
        try {
          const payload = await shard.call(owner, writeTxnMarkersApi.key, kMarkerVersion, writer.chunks).reply
          const response = writeTxnMarkersApi.response(kMarkerVersion).decode(new Reader(payload)) as { markers: Array<{ topics: MarkerTopicResult[] }> }
          answered = response.markers[0]?.topics ?? []
        } catch (error) {
          // Missing results are retried by the coordinator.
          if (!(error instanceof CallFailedError)) shard.logger.limited('txn-markers', 'warn', `markers for worker ${owner}: ${(error as Error).message}`)
          return
        }
      }
      for (const topic of answered) {
        for (const p of topic.partitions) results.push({ topic: topic.name, partition: p.partitionIndex, errorCode: p.errorCode })
      }
    }))
    return results
  }

  async allocateProducerId (): Promise<number> {
    try {
      const { producerId } = await this.#shard.admin<{ producerId: number }>({ op: 'initProducerId' })
      return producerId
    } catch (error) {
      throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, (error as Error).message)
    }
  }

  now (): number {
    return monotonicNow()
  }

  warn (message: string): void {
    this.#shard.logger.limited('txn-coordinator', 'warn', `transactions: ${message}`)
  }

  // --- Ownership, called by the shard as its table changes ---------------------------------------------------

  /** This worker now owns `__transaction_state` partition `local`: load its ids (in the background). */
  load (local: LocalPartition): void {
    const coordinator = this.coordinator
    if (coordinator === null) return
    let epoch: number
    try {
      epoch = nextCoordinatorEpoch(local)
    } catch (error) {
      this.#shard.logger.error(`transactions: cannot take ${kTransactionStateTopic}-${local.index}: ${(error as Error).message}`)
      return
    }
    this.#ticker ??= setInterval(() => {
      try {
        coordinator.tick()
        for (const state of this.#checkpoints.values()) this.#tryCheckpoint(state)
      } catch (error) {
        count('request-handler-errors')
        this.#shard.logger.limited('txn-tick', 'error', `transactions: tick failed: ${(error as Error).stack ?? (error as Error).message}`)
      }
    }, kTickMs).unref()
    this.#checkpoints.set(local.index, { local, appendedSinceCheckpoint: local.log.nextOffset - local.log.logStartOffset, liveAtCheckpoint: 0, running: false, due: false })
    coordinator.loadPartition(local.index, epoch).then((loaded) => {
      if (loaded.transactions > 0) this.#shard.logger.info(`transactions: ${kTransactionStateTopic}-${local.index} loaded (epoch ${epoch}): ${loaded.transactions} transactional ids, ${loaded.resumed} resumed, ${loaded.skipped} records skipped`)
    }, (error: unknown) => {
      this.#shard.logger.error(`transactions: loading ${kTransactionStateTopic}-${local.index} failed: ${(error as Error).message}`)
    })
  }

  unload (partition: number): void {
    this.#checkpoints.delete(partition)
    this.coordinator?.unloadPartition(partition)
  }

  shutdown (): void {
    if (this.#ticker !== null) clearInterval(this.#ticker)
    this.#ticker = null
    this.coordinator?.shutdown()
  }
}

/** Reads, increments and durably writes the partition's coordinator epoch (see the header). */
function nextCoordinatorEpoch (local: LocalPartition): number {
  const file = join(local.log.directory, kEpochFile)
  let previous = -1
  try {
    previous = Number.parseInt(readFileSync(file, 'utf8'), 10) || 0
  } catch {
    // First load of this partition.
  }
  // No epoch file but a log with data: the partition was restored from S3 onto a fresh disk (src/storage/), and
  // the markers already in the data partitions carry the epochs of the coordinator before it. Seconds since the
  // Unix epoch (an int32 until 2038) are above any of them, so its markers are not fenced.
  if (previous < 0) previous = local.log.nextOffset > 0 ? Math.floor(Date.now() / 1000) : 0
  const epoch = previous >= 0x7fffffff ? 1 : previous + 1
  writeFileDurable(file, String(epoch))
  return epoch
}

/**
 * Writes one marker into this worker's partitions it lists: each control batch appended, all fsynced together,
 * then long polls woken and, for `__consumer_offsets` partitions, the transaction's pending offsets settled.
 * Resolves with one code per partition.
 */
export async function writeMarkerHere (shard: Shard, marker: WritableMarker): Promise<MarkerTopicResult[]> {
  const results: MarkerTopicResult[] = []
  const written: Array<{ local: LocalPartition, result: { partitionIndex: number, errorCode: number } }> = []
  for (const topic of marker.topics) {
    const entry = shard.table.topic(topic.name)
    const partitions: Array<{ partitionIndex: number, errorCode: number }> = []
    results.push({ name: topic.name, partitions })
    for (const partitionIndex of topic.partitionIndexes) {
      const result: { partitionIndex: number, errorCode: number } = { partitionIndex, errorCode: ErrorCode.NONE }
      partitions.push(result)
      if (entry === undefined || partitionIndex < 0 || partitionIndex >= entry.partitions) {
        result.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        continue
      }
      const local = shard.partition(entry, partitionIndex)
      if (local === undefined) {
        result.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER
        continue
      }
      try {
        local.log.appendMarker(marker.producerId, marker.producerEpoch, marker.transactionResult, marker.coordinatorEpoch)
      } catch (error) {
        result.errorCode = error instanceof KafkaError ? error.code : ErrorCode.KAFKA_STORAGE_ERROR
        if (!(error instanceof KafkaError)) shard.logger.limited('marker-append-failed', 'error', `marker append to ${entry.name}-${partitionIndex} failed: ${(error as Error).message}`)
        continue
      }
      written.push({ local, result })
    }
  }
  await Promise.all(written.map(async ({ local, result }) => {
    try {
      await local.log.flush()
    } catch {
      result.errorCode = ErrorCode.KAFKA_STORAGE_ERROR
    }
  }))
  for (const { local, result } of written) {
    if (result.errorCode !== ErrorCode.NONE) continue
    local.appended()
    if (local.topic.name === kOffsetsTopic) shard.groups.completeTransaction(local.index, marker.producerId, marker.producerEpoch, marker.transactionResult)
  }
  return results
}

/** The owner side of op 27: the marker writes a coordinator on another worker sends (see the header). */
export const writeTxnMarkersServer: RemoteServer = (shard, source, token, apiVersion, payload) => {
  let request: { markers: WritableMarker[] }
  try {
    request = writeTxnMarkersApi.request(apiVersion).decode(new Reader(payload)) as { markers: WritableMarker[] }
  } catch (error) {
    count('request-handler-errors')
    shard.logger.limited('txn-markers-decode', 'error', `WriteTxnMarkers v${apiVersion} from worker ${source} undecodable: ${(error as Error).message}`)
    shard.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
    return
  }
  Promise.all(request.markers.map(async (marker) => ({ producerId: marker.producerId, topics: await writeMarkerHere(shard, marker) }))).then((markers) => {
    const writer = new Writer()
    writeTxnMarkersApi.response(apiVersion).encode(writer, { markers })
    writer.finishFrame()
    shard.reply(source, token, apiVersion, writer.chunks)
  }, (error: unknown) => {
    count('request-handler-errors')
    shard.logger.limited('txn-markers-serve', 'error', `WriteTxnMarkers from worker ${source} failed: ${(error as Error).message}`)
    shard.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
  })
}
