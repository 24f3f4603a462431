// Transactions end to end against a real 2-worker broker, with a raw client (the bytes on the wire are the
// test's): a topic of two partitions has one on each worker, so every transaction's markers are written both
// locally and over the rings (src/shard/transaction-host.ts). Read committed is checked through Fetch's last
// stable offset and aborted-transaction list; restarts after kill -9 reuse the data directory.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic, kFetchVersion } from '../helpers/kafka-client.ts'
import { buildRecordBatch, nextBatchEnd, parseRecords } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kRetriable = new Set<number>([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR, ErrorCode.CONCURRENT_TRANSACTIONS, ErrorCode.COORDINATOR_NOT_AVAILABLE])

interface Producer { transactionalId: string, producerId: number, producerEpoch: number, sequences: Map<string, number> }

async function retrying<T extends { errorCode: number }> (what: string, call: () => Promise<T>): Promise<T> {
  let last: T | null = null
  await waitFor(async () => {
    last = await call()
    return !kRetriable.has(last.errorCode)
  }, 20_000, what)
  return last as unknown as T
}

async function initTransactions (client: KafkaClient, transactionalId: string, transactionTimeoutMs = 60_000): Promise<Producer> {
  const response = await retrying(`InitProducerId ${transactionalId}`, () => client.request(22, 4, { transactionalId, transactionTimeoutMs, producerId: -1, producerEpoch: -1 }))
  assert.equal(response.errorCode, ErrorCode.NONE, `InitProducerId ${transactionalId}`)
  return { transactionalId, producerId: response.producerId, producerEpoch: response.producerEpoch, sequences: new Map() }
}

async function addPartitions (client: KafkaClient, producer: Producer, topic: string, partitions: number[]): Promise<number[]> {
  const response = await retrying('AddPartitionsToTxn', async () => {
    const answer = await client.request(24, 3, {
      v3AndBelowTransactionalId: producer.transactionalId,
      v3AndBelowProducerId: producer.producerId,
      v3AndBelowProducerEpoch: producer.producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions }]
    })
    return { errorCode: answer.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, answer }
  })
  return response.answer.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode)
}

async function produceInTransaction (client: KafkaClient, producer: Producer, topic: string, partition: number, values: string[]): Promise<number> {
  const key = `${topic}-${partition}`
  const baseSequence = producer.sequences.get(key) ?? 0
  const records = buildRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), {
    producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence, isTransactional: true
  })
  const response = await client.request(0, 9, {
    transactionalId: producer.transactionalId,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }]
  })
  const code: number = response.responses[0].partitionResponses[0].errorCode
  if (code === ErrorCode.NONE) producer.sequences.set(key, baseSequence + values.length)
  return code
}

async function endTransaction (client: KafkaClient, producer: Producer, committed: boolean): Promise<number> {
  // Sequences go on across transactions of one epoch, as in Kafka.
  const response = await retrying('EndTxn', () => client.request(26, 3, { transactionalId: producer.transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, committed }))
  return response.errorCode
}

interface Read {
  highWatermark: number
  lastStableOffset: number
  values: string[]
  aborted: Array<{ producerId: number, firstOffset: number }>
}

/**
 * One Fetch from offset 0 of one partition, with the given isolation level; the values a consumer would deliver:
 * data batches only and, read committed, without the batches of the aborted transactions listed (a broker returns
 * them and the client skips them, from each listed producer's first offset to its ABORT marker).
 */
async function read (client: KafkaClient, topic: string, partition: number, isolationLevel: number): Promise<Read> {
  const response = await client.request(1, kFetchVersion, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 4 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
    forgottenTopicsData: [], rackId: ''
  })
  const data = response.responses[0].partitions[0]
  assert.equal(data.errorCode, ErrorCode.NONE)
  const values: string[] = []
  const aborted = (data.abortedTransactions ?? []).map((a: { producerId: number, firstOffset: number }) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) }))
  const skipping = new Set<number>()
  const records: Buffer | null = data.records
  if (records !== null) {
    for (let position = 0; ;) {
      const end = nextBatchEnd(records, position, records.length)
      if (end < 0) break
      const batch = records.subarray(position, end)
      const baseOffset = Number(batch.readBigInt64BE(0))
      const producerId = Number(batch.readBigInt64BE(43))
      for (const a of aborted) if (a.firstOffset <= baseOffset) skipping.add(a.producerId)
      const attributes = batch.readInt16BE(21)
      const control = (attributes & 0x20) !== 0
      const transactional = (attributes & 0x10) !== 0
      if (control) {
        skipping.delete(producerId)
        for (const a of aborted) if (a.producerId === producerId && a.firstOffset <= baseOffset) a.firstOffset = Infinity
      } else if (!(transactional && skipping.has(producerId))) {
        for (const record of parseRecords(batch)) values.push(record.value?.toString() ?? '')
      }
      position = end
    }
  }
  return { highWatermark: Number(data.highWatermark), lastStableOffset: Number(data.lastStableOffset), values, aborted: (data.abortedTransactions ?? []).map((a: { producerId: number, firstOffset: number }) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) })) }
}

/** Reads read_committed until `done` holds. */
async function readCommittedUntil (client: KafkaClient, topic: string, partition: number, done: (r: Read) => boolean, what: string): Promise<Read> {
  let last: Read | null = null
  try {
    await waitFor(async () => {
      last = await read(client, topic, partition, 1)
      return done(last)
    }, 20_000, what)
  } catch (error) {
    throw new Error(`${(error as Error).message}; last read: ${JSON.stringify(last)}`)
  }
  return last as unknown as Read
}

async function connect (broker: TestBroker): Promise<KafkaClient> {
  return KafkaClient.connect(broker.host, broker.port)
}

test('a committed transaction over two workers\' partitions becomes visible to read_committed, an aborted one never does', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await connect(broker)
  t.after(() => client.close())
  await createTopic(client, 'txn-basic', 2)
  const producer = await initTransactions(client, 'txn-basic-app')
  assert.equal(producer.producerEpoch, 0)

  assert.deepEqual(await addPartitions(client, producer, 'txn-basic', [0, 1]), [ErrorCode.NONE, ErrorCode.NONE])
  for (const partition of [0, 1]) assert.equal(await produceInTransaction(client, producer, 'txn-basic', partition, [`a${partition}`, `b${partition}`]), ErrorCode.NONE)
  for (const partition of [0, 1]) {
    const committed = await read(client, 'txn-basic', partition, 1)
    assert.equal(committed.lastStableOffset, 0, 'the open transaction holds the LSO at its first offset')
    assert.deepEqual(committed.values, [])
    assert.deepEqual((await read(client, 'txn-basic', partition, 0)).values, [`a${partition}`, `b${partition}`], 'read_uncommitted sees open data')
  }
  assert.equal(await endTransaction(client, producer, true), ErrorCode.NONE)
  for (const partition of [0, 1]) {
    const committed = await readCommittedUntil(client, 'txn-basic', partition, (r) => r.lastStableOffset === 3, `commit marker in partition ${partition}`)
    assert.equal(committed.highWatermark, 3, 'two records and the marker')
    assert.deepEqual(committed.values, [`a${partition}`, `b${partition}`])
    assert.deepEqual(committed.aborted, [])
  }

  // The next transaction of the same producer aborts.
  await retrying('previous transaction complete', async () => {
    const codes = await addPartitions(client, producer, 'txn-basic', [0, 1])
    return { errorCode: codes[0] }
  })
  for (const partition of [0, 1]) assert.equal(await produceInTransaction(client, producer, 'txn-basic', partition, ['x']), ErrorCode.NONE)
  assert.equal(await endTransaction(client, producer, false), ErrorCode.NONE)
  for (const partition of [0, 1]) {
    const after = await readCommittedUntil(client, 'txn-basic', partition, (r) => r.lastStableOffset === 5, `abort marker in partition ${partition}`)
    assert.deepEqual(after.aborted, [{ producerId: producer.producerId, firstOffset: 3 }])
  }
})

test('a transactional produce to a partition not added to the transaction is refused', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await connect(broker)
  t.after(() => client.close())
  await createTopic(client, 'txn-verify', 2)
  const tooLong = await retrying('InitProducerId', () => client.request(22, 4, { transactionalId: 'txn-verify-app', transactionTimeoutMs: 900_001, producerId: -1, producerEpoch: -1 }))
  assert.equal(tooLong.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT, 'above transaction.max.timeout.ms')
  const producer = await initTransactions(client, 'txn-verify-app')
  assert.equal(await produceInTransaction(client, producer, 'txn-verify', 1, ['not added']), ErrorCode.INVALID_TXN_STATE)
  assert.deepEqual(await addPartitions(client, producer, 'txn-verify', [0]), [ErrorCode.NONE])
  assert.equal(await produceInTransaction(client, producer, 'txn-verify', 0, ['added']), ErrorCode.NONE)
  assert.equal(await produceInTransaction(client, producer, 'txn-verify', 1, ['still not added']), ErrorCode.INVALID_TXN_STATE)
  assert.deepEqual((await read(client, 'txn-verify', 1, 0)).values, [], 'nothing was appended to the partition not added')
})

test('a new producer with the same transactional id fences the old one and aborts its open transaction at once', async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const client = await connect(broker)
  t.after(() => client.close())
  await createTopic(client, 'txn-fence', 2)
  const old = await initTransactions(client, 'txn-fence-app')
  assert.deepEqual(await addPartitions(client, old, 'txn-fence', [0, 1]), [ErrorCode.NONE, ErrorCode.NONE])
  for (const partition of [0, 1]) assert.equal(await produceInTransaction(client, old, 'txn-fence', partition, ['abandoned']), ErrorCode.NONE)

  const next = await initTransactions(client, 'txn-fence-app')
  assert.equal(next.producerId, old.producerId)
  assert.ok(next.producerEpoch > old.producerEpoch, 'the epoch is bumped')
  for (const partition of [0, 1]) {
    const r = await readCommittedUntil(client, 'txn-fence', partition, (answer) => answer.lastStableOffset === answer.highWatermark && answer.highWatermark === 2, `the abandoned transaction aborted in partition ${partition}`)
    assert.deepEqual(r.values, [])
    assert.deepEqual(r.aborted, [{ producerId: old.producerId, firstOffset: 0 }])
  }
  // The old producer is fenced everywhere it tries.
  const oldProduce = await produceInTransaction(client, old, 'txn-fence', 0, ['late'])
  assert.ok(oldProduce === ErrorCode.INVALID_PRODUCER_EPOCH || oldProduce === ErrorCode.PRODUCER_FENCED, `old producer's produce: ${oldProduce}`)
  const oldEnd = await endTransaction(client, old, true)
  assert.ok(oldEnd === ErrorCode.PRODUCER_FENCED || oldEnd === ErrorCode.INVALID_PRODUCER_EPOCH, `old producer's EndTxn: ${oldEnd}`)
  // The new one works.
  assert.deepEqual(await addPartitions(client, next, 'txn-fence', [0]), [ErrorCode.NONE])
  assert.equal(await produceInTransaction(client, next, 'txn-fence', 0, ['fresh']), ErrorCode.NONE)
  assert.equal(await endTransaction(client, next, true), ErrorCode.NONE)
  await waitFor(async () => (await read(client, 'txn-fence', 0, 1)).values.includes('fresh'), 20_000, 'the new producer\'s commit')
})

test('a transaction left open past its timeout is aborted and the LSO moves on', async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--transaction-abort-timed-out-transaction-cleanup-interval-ms', '100'] })
  t.after(() => broker.stop())
  const client = await connect(broker)
  t.after(() => client.close())
  await createTopic(client, 'txn-timeout', 2)
  const producer = await initTransactions(client, 'txn-timeout-app', 500)
  assert.deepEqual(await addPartitions(client, producer, 'txn-timeout', [1]), [ErrorCode.NONE])
  assert.equal(await produceInTransaction(client, producer, 'txn-timeout', 1, ['forgotten']), ErrorCode.NONE)
  const r = await readCommittedUntil(client, 'txn-timeout', 1, (answer) => answer.lastStableOffset === 2, 'the timed-out transaction aborted')
  assert.deepEqual(r.aborted, [{ producerId: producer.producerId, firstOffset: 0 }])
  const late = await endTransaction(client, producer, true)
  assert.ok(late === ErrorCode.PRODUCER_FENCED || late === ErrorCode.INVALID_PRODUCER_EPOCH, `EndTxn after the timeout: ${late}`)
})

test('after kill -9, committed transactions stay committed and an open one is aborted by the next InitProducerId', async (t) => {
  const first = await startBroker({ workers: 2, cleanup: false })
  const dataDir = first.dataDir
  let client = await connect(first)
  await createTopic(client, 'txn-crash', 2)
  const producer = await initTransactions(client, 'txn-crash-app')
  assert.deepEqual(await addPartitions(client, producer, 'txn-crash', [0, 1]), [ErrorCode.NONE, ErrorCode.NONE])
  for (const partition of [0, 1]) assert.equal(await produceInTransaction(client, producer, 'txn-crash', partition, ['kept']), ErrorCode.NONE)
  assert.equal(await endTransaction(client, producer, true), ErrorCode.NONE)
  for (const partition of [0, 1]) await waitFor(async () => (await read(client, 'txn-crash', partition, 1)).lastStableOffset === 2, 20_000, 'commit')
  await retrying('previous transaction complete', async () => ({ errorCode: (await addPartitions(client, producer, 'txn-crash', [0, 1]))[0] }))
  for (const partition of [0, 1]) assert.equal(await produceInTransaction(client, producer, 'txn-crash', partition, ['open at the crash']), ErrorCode.NONE)
  client.close()
  await first.kill()

  const second = await startBroker({ workers: 2, dataDir })
  t.after(() => second.stop())
  t.after(() => { if (process.env.SHOW_BROKER === '1') console.log(second.output()) })
  client = await connect(second)
  t.after(() => client.close())
  for (const partition of [0, 1]) {
    const r = await read(client, 'txn-crash', partition, 1)
    assert.equal(r.lastStableOffset, 2, 'the open transaction still holds the LSO after recovery')
    assert.deepEqual(r.values, ['kept'])
  }
  const next = await initTransactions(client, 'txn-crash-app')
  assert.equal(next.producerId, producer.producerId)
  assert.ok(next.producerEpoch > producer.producerEpoch)
  for (const partition of [0, 1]) {
    const r = await readCommittedUntil(client, 'txn-crash', partition, (answer) => answer.lastStableOffset === 4, `the crashed transaction aborted in partition ${partition}`)
    assert.deepEqual(r.values, ['kept'])
    assert.deepEqual(r.aborted, [{ producerId: producer.producerId, firstOffset: 2 }])
  }
})

test('1,000 transactional producers at once, each transaction touching both workers\' partitions, all commit', { timeout: 300_000 }, async (t) => {
  const broker = await startBroker({ workers: 2 })
  t.after(() => broker.stop())
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(broker)))
  t.after(() => { for (const client of clients) client.close() })
  await createTopic(clients[0], 'txn-many', 2)
  const kIds = 1000
  const kConcurrency = 100
  let next = 0
  const errors: string[] = []
  const worker = async (client: KafkaClient): Promise<void> => {
    for (let i = next++; i < kIds; i = next++) {
      const producer = await initTransactions(client, `txn-many-${i}`)
      const codes = await addPartitions(client, producer, 'txn-many', [0, 1])
      if (codes.some((code) => code !== ErrorCode.NONE)) errors.push(`${i}: AddPartitionsToTxn ${codes}`)
      for (const partition of [0, 1]) {
        const code = await produceInTransaction(client, producer, 'txn-many', partition, [`id-${i}`])
        if (code !== ErrorCode.NONE) errors.push(`${i}: produce to ${partition}: ${code}`)
      }
      const end = await endTransaction(client, producer, true)
      if (end !== ErrorCode.NONE) errors.push(`${i}: EndTxn ${end}`)
    }
  }
  await Promise.all(Array.from({ length: kConcurrency }, (_, k) => worker(clients[k % clients.length])))
  assert.deepEqual(errors, [])
  for (const partition of [0, 1]) {
    // Each id wrote one record and one COMMIT marker here.
    const r = await readCommittedUntil(clients[0], 'txn-many', partition, (answer) => answer.lastStableOffset === 2 * kIds, `every commit in partition ${partition}`)
    assert.equal(r.highWatermark, 2 * kIds)
    assert.equal(new Set(r.values).size, kIds)
  }
  const listed = await waitFor(async () => {
    const response = await clients[0].request(66, 1, { stateFilters: ['CompleteCommit'], producerIdFilters: [], durationFilter: -1 })
    return response.errorCode === ErrorCode.NONE && response.transactionStates.filter((s: { transactionalId: string }) => s.transactionalId.startsWith('txn-many-')).length === kIds ? response : null
  }, 20_000, 'ListTransactions to list every id CompleteCommit')
  assert.ok(listed)
})
