// The transaction coordinator service against an in-memory host: whole commit and abort flows in the order their
// records reach `__transaction_state`, markers, CONCURRENT_TRANSACTIONS while an id is busy, fencing, timeouts and
// expiry through the host's clock and tick(), failing and hanging appends and marker writes, reloads after a
// crash, ownership (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), and a thousand ids at once. No test sleeps:
// time moves only when a test moves the host's clock, and `settle` only lets queued promise callbacks run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { counterValue } from '../../src/counters.ts'
import { ErrorCode, KafkaError } from '../../src/protocol/errors.ts'
import { TransactionCoordinator, type MarkerRequest, type MarkerResult, type StateRecord, type TransactionCoordinatorOptions, type TransactionHost } from '../../src/txn/coordinator.ts'
import { decodeTransactionLogRecord, encodeTransactionLogRecord, type EncodedRecord } from '../../src/txn/transaction-log.ts'
import { offsetsPartitionOf, type TopicPartitions, type TransactionMetadata } from '../../src/txn/transaction-metadata.ts'

const kT0 = 1_000_000
const kAllPartitions = Array.from({ length: 50 }, (_, i) => i)

interface Gate<T> {
  readonly promise: Promise<T>
  open (value: T): void
  fail (error: Error): void
}

function gate<T = void> (): Gate<T> {
  let open!: (value: T) => void
  let fail!: (error: Error) => void
  const promise = new Promise<T>((resolve, reject) => { open = resolve; fail = reject })
  return { promise, open, fail }
}

/** Lets every callback already queued (and those they queue) run; moves no clock. */
function settle (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

async function settleMany (rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await settle()
}

function describeRecord (record: { readonly key: Buffer | null, readonly value: Buffer | null }): { id: string, state: string, epoch: number } {
  const decoded = decodeTransactionLogRecord(record.key, record.value)
  assert.ok(decoded.ok)
  const value = decoded.record.value
  return { id: decoded.record.transactionalId, state: value === null ? 'tombstone' : value.state, epoch: value === null ? -1 : value.producerEpoch }
}

function partitionsText (partitions: readonly TopicPartitions[]): string {
  return partitions.flatMap(({ topic, partitions: list }) => list.map((p) => `${topic}-${p}`)).sort().join(',')
}

/**
 * The broker as the coordinator sees it, in memory. Appends and marker writes succeed at once unless a hook says
 * otherwise (throw to fail, return an unresolved promise to hang); `events` records, in order, every durable
 * append and every marker write asked for.
 */
class MemoryHost implements TransactionHost {
  clock = kT0
  readonly logs = new Map<number, StateRecord[]>()
  readonly events: string[] = []
  readonly markerRequests: MarkerRequest[] = []
  readonly warnings: string[] = []
  nextProducerId = 1000
  allocations = 0
  appendHook: ((partition: number, records: readonly EncodedRecord[]) => void | Promise<void>) | null = null
  markerHook: ((request: MarkerRequest) => MarkerResult[] | Promise<MarkerResult[]>) | null = null
  allocateHook: (() => Promise<number>) | null = null
  /** When set, readState hands its records out only once this gate opens. */
  readGate: Gate<void> | null = null

  async appendState (partition: number, records: readonly EncodedRecord[]): Promise<void> {
    if (this.appendHook !== null) await this.appendHook(partition, records)
    const log = this.logOf(partition)
    for (const record of records) {
      log.push({ offset: log.length, key: record.key, value: record.value })
      const { id, state, epoch } = describeRecord(record)
      this.events.push(`append ${partition} ${id} ${state}@${epoch}`)
    }
  }

  readState (partition: number): Iterable<StateRecord> | AsyncIterable<StateRecord> {
    const records = [...this.logOf(partition)]
    const waitFor = this.readGate
    if (waitFor === null) return records
    return (async function * () {
      await waitFor.promise
      yield * records
    })()
  }

  async writeMarkers (request: MarkerRequest): Promise<MarkerResult[]> {
    this.markerRequests.push(request)
    this.events.push(`markers ${request.commit ? 'COMMIT' : 'ABORT'} ${request.transactionalId} ${request.producerId}/${request.producerEpoch} ${partitionsText(request.partitions)}`)
    if (this.markerHook !== null) return this.markerHook(request)
    return request.partitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition, errorCode: ErrorCode.NONE })))
  }

  async allocateProducerId (): Promise<number> {
    this.allocations++
    if (this.allocateHook !== null) return this.allocateHook()
    return this.nextProducerId++
  }

  now (): number {
    return this.clock
  }

  warn (message: string): void {
    this.warnings.push(message)
  }

  logOf (partition: number): StateRecord[] {
    let log = this.logs.get(partition)
    if (log === undefined) this.logs.set(partition, log = [])
    return log
  }

  /** The states appended for `id`, in order. */
  statesOf (id: string): string[] {
    const found: string[] = []
    for (const log of this.logs.values()) {
      for (const record of log) {
        const described = describeRecord(record)
        if (described.id === id) found.push(`${described.state}@${described.epoch}`)
      }
    }
    return found
  }
}

function allNone (request: MarkerRequest): MarkerResult[] {
  return request.partitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition, errorCode: ErrorCode.NONE })))
}

async function setup (options: TransactionCoordinatorOptions = {}, partitions: readonly number[] = kAllPartitions) {
  const host = new MemoryHost()
  // Requests are answered at once, as Kafka answers them, unless a test asks for the hold.
  const coordinator = new TransactionCoordinator(host, { retryBackoffMs: 100, retryBackoffMaxMs: 400, holdWhileCompletingMs: 0, ...options })
  for (const partition of partitions) await coordinator.loadPartition(partition, 1)
  return { host, coordinator }
}

/** Moves the host's clock and ticks, then lets what the tick woke run. */
async function advance (host: MemoryHost, coordinator: TransactionCoordinator, ms: number): Promise<void> {
  host.clock += ms
  coordinator.tick()
  await settleMany(3)
}

function init (coordinator: TransactionCoordinator, transactionalId: string, extra: Partial<{ transactionTimeoutMs: number, producerId: number, producerEpoch: number, version: number }> = {}) {
  return coordinator.initProducerId({ transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1, version: 4, ...extra })
}

function add (coordinator: TransactionCoordinator, transactionalId: string, producerId: number, producerEpoch: number, topics: Array<[string, number[]]>, version = 3) {
  return coordinator.addPartitionsToTxn({ transactionalId, producerId, producerEpoch, topics: topics.map(([topic, partitions]) => ({ topic, partitions })), version })
}

async function addCode (coordinator: TransactionCoordinator, transactionalId: string, producerId: number, producerEpoch: number, topics: Array<[string, number[]]>, version = 3): Promise<number> {
  const results = await add(coordinator, transactionalId, producerId, producerEpoch, topics, version)
  const codes = new Set(results.flatMap((topic) => topic.resultsByPartition.map((p) => p.partitionErrorCode)))
  assert.equal(codes.size, 1, 'one code for every partition')
  return [...codes][0]!
}

function end (coordinator: TransactionCoordinator, transactionalId: string, producerId: number, producerEpoch: number, committed: boolean, version = 3) {
  return coordinator.endTxn({ transactionalId, producerId, producerEpoch, committed, version })
}

function stateOf (coordinator: TransactionCoordinator, id: string): string {
  const [described] = coordinator.describeTransactions([id])
  assert.equal(described!.errorCode, ErrorCode.NONE)
  return described!.transactionState
}

/** An initialised producer with an Ongoing transaction on orders-0 and orders-2. */
async function ongoing (coordinator: TransactionCoordinator, id: string): Promise<{ producerId: number, producerEpoch: number }> {
  const { errorCode, producerId, producerEpoch } = await init(coordinator, id)
  assert.equal(errorCode, ErrorCode.NONE)
  assert.equal(await addCode(coordinator, id, producerId, producerEpoch, [['orders', [2, 0]]]), ErrorCode.NONE)
  return { producerId, producerEpoch }
}

/** Ids whose `__transaction_state` partition is `partition`, found by trying names in turn. */
function idsOn (coordinator: TransactionCoordinator, partition: number, count: number, prefix = 'app'): string[] {
  const found: string[] = []
  for (let i = 0; found.length < count; i++) if (coordinator.partitionFor(`${prefix}-${i}`) === partition) found.push(`${prefix}-${i}`)
  return found
}

function counters (...names: string[]): () => Record<string, number> {
  const before = Object.fromEntries(names.map((name) => [name, counterValue(name)]))
  return () => Object.fromEntries(names.map((name) => [name, counterValue(name) - before[name]!]))
}

// --- Whole flows ---------------------------------------------------------------------------------------------

test('a commit persists each transition before answering it, writes markers to exactly its partitions, then persists CompleteCommit', async () => {
  const { host, coordinator } = await setup()
  const delta = counters('txn-committed', 'txn-markers-written', 'txn-marker-retries')
  const id = 'orders-app'
  const p = coordinator.partitionFor(id)
  assert.deepEqual(await init(coordinator, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 })
  assert.deepEqual(host.events, [`append ${p} ${id} Empty@0`])
  assert.deepEqual(await add(coordinator, id, 1000, 0, [['orders', [2, 0]], ['payments', [1]]]), [
    { name: 'orders', resultsByPartition: [{ partitionIndex: 2, partitionErrorCode: ErrorCode.NONE }, { partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }] },
    { name: 'payments', resultsByPartition: [{ partitionIndex: 1, partitionErrorCode: ErrorCode.NONE }] }
  ])
  // Adding what the transaction holds already writes nothing.
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [0]]]), ErrorCode.NONE)
  assert.deepEqual(await coordinator.addOffsetsToTxn({ transactionalId: id, producerId: 1000, producerEpoch: 0, groupId: 'billing', version: 3 }), { errorCode: ErrorCode.NONE })
  assert.equal(stateOf(coordinator, id), 'Ongoing')
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  await settle()
  const offsets = offsetsPartitionOf('billing').partitions[0]
  assert.deepEqual(host.events, [
    `append ${p} ${id} Empty@0`,
    `append ${p} ${id} Ongoing@0`,
    `append ${p} ${id} Ongoing@0`,
    `append ${p} ${id} PrepareCommit@0`,
    `markers COMMIT ${id} 1000/0 __consumer_offsets-${offsets},orders-0,orders-2,payments-1`,
    `append ${p} ${id} CompleteCommit@0`
  ])
  assert.equal(host.markerRequests[0]!.coordinatorEpoch, 1)
  const [described] = coordinator.describeTransactions([id])
  assert.equal(described!.transactionState, 'CompleteCommit')
  assert.deepEqual(described!.topics, [])
  assert.deepEqual(delta(), { 'txn-committed': 1, 'txn-markers-written': 4, 'txn-marker-retries': 0 })
  // A retry of the commit is answered NONE without writing; an abort now is refused.
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  assert.deepEqual(await end(coordinator, id, 1000, 0, false), { errorCode: ErrorCode.INVALID_TXN_STATE })
  assert.equal(host.events.length, 6)
  // The next transaction starts from the completed one.
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [1]]]), ErrorCode.NONE)
  assert.equal(stateOf(coordinator, id), 'Ongoing')
})

test('an abort writes ABORT markers and persists CompleteAbort; the next InitProducerId bumps the epoch', async () => {
  const { host, coordinator } = await setup()
  const delta = counters('txn-aborted', 'txn-committed')
  const id = 'abort-app'
  const p = coordinator.partitionFor(id)
  await ongoing(coordinator, id)
  assert.deepEqual(await end(coordinator, id, 1000, 0, false), { errorCode: ErrorCode.NONE })
  await settle()
  assert.deepEqual(host.events.slice(2), [
    `append ${p} ${id} PrepareAbort@0`,
    `markers ABORT ${id} 1000/0 orders-0,orders-2`,
    `append ${p} ${id} CompleteAbort@0`
  ])
  assert.equal(stateOf(coordinator, id), 'CompleteAbort')
  assert.deepEqual(delta(), { 'txn-aborted': 1, 'txn-committed': 0 })
  assert.deepEqual(await init(coordinator, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 1 })
  assert.equal(host.allocations, 1, 'a known id keeps its producer id')
})

test('EndTxn is answered once Prepare* is durable, before the markers; until they are done the id answers CONCURRENT_TRANSACTIONS', async () => {
  const { host, coordinator } = await setup()
  const id = 'slow-markers'
  await ongoing(coordinator, id)
  const markers = gate<MarkerResult[]>()
  host.markerHook = () => markers.promise
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  await settle()
  assert.equal(stateOf(coordinator, id), 'PrepareCommit')
  assert.equal(host.markerRequests.length, 1)
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS })
  // The opposite outcome too is told to wait (Kafka, whose markers run with no pending state, says
  // INVALID_TXN_STATE at once); once the commit is done it is refused.
  assert.deepEqual(await end(coordinator, id, 1000, 0, false), { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS })
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [5]]]), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.equal((await coordinator.addOffsetsToTxn({ transactionalId: id, producerId: 1000, producerEpoch: 0, groupId: 'g', version: 3 })).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.ok(!host.statesOf(id).includes('CompleteCommit@0'), 'Complete* waits for the markers')
  markers.open(allNone(host.markerRequests[0]!))
  await settle()
  assert.equal(stateOf(coordinator, id), 'CompleteCommit')
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareCommit@0', 'CompleteCommit@0'])
  assert.deepEqual(await end(coordinator, id, 1000, 0, false), { errorCode: ErrorCode.INVALID_TXN_STATE })
  assert.equal((await init(coordinator, id)).producerEpoch, 1)
})

test('while a transition is being appended the id answers CONCURRENT_TRANSACTIONS, and the request waits for the append', async () => {
  const { host, coordinator } = await setup()
  const id = 'busy'
  await init(coordinator, id)
  const append = gate()
  host.appendHook = () => append.promise
  let answered: Array<{ name: string }> | null = null
  const first = add(coordinator, id, 1000, 0, [['orders', [0]]]).then((result) => { answered = result })
  await settle()
  assert.equal(answered, null, 'not answered before it is durable')
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [1]]]), ErrorCode.CONCURRENT_TRANSACTIONS)
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS })
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  // Describe shows what is durable.
  assert.equal(stateOf(coordinator, id), 'Empty')
  host.appendHook = null
  append.open()
  await first
  assert.notEqual(answered, null)
  assert.equal(stateOf(coordinator, id), 'Ongoing')
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0'])
})

// --- Fencing and timeouts ------------------------------------------------------------------------------------

test('a second InitProducerId fences an Ongoing transaction: it is aborted with the bumped epoch, and retries answer CONCURRENT_TRANSACTIONS until done', async () => {
  const { host, coordinator } = await setup()
  const id = 'fenced'
  const p = coordinator.partitionFor(id)
  await ongoing(coordinator, id)
  const markers = gate<MarkerResult[]>()
  host.markerHook = () => markers.promise
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  await settle()
  assert.deepEqual(host.events.slice(2), [
    `append ${p} ${id} PrepareAbort@1`,
    `markers ABORT ${id} 1000/1 orders-0,orders-2`
  ])
  // The old producer is fenced at once; the new one keeps retrying.
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.PRODUCER_FENCED })
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [1]]], 1), ErrorCode.INVALID_PRODUCER_EPOCH)
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  markers.open(allNone(host.markerRequests[0]!))
  await settle()
  assert.equal(stateOf(coordinator, id), 'CompleteAbort')
  assert.deepEqual(await init(coordinator, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 2 })
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareAbort@1', 'CompleteAbort@1', 'Empty@2'])
})

test('a transaction open longer than its timeout is aborted at the next scan with an epoch bump that fences its producer', async () => {
  const { host, coordinator } = await setup({ abortTimedOutTransactionsIntervalMs: 1_000 })
  const delta = counters('txn-timed-out', 'txn-aborted')
  const id = 'slowpoke'
  const fresh = 'fresh'
  const { producerId } = await init(coordinator, id, { transactionTimeoutMs: 10_000 })
  await addCode(coordinator, id, producerId, 0, [['orders', [3]]])
  await advance(host, coordinator, 9_000)
  assert.equal(stateOf(coordinator, id), 'Ongoing')
  const other = await init(coordinator, fresh, { transactionTimeoutMs: 10_000 })
  await addCode(coordinator, fresh, other.producerId, 0, [['orders', [4]]])
  await advance(host, coordinator, 1_500)
  assert.equal(stateOf(coordinator, id), 'CompleteAbort')
  assert.equal(stateOf(coordinator, fresh), 'Ongoing', 'only the timed-out one is aborted')
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareAbort@1', 'CompleteAbort@1'])
  assert.ok(host.events.includes(`markers ABORT ${id} ${producerId}/1 orders-3`))
  assert.deepEqual(delta(), { 'txn-timed-out': 1, 'txn-aborted': 1 })
  assert.deepEqual(await end(coordinator, id, producerId, 0, true), { errorCode: ErrorCode.PRODUCER_FENCED })
  // The producer's new instance resumes from the fenced epoch.
  assert.deepEqual(await init(coordinator, id, { transactionTimeoutMs: 10_000 }), { errorCode: ErrorCode.NONE, producerId, producerEpoch: 2 })
})

test('a timeout abort whose append fails is tried again at the next scan, without raising the epoch twice', async () => {
  const { host, coordinator } = await setup({ abortTimedOutTransactionsIntervalMs: 1_000 })
  const id = 'retry-timeout'
  const { producerId } = await init(coordinator, id, { transactionTimeoutMs: 5_000 })
  await addCode(coordinator, id, producerId, 0, [['orders', [0]]])
  host.appendHook = () => { throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR) }
  await advance(host, coordinator, 6_000)
  assert.equal(stateOf(coordinator, id), 'Ongoing')
  assert.equal(host.markerRequests.length, 0)
  host.appendHook = null
  await advance(host, coordinator, 1_000)
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareAbort@1', 'CompleteAbort@1'])
})

// --- Failures ------------------------------------------------------------------------------------------------

test('a failed append answers the coordinator error Kafka maps it to and leaves the state as it was', async () => {
  const { host, coordinator } = await setup()
  const id = 'disk-full'
  host.appendHook = () => { throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR) }
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.NOT_COORDINATOR)
  host.appendHook = null
  // The retry reuses the producer id kept in memory.
  assert.deepEqual(await init(coordinator, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 })
  assert.equal(host.allocations, 1)

  host.appendHook = () => { throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR) }
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [0]]]), ErrorCode.NOT_COORDINATOR)
  assert.equal(stateOf(coordinator, id), 'Empty')
  assert.deepEqual(coordinator.describeTransactions([id])[0]!.topics, [])
  host.appendHook = null
  assert.equal(await addCode(coordinator, id, 1000, 0, [['orders', [0]]]), ErrorCode.NONE)

  host.appendHook = () => { throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS) }
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE })
  host.appendHook = () => Promise.reject(new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE })
  assert.equal(stateOf(coordinator, id), 'Ongoing')
  assert.equal(host.markerRequests.length, 0)
  host.appendHook = null
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  await settle()
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareCommit@0', 'CompleteCommit@0'])
})

test('a fencing InitProducerId whose abort cannot be appended answers the append error, and the old producer stays fenced', async () => {
  const { host, coordinator } = await setup()
  const id = 'fence-fails'
  await ongoing(coordinator, id)
  host.appendHook = () => { throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR) }
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.NOT_COORDINATOR)
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.PRODUCER_FENCED })
  host.appendHook = null
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  await settle()
  // The epoch was raised once, for both attempts.
  assert.deepEqual(await init(coordinator, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 2 })
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareAbort@1', 'CompleteAbort@1', 'Empty@2'])
})

test('markers that fail are retried with backoff for just the failed partitions; deleted partitions are dropped', async () => {
  const { host, coordinator } = await setup()
  const delta = counters('txn-markers-written', 'txn-marker-retries', 'txn-markers-dropped', 'txn-committed')
  const id = 'flaky'
  const { producerId } = await init(coordinator, id)
  await addCode(coordinator, id, producerId, 0, [['orders', [0, 1]], ['gone', [0]]])
  const answers: Array<Record<string, number>> = [
    { 'orders-0': ErrorCode.NONE, 'orders-1': ErrorCode.NOT_LEADER_OR_FOLLOWER, 'gone-0': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    { 'orders-1': ErrorCode.KAFKA_STORAGE_ERROR }
  ]
  host.markerHook = (request) => {
    const answer = answers.shift()
    if (answer === undefined) return allNone(request)
    return request.partitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition, errorCode: answer[`${topic}-${partition}`] ?? ErrorCode.NONE })))
  }
  await end(coordinator, id, producerId, 0, true)
  await settle()
  assert.equal(host.markerRequests.length, 1)
  assert.equal(stateOf(coordinator, id), 'PrepareCommit')
  await advance(host, coordinator, 99)
  assert.equal(host.markerRequests.length, 1, 'not before the backoff')
  await advance(host, coordinator, 1)
  assert.equal(host.markerRequests.length, 2)
  assert.equal(partitionsText(host.markerRequests[1]!.partitions), 'orders-1')
  // The backoff doubles.
  await advance(host, coordinator, 150)
  assert.equal(host.markerRequests.length, 2)
  await advance(host, coordinator, 50)
  assert.equal(host.markerRequests.length, 3)
  assert.equal(partitionsText(host.markerRequests[2]!.partitions), 'orders-1')
  assert.equal(stateOf(coordinator, id), 'CompleteCommit')
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareCommit@0', 'CompleteCommit@0'])
  assert.deepEqual(delta(), { 'txn-markers-written': 2, 'txn-marker-retries': 2, 'txn-markers-dropped': 1, 'txn-committed': 1 })
})

test('a marker write that rejects as a whole, or omits a partition, is retried', async () => {
  const { host, coordinator } = await setup()
  const id = 'rejecting'
  const { producerId } = await init(coordinator, id)
  await addCode(coordinator, id, producerId, 0, [['orders', [0, 1]]])
  let calls = 0
  host.markerHook = (request) => {
    calls++
    if (calls === 1) throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT)
    if (calls === 2) return [{ topic: 'orders', partition: 0, errorCode: ErrorCode.NONE }]
    return allNone(request)
  }
  await end(coordinator, id, producerId, 0, false)
  await advance(host, coordinator, 100)
  assert.equal(partitionsText(host.markerRequests[1]!.partitions), 'orders-0,orders-1')
  await advance(host, coordinator, 200)
  assert.equal(partitionsText(host.markerRequests[2]!.partitions), 'orders-1')
  assert.equal(stateOf(coordinator, id), 'CompleteAbort')
})

test('a Complete* append that fails is retried with backoff without writing the markers again', async () => {
  const { host, coordinator } = await setup()
  const id = 'complete-retry'
  await ongoing(coordinator, id)
  let failures = 1
  host.appendHook = (_partition, records) => {
    if (describeRecord(records[0]!).state === 'CompleteCommit' && failures-- > 0) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR)
  }
  assert.deepEqual(await end(coordinator, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  await settle()
  assert.equal(stateOf(coordinator, id), 'PrepareCommit')
  assert.equal((await init(coordinator, id)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS)
  await advance(host, coordinator, 100)
  assert.equal(stateOf(coordinator, id), 'CompleteCommit')
  assert.equal(host.markerRequests.length, 1)
})

test('markers refused for a newer coordinator epoch stop, as in Kafka, and the id stays busy until its partition is reloaded', async () => {
  const { host, coordinator } = await setup()
  const delta = counters('txn-markers-cancelled')
  const id = 'superseded'
  await ongoing(coordinator, id)
  host.markerHook = (request) => request.partitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition, errorCode: ErrorCode.TRANSACTION_COORDINATOR_FENCED })))
  await end(coordinator, id, 1000, 0, true)
  await advance(host, coordinator, 10_000)
  assert.equal(host.markerRequests.length, 1)
  assert.equal(stateOf(coordinator, id), 'PrepareCommit')
  assert.deepEqual(delta(), { 'txn-markers-cancelled': 1 })
  host.markerHook = null
  await coordinator.loadPartition(coordinator.partitionFor(id), 2)
  await settle()
  assert.equal(stateOf(coordinator, id), 'CompleteCommit')
})

// --- Loading, unloading, crashes ----------------------------------------------------------------------------

test('after a crash between Prepare* and Complete*, loading the partition writes the markers again and persists Complete*', async () => {
  const host = new MemoryHost()
  const id = 'crashy'
  const before = new TransactionCoordinator(host)
  const p = before.partitionFor(id)
  await before.loadPartition(p, 4)
  await ongoing(before, id)
  host.markerHook = () => new Promise<MarkerResult[]>(() => {})
  assert.deepEqual(await end(before, id, 1000, 0, true), { errorCode: ErrorCode.NONE })
  await settle()
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareCommit@0'])
  // The process dies here: `before` is never heard from again.
  host.markerHook = null
  const after = new TransactionCoordinator(host)
  assert.deepEqual(await after.loadPartition(p, 5), { transactions: 1, resumed: 1, skipped: 0 })
  await settle()
  const resent = host.markerRequests[1]!
  assert.deepEqual({ ...resent, partitions: partitionsText(resent.partitions) }, {
    transactionalId: id, producerId: 1000, producerEpoch: 0, commit: true, coordinatorEpoch: 5, partitions: 'orders-0,orders-2'
  })
  assert.deepEqual(host.statesOf(id), ['Empty@0', 'Ongoing@0', 'PrepareCommit@0', 'CompleteCommit@0'])
  assert.equal(stateOf(after, id), 'CompleteCommit')
  assert.deepEqual(await init(after, id), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 1 })
})

test('loading replays the last record per id, skips records that do not decode, and resumes PrepareAbort too', async () => {
  const host = new MemoryHost()
  const coordinator = new TransactionCoordinator(host)
  const [a, b] = idsOn(coordinator, 7, 2)
  const base: TransactionMetadata = {
    transactionalId: a!, producerId: 50, lastProducerId: -1, producerEpoch: 3, lastProducerEpoch: -1, timeoutMs: 60_000,
    state: 'Ongoing', partitions: new Map([['t', [1]]]), startTimestamp: kT0, lastUpdateTimestamp: kT0
  }
  const log = host.logOf(7)
  for (const record of [
    encodeTransactionLogRecord({ transactionalId: a!, value: base }),
    encodeTransactionLogRecord({ transactionalId: a!, value: { ...base, state: 'PrepareAbort' } }),
    { key: Buffer.from('not json'), value: null },
    encodeTransactionLogRecord({ transactionalId: b!, value: { ...base, transactionalId: b!, producerId: 51, state: 'CompleteCommit', partitions: new Map() } })
  ]) log.push({ offset: log.length, ...record })
  assert.deepEqual(await coordinator.loadPartition(7, 9), { transactions: 2, resumed: 1, skipped: 1 })
  await settle()
  assert.equal(host.warnings.length, 1)
  assert.deepEqual(host.events, [`markers ABORT ${a} 50/3 t-1`, `append 7 ${a} CompleteAbort@3`])
  assert.equal(stateOf(coordinator, b!), 'CompleteCommit')
})

test('ids of partitions not loaded here answer NOT_COORDINATOR, and allocate nothing', async () => {
  const { host, coordinator } = await setup({}, [3])
  const [owned] = idsOn(coordinator, 3, 1)
  const [elsewhere] = idsOn(coordinator, 4, 1)
  assert.equal((await init(coordinator, owned!)).errorCode, ErrorCode.NONE)
  assert.deepEqual(await init(coordinator, elsewhere!), { errorCode: ErrorCode.NOT_COORDINATOR, producerId: -1, producerEpoch: -1 })
  assert.equal(host.allocations, 1)
  assert.equal(await addCode(coordinator, elsewhere!, 1000, 0, [['orders', [0, 1]]]), ErrorCode.NOT_COORDINATOR)
  assert.deepEqual(await coordinator.addOffsetsToTxn({ transactionalId: elsewhere!, producerId: 1000, producerEpoch: 0, groupId: 'g', version: 3 }), { errorCode: ErrorCode.NOT_COORDINATOR })
  assert.deepEqual(await end(coordinator, elsewhere!, 1000, 0, true), { errorCode: ErrorCode.NOT_COORDINATOR })
  assert.deepEqual(coordinator.describeTransactions([elsewhere!, owned!]).map((d) => [d.errorCode, d.transactionState]), [[ErrorCode.NOT_COORDINATOR, ''], [ErrorCode.NONE, 'Empty']])
  const [batch] = await coordinator.addPartitionsToTxnBatch([{ transactionalId: elsewhere!, producerId: 1000, producerEpoch: 0, verifyOnly: true, topics: [{ topic: 'orders', partitions: [0] }] }], 4)
  assert.equal(batch!.topicResults[0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.NOT_COORDINATOR)
  // An empty id is a malformed request wherever it lands.
  assert.equal((await init(coordinator, '')).errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal(coordinator.describeTransactions([''])[0]!.errorCode, ErrorCode.INVALID_REQUEST)
  assert.equal(host.events.length, 1)
})

test('unloading a partition answers its waiting requests NOT_COORDINATOR at once, stops its marker retries, and forgets its ids', async () => {
  const { host, coordinator } = await setup({}, [11, 12])
  const [id, busy] = idsOn(coordinator, 11, 2)
  const [neighbour] = idsOn(coordinator, 12, 1)
  await ongoing(coordinator, id!)
  await init(coordinator, busy!)
  await ongoing(coordinator, neighbour!)
  host.markerHook = (request) => request.partitions.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER })))
  await end(coordinator, id!, 1000, 0, true)
  await advance(host, coordinator, 100)
  assert.equal(host.markerRequests.length, 2)
  const hung = gate()
  host.appendHook = () => hung.promise
  const waiting = add(coordinator, busy!, 1001, 0, [['orders', [0]]])
  await settle()
  coordinator.unloadPartition(11)
  assert.equal((await waiting)[0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.NOT_COORDINATOR)
  hung.open()
  host.appendHook = null
  await advance(host, coordinator, 10_000)
  assert.equal(host.markerRequests.length, 2, 'no more marker retries')
  assert.equal(coordinator.describeTransactions([id!])[0]!.errorCode, ErrorCode.NOT_COORDINATOR)
  assert.equal((await init(coordinator, busy!)).errorCode, ErrorCode.NOT_COORDINATOR)
  assert.equal(coordinator.partitionState(11), null)
  // The other partition carries on.
  assert.equal(stateOf(coordinator, neighbour!), 'Ongoing')
  assert.equal(await addCode(coordinator, neighbour!, 1002, 0, [['orders', [7]]]), ErrorCode.NONE)
})

test('a partition reloaded while its markers hang resumes with the new epoch, and the old attempt completes nothing', async () => {
  const { host, coordinator } = await setup({}, [20])
  const [id] = idsOn(coordinator, 20, 1)
  await ongoing(coordinator, id!)
  const first = gate<MarkerResult[]>()
  host.markerHook = () => first.promise
  await end(coordinator, id!, 1000, 0, false)
  await settle()
  host.markerHook = null
  await coordinator.loadPartition(20, 2)
  await settle()
  first.open(allNone(host.markerRequests[0]!))
  await settle()
  assert.deepEqual(host.markerRequests.map((r) => r.coordinatorEpoch), [1, 2])
  assert.deepEqual(host.statesOf(id!), ['Empty@0', 'Ongoing@0', 'PrepareAbort@0', 'CompleteAbort@0'])
})

test('while a partition loads its ids answer COORDINATOR_LOAD_IN_PROGRESS, and ListTransactions does too', async () => {
  const host = new MemoryHost()
  const coordinator = new TransactionCoordinator(host)
  const [id] = idsOn(coordinator, 30, 1)
  host.readGate = gate()
  const loading = coordinator.loadPartition(30, 1)
  await settle()
  assert.equal(coordinator.partitionState(30), 'loading')
  assert.equal((await init(coordinator, id!)).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  assert.equal(await addCode(coordinator, id!, 1, 0, [['t', [0]]]), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  assert.equal(coordinator.describeTransactions([id!])[0]!.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  assert.equal(coordinator.listTransactions({ stateFilters: [], producerIdFilters: [], durationFilterMs: -1 }).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  host.readGate.open()
  await loading
  assert.equal(coordinator.partitionState(30), 'loaded')
  assert.equal((await init(coordinator, id!)).errorCode, ErrorCode.NONE)
  assert.deepEqual(coordinator.listTransactions({ stateFilters: [], producerIdFilters: [], durationFilterMs: -1 }).transactionStates, [{ transactionalId: id, producerId: 1000, transactionState: 'Empty' }])
})

test('a partition unloaded while it loads never becomes owned', async () => {
  const host = new MemoryHost()
  const coordinator = new TransactionCoordinator(host)
  const [id] = idsOn(coordinator, 31, 1)
  host.readGate = gate()
  const loading = coordinator.loadPartition(31, 1)
  await settle()
  coordinator.unloadPartition(31)
  host.readGate.open()
  await loading
  assert.equal(coordinator.partitionState(31), null)
  assert.equal((await init(coordinator, id!)).errorCode, ErrorCode.NOT_COORDINATOR)
})

// --- AddPartitionsToTxn v4, ids, allocation ------------------------------------------------------------------

test('an AddPartitionsToTxn v4 batch verifies some transactions and adds to others, each on its own', async () => {
  const { coordinator } = await setup()
  await ongoing(coordinator, 'verified')
  const other = await init(coordinator, 'adder')
  const results = await coordinator.addPartitionsToTxnBatch([
    { transactionalId: 'verified', producerId: 1000, producerEpoch: 0, verifyOnly: true, topics: [{ topic: 'orders', partitions: [0, 5] }] },
    { transactionalId: 'adder', producerId: other.producerId, producerEpoch: 0, verifyOnly: false, topics: [{ topic: 'logs', partitions: [1] }] },
    { transactionalId: 'verified', producerId: 1000, producerEpoch: 7, verifyOnly: true, topics: [{ topic: 'orders', partitions: [0] }] }
  ], 4)
  assert.deepEqual(results, [
    { transactionalId: 'verified', topicResults: [{ name: 'orders', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }, { partitionIndex: 5, partitionErrorCode: ErrorCode.INVALID_TXN_STATE }] }] },
    { transactionalId: 'adder', topicResults: [{ name: 'logs', resultsByPartition: [{ partitionIndex: 1, partitionErrorCode: ErrorCode.NONE }] }] },
    { transactionalId: 'verified', topicResults: [{ name: 'orders', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.PRODUCER_FENCED }] }] }
  ])
  assert.equal(stateOf(coordinator, 'adder'), 'Ongoing')
  assert.deepEqual(coordinator.describeTransactions(['verified'])[0]!.topics, [{ topic: 'orders', partitions: [0, 2] }])
})

test('producer ids come from the host only for new ids; its refusal is answered', async () => {
  const { host, coordinator } = await setup()
  host.allocateHook = () => Promise.reject(new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS))
  assert.equal((await init(coordinator, 'first')).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  host.allocateHook = null
  assert.deepEqual(await init(coordinator, 'first'), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 })
  assert.deepEqual(await init(coordinator, 'first'), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 1 })
  assert.equal(host.allocations, 2)
  // An invalid request may waste a fetched id; the next new id gets it.
  assert.equal((await init(coordinator, 'second', { transactionTimeoutMs: 0 })).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT)
  assert.deepEqual(await init(coordinator, 'third'), { errorCode: ErrorCode.NONE, producerId: 1001, producerEpoch: 0 })
  assert.equal(host.allocations, 3)
})

test('an id idle past transactional.id.expiration.ms is expired with a tombstone and stays gone after a reload', async () => {
  const { host, coordinator } = await setup({ transactionalIdExpirationMs: 60_000, removeExpiredTransactionalIdsIntervalMs: 10_000 })
  const delta = counters('txn-ids-expired')
  await init(coordinator, 'idle')
  const busy = await init(coordinator, 'busy', { transactionTimeoutMs: 900_000 })
  await addCode(coordinator, 'busy', busy.producerId, 0, [['orders', [0]]])
  await advance(host, coordinator, 30_000)
  assert.equal(stateOf(coordinator, 'idle'), 'Empty')
  await advance(host, coordinator, 31_000)
  assert.equal(coordinator.describeTransactions(['idle'])[0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
  assert.equal(stateOf(coordinator, 'busy'), 'Ongoing')
  assert.deepEqual(host.statesOf('idle'), ['Empty@0', 'tombstone@-1'])
  assert.deepEqual(delta(), { 'txn-ids-expired': 1 })
  const p = coordinator.partitionFor('idle')
  await coordinator.loadPartition(p, 2)
  assert.equal(coordinator.describeTransactions(['idle'])[0]!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND)
  assert.deepEqual(await init(coordinator, 'idle'), { errorCode: ErrorCode.NONE, producerId: 1002, producerEpoch: 0 })
})

test('ListTransactions filters the ids of every loaded partition', async () => {
  const { host, coordinator } = await setup()
  await ongoing(coordinator, 'b-open')
  await init(coordinator, 'a-idle')
  host.clock += 5_000
  const listed = coordinator.listTransactions({ stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [], durationFilterMs: 1_000 })
  assert.deepEqual(listed, { errorCode: ErrorCode.NONE, unknownStateFilters: ['Bogus'], transactionStates: [{ transactionalId: 'b-open', producerId: 1000, transactionState: 'Ongoing' }] })
  assert.deepEqual(coordinator.listTransactions({ stateFilters: [], producerIdFilters: [1001], durationFilterMs: -1 }).transactionStates.map((t) => t.transactionalId), ['a-idle'])
})

// --- Many ids ------------------------------------------------------------------------------------------------

test('1,000 transactional ids run whole transactions interleaved, and one id whose markers hang blocks none of them', async () => {
  const { host, coordinator } = await setup()
  const delta = counters('txn-committed', 'txn-aborted', 'txn-markers-written')
  // Appends and markers complete on later turns of the event loop, so that every flow interleaves with the others.
  host.appendHook = () => new Promise((resolve) => setImmediate(resolve))
  const hung = 'stuck-forever'
  host.markerHook = (request) => request.transactionalId === hung
    ? new Promise<MarkerResult[]>(() => {})
    : new Promise((resolve) => setImmediate(() => resolve(allNone(request))))
  const stuck = await init(coordinator, hung)
  await addCode(coordinator, hung, stuck.producerId, 0, [['t', [0]]])
  assert.deepEqual(await end(coordinator, hung, stuck.producerId, 0, true), { errorCode: ErrorCode.NONE })

  const ids = Array.from({ length: 1000 }, (_, i) => `txn-${i}`)
  const answers = await Promise.all(ids.map(async (id, i) => {
    const { errorCode, producerId, producerEpoch } = await init(coordinator, id)
    assert.equal(errorCode, ErrorCode.NONE)
    assert.equal(await addCode(coordinator, id, producerId, producerEpoch, [[`topic-${i % 7}`, [i % 3]]]), ErrorCode.NONE)
    if (i % 2 === 0) assert.equal((await coordinator.addOffsetsToTxn({ transactionalId: id, producerId, producerEpoch, groupId: `group-${i % 5}`, version: 3 })).errorCode, ErrorCode.NONE)
    return { producerId, ended: await end(coordinator, id, producerId, producerEpoch, i % 2 === 0) }
  }))
  assert.ok(answers.every(({ ended }) => ended.errorCode === ErrorCode.NONE))
  assert.equal(new Set(answers.map(({ producerId }) => producerId)).size, 1000, 'every id its own producer id')
  await settleMany()
  const statesById = new Map<string, string[]>()
  for (const log of host.logs.values()) {
    for (const record of log) {
      const { id, state, epoch } = describeRecord(record)
      let states = statesById.get(id)
      if (states === undefined) statesById.set(id, states = [])
      states.push(`${state}@${epoch}`)
    }
  }
  const markersById = new Map<string, MarkerRequest[]>()
  for (const request of host.markerRequests) {
    const list = markersById.get(request.transactionalId) ?? []
    list.push(request)
    markersById.set(request.transactionalId, list)
  }
  for (const [i, id] of ids.entries()) {
    const outcome = i % 2 === 0 ? 'Commit' : 'Abort'
    const states = statesById.get(id)
    assert.deepEqual(states, i % 2 === 0
      ? ['Empty@0', 'Ongoing@0', 'Ongoing@0', `Prepare${outcome}@0`, `Complete${outcome}@0`]
      : ['Empty@0', 'Ongoing@0', `Prepare${outcome}@0`, `Complete${outcome}@0`])
    const requests = markersById.get(id)!
    assert.equal(requests.length, 1)
    const expected = [`topic-${i % 7}-${i % 3}`]
    if (i % 2 === 0) expected.push(`__consumer_offsets-${offsetsPartitionOf(`group-${i % 5}`).partitions[0]}`)
    assert.equal(partitionsText(requests[0]!.partitions), expected.sort().join(','))
  }
  assert.equal(stateOf(coordinator, hung), 'PrepareCommit')
  assert.deepEqual(delta(), { 'txn-committed': 500, 'txn-aborted': 500, 'txn-markers-written': 1500 })
  assert.equal(coordinator.listTransactions({ stateFilters: ['CompleteCommit'], producerIdFilters: [], durationFilterMs: -1 }).transactionStates.length, 500)
  coordinator.shutdown()
})

test('checkpointRecords rebuild a partition\'s ids exactly, and are withheld while a transition is in flight', async () => {
  const { host, coordinator } = await setup()
  const ids = idsOn(coordinator, 7, 3, 'checkpointed')
  const open = await ongoing(coordinator, ids[0]!)
  const committed = await ongoing(coordinator, ids[1]!)
  assert.equal((await end(coordinator, ids[1]!, committed.producerId, committed.producerEpoch, true)).errorCode, ErrorCode.NONE)
  await settleMany()
  assert.equal(stateOf(coordinator, ids[1]!), 'CompleteCommit')
  assert.equal((await init(coordinator, ids[2]!)).errorCode, ErrorCode.NONE)

  const records = coordinator.checkpointRecords(7)
  assert.ok(records !== null)
  assert.equal(records.length, 3, 'one record per id')
  // A fresh coordinator loading only the checkpoint knows the same ids in the same states.
  const fresh = new MemoryHost()
  fresh.logOf(7).push(...records.map((record, offset) => ({ offset, key: record.key, value: record.value })))
  const reloaded = new TransactionCoordinator(fresh, { retryBackoffMs: 100, retryBackoffMaxMs: 400 })
  await reloaded.loadPartition(7, 2)
  for (const id of ids) assert.deepEqual(reloaded.describeTransactions([id]), coordinator.describeTransactions([id]))
  assert.equal(stateOf(reloaded, ids[0]!), 'Ongoing')
  void open

  // While an append is in flight nothing is offered (it may not be in memory yet).
  let release: () => void = () => {}
  host.appendHook = () => new Promise<void>((resolve) => { release = resolve })
  const pending = end(coordinator, ids[0]!, open.producerId, open.producerEpoch, false)
  await settle()
  assert.equal(coordinator.checkpointRecords(7), null)
  host.appendHook = null
  release()
  assert.equal((await pending).errorCode, ErrorCode.NONE)
  assert.equal(coordinator.checkpointRecords(99), null, 'a partition not loaded has no checkpoint')
})

test('a request that finds the previous transaction still writing its markers is held until it completes', async () => {
  const { host, coordinator } = await setup({ holdWhileCompletingMs: 1000 })
  const delta = counters('txn-requests-held')
  const id = 'held-app'
  const { producerId, producerEpoch } = await ongoing(coordinator, id)
  let releaseMarkers: () => void = () => {}
  host.markerHook = (request) => new Promise((resolve) => { releaseMarkers = () => resolve(allNone(request)) })
  assert.equal((await end(coordinator, id, producerId, producerEpoch, true)).errorCode, ErrorCode.NONE)
  await settle()
  let answered: number | null = null
  const next = addCode(coordinator, id, producerId, producerEpoch, [['orders', [1]]]).then((code) => { answered = code })
  await settleMany()
  assert.equal(answered, null, 'held while the markers are written')
  releaseMarkers()
  await next
  assert.equal(answered, ErrorCode.NONE, 'decided again once the transaction completed')
  assert.equal(delta()['txn-requests-held'], 1)

  // Held no longer than holdWhileCompletingMs: then CONCURRENT_TRANSACTIONS, as Kafka answers.
  host.markerHook = () => new Promise(() => {})
  assert.equal((await end(coordinator, id, producerId, producerEpoch, false)).errorCode, ErrorCode.NONE)
  await settle()
  const late = addCode(coordinator, id, producerId, producerEpoch, [['orders', [1]]])
  await settleMany()
  await advance(host, coordinator, 1000)
  assert.equal(await late, ErrorCode.CONCURRENT_TRANSACTIONS)
})
