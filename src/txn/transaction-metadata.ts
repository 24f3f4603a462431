// The transaction coordinator's state machine (KIP-98, with KIP-360's producer-id/epoch recovery), as Kafka's
// TransactionCoordinator and TransactionMetadata define it, without any I/O: every operation is a function of
// the entries this coordinator owns, the request, and the clock (`now`, milliseconds), and it returns a decision.
//
// A decision is either a reply to send at once, or a transition: new metadata to append to the transactional id's
// `__transaction_state` partition (transaction-log.ts gives the record) and what to do once it is durable. While a
// transition is being persisted it is the entry's `pending` one and every other transition of that id answers
// CONCURRENT_TRANSACTIONS (a retriable code), so two appends of one id never race. The caller reports the append's
// outcome with completeTransition or failTransition.
//
// Ending a transaction is three steps, each started by the caller:
//   1. persist PrepareCommit/PrepareAbort (EndTxn, a fencing InitProducerId, or a timeout);
//   2. completeTransition answers the client (if anyone waits) and hands back a MarkerPlan: write a COMMIT/ABORT
//      control record to every partition of the transaction. Its `completion` transition is already pending, so the
//      id stays busy until the markers are written;
//   3. persist `completion.target` (CompleteCommit/CompleteAbort) and completeTransition(completion).
// If the coordinator restarts between 1 and 3, the log holds Prepare*; pendingCompletions re-plans step 2 on load.
//
// Single-threaded by design: one worker owns a `__transaction_state` partition and all of its ids, so nothing here
// locks. What is not transaction state (that topics and partitions exist, authorisation) the handler checks first.

import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { partitionForKey } from '../protocol/java-hash.ts'

export const TransactionState = {
  Empty: 'Empty',
  Ongoing: 'Ongoing',
  PrepareCommit: 'PrepareCommit',
  PrepareAbort: 'PrepareAbort',
  CompleteCommit: 'CompleteCommit',
  CompleteAbort: 'CompleteAbort',
  /** The id is being expired: only ever an entry's pending transition (a tombstone), never a stored state. */
  Dead: 'Dead',
  /**
   * Kafka's transient state between deciding to fence a producer and writing PrepareAbort. Our fence decision
   * is made and turned into the PrepareAbort transition in one synchronous step, so no entry is ever observed in
   * it; the name is kept because DescribeTransactions/ListTransactions clients know it as a state.
   */
  PrepareEpochFence: 'PrepareEpochFence'
} as const

export type TransactionStateName = typeof TransactionState[keyof typeof TransactionState]

/** Every state name Kafka knows, in Kafka's id order (0-7). */
export const kTransactionStateNames: readonly TransactionStateName[] = Object.values(TransactionState)

/** The states a `__transaction_state` record may hold; the other two are never written. */
export const kPersistedStates: ReadonlySet<TransactionStateName> = new Set<TransactionStateName>([
  'Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'
])

export const kNoProducerId = -1
export const kNoProducerEpoch = -1
/**
 * Short.MaxValue. Producers are never handed it: an epoch at kMaxProducerEpoch - 1 counts as exhausted, so the
 * coordinator always has one epoch left with which to fence the current producer.
 */
export const kMaxProducerEpoch = 32767
/** Kafka's transaction.max.timeout.ms default (15 minutes). */
export const kDefaultTransactionMaxTimeoutMs = 900_000
/** Kafka's transactional.id.expiration.ms default (7 days). */
export const kDefaultTransactionalIdExpirationMs = 604_800_000

/** The offsets topic, as src/group/offset-store.ts names it (txn may not import group code; a test ties the two). */
export const kOffsetsTopicName = '__consumer_offsets'
/** Kafka's offsets.topic.num.partitions default, as src/group/offset-store.ts has it. */
export const kOffsetsTopicDefaultPartitions = 50

/** The durable state of one transactional id: what a `__transaction_state` record holds. */
export interface TransactionMetadata {
  readonly transactionalId: string
  readonly producerId: number
  /**
   * The producer id held before the latest InitProducerId. It differs from `producerId` only after an epoch
   * exhaustion rotated the id, and lets a retry of that InitProducerId (carrying the old id) be recognised.
   */
  readonly lastProducerId: number
  /** kNoProducerEpoch only for an id created in memory whose first InitProducerId has not been persisted. */
  readonly producerEpoch: number
  /** The epoch a KIP-360 retry may still present: set by an InitProducerId that named the epoch it replaces. */
  readonly lastProducerEpoch: number
  readonly timeoutMs: number
  readonly state: TransactionStateName
  /** Topic → sorted, distinct partitions in the transaction; empty in Empty and Complete*. */
  readonly partitions: ReadonlyMap<string, readonly number[]>
  /** When the current (or last) transaction's first partition was added; -1 before any. */
  readonly startTimestamp: number
  readonly lastUpdateTimestamp: number
}

/** What the client is answered. producerId/producerEpoch matter to InitProducerId only (-1 elsewhere). */
export interface Reply {
  readonly errorCode: number
  readonly producerId: number
  readonly producerEpoch: number
}

export type AfterPersist =
  /** Answer the request. */
  | { readonly kind: 'reply', readonly reply: Reply }
  /** A Prepare* state is durable: answer (when someone waits), then write the markers. */
  | { readonly kind: 'writeMarkers', readonly reply: Reply | null }
  /** Nothing follows (Complete*, or the tombstone of an expired id). */
  | { readonly kind: 'none' }

export interface Transition {
  readonly transactionalId: string
  /** The record value to append: the new metadata, or null (a tombstone) when the id expires. */
  readonly target: TransactionMetadata | null
  readonly then: AfterPersist
  /** This transition raised the epoch to fence a producer (see failTransition). */
  readonly fencesEpoch: boolean
}

export type Decision =
  | { readonly kind: 'reply', readonly reply: Reply }
  | { readonly kind: 'persist', readonly transition: Transition }

export type TransactionResult = 'commit' | 'abort'

/** Control records to write once a Prepare* state is durable, then `completion` to persist. */
export interface MarkerPlan {
  readonly transactionalId: string
  readonly result: TransactionResult
  readonly producerId: number
  readonly producerEpoch: number
  readonly partitions: ReadonlyMap<string, readonly number[]>
  /** Already the entry's pending transition: persist its target after the last marker is written. */
  readonly completion: Transition
}

export type Completion =
  | { readonly kind: 'reply', readonly reply: Reply }
  | { readonly kind: 'writeMarkers', readonly reply: Reply | null, readonly markers: MarkerPlan }
  | { readonly kind: 'none' }

/** One transactional id as the coordinator holds it. Owned and mutated by this module's functions only. */
export interface TransactionEntry {
  /**
   * What requests are checked against: the last persisted metadata, with one exception that Kafka makes too:
   * a fence raises `producerEpoch` here at once, so that the fenced producer is refused while the abort is
   * still being written (and stays refused if that write fails).
   */
  metadata: TransactionMetadata
  pending: Transition | null
  /** A fence's raised epoch may not be in the log: the next fence reuses it rather than raising it again. */
  hasFailedEpochFence: boolean
}

/** The ids of the `__transaction_state` partitions one coordinator owns. */
export type TransactionEntries = Map<string, TransactionEntry>

export interface TopicPartitions {
  readonly topic: string
  readonly partitions: readonly number[]
}

/** Exhausted epochs get a new producer id instead of a bump: see kMaxProducerEpoch. */
export function isEpochExhausted (epoch: number): boolean {
  return epoch >= kMaxProducerEpoch - 1
}

// PRODUCER_FENCED (90) is understood from InitProducerId v4 and AddPartitionsToTxn/AddOffsetsToTxn/EndTxn v2
// (their message definitions say so); older clients get INVALID_PRODUCER_EPOCH, as Kafka's KafkaApis maps it.
const kInitProducerFencedVersion = 4
const kTxnProducerFencedVersion = 2

function fencedCode (version: number, firstVersion: number): number {
  return version >= firstVersion ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH
}

function reply (errorCode: number, producerId = kNoProducerId, producerEpoch = kNoProducerEpoch): Reply {
  return { errorCode, producerId, producerEpoch }
}

function answer (errorCode: number, producerId = kNoProducerId, producerEpoch = kNoProducerEpoch): Decision {
  return { kind: 'reply', reply: reply(errorCode, producerId, producerEpoch) }
}

function persist (entry: TransactionEntry, transition: Transition): Decision {
  entry.pending = transition
  return { kind: 'persist', transition }
}

const kNoPartitions: ReadonlyMap<string, readonly number[]> = new Map()

function isPrepare (state: TransactionStateName): boolean {
  return state === 'PrepareCommit' || state === 'PrepareAbort'
}

/** Builds an entry for metadata read back from the log (see transaction-log.ts replayTransactionLog). */
export function entriesFrom (transactions: Iterable<TransactionMetadata>): TransactionEntries {
  const entries: TransactionEntries = new Map()
  for (const metadata of transactions) entries.set(metadata.transactionalId, { metadata, pending: null, hasFailedEpochFence: false })
  return entries
}

// --- InitProducerId ------------------------------------------------------------------------------------------

export interface InitProducerIdRequest {
  readonly transactionalId: string
  readonly transactionTimeoutMs: number
  /** v3+: the id and epoch the producer holds, to resume after an error (KIP-360); -1 and -1 otherwise. */
  readonly producerId: number
  readonly producerEpoch: number
  readonly version: number
}

export interface InitProducerIdConfig {
  /** transaction.max.timeout.ms */
  readonly maxTimeoutMs: number
  /**
   * Returns a fresh producer id synchronously. When none is at hand it throws a KafkaError whose code is
   * answered (Kafka's block-based ProducerIdManager answers COORDINATOR_LOAD_IN_PROGRESS until its next block of
   * ids arrives, and the client retries).
   */
  readonly allocateProducerId: () => number
}

/**
 * InitProducerId for a transactional id (v0-5; a null id is the idempotent path and never reaches here).
 * A new id gets a fresh producer id at epoch 0; a known one has its epoch bumped, which fences every older
 * instance of the producer. An Ongoing transaction is aborted first with a raised epoch, and the client is told
 * CONCURRENT_TRANSACTIONS so that its retry bumps the epoch once more after the abort.
 */
export function initProducerId (entries: TransactionEntries, request: InitProducerIdRequest, config: InitProducerIdConfig, now: number): Decision {
  const { transactionalId, transactionTimeoutMs: timeoutMs } = request
  if (transactionalId === '') return answer(ErrorCode.INVALID_REQUEST)
  if (timeoutMs <= 0 || timeoutMs > config.maxTimeoutMs) return answer(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
  // Both or neither: one without the other is a malformed KIP-360 request.
  const carriesExpected = request.producerId !== kNoProducerId || request.producerEpoch !== kNoProducerEpoch
  if (carriesExpected && (request.producerId === kNoProducerId || request.producerEpoch === kNoProducerEpoch)) {
    return answer(ErrorCode.INVALID_REQUEST)
  }

  let entry = entries.get(transactionalId)
  if (entry === undefined) {
    // Kept in memory before anything is persisted (as Kafka does), so that a retry after a failed append reuses
    // the producer id instead of allocating another. Epoch -1 marks it as never persisted.
    const producerId = allocate(config)
    if (typeof producerId !== 'number') return producerId
    entry = {
      metadata: {
        transactionalId,
        producerId,
        lastProducerId: kNoProducerId,
        producerEpoch: kNoProducerEpoch,
        lastProducerEpoch: kNoProducerEpoch,
        timeoutMs,
        state: 'Empty',
        partitions: kNoPartitions,
        startTimestamp: -1,
        lastUpdateTimestamp: now
      },
      pending: null,
      hasFailedEpochFence: false
    }
    entries.set(transactionalId, entry)
  }
  if (entry.pending !== null) return answer(ErrorCode.CONCURRENT_TRANSACTIONS)

  const current = entry.metadata
  const fenced = fencedCode(request.version, kInitProducerFencedVersion)
  // A KIP-360 request is accepted when the id was only just created (nothing to fence), when it names the current
  // producer id (its epoch is checked below), or when it names the id that an epoch exhaustion replaced and that
  // id's last epoch: a retry of the rotation whose answer the producer never saw.
  if (carriesExpected &&
      current.producerEpoch !== kNoProducerEpoch &&
      request.producerId !== current.producerId &&
      !(request.producerId === current.lastProducerId && isEpochExhausted(request.producerEpoch))) {
    return answer(fenced)
  }

  switch (current.state) {
    case 'PrepareCommit':
    case 'PrepareAbort':
      return answer(ErrorCode.CONCURRENT_TRANSACTIONS)
    case 'Ongoing':
      return fenceAndAbort(entry, now, reply(ErrorCode.CONCURRENT_TRANSACTIONS))
    case 'Empty':
    case 'CompleteCommit':
    case 'CompleteAbort': {
      if (isEpochExhausted(current.producerEpoch) && (!carriesExpected || request.producerEpoch === current.producerEpoch)) {
        const producerId = allocate(config)
        if (typeof producerId !== 'number') return producerId
        return initTransition(entry, producerId, 0, carriesExpected ? current.producerEpoch : kNoProducerEpoch, timeoutMs, now)
      }
      if (!carriesExpected) return initTransition(entry, current.producerId, current.producerEpoch + 1, kNoProducerEpoch, timeoutMs, now)
      if (current.producerEpoch === kNoProducerEpoch || request.producerEpoch === current.producerEpoch) {
        // Resuming after an error with no other instance initialised since: bump, and remember the epoch replaced.
        // (Exhaustion was handled above, so the bump stays below kMaxProducerEpoch.)
        return initTransition(entry, current.producerId, current.producerEpoch + 1, current.producerEpoch, timeoutMs, now)
      }
      if (request.producerEpoch === current.lastProducerEpoch) {
        // A retry of a bump that succeeded: hand back the same epoch. No other instance can have initialised in
        // between, since that would have reset lastProducerEpoch to -1.
        return initTransition(entry, current.producerId, current.producerEpoch, current.lastProducerEpoch, timeoutMs, now)
      }
      return answer(fenced)
    }
    case 'Dead':
    case 'PrepareEpochFence':
      // Never an entry's state (see TransactionState); Kafka treats reaching this as a fatal bug.
      return answer(ErrorCode.UNKNOWN_SERVER_ERROR)
  }
}

function allocate (config: InitProducerIdConfig): number | Decision {
  try {
    return config.allocateProducerId()
  } catch (error) {
    if (error instanceof KafkaError) return answer(error.code)
    throw error
  }
}

function initTransition (entry: TransactionEntry, producerId: number, producerEpoch: number, lastProducerEpoch: number, timeoutMs: number, now: number): Decision {
  const current = entry.metadata
  const target: TransactionMetadata = {
    transactionalId: current.transactionalId,
    producerId,
    lastProducerId: current.producerId,
    producerEpoch,
    lastProducerEpoch,
    timeoutMs,
    state: 'Empty',
    partitions: kNoPartitions,
    startTimestamp: -1,
    lastUpdateTimestamp: now
  }
  return persist(entry, {
    transactionalId: current.transactionalId,
    target,
    then: { kind: 'reply', reply: reply(ErrorCode.NONE, producerId, producerEpoch) },
    fencesEpoch: false
  })
}

/**
 * Aborts the Ongoing transaction of `entry` with a raised epoch (Kafka's prepareFenceProducerEpoch followed by an
 * abort that is not from the client). The raise is applied to the entry at once: see TransactionEntry.metadata.
 */
function fenceAndAbort (entry: TransactionEntry, now: number, replyAfterPrepare: Reply | null): Decision {
  const current = entry.metadata
  // Once a raise may not have reached the log, raising again would skip an epoch for nothing; and the maximum is
  // only ever reached by a fence, which no producer holds.
  const epoch = entry.hasFailedEpochFence || current.producerEpoch >= kMaxProducerEpoch ? current.producerEpoch : current.producerEpoch + 1
  entry.metadata = { ...current, producerEpoch: epoch, lastProducerEpoch: kNoProducerEpoch }
  return persist(entry, {
    transactionalId: current.transactionalId,
    target: { ...entry.metadata, state: 'PrepareAbort', lastUpdateTimestamp: now },
    then: { kind: 'writeMarkers', reply: replyAfterPrepare },
    fencesEpoch: true
  })
}

// --- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------------------------------------------

export interface AddPartitionsRequest {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly topics: readonly TopicPartitions[]
  readonly version: number
}

/**
 * AddPartitionsToTxn for one transaction: v0-3 from a producer, or one non-verify entry of a v4+ batch. The one
 * error code applies to every partition named. Adding to an Empty or Complete* id starts a transaction (its start
 * timestamp is now); adding what an Ongoing transaction already holds answers NONE without writing anything.
 */
export function addPartitionsToTxn (entries: TransactionEntries, request: AddPartitionsRequest, now: number): Decision {
  const entry = entries.get(request.transactionalId)
  const refusal = checkProducer(entry, request.transactionalId, request.producerId, request.producerEpoch, fencedCode(request.version, kTxnProducerFencedVersion))
  if (refusal !== null) return answer(refusal)
  const current = entry!.metadata
  if (entry!.pending !== null || isPrepare(current.state)) return answer(ErrorCode.CONCURRENT_TRANSACTIONS)
  if (current.state === 'Ongoing' && containsAll(current.partitions, request.topics)) return answer(ErrorCode.NONE)
  const starts = current.state === 'Empty' || current.state === 'CompleteCommit' || current.state === 'CompleteAbort'
  return persist(entry!, {
    transactionalId: current.transactionalId,
    target: {
      ...current,
      state: 'Ongoing',
      partitions: withPartitions(current.partitions, request.topics),
      startTimestamp: starts ? now : current.startTimestamp,
      lastUpdateTimestamp: now
    },
    then: { kind: 'reply', reply: reply(ErrorCode.NONE) },
    fencesEpoch: false
  })
}

export interface AddOffsetsRequest {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly groupId: string
  readonly version: number
}

/** The `__consumer_offsets` partition whose offsets a transaction on `groupId` will commit. */
export function offsetsPartitionOf (groupId: string, offsetsPartitions = kOffsetsTopicDefaultPartitions): TopicPartitions {
  return { topic: kOffsetsTopicName, partitions: [partitionForKey(groupId, offsetsPartitions)] }
}

/** AddOffsetsToTxn (v0-4): adds the group's offsets partition, so that EndTxn writes a marker to it too. */
export function addOffsetsToTxn (entries: TransactionEntries, request: AddOffsetsRequest, now: number, offsetsPartitions = kOffsetsTopicDefaultPartitions): Decision {
  // Same version threshold for PRODUCER_FENCED as AddPartitionsToTxn (v2), so the version passes through.
  return addPartitionsToTxn(entries, {
    transactionalId: request.transactionalId,
    producerId: request.producerId,
    producerEpoch: request.producerEpoch,
    topics: [offsetsPartitionOf(request.groupId, offsetsPartitions)],
    version: request.version
  }, now)
}

export interface VerifyPartitionsRequest {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly topics: readonly TopicPartitions[]
}

/** Field names as the AddPartitionsToTxn response has them, so a handler can answer with these directly. */
export interface PartitionResult {
  readonly partitionIndex: number
  readonly partitionErrorCode: number
}

export interface TopicResult {
  readonly name: string
  readonly resultsByPartition: readonly PartitionResult[]
}

/**
 * A verify-only entry of an AddPartitionsToTxn v4+ batch (KIP-890 part 1, sent by a partition leader before it
 * appends a transactional batch): is each partition already in the transaction? Nothing changes. A pending
 * transition is not checked, as in Kafka: partitions enter the metadata only once their addition is durable and
 * leave it only once the markers are. A partition not in the transaction answers INVALID_TXN_STATE, as Kafka 3.5
 * and 3.6 do (later versions answer TRANSACTION_ABORTABLE and let the produce path translate it per client).
 */
export function verifyPartitionsInTxn (entries: TransactionEntries, request: VerifyPartitionsRequest): TopicResult[] {
  const entry = entries.get(request.transactionalId)
  let refusal = checkProducer(entry, request.transactionalId, request.producerId, request.producerEpoch, ErrorCode.PRODUCER_FENCED)
  if (refusal === null && isPrepare(entry!.metadata.state)) refusal = ErrorCode.CONCURRENT_TRANSACTIONS
  const held = entry?.metadata.partitions ?? kNoPartitions
  return request.topics.map(({ topic, partitions }) => ({
    name: topic,
    resultsByPartition: partitions.map((partitionIndex) => ({
      partitionIndex,
      partitionErrorCode: refusal ?? (held.get(topic)?.includes(partitionIndex) === true ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE)
    }))
  }))
}

/** The checks every request naming a producer starts with; null when they pass. */
function checkProducer (entry: TransactionEntry | undefined, transactionalId: string, producerId: number, producerEpoch: number, fenced: number): number | null {
  if (transactionalId === '') return ErrorCode.INVALID_REQUEST
  if (entry === undefined || entry.metadata.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
  // Any other epoch, newer included: only the coordinator hands epochs out.
  if (entry.metadata.producerEpoch !== producerEpoch) return fenced
  return null
}

function containsAll (held: ReadonlyMap<string, readonly number[]>, topics: readonly TopicPartitions[]): boolean {
  for (const { topic, partitions } of topics) {
    const have = held.get(topic)
    if (have === undefined) { if (partitions.length > 0) return false; continue }
    for (const partition of partitions) if (!have.includes(partition)) return false
  }
  return true
}

function withPartitions (held: ReadonlyMap<string, readonly number[]>, topics: readonly TopicPartitions[]): ReadonlyMap<string, readonly number[]> {
  const merged = new Map(held)
  for (const { topic, partitions } of topics) {
    const set = new Set(merged.get(topic) ?? [])
    for (const partition of partitions) set.add(partition)
    if (set.size > 0) merged.set(topic, [...set].sort((a, b) => a - b))
  }
  return merged
}

// --- EndTxn --------------------------------------------------------------------------------------------------

export interface EndTxnRequest {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly committed: boolean
  /** v0-4. v5 (KIP-890 part 2: an epoch bump per transaction) is not supported and must not be advertised. */
  readonly version: number
}

/**
 * EndTxn: commit or abort the Ongoing transaction (PrepareCommit/PrepareAbort, then markers, then Complete*). The
 * client is answered once Prepare* is durable. A retry of an end that already completed the same way answers
 * NONE; a retry while it is still completing answers CONCURRENT_TRANSACTIONS; the other outcome, or ending when
 * no transaction was started, answers INVALID_TXN_STATE.
 */
export function endTxn (entries: TransactionEntries, request: EndTxnRequest, now: number): Decision {
  const entry = entries.get(request.transactionalId)
  const refusal = checkProducer(entry, request.transactionalId, request.producerId, request.producerEpoch, fencedCode(request.version, kTxnProducerFencedVersion))
  if (refusal !== null) return answer(refusal)
  if (entry!.pending !== null) return answer(ErrorCode.CONCURRENT_TRANSACTIONS)
  const current = entry!.metadata
  const commit = request.committed
  switch (current.state) {
    case 'Ongoing':
      return persist(entry!, {
        transactionalId: current.transactionalId,
        target: { ...current, state: commit ? 'PrepareCommit' : 'PrepareAbort', lastUpdateTimestamp: now },
        then: { kind: 'writeMarkers', reply: reply(ErrorCode.NONE) },
        fencesEpoch: false
      })
    case 'CompleteCommit':
      return answer(commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE)
    case 'CompleteAbort':
      return answer(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE)
    case 'PrepareCommit':
      return answer(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE)
    case 'PrepareAbort':
      return answer(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS)
    case 'Empty':
      return answer(ErrorCode.INVALID_TXN_STATE)
    case 'Dead':
    case 'PrepareEpochFence':
      return answer(ErrorCode.UNKNOWN_SERVER_ERROR)
  }
}

// --- After an append -----------------------------------------------------------------------------------------

/**
 * The append of `transition.target` is durable: apply it and say what follows. If the entry is no longer the one
 * the transition was made for (its partition was unloaded, or reloaded, meanwhile), nothing is applied and the
 * answer is NOT_COORDINATOR, so that the client looks the coordinator up again.
 */
export function completeTransition (entries: TransactionEntries, transition: Transition, now: number): Completion {
  const entry = entries.get(transition.transactionalId)
  if (entry === undefined || entry.pending !== transition) return { kind: 'reply', reply: reply(ErrorCode.NOT_COORDINATOR) }
  entry.pending = null
  if (transition.target === null) {
    entries.delete(transition.transactionalId)
    return { kind: 'none' }
  }
  entry.metadata = transition.target
  const then = transition.then
  if (then.kind === 'reply') return { kind: 'reply', reply: then.reply }
  if (then.kind === 'none') return { kind: 'none' }
  return { kind: 'writeMarkers', reply: then.reply, markers: planMarkers(entry, now) }
}

/**
 * The append failed with `appendErrorCode` (the partition log's code). The transition is dropped, unblocking the
 * id, and the client's answer is the coordinator error Kafka maps the append error to. A completion transition
 * (after markers) may instead be retried by appending the same target again without calling this.
 */
export function failTransition (entries: TransactionEntries, transition: Transition, appendErrorCode: number): Reply {
  const entry = entries.get(transition.transactionalId)
  if (entry !== undefined && entry.pending === transition) {
    entry.pending = null
    if (transition.fencesEpoch) entry.hasFailedEpochFence = true
  }
  return reply(coordinatorErrorForAppend(appendErrorCode))
}

/** Kafka's TransactionStateManager translation of a log append error into what a transactional client expects. */
export function coordinatorErrorForAppend (code: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return ErrorCode.UNKNOWN_SERVER_ERROR
    default:
      return code
  }
}

/** Plans the markers of an entry in Prepare* and makes its Complete* transition pending. */
function planMarkers (entry: TransactionEntry, now: number): MarkerPlan {
  const current = entry.metadata
  const commit = current.state === 'PrepareCommit'
  // The fence (if any) reached the log with PrepareAbort.
  entry.hasFailedEpochFence = false
  const completion: Transition = {
    transactionalId: current.transactionalId,
    target: { ...current, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: kNoPartitions, lastUpdateTimestamp: now },
    then: { kind: 'none' },
    fencesEpoch: false
  }
  entry.pending = completion
  return {
    transactionalId: current.transactionalId,
    result: commit ? 'commit' : 'abort',
    producerId: current.producerId,
    producerEpoch: current.producerEpoch,
    partitions: current.partitions,
    completion
  }
}

/**
 * Transactions whose Prepare* is durable but whose markers may not have been written: after loading a partition
 * (Kafka does the same on becoming its coordinator), or after a completion append was given up. Each returned plan
 * is already pending.
 */
export function pendingCompletions (entries: TransactionEntries, now: number): MarkerPlan[] {
  const plans: MarkerPlan[] = []
  for (const entry of entries.values()) {
    if (entry.pending === null && isPrepare(entry.metadata.state)) plans.push(planMarkers(entry, now))
  }
  return plans
}

// --- Timeouts and expiry -------------------------------------------------------------------------------------

export interface TimedOutTransaction {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
}

/** Ongoing transactions open longer than their timeout (and not mid-transition), to be aborted. */
export function expired (entries: TransactionEntries, now: number): TimedOutTransaction[] {
  const found: TimedOutTransaction[] = []
  for (const { metadata, pending } of entries.values()) {
    if (pending === null && metadata.state === 'Ongoing' && metadata.startTimestamp + metadata.timeoutMs < now) {
      found.push({ transactionalId: metadata.transactionalId, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch })
    }
  }
  return found
}

/**
 * Aborts a timed-out transaction found by `expired` (Kafka's abortTimedOutTransactions): PrepareAbort with a
 * raised epoch, so the producer that let it time out is fenced. Null when it no longer applies (the producer
 * was re-initialised, the transaction ended, or another transition started meanwhile). Nobody waits for a reply.
 */
export function abortTimedOut (entries: TransactionEntries, timedOut: TimedOutTransaction, now: number): Decision | null {
  const entry = entries.get(timedOut.transactionalId)
  if (entry === undefined || entry.pending !== null) return null
  if (entry.metadata.producerId !== timedOut.producerId || entry.metadata.state !== 'Ongoing') return null
  return fenceAndAbort(entry, now, null)
}

/** Ids with no transaction in progress and untouched for `expirationMs` (transactional.id.expiration.ms). */
export function expirableTransactionalIds (entries: TransactionEntries, now: number, expirationMs = kDefaultTransactionalIdExpirationMs): string[] {
  const found: string[] = []
  for (const { metadata, pending } of entries.values()) {
    const idle = metadata.state === 'Empty' || metadata.state === 'CompleteCommit' || metadata.state === 'CompleteAbort'
    if (pending === null && idle && metadata.lastUpdateTimestamp <= now - expirationMs) found.push(metadata.transactionalId)
  }
  return found
}

/** Expires an id found by expirableTransactionalIds: its tombstone, after which the entry is removed. */
export function expireTransactionalId (entries: TransactionEntries, transactionalId: string): Decision | null {
  const entry = entries.get(transactionalId)
  if (entry === undefined || entry.pending !== null) return null
  return persist(entry, { transactionalId, target: null, then: { kind: 'none' }, fencesEpoch: false })
}

// --- DescribeTransactions / ListTransactions -----------------------------------------------------------------

/** One entry of a DescribeTransactions v0 response, with the response's field names. */
export interface DescribedTransaction {
  readonly errorCode: number
  readonly transactionalId: string
  readonly transactionState: string
  readonly transactionTimeoutMs: number
  readonly transactionStartTimeMs: number
  readonly producerId: number
  readonly producerEpoch: number
  readonly topics: ReadonlyArray<{ readonly topic: string, readonly partitions: readonly number[] }>
}

/** An id being expired is reported as not found, as Kafka reports a Dead one. */
function isBeingExpired (entry: TransactionEntry): boolean {
  return entry.pending !== null && entry.pending.target === null
}

export function describeTransaction (entries: TransactionEntries, transactionalId: string): DescribedTransaction {
  const entry = entries.get(transactionalId)
  const errorCode = transactionalId === ''
    ? ErrorCode.INVALID_REQUEST
    : entry === undefined || isBeingExpired(entry) ? ErrorCode.TRANSACTIONAL_ID_NOT_FOUND : ErrorCode.NONE
  if (errorCode !== ErrorCode.NONE) {
    // The response's defaults for an entry that carries only an error.
    return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: 0, producerId: 0, producerEpoch: 0, topics: [] }
  }
  const metadata = entry!.metadata
  return {
    errorCode,
    transactionalId,
    transactionState: metadata.state,
    transactionTimeoutMs: metadata.timeoutMs,
    transactionStartTimeMs: metadata.startTimestamp,
    producerId: metadata.producerId,
    producerEpoch: metadata.producerEpoch,
    topics: [...metadata.partitions.keys()].sort().map((topic) => ({ topic, partitions: metadata.partitions.get(topic)! }))
  }
}

export interface ListTransactionsFilter {
  /** Empty: every state. */
  readonly stateFilters: readonly string[]
  /** Empty: every producer id. */
  readonly producerIdFilters: readonly number[]
  /** v1: only transactions running longer than this many ms; negative (and v0): no filter. */
  readonly durationFilterMs: number
}

export interface ListedTransactions {
  readonly errorCode: number
  readonly unknownStateFilters: string[]
  readonly transactionStates: Array<{ readonly transactionalId: string, readonly producerId: number, readonly transactionState: string }>
}

/**
 * ListTransactions v0-1 over the ids of this coordinator (the handler merges coordinators). Sorted by id. The
 * duration filter compares against the start timestamp as Kafka does, so an id that never started a transaction
 * (start -1) passes any duration.
 */
export function listTransactions (entries: TransactionEntries, filter: ListTransactionsFilter, now: number): ListedTransactions {
  const known = new Set<string>(kTransactionStateNames)
  const states = new Set<string>()
  const unknownStateFilters: string[] = []
  for (const name of filter.stateFilters) {
    if (known.has(name)) states.add(name)
    else unknownStateFilters.push(name)
  }
  const producerIds = new Set(filter.producerIdFilters)
  const transactionStates: ListedTransactions['transactionStates'] = []
  for (const entry of entries.values()) {
    const metadata = entry.metadata
    if (isBeingExpired(entry)) continue
    if (producerIds.size > 0 && !producerIds.has(metadata.producerId)) continue
    if (filter.stateFilters.length > 0 && !states.has(metadata.state)) continue
    if (filter.durationFilterMs >= 0 && now - metadata.startTimestamp <= filter.durationFilterMs) continue
    transactionStates.push({ transactionalId: metadata.transactionalId, producerId: metadata.producerId, transactionState: metadata.state })
  }
  transactionStates.sort((a, b) => a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0)
  return { errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates }
}
