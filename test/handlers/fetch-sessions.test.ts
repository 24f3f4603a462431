// KIP-227 fetch sessions from a raw-protocol client (the project's codecs): a full fetch with epoch 0 makes a
// session, incremental requests list only what changed and get only what changed, forgotten partitions leave the
// session, bad ids and epochs are top-level errors, a full fetch naming a session closes it, topic ids (v13+)
// and names (v12) do not mix, a session spans partitions of both workers, the slot bound evicts, and the
// broker counts it all (/metrics).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { KafkaClient, produce } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { parsePrometheus, sampleSum } from '../metrics/prometheus.ts'
import { FetchSessionCache, nextSessionEpoch } from '../../src/handlers/fetch-sessions.ts'

interface Asked { partition: number, fetchOffset: number }

interface FetchOptions {
  sessionId: number
  sessionEpoch: number
  version?: number
  /** Topic name (v12) or id (v13+). */
  topic: string
  partitions?: Asked[]
  forgotten?: number[]
}

function fetchBody (options: FetchOptions) {
  const byId = (options.version ?? 12) >= 13
  const topicField = (key: string) => byId ? { topic: '', topicId: key } : { topic: key, topicId: '0'.repeat(32) }
  const partitions = options.partitions ?? []
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0,
    sessionId: options.sessionId, sessionEpoch: options.sessionEpoch,
    topics: partitions.length === 0 ? [] : [{
      ...topicField(options.topic),
      partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }))
    }],
    forgottenTopicsData: (options.forgotten ?? []).length === 0 ? [] : [{ ...topicField(options.topic), partitions: options.forgotten }],
    rackId: ''
  }
}

function fetch (client: KafkaClient, options: FetchOptions): Promise<any> {
  return client.request(1, options.version ?? 12, fetchBody(options))
}

/** partition -> [record bytes, high watermark] of every partition in the response. */
function listed (response: any): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>()
  for (const t of response.responses) for (const p of t.partitions) out.set(p.partitionIndex, [p.records?.length ?? 0, p.highWatermark])
  return out
}

const fromStart = (...partitions: number[]): Asked[] => partitions.map((partition) => ({ partition, fetchOffset: 0 }))

/** CreateTopics v7: returns the new topic's id. */
async function createTopic (client: KafkaClient, name: string, partitions: number): Promise<string> {
  const response = await client.request(19, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(response.topics[0].errorCode, ErrorCode.NONE)
  return response.topics[0].topicId
}

async function metrics (broker: TestBroker): Promise<(name: string) => Promise<number>> {
  const address = (await waitFor(() => /metrics on ([^\s]+):(\d+)/.exec(broker.output()), 10_000, 'the metrics address line'))!
  return async (name: string) => sampleSum(parsePrometheus(await (await globalThis.fetch(`http://${address[1]}:${address[2]}/metrics`)).text()), name)
}

describe('fetch sessions on a 2-worker broker', () => {
  let broker: TestBroker
  let client: KafkaClient
  let topicId: string
  let counter: (name: string) => Promise<number>

  before(async () => {
    broker = await startBroker({ workers: 2, args: ['--metrics-listen', '127.0.0.1:0'] })
    counter = await metrics(broker)
    client = await KafkaClient.connect(broker.host, broker.port)
    topicId = await createTopic(client, 'sessions', 4)
    await createTopic(client, 'other', 2)
  })

  after(async () => {
    client?.close()
    await broker?.stop()
  })

  test('a full fetch with epoch 0 makes a session; incremental fetches list and return only what changed', async () => {
    const full = await fetch(client, { sessionId: 0, sessionEpoch: 0, topic: 'sessions', partitions: fromStart(0, 1, 2, 3) })
    assert.equal(full.errorCode, ErrorCode.NONE)
    assert.notEqual(full.sessionId, 0)
    assert.deepEqual([...listed(full).keys()].sort(), [0, 1, 2, 3])
    const id = full.sessionId
    // Nothing changed: nothing listed.
    const quiet = await fetch(client, { sessionId: id, sessionEpoch: 1, topic: 'sessions' })
    assert.equal(quiet.errorCode, ErrorCode.NONE)
    assert.equal(quiet.sessionId, id)
    assert.deepEqual(quiet.responses, [])
    // Appends to partitions of both workers: only those come back, with their records.
    await produce(client, 'sessions', 1, ['one'])
    await produce(client, 'sessions', 2, ['two'])
    const changed = listed(await fetch(client, { sessionId: id, sessionEpoch: 2, topic: 'sessions' }))
    assert.deepEqual([...changed.keys()].sort(), [1, 2])
    for (const partition of [1, 2]) {
      assert.ok(changed.get(partition)![0] > 0)
      assert.equal(changed.get(partition)![1], 1)
    }
    // The client moves its offsets past them (an incremental request listing only those two): nothing new.
    const moved = await fetch(client, { sessionId: id, sessionEpoch: 3, topic: 'sessions', partitions: [{ partition: 1, fetchOffset: 1 }, { partition: 2, fetchOffset: 1 }] })
    assert.deepEqual(moved.responses, [])
    // Partition 1 forgotten: its appends are no longer reported; partition 3's are.
    const forgot = await fetch(client, { sessionId: id, sessionEpoch: 4, topic: 'sessions', forgotten: [1] })
    assert.deepEqual(forgot.responses, [])
    await produce(client, 'sessions', 1, ['one again'])
    await produce(client, 'sessions', 3, ['three'])
    assert.deepEqual([...listed(await fetch(client, { sessionId: id, sessionEpoch: 5, topic: 'sessions' })).keys()], [3])
    // A partition added back by an incremental request is answered in full at once.
    const added = listed(await fetch(client, { sessionId: id, sessionEpoch: 6, topic: 'sessions', partitions: [{ partition: 1, fetchOffset: 1 }, { partition: 3, fetchOffset: 1 }] }))
    assert.deepEqual([...added.keys()], [1])
    assert.equal(added.get(1)![1], 2)
  })

  test('an unknown session id and a wrong epoch are top-level errors; a full fetch naming the session closes it', async () => {
    const id = (await fetch(client, { sessionId: 0, sessionEpoch: 0, topic: 'sessions', partitions: fromStart(0, 1) })).sessionId
    assert.notEqual(id, 0)
    const unknown = await fetch(client, { sessionId: id + 4, sessionEpoch: 1, topic: 'sessions' })
    assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
    assert.equal(unknown.sessionId, 0)
    assert.deepEqual(unknown.responses, [])
    const wrongEpoch = await fetch(client, { sessionId: id, sessionEpoch: 5, topic: 'sessions' })
    assert.equal(wrongEpoch.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH)
    assert.deepEqual(wrongEpoch.responses, [])
    // The session is still there, at the epoch it expects.
    const right = await fetch(client, { sessionId: id, sessionEpoch: 1, topic: 'sessions' })
    assert.equal(right.errorCode, ErrorCode.NONE)
    assert.equal(right.sessionId, id)
    // Epoch -1 (FINAL) with the id: the session is closed and this fetch is a sessionless full one.
    const final = await fetch(client, { sessionId: id, sessionEpoch: -1, topic: 'sessions', partitions: fromStart(0, 1) })
    assert.equal(final.errorCode, ErrorCode.NONE)
    assert.equal(final.sessionId, 0)
    assert.deepEqual([...listed(final).keys()].sort(), [0, 1])
    assert.equal((await fetch(client, { sessionId: id, sessionEpoch: 2, topic: 'sessions' })).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
    // Sessionless fetches (id 0, epoch -1; what librdkafka and kafkajs send) make no session.
    assert.equal((await fetch(client, { sessionId: 0, sessionEpoch: -1, topic: 'sessions', partitions: fromStart(0) })).sessionId, 0)
  })

  test('forgetting every partition ends the session', async () => {
    const id = (await fetch(client, { sessionId: 0, sessionEpoch: 0, topic: 'other', partitions: fromStart(0, 1) })).sessionId
    assert.notEqual(id, 0)
    const emptied = await fetch(client, { sessionId: id, sessionEpoch: 1, topic: 'other', forgotten: [0, 1] })
    assert.equal(emptied.errorCode, ErrorCode.NONE)
    assert.equal(emptied.sessionId, 0)
    assert.equal((await fetch(client, { sessionId: id, sessionEpoch: 2, topic: 'other' })).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
  })

  test('v13 sessions are keyed by topic id; a v12 (topic name) request on one is FETCH_SESSION_TOPIC_ID_ERROR', async () => {
    // From each partition's end (earlier tests appended to some).
    const ends = listed(await fetch(client, { version: 13, sessionId: 0, sessionEpoch: -1, topic: topicId, partitions: fromStart(0, 1, 2, 3) }))
    const atEnd = [0, 1, 2, 3].map((partition) => ({ partition, fetchOffset: ends.get(partition)![1] }))
    const full = await fetch(client, { version: 13, sessionId: 0, sessionEpoch: 0, topic: topicId, partitions: atEnd })
    assert.equal(full.errorCode, ErrorCode.NONE)
    assert.notEqual(full.sessionId, 0)
    assert.deepEqual(full.responses.map((t: any) => t.topicId), [topicId])
    await produce(client, 'sessions', 0, ['zero'])
    const incremental = await fetch(client, { version: 13, sessionId: full.sessionId, sessionEpoch: 1, topic: topicId })
    assert.deepEqual([...listed(incremental).keys()], [0])
    assert.deepEqual(incremental.responses.map((t: any) => t.topicId), [topicId])
    const mixed = await fetch(client, { version: 12, sessionId: full.sessionId, sessionEpoch: 2, topic: 'sessions' })
    assert.equal(mixed.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR)
  })

  test('a session lives on its connection\'s worker: from a connection on the other one it is FETCH_SESSION_ID_NOT_FOUND', async (t) => {
    const id = (await fetch(client, { sessionId: 0, sessionEpoch: 0, topic: 'sessions', partitions: fromStart(0, 1) })).sessionId
    assert.notEqual(id, 0)
    // The acceptor gives a new connection to the worker with the fewest: the one `client` is not on.
    const elsewhere = await KafkaClient.connect(broker.host, broker.port)
    t.after(() => elsewhere.close())
    const there = await fetch(elsewhere, { sessionId: id, sessionEpoch: 1, topic: 'sessions' })
    assert.equal(there.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
    // What a client does next: a full fetch, which makes it a session there.
    const restarted = await fetch(elsewhere, { sessionId: 0, sessionEpoch: 0, topic: 'sessions', partitions: fromStart(0, 1) })
    assert.notEqual(restarted.sessionId, 0)
    assert.equal((await fetch(elsewhere, { sessionId: restarted.sessionId, sessionEpoch: 1, topic: 'sessions' })).errorCode, ErrorCode.NONE)
    // The original connection's session is untouched.
    assert.equal((await fetch(client, { sessionId: id, sessionEpoch: 1, topic: 'sessions' })).errorCode, ErrorCode.NONE)
  })

  test('the broker counts full and incremental fetches, sessions made and closed, and session errors', async () => {
    await waitFor(async () => {
      return await counter('shoal_fetch_requests_full_total') >= 5 &&
        await counter('shoal_fetch_requests_incremental_total') >= 10 &&
        await counter('shoal_fetch_sessions_created_total') >= 4 &&
        await counter('shoal_fetch_sessions_closed_total') >= 2 &&
        await counter('shoal_fetch_session_errors_total') >= 4
    }, 20_000, 'the fetch session counters')
  })
})

describe('fetch session cache bound (--max-incremental-fetch-session-cache-slots 2, one worker)', () => {
  let broker: TestBroker
  let client: KafkaClient
  let counter: (name: string) => Promise<number>

  before(async () => {
    broker = await startBroker({ workers: 1, args: ['--max-incremental-fetch-session-cache-slots', '2', '--metrics-listen', '127.0.0.1:0'] })
    counter = await metrics(broker)
    client = await KafkaClient.connect(broker.host, broker.port)
    await createTopic(client, 'slots', 6)
  })

  after(async () => {
    client?.close()
    await broker?.stop()
  })

  test('a full cache makes no session for a smaller one and evicts the smallest, least recently used, for a larger one', async () => {
    const open = async (partitions: number[]): Promise<number> => {
      const response = await fetch(client, { sessionId: 0, sessionEpoch: 0, topic: 'slots', partitions: fromStart(...partitions) })
      assert.equal(response.errorCode, ErrorCode.NONE)
      assert.equal(response.responses[0].partitions.length, partitions.length, 'a full fetch answers every partition')
      return response.sessionId
    }
    const a = await open([0, 1, 2])
    const b = await open([3, 4, 5])
    assert.ok(a !== 0 && b !== 0 && a !== b)
    // b used since: a is the least recently used of the two.
    assert.equal((await fetch(client, { sessionId: b, sessionEpoch: 1, topic: 'slots' })).errorCode, ErrorCode.NONE)
    // Smaller than both: no room, answered as a sessionless full fetch.
    assert.equal(await open([0]), 0)
    // Larger: evicts a.
    const d = await open([0, 1, 2, 3])
    assert.ok(d !== 0)
    assert.equal((await fetch(client, { sessionId: a, sessionEpoch: 1, topic: 'slots' })).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
    assert.equal((await fetch(client, { sessionId: b, sessionEpoch: 2, topic: 'slots' })).errorCode, ErrorCode.NONE)
    assert.equal((await fetch(client, { sessionId: d, sessionEpoch: 1, topic: 'slots' })).errorCode, ErrorCode.NONE)
    await waitFor(async () => await counter('shoal_fetch_sessions_evicted_total') === 1 && await counter('shoal_fetch_sessions_created_total') === 3,
      20_000, 'one session evicted, three made')
  })
})

describe('FetchSessionCache', () => {
  const partitionsOf = (n: number) => Array.from({ length: n }, (_, partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1, logStartOffset: -1, currentLeaderEpoch: -1 }))
  const fill = (cache: FetchSessionCache, n: number) => {
    const session = cache.create(n, false, () => {})
    if (session === null) return null
    for (const p of partitionsOf(n)) session.upsert('t', 't', '', p)
    assert.equal(cache.resized(session, session.size), true)
    return session
  }

  test('a session idle past staleMs is evicted by any new one, even a smaller one', () => {
    let now = 1000
    let evicted = 0
    const cache = new FetchSessionCache({ slots: 2, maxPartitionsPerSession: 100, maxCachedPartitions: 1000, staleMs: 500, workerIndex: 0, workers: 1, now: () => now })
    const a = fill(cache, 10)!
    const b = fill(cache, 10)!
    assert.equal(cache.create(1, false, () => evicted++), null, 'nothing stale, nothing smaller')
    now += 400
    cache.touch(b)
    now += 200
    // a idle 600 ms, b 200 ms.
    const c = cache.create(1, false, () => evicted++)
    assert.ok(c !== null)
    assert.equal(evicted, 1)
    assert.equal(cache.get(a.id), undefined)
    assert.equal(cache.get(b.id), b)
  })

  test('keeps its partition bounds: per session at creation, in total on growth', () => {
    const cache = new FetchSessionCache({ slots: 10, maxPartitionsPerSession: 5, maxCachedPartitions: 8, staleMs: 1e9, workerIndex: 0, workers: 1 })
    assert.equal(cache.create(6, false, () => {}), null)
    const a = fill(cache, 5)!
    assert.ok(a !== null)
    // 5 + 4 > 8: the smaller-than-new rule does not apply (5 is not smaller than 4), so no room.
    assert.equal(cache.create(4, false, () => {}), null)
    const b = fill(cache, 3)!
    assert.equal(cache.cachedPartitions, 8)
    b.upsert('u', 'u', '', partitionsOf(1)[0])
    assert.equal(cache.resized(b, 1), false, 'past the total')
    cache.remove(b.id)
    assert.equal(cache.cachedPartitions, 5)
  })

  test('session ids name their worker; epochs wrap to 1', () => {
    const cache = new FetchSessionCache({ slots: 100, maxPartitionsPerSession: 5, maxCachedPartitions: 1000, staleMs: 1e9, workerIndex: 2, workers: 3 })
    for (let i = 0; i < 50; i++) {
      const session = fill(cache, 1)!
      assert.ok(session.id > 0 && session.id <= 0x7fffffff)
      assert.equal((session.id - 1) % 3, 2)
    }
    assert.equal(nextSessionEpoch(1), 2)
    assert.equal(nextSessionEpoch(0x7fffffff), 1)
  })
})
