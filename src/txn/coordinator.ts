// The transaction coordinator service of one worker (Kafka's TransactionCoordinator, TransactionStateManager and
// TransactionMarkerChannelManager in one): it owns every transactional id whose `__transaction_state` partition
// this worker owns, drives the pure state machine of transaction-metadata.ts, persists each transition through the
// host before it is answered, and writes COMMIT/ABORT markers after a Prepare* state is durable.
//
// Everything outside transaction state comes through an injected TransactionHost (below), so this module depends
// on no shard, network or handler code: the shard implements the host, the handlers call the request methods and
// map the returned values onto their responses.
//
// Ownership of one `__transaction_state` partition, as the host reports it:
//   loadPartition   → loading (ids answer COORDINATOR_LOAD_IN_PROGRESS) → loaded (replayed; every Prepare* id is
//                     resumed: markers again, then Complete*)
//   unloadPartition → gone (ids answer NOT_COORDINATOR; requests still waiting on an append answer NOT_COORDINATOR
//                     at once, and marker work of its ids stops)
// Each load is its own object (`PartitionLoad`): every asynchronous step re-checks, after each await, that the load
// it started under is still the current one, and the state machine's completeTransition refuses a transition that
// is no longer its entry's pending one, so nothing from an earlier ownership leaks into a later one.
//
// Time is the host's clock (`now()`), and nothing here arms a timer: the host calls `tick()` periodically (every
// retry backoff or so), which wakes retries that are due and runs the timeout and expiry scans on their intervals.
// Tests drive the clock and the ticks themselves.
//
// Counters (src/counters.ts): txn-markers-written (partitions that accepted a marker), txn-marker-retries
// (partitions whose marker is sent again), txn-markers-dropped (deleted partitions), txn-markers-cancelled
// (refused for a newer producer or coordinator epoch), txn-committed and txn-aborted (Complete* durable),
// txn-timed-out (a timeout's PrepareAbort durable), txn-complete-retries, txn-ids-expired, txn-state-records-skipped.
//
// Single-threaded like the state machine: one worker, one event loop, no locks. Many ids proceed independently:
// each ended transaction's markers run in their own asynchronous loop, so one id's slow partitions never hold up
// another id's requests.

import { count } from '../counters.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { encodeTransactionLogRecord, replayTransactionLog, transactionPartitionFor, kTransactionStateTopicPartitions, type EncodedRecord, type RawRecord } from './transaction-log.ts'
import {
  abortTimedOut, addOffsetsToTxn as decideAddOffsets, addPartitionsToTxn as decideAddPartitions, completeTransition,
  describeTransaction, endTxn as decideEndTxn, entriesFrom, expirableTransactionalIds, expired, expireTransactionalId,
  failTransition, initProducerId as decideInitProducerId, isEpochExhausted, kDefaultTransactionalIdExpirationMs,
  kDefaultTransactionMaxTimeoutMs, kNoProducerEpoch, kNoProducerId, kOffsetsTopicDefaultPartitions,
  listTransactions as listEntries, pendingCompletions, TransactionState, verifyPartitionsInTxn,
  type AddOffsetsRequest, type AddPartitionsRequest, type Decision, type DescribedTransaction, type EndTxnRequest,
  type InitProducerIdConfig, type InitProducerIdRequest, type ListedTransactions, type ListTransactionsFilter,
  type MarkerPlan, type Reply, type TopicPartitions, type TopicResult, type TransactionEntries, type Transition
} from './transaction-metadata.ts'

// --- The host ------------------------------------------------------------------------------------------------

/** A record of a `__transaction_state` partition as the host reads it back; `offset` only names a bad record. */
export interface StateRecord extends RawRecord {
  readonly offset: number
}

/** The COMMIT/ABORT control records of one ended transaction, one per partition listed. */
export interface MarkerRequest {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly commit: boolean
  /** The epoch of the load that writes them (loadPartition's): partitions refuse markers of an older coordinator. */
  readonly coordinatorEpoch: number
  readonly partitions: readonly TopicPartitions[]
}

export interface MarkerResult {
  readonly topic: string
  readonly partition: number
  readonly errorCode: number
}

/**
 * What the coordinator needs from the broker. Every method is called on the coordinator's own thread; the
 * asynchronous ones may settle in any order.
 */
export interface TransactionHost {
  /**
   * Appends `records` (in order, as one batch) to `__transaction_state` partition `partition` and resolves once
   * they are durable (fsynced). Rejects with a KafkaError carrying the log's code (KAFKA_STORAGE_ERROR,
   * NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, ...) when they are not; a rejected
   * append must have left nothing in the partition that a later load would read. Concurrent calls for one
   * partition are appended in call order. The coordinator never has two appends of one transactional id in flight.
   *
   * `durable: false` (Complete* only): resolve once appended, without waiting for the fsync (which still follows).
   * Nobody is answered on a Complete*, and losing one in a crash only replays its Prepare*, whose markers are then
   * written again; the next transition of the id, fsynced, makes it durable before anything is answered.
   */
  appendState (partition: number, records: readonly EncodedRecord[], durable?: boolean): Promise<void>
  /**
   * The records of `__transaction_state` partition `partition`, oldest first, for loading. Either form works: an
   * asynchronous one lets requests be answered COORDINATOR_LOAD_IN_PROGRESS while a long log is read. Called once
   * per loadPartition.
   */
  readState (partition: number): Iterable<StateRecord> | AsyncIterable<StateRecord>
  /**
   * Writes the COMMIT/ABORT marker of `request` into each partition it lists (routing each to the worker that owns
   * it, with the partition log's appendMarker) and resolves, once each is durable or refused, with one result per
   * partition asked. Codes: NONE (written); UNKNOWN_TOPIC_OR_PARTITION only when the partition does not exist (it
   * was deleted: the marker is dropped, as Kafka drops markers of partitions it finds no leader for); the partition
   * log's INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED (a newer producer or coordinator owns the
   * producer there: sending stops, as in Kafka); anything else (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR, ...) is
   * retried. A partition missing from the results, or a rejection of the whole call, is retried. A marker written
   * to a `__consumer_offsets` partition must also settle the transaction's pending offset commits there (that is
   * the group coordinator's business, routed by the host).
   */
  writeMarkers (request: MarkerRequest): Promise<MarkerResult[]>
  /**
   * A fresh producer id from the controller (which lives on another thread), never handed out before. Rejects with a
   * KafkaError whose code is answered (e.g. COORDINATOR_LOAD_IN_PROGRESS while no block of ids is at hand).
   */
  allocateProducerId (): Promise<number>
  /** The clock, in milliseconds; every timestamp the coordinator writes comes from it. */
  now (): number
  /** Something worth an operator's attention that is not a request's error (a skipped record, a stuck marker). */
  warn (message: string): void
}

export interface TransactionCoordinatorOptions {
  /** The partition count of `__transaction_state` (transaction.state.log.num.partitions). */
  readonly transactionStatePartitions?: number
  /** The partition count of `__consumer_offsets` (offsets.topic.num.partitions), for AddOffsetsToTxn. */
  readonly offsetsTopicPartitions?: number
  /** transaction.max.timeout.ms */
  readonly transactionMaxTimeoutMs?: number
  /** transactional.id.expiration.ms */
  readonly transactionalIdExpirationMs?: number
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  readonly abortTimedOutTransactionsIntervalMs?: number
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  readonly removeExpiredTransactionalIdsIntervalMs?: number
  /** The first wait before a marker or Complete* append is retried; it doubles per attempt up to the maximum. */
  readonly retryBackoffMs?: number
  readonly retryBackoffMaxMs?: number
  /**
   * How long a request that finds its id's previous transaction still completing is held before it is answered
   * CONCURRENT_TRANSACTIONS (0: answered at once, as Kafka does). See #decideAfterCompletion.
   */
  readonly holdWhileCompletingMs?: number
}

/** Kafka's defaults for the two cleanup intervals. */
export const kDefaultAbortTimedOutIntervalMs = 10_000
export const kDefaultRemoveExpiredIntervalMs = 3_600_000
/** Kafka's retry.backoff.ms; the cap keeps a partition that is down for long from being hammered. */
export const kDefaultRetryBackoffMs = 100
export const kDefaultRetryBackoffMaxMs = 5_000
/** How long a request may be held while its id's previous transaction completes (#decideAfterCompletion). */
export const kDefaultHoldWhileCompletingMs = 1_000

// --- Results, named as the responses name their fields ---------------------------------------------------------

export interface ErrorResult {
  readonly errorCode: number
}

/** One transaction of an AddPartitionsToTxn v4+ batch (KIP-890): `topics` use the request's partition lists. */
export interface BatchedTransaction {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly verifyOnly: boolean
  readonly topics: readonly TopicPartitions[]
}

/** One `resultsByTransaction` entry of an AddPartitionsToTxn v4+ response. */
export interface BatchedTransactionResult {
  readonly transactionalId: string
  readonly topicResults: readonly TopicResult[]
}

// --- Internals -----------------------------------------------------------------------------------------------

/** One ownership of one partition, from loadPartition to unloadPartition. */
interface PartitionLoad {
  readonly partition: number
  readonly coordinatorEpoch: number
  state: 'loading' | 'loaded' | 'unloaded'
  /** Wakes everything awaiting on behalf of this load when it ends (see #untilUnloaded, #after). */
  readonly cancels: Set<() => void>
}

interface Waiter {
  readonly due: number
  readonly fire: () => void
}

const kUnloaded: unique symbol = Symbol('unloaded')

function reply (errorCode: number): Reply {
  return { errorCode, producerId: kNoProducerId, producerEpoch: kNoProducerEpoch }
}

/** Calls `fn`, turning a synchronous throw into a rejection, so that a host bug takes the same path as a failure. */
function invoke<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error)
  }
}

function recordOf (transition: Transition): EncodedRecord {
  return encodeTransactionLogRecord({ transactionalId: transition.transactionalId, value: transition.target })
}

function appendErrorCode (error: unknown): number {
  return error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR
}

function listOf (partitions: ReadonlyMap<string, readonly number[]>): TopicPartitions[] {
  const list: TopicPartitions[] = []
  for (const [topic, indexes] of partitions) list.push({ topic, partitions: indexes })
  return list
}

function isAsyncIterable<T> (source: Iterable<T> | AsyncIterable<T>): source is AsyncIterable<T> {
  return typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function'
}

function everyPartition (topics: readonly TopicPartitions[], errorCode: number): TopicResult[] {
  return topics.map(({ topic, partitions }) => ({
    name: topic,
    resultsByPartition: partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorCode }))
  }))
}

function errorDescription (transactionalId: string, errorCode: number): DescribedTransaction {
  return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: 0, producerId: 0, producerEpoch: 0, topics: [] }
}

// --- The coordinator -----------------------------------------------------------------------------------------

export class TransactionCoordinator {
  readonly #host: TransactionHost
  readonly #statePartitions: number
  readonly #offsetsPartitions: number
  readonly #expirationMs: number
  readonly #abortIntervalMs: number
  readonly #expiryIntervalMs: number
  readonly #backoffMs: number
  readonly #backoffMaxMs: number
  readonly #holdMs: number
  /** The ids of every loaded partition (one map, as the state machine wants it). */
  readonly #entries: TransactionEntries
  readonly #loads: Map<number, PartitionLoad>
  /**
   * Producer ids fetched ahead of the state machine's synchronous allocator (see initProducerId). One fetched for a
   * request that ended up not needing it stays here for the next one.
   */
  readonly #spareProducerIds: number[]
  readonly #initConfig: InitProducerIdConfig
  #waiters: Waiter[]
  /** Requests held until an id's ending transaction completes (see #decideAfterCompletion), by transactional id. */
  readonly #settleWaiters: Map<string, Array<() => void>>
  #nextAbortScan: number
  #nextExpiryScan: number

  constructor (host: TransactionHost, options: TransactionCoordinatorOptions = {}) {
    this.#host = host
    this.#statePartitions = options.transactionStatePartitions ?? kTransactionStateTopicPartitions
    this.#offsetsPartitions = options.offsetsTopicPartitions ?? kOffsetsTopicDefaultPartitions
    this.#expirationMs = options.transactionalIdExpirationMs ?? kDefaultTransactionalIdExpirationMs
    this.#abortIntervalMs = options.abortTimedOutTransactionsIntervalMs ?? kDefaultAbortTimedOutIntervalMs
    this.#expiryIntervalMs = options.removeExpiredTransactionalIdsIntervalMs ?? kDefaultRemoveExpiredIntervalMs
    this.#backoffMs = options.retryBackoffMs ?? kDefaultRetryBackoffMs
    this.#backoffMaxMs = options.retryBackoffMaxMs ?? kDefaultRetryBackoffMaxMs
    this.#holdMs = options.holdWhileCompletingMs ?? kDefaultHoldWhileCompletingMs
    this.#entries = new Map()
    this.#loads = new Map()
    this.#spareProducerIds = []
    const spare = this.#spareProducerIds
    this.#initConfig = {
      maxTimeoutMs: options.transactionMaxTimeoutMs ?? kDefaultTransactionMaxTimeoutMs,
      allocateProducerId: () => {
        const id = spare.pop()
        // Only reachable if a request needed an id that initProducerId did not foresee; the client retries.
        if (id === undefined) throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'no producer id at hand')
        return id
      }
    }
    this.#waiters = []
    this.#settleWaiters = new Map()
    const now = host.now()
    this.#nextAbortScan = now + this.#abortIntervalMs
    this.#nextExpiryScan = now + this.#expiryIntervalMs
  }

  /** The `__transaction_state` partition of an id (FindCoordinator's answer, and routing). */
  partitionFor (transactionalId: string): number {
    return transactionPartitionFor(transactionalId, this.#statePartitions)
  }

  /** 'loading', 'loaded', or null when this worker does not coordinate the partition. */
  partitionState (partition: number): 'loading' | 'loaded' | null {
    const load = this.#loads.get(partition)
    return load === undefined || load.state === 'unloaded' ? null : load.state
  }

  // --- Ownership -------------------------------------------------------------------------------------------

  /**
   * Takes ownership of `__transaction_state` partition `partition` (this worker became its leader): replays it,
   * then resumes every transaction found in Prepare*: its markers are written again (with this coordinatorEpoch)
   * and Complete* persisted, in the background. Resolves once the ids answer requests. A partition already loaded
   * is unloaded first. If reading the records fails the partition is left unowned and the error rethrown.
   */
  async loadPartition (partition: number, coordinatorEpoch: number): Promise<{ transactions: number, resumed: number, skipped: number }> {
    this.unloadPartition(partition)
    const load: PartitionLoad = { partition, coordinatorEpoch, state: 'loading', cancels: new Set() }
    this.#loads.set(partition, load)
    let records: Iterable<StateRecord>
    try {
      const source = this.#host.readState(partition)
      if (isAsyncIterable(source)) {
        const collected: StateRecord[] = []
        for await (const record of source) {
          if (load.state !== 'loading') return { transactions: 0, resumed: 0, skipped: 0 }
          collected.push(record)
        }
        records = collected
      } else {
        records = source
      }
      if (load.state !== 'loading') return { transactions: 0, resumed: 0, skipped: 0 }
      const { transactions, skipped } = replayTransactionLog(records)
      for (const bad of skipped) {
        count('txn-state-records-skipped')
        this.#host.warn(`__transaction_state-${partition} offset ${bad.offset}: skipped: ${bad.error}`)
      }
      const loaded = entriesFrom(transactions.values())
      // Planned on this partition's entries alone: each plan's completion is already its entry's pending one.
      const plans = pendingCompletions(loaded, this.#host.now())
      for (const [id, entry] of loaded) {
        // A record on the wrong partition (the partition count changed?) is not this partition's to own.
        if (this.partitionFor(id) === partition) this.#entries.set(id, entry)
        else this.#host.warn(`__transaction_state-${partition}: ${id} belongs to partition ${this.partitionFor(id)}; ignored`)
      }
      load.state = 'loaded'
      let resumed = 0
      for (const plan of plans) {
        if (this.#entries.get(plan.transactionalId)?.pending !== plan.completion) continue
        resumed++
        this.#finishInBackground(load, plan)
      }
      return { transactions: loaded.size, resumed, skipped: skipped.length }
    } catch (error) {
      if (this.#loads.get(partition) === load) this.unloadPartition(partition)
      throw error
    }
  }

  /**
   * Gives up `partition` (another worker or broker leads it now): its ids are forgotten, requests still waiting on
   * one of its appends answer NOT_COORDINATOR, and its marker work stops (the next owner resumes it from the log).
   */
  unloadPartition (partition: number): void {
    const load = this.#loads.get(partition)
    if (load === undefined) return
    this.#loads.delete(partition)
    load.state = 'unloaded'
    for (const id of [...this.#entries.keys()]) {
      if (this.partitionFor(id) === partition) this.#entries.delete(id)
    }
    const cancels = [...load.cancels]
    load.cancels.clear()
    for (const cancel of cancels) cancel()
  }

  /** Unloads every partition (the worker stops). */
  shutdown (): void {
    for (const partition of [...this.#loads.keys()]) this.unloadPartition(partition)
    this.#waiters = []
  }

  /** The load that coordinates `transactionalId`, or the error code to answer. */
  #ownerOf (transactionalId: string): PartitionLoad | number {
    const load = this.#loads.get(this.partitionFor(transactionalId))
    if (load === undefined || load.state === 'unloaded') return ErrorCode.NOT_COORDINATOR
    if (load.state === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    return load
  }

  #current (load: PartitionLoad): boolean {
    return load.state === 'loaded' && this.#loads.get(load.partition) === load
  }

  // --- Requests --------------------------------------------------------------------------------------------

  /**
   * InitProducerId with a transactional id (v0-5). The state machine allocates synchronously, so when the request
   * may need a new producer id (an id not seen yet, or an exhausted epoch) one is fetched from the host first and
   * kept as a spare if it turns out not to be needed.
   */
  async initProducerId (request: InitProducerIdRequest): Promise<Reply> {
    if (request.transactionalId === '') return this.#answer(decideInitProducerId(this.#entries, request, this.#initConfig, this.#host.now()))
    let load = this.#ownerOf(request.transactionalId)
    if (typeof load === 'number') return reply(load)
    const known = this.#entries.get(request.transactionalId)
    if (this.#spareProducerIds.length === 0 && (known === undefined || isEpochExhausted(known.metadata.producerEpoch))) {
      let id: number
      try {
        id = await this.#host.allocateProducerId()
      } catch (error) {
        if (error instanceof KafkaError) return reply(error.code)
        throw error
      }
      this.#spareProducerIds.push(id)
      // Ownership may have changed while the id was being fetched.
      load = this.#ownerOf(request.transactionalId)
      if (typeof load === 'number') return reply(load)
    }
    return this.#persist(load, await this.#decideAfterCompletion(load, request.transactionalId, () => decideInitProducerId(this.#entries, request, this.#initConfig, this.#host.now())))
  }

  /**
   * AddPartitionsToTxn v0-3 (one producer's transaction): the `resultsByTopicV3AndBelow` of the response, one code
   * for every partition named. The handler has already answered partitions that do not exist or are not
   * authorised (and the rest OPERATION_NOT_ATTEMPTED), as Kafka's KafkaApis does.
   */
  async addPartitionsToTxn (request: AddPartitionsRequest): Promise<TopicResult[]> {
    const { errorCode } = await this.#addPartitions(request)
    return everyPartition(request.topics, errorCode)
  }

  async #addPartitions (request: AddPartitionsRequest): Promise<Reply> {
    if (request.transactionalId === '') return this.#answer(decideAddPartitions(this.#entries, request, this.#host.now()))
    const load = this.#ownerOf(request.transactionalId)
    if (typeof load === 'number') return reply(load)
    return this.#persist(load, await this.#decideAfterCompletion(load, request.transactionalId, () => decideAddPartitions(this.#entries, request, this.#host.now())))
  }

  /**
   * AddPartitionsToTxn v4+ (the batch a partition leader sends; KIP-890 part 1): every transaction is decided on
   * its own and concurrently, a verify-only one without writing anything. Results are in request order.
   */
  async addPartitionsToTxnBatch (transactions: readonly BatchedTransaction[], version: number): Promise<BatchedTransactionResult[]> {
    return Promise.all(transactions.map(async (transaction) => {
      const { transactionalId, topics } = transaction
      if (!transaction.verifyOnly) {
        const { errorCode } = await this.#addPartitions({ ...transaction, version })
        return { transactionalId, topicResults: everyPartition(topics, errorCode) }
      }
      const owner = transactionalId === '' ? null : this.#ownerOf(transactionalId)
      if (typeof owner === 'number') return { transactionalId, topicResults: everyPartition(topics, owner) }
      return { transactionalId, topicResults: verifyPartitionsInTxn(this.#entries, transaction) }
    }))
  }

  /** AddOffsetsToTxn v0-4: the group's `__consumer_offsets` partition joins the transaction. */
  async addOffsetsToTxn (request: AddOffsetsRequest): Promise<ErrorResult> {
    if (request.transactionalId === '') return { errorCode: this.#answer(decideAddOffsets(this.#entries, request, this.#host.now(), this.#offsetsPartitions)).errorCode }
    const load = this.#ownerOf(request.transactionalId)
    if (typeof load === 'number') return { errorCode: load }
    const { errorCode } = await this.#persist(load, await this.#decideAfterCompletion(load, request.transactionalId, () => decideAddOffsets(this.#entries, request, this.#host.now(), this.#offsetsPartitions)))
    return { errorCode }
  }

  /**
   * EndTxn v0-4. Answered once Prepare* is durable, as Kafka does; the markers and Complete* follow in the
   * background, and until they are done the id answers CONCURRENT_TRANSACTIONS.
   */
  async endTxn (request: EndTxnRequest): Promise<ErrorResult> {
    if (request.transactionalId === '') return { errorCode: this.#answer(decideEndTxn(this.#entries, request, this.#host.now())).errorCode }
    const load = this.#ownerOf(request.transactionalId)
    if (typeof load === 'number') return { errorCode: load }
    const { errorCode } = await this.#persist(load, decideEndTxn(this.#entries, request, this.#host.now()))
    return { errorCode }
  }

  /** DescribeTransactions v0 over ids routed here, in request order; no I/O, so synchronous. */
  describeTransactions (transactionalIds: readonly string[]): DescribedTransaction[] {
    return transactionalIds.map((id) => {
      if (id === '') return describeTransaction(this.#entries, id)
      const owner = this.#ownerOf(id)
      return typeof owner === 'number' ? errorDescription(id, owner) : describeTransaction(this.#entries, id)
    })
  }

  /**
   * ListTransactions v0-1 over every loaded partition (the handler merges workers). While any partition is still
   * loading the answer is COORDINATOR_LOAD_IN_PROGRESS, as Kafka's TransactionStateManager answers.
   */
  listTransactions (filter: ListTransactionsFilter): ListedTransactions {
    for (const load of this.#loads.values()) {
      if (load.state === 'loading') return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, unknownStateFilters: [], transactionStates: [] }
    }
    return listEntries(this.#entries, filter, this.#host.now())
  }

  /**
   * The records that rebuild the ids of partition `partition` exactly, one per id, for a checkpoint of its log (the
   * host appends them and then drops everything older). Null while the partition is not loaded or any of its ids
   * has a transition in flight: every append belongs to one, so with none in flight memory holds everything the
   * log does.
   */
  checkpointRecords (partition: number): EncodedRecord[] | null {
    const load = this.#loads.get(partition)
    if (load === undefined || load.state !== 'loaded') return null
    const records: EncodedRecord[] = []
    for (const [transactionalId, entry] of this.#entries) {
      if (this.partitionFor(transactionalId) !== partition) continue
      if (entry.pending !== null) return null
      // An id created in memory whose first InitProducerId was never persisted has nothing to keep.
      if (entry.metadata.producerEpoch === kNoProducerEpoch) continue
      records.push(encodeTransactionLogRecord({ transactionalId, value: entry.metadata }))
    }
    return records
  }

  // --- Periodic work ---------------------------------------------------------------------------------------

  /**
   * Called by the host periodically (at least every retryBackoffMs): wakes the retries that are due, and every
   * cleanup interval starts the timeout abort and the id expiry (which run on in the background).
   */
  tick (): void {
    const now = this.#host.now()
    if (this.#waiters.length > 0) {
      const due: Waiter[] = []
      const later: Waiter[] = []
      for (const waiter of this.#waiters) (waiter.due <= now ? due : later).push(waiter)
      this.#waiters = later
      for (const waiter of due) waiter.fire()
    }
    if (now >= this.#nextAbortScan) {
      this.#nextAbortScan = now + this.#abortIntervalMs
      this.abortTimedOutTransactions().catch((error: Error) => this.#host.warn(`aborting timed-out transactions: ${error.message}`))
    }
    if (now >= this.#nextExpiryScan) {
      this.#nextExpiryScan = now + this.#expiryIntervalMs
      this.expireTransactionalIds().catch((error: Error) => this.#host.warn(`expiring transactional ids: ${error.message}`))
    }
  }

  /**
   * Aborts every Ongoing transaction open longer than its timeout, with an epoch bump that fences its producer
   * (Kafka's abortTimedOutTransactions). Resolves with how many PrepareAborts became durable; their markers follow
   * in the background. A failed append is tried again at the next scan.
   */
  async abortTimedOutTransactions (): Promise<number> {
    const now = this.#host.now()
    const started: Array<Promise<boolean>> = []
    for (const timedOut of expired(this.#entries, now)) {
      const load = this.#ownerOf(timedOut.transactionalId)
      if (typeof load === 'number') continue
      const decision = abortTimedOut(this.#entries, timedOut, now)
      if (decision === null) continue
      started.push(this.#persist(load, decision).then((answer) => {
        if (answer.errorCode !== ErrorCode.NONE) {
          this.#host.warn(`aborting timed-out transaction of ${timedOut.transactionalId}: error ${answer.errorCode}`)
          return false
        }
        count('txn-timed-out')
        return true
      }))
    }
    let aborted = 0
    for (const done of await Promise.all(started)) if (done) aborted++
    return aborted
  }

  /**
   * Removes ids idle for transactional.id.expiration.ms (no transaction in progress): one append of tombstones per
   * partition, after which the ids are gone (a later InitProducerId starts afresh with a new producer id). Resolves
   * with how many were expired.
   */
  async expireTransactionalIds (): Promise<number> {
    const byLoad = new Map<PartitionLoad, Transition[]>()
    for (const id of expirableTransactionalIds(this.#entries, this.#host.now(), this.#expirationMs)) {
      const load = this.#ownerOf(id)
      if (typeof load === 'number') continue
      const decision = expireTransactionalId(this.#entries, id)
      if (decision === null || decision.kind !== 'persist') continue
      let list = byLoad.get(load)
      if (list === undefined) byLoad.set(load, list = [])
      list.push(decision.transition)
    }
    const counts = await Promise.all([...byLoad].map(async ([load, transitions]) => {
      const partition = load.partition
      let outcome: void | typeof kUnloaded
      try {
        outcome = await this.#untilUnloaded(load, invoke(() => this.#host.appendState(partition, transitions.map(recordOf))))
      } catch (error) {
        for (const transition of transitions) failTransition(this.#entries, transition, appendErrorCode(error))
        this.#host.warn(`expiring ${transitions.length} transactional ids of __transaction_state-${partition}: ${(error as Error).message}`)
        return 0
      }
      if (outcome === kUnloaded) return 0
      const now = this.#host.now()
      for (const transition of transitions) completeTransition(this.#entries, transition, now)
      count('txn-ids-expired', transitions.length)
      return transitions.length
    }))
    return counts.reduce((a, b) => a + b, 0)
  }

  // --- Holding requests while a transaction completes --------------------------------------------------------

  /**
   * `decide()`, but a request that would be answered CONCURRENT_TRANSACTIONS only because the id's previous
   * transaction is still writing its markers (EndTxn is answered once Prepare* is durable) waits for that to finish,
   * up to holdWhileCompletingMs, and is decided again. Kafka answers at once and clients retry after a backoff (librdkafka
   * 20 ms, for markers that take 2-5 ms here): the next transaction of a producer would otherwise start that much
   * later. Still CONCURRENT_TRANSACTIONS after the wait (or NOT_COORDINATOR, unloaded meanwhile): answered so.
   */
  async #decideAfterCompletion (load: PartitionLoad, transactionalId: string, decide: () => Decision): Promise<Decision> {
    const decision = decide()
    if (this.#holdMs <= 0 || decision.kind !== 'reply' || decision.reply.errorCode !== ErrorCode.CONCURRENT_TRANSACTIONS || !this.#completing(transactionalId)) return decision
    count('txn-requests-held')
    await new Promise<void>((resolve) => {
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        resolve()
      }
      let list = this.#settleWaiters.get(transactionalId)
      if (list === undefined) this.#settleWaiters.set(transactionalId, list = [])
      list.push(finish)
      this.#after(load, this.#holdMs).then(finish, finish)
    })
    if (!this.#current(load)) return { kind: 'reply', reply: reply(ErrorCode.NOT_COORDINATOR) }
    return decide()
  }

  /** The id's transaction is ending: Prepare* durable, its markers or Complete* still being written. */
  #completing (transactionalId: string): boolean {
    const entry = this.#entries.get(transactionalId)
    if (entry === undefined || entry.pending === null) return false
    const state = entry.metadata.state
    return state === TransactionState.PrepareCommit || state === TransactionState.PrepareAbort
  }

  /** Releases the requests held for `transactionalId` (they decide again). */
  #settled (transactionalId: string): void {
    const list = this.#settleWaiters.get(transactionalId)
    if (list === undefined) return
    this.#settleWaiters.delete(transactionalId)
    for (const release of list) release()
  }

  // --- Persisting transitions ------------------------------------------------------------------------------

  /** An immediate decision (the state machine never persists for an empty id). */
  #answer (decision: Decision): Reply {
    if (decision.kind === 'persist') throw new Error(`transition of ${decision.transition.transactionalId} outside any partition`)
    return decision.reply
  }

  /**
   * Persists a decision's transition (if any) and answers: its reply once durable, the mapped coordinator error if
   * the append failed (the entry is then as before), NOT_COORDINATOR if the partition was unloaded meanwhile. A
   * Prepare* that became durable starts its markers in the background.
   */
  async #persist (load: PartitionLoad, decision: Decision): Promise<Reply> {
    if (decision.kind === 'reply') return decision.reply
    const transition = decision.transition
    let outcome: void | typeof kUnloaded
    try {
      outcome = await this.#untilUnloaded(load, invoke(() => this.#host.appendState(load.partition, [recordOf(transition)])))
    } catch (error) {
      if (!(error instanceof KafkaError)) this.#host.warn(`append to __transaction_state-${load.partition} for ${transition.transactionalId}: ${String(error)}`)
      return failTransition(this.#entries, transition, appendErrorCode(error))
    }
    if (outcome === kUnloaded) return reply(ErrorCode.NOT_COORDINATOR)
    const completion = completeTransition(this.#entries, transition, this.#host.now())
    if (completion.kind === 'reply') return completion.reply
    if (completion.kind === 'none') return reply(ErrorCode.NONE)
    this.#finishInBackground(load, completion.markers)
    return completion.reply ?? reply(ErrorCode.NONE)
  }

  #finishInBackground (load: PartitionLoad, plan: MarkerPlan): void {
    this.#finish(load, plan).catch((error: Error) => {
      this.#host.warn(`completing the transaction of ${plan.transactionalId}: ${error.stack ?? error.message}`)
    })
  }

  /** The plan is still the one its entry waits on, under the load that made it. */
  #stillPending (load: PartitionLoad, plan: MarkerPlan): boolean {
    return this.#current(load) && this.#entries.get(plan.transactionalId)?.pending === plan.completion
  }

  /**
   * Step 2 and 3 of ending a transaction (see transaction-metadata.ts): writes the markers, retrying the
   * partitions that failed with backoff until each accepted its marker or no longer exists, then persists
   * Complete* (retried likewise) and applies it. Stops quietly when the partition is unloaded (the next owner
   * resumes from the log's Prepare*), or when a partition reports a newer producer or coordinator epoch.
   *
   * Kafka gives up the Complete* append on NOT_COORDINATOR (its partition has moved, and the new leader resumes).
   * Here that code comes from KAFKA_STORAGE_ERROR too, on a worker that keeps the partition (a full disk), so the
   * append is retried for as long as this load owns the partition; an unload ends the retries.
   */
  async #finish (load: PartitionLoad, plan: MarkerPlan): Promise<void> {
    const commit = plan.result === 'commit'
    let remaining = listOf(plan.partitions)
    let attempt = 0
    while (remaining.length > 0) {
      if (!this.#stillPending(load, plan)) return
      let results: MarkerResult[] | null
      try {
        const outcome = await this.#untilUnloaded(load, invoke(() => this.#host.writeMarkers({
          transactionalId: plan.transactionalId,
          producerId: plan.producerId,
          producerEpoch: plan.producerEpoch,
          commit,
          coordinatorEpoch: load.coordinatorEpoch,
          partitions: remaining
        })))
        if (outcome === kUnloaded) return
        results = outcome
      } catch (error) {
        this.#host.warn(`markers of ${plan.transactionalId}: ${(error as Error).message}`)
        results = null
      }
      if (!this.#stillPending(load, plan)) return
      const codes = new Map<string, number>()
      if (results !== null) for (const { topic, partition, errorCode } of results) codes.set(`${topic}\u0000${partition}`, errorCode)
      const retry: TopicPartitions[] = []
      let retries = 0
      for (const { topic, partitions } of remaining) {
        const again: number[] = []
        for (const partition of partitions) {
          const code = codes.get(`${topic}\u0000${partition}`) ?? ErrorCode.REQUEST_TIMED_OUT
          switch (code) {
            case ErrorCode.NONE:
              count('txn-markers-written')
              break
            case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
            case ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT:
            case ErrorCode.UNSUPPORTED_VERSION:
              // Deleted since it joined the transaction (or, in Kafka, too old a format): nothing to mark.
              count('txn-markers-dropped')
              break
            case ErrorCode.INVALID_PRODUCER_EPOCH:
            case ErrorCode.PRODUCER_FENCED:
            case ErrorCode.TRANSACTION_COORDINATOR_FENCED:
              // As Kafka's TransactionMarkerRequestCompletionHandler: this transaction is someone else's now.
              // The entry stays pending (CONCURRENT_TRANSACTIONS) until its partition is unloaded or reloaded.
              count('txn-markers-cancelled')
              this.#host.warn(`markers of ${plan.transactionalId} (producer ${plan.producerId} epoch ${plan.producerEpoch}) refused by ${topic}-${partition} with error ${code}; stopped`)
              return
            default:
              again.push(partition)
              retries++
          }
        }
        if (again.length > 0) retry.push({ topic, partitions: again })
      }
      remaining = retry
      if (remaining.length > 0) {
        count('txn-marker-retries', retries)
        await this.#after(load, this.#backoff(attempt++))
      }
    }
    attempt = 0
    for (;;) {
      if (!this.#stillPending(load, plan)) return
      try {
        const outcome = await this.#untilUnloaded(load, invoke(() => this.#host.appendState(load.partition, [recordOf(plan.completion)], false)))
        if (outcome === kUnloaded) return
        break
      } catch (error) {
        count('txn-complete-retries')
        this.#host.warn(`persisting the end of ${plan.transactionalId}'s transaction: ${(error as Error).message}; retrying`)
        await this.#after(load, this.#backoff(attempt++))
      }
    }
    const completion = completeTransition(this.#entries, plan.completion, this.#host.now())
    this.#settled(plan.transactionalId)
    if (completion.kind === 'reply') return // NOT_COORDINATOR: it moved meanwhile
    count(commit ? 'txn-committed' : 'txn-aborted')
  }

  #backoff (attempt: number): number {
    return Math.min(this.#backoffMaxMs, this.#backoffMs * 2 ** Math.min(attempt, 30))
  }

  /**
   * Waits for `promise`, or for the end of `load`, whichever comes first (kUnloaded then). A registration per
   * call, removed when either happens, rather than Promise.race on a long-lived promise, which would keep a
   * reaction per call until the load ends.
   */
  #untilUnloaded<T> (load: PartitionLoad, promise: Promise<T>): Promise<T | typeof kUnloaded> {
    if (load.state === 'unloaded') {
      promise.catch(() => {})
      return Promise.resolve(kUnloaded)
    }
    return new Promise((resolve, reject) => {
      const cancel = (): void => resolve(kUnloaded)
      load.cancels.add(cancel)
      promise.then((value) => {
        load.cancels.delete(cancel)
        resolve(value)
      }, (error: unknown) => {
        load.cancels.delete(cancel)
        reject(error)
      })
    })
  }

  /** Resolves at the first tick at least `ms` from now, or when `load` ends. */
  #after (load: PartitionLoad, ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (load.state === 'unloaded') return resolve()
      const fire = (): void => {
        load.cancels.delete(fire)
        resolve()
      }
      load.cancels.add(fire)
      this.#waiters.push({ due: this.#host.now() + ms, fire })
    })
  }
}
