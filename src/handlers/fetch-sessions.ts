// Fetch sessions (KIP-227): the partitions a consumer fetches, kept by the broker between requests so that the
// consumer sends only what changed. One cache per worker; it holds the sessions of that worker's connections
// (a connection stays on one worker, src/net/). A session id names one worker: ids are chosen so that
// `(id - 1) % workers === worker index`, so a client that reconnects and lands on another worker always gets
// FETCH_SESSION_ID_NOT_FOUND (never another client's session) and starts over with a full fetch.
//
// Request metadata (sessionId, epoch), as KIP-227 defines it:
//   id 0, epoch -1   sessionless full fetch (Kafka clients before KIP-227, librdkafka, kafkajs)
//   id 0, epoch 0    full fetch that asks for a new session; the response's sessionId is it (0: none made)
//   id N, epoch 0    closes session N, then as id 0, epoch 0
//   id N, epoch -1   closes session N, then a sessionless full fetch
//   id N, epoch E>0  incremental: E must be the session's next epoch (else INVALID_FETCH_SESSION_EPOCH; an
//                    unknown N is FETCH_SESSION_ID_NOT_FOUND). The request lists only partitions added or
//                    changed (offset, max bytes, epochs) and `forgottenTopicsData`; the response lists only
//                    partitions with records, an error, or a high watermark, last stable or log start offset
//                    other than the one last sent.
// The epoch after E is E + 1, wrapping from 2^31 - 1 to 1 (0 and -1 are the two full-fetch epochs). A session made
// by a v13+ request names topics by id, one made by an older request by name; an incremental request of the other
// kind is FETCH_SESSION_TOPIC_ID_ERROR. A session error answers with the code at the top level, session id 0 and
// no partitions, and leaves the session as it was.
//
// Bounds (memory): at most `slots` sessions per worker (see FetchSessionCache), at most
// `maxPartitionsPerSession` partitions in one session and `maxCachedPartitions` in all sessions together.
// Eviction, when a new session needs room: first the least recently used session if it has been idle at least
// `staleMs` (Kafka's min.incremental.fetch.session.eviction.ms, 120 s); otherwise the session with the fewest
// partitions (the least recently used of those) if it has fewer than the new one: a large session saves more
// request bytes than a small one. If neither frees room, no session is made and the client keeps sending
// full fetches. A session whose incremental update would pass a bound is removed (FETCH_SESSION_ID_NOT_FOUND).

import { randomInt } from 'node:crypto'

/** What the broker keeps of one partition of a session: the fetch parameters and what it last told the client. */
export interface SessionPartition {
  readonly topic: string
  readonly topicId: string
  readonly partition: number
  fetchOffset: number
  partitionMaxBytes: number
  logStartOffset: number
  currentLeaderEpoch: number
  lastFetchedEpoch: number
  /** Last values sent to the client; -2 = never sent (so the first response always includes the partition). */
  highWatermark: number
  lastStableOffset: number
  leaderLogStartOffset: number
}

export class FetchSession {
  readonly id: number
  /** The epoch the next incremental request must carry. */
  epoch: number
  /** Created by a v13+ request: partitions are keyed by topic id, else by topic name. */
  readonly usesTopicIds: boolean
  /**
   * Topic key (id or name) -> partition index -> partition. Insertion order is fetch order: partitions that
   * returned records are moved to the end of their topic (and their topic to the end), so that under maxBytes
   * every partition gets its turn, as Kafka rotates them.
   */
  readonly topics: Map<string, Map<number, SessionPartition>>
  size: number
  lastUsedMs: number

  constructor (id: number, usesTopicIds: boolean, nowMs: number) {
    this.id = id
    this.epoch = 1
    this.usesTopicIds = usesTopicIds
    this.topics = new Map()
    this.size = 0
    this.lastUsedMs = nowMs
  }

  get (topicKey: string, partition: number): SessionPartition | undefined {
    return this.topics.get(topicKey)?.get(partition)
  }

  /** Adds the partition or updates its fetch parameters; returns true when it was added. */
  upsert (topicKey: string, topic: string, topicId: string, p: { partition: number, fetchOffset: number, partitionMaxBytes: number, logStartOffset: number, currentLeaderEpoch: number, lastFetchedEpoch?: number }): boolean {
    let partitions = this.topics.get(topicKey)
    if (partitions === undefined) {
      partitions = new Map()
      this.topics.set(topicKey, partitions)
    }
    const existing = partitions.get(p.partition)
    if (existing !== undefined) {
      existing.fetchOffset = p.fetchOffset
      existing.partitionMaxBytes = p.partitionMaxBytes
      existing.logStartOffset = p.logStartOffset
      existing.currentLeaderEpoch = p.currentLeaderEpoch
      existing.lastFetchedEpoch = p.lastFetchedEpoch ?? -1
      return false
    }
    partitions.set(p.partition, {
      topic,
      topicId,
      partition: p.partition,
      fetchOffset: p.fetchOffset,
      partitionMaxBytes: p.partitionMaxBytes,
      logStartOffset: p.logStartOffset,
      currentLeaderEpoch: p.currentLeaderEpoch,
      lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
      highWatermark: -2,
      lastStableOffset: -2,
      leaderLogStartOffset: -2
    })
    this.size++
    return true
  }

  /** Removes the partition; returns true when it was there. */
  forget (topicKey: string, partition: number): boolean {
    const partitions = this.topics.get(topicKey)
    if (partitions === undefined || !partitions.delete(partition)) return false
    if (partitions.size === 0) this.topics.delete(topicKey)
    this.size--
    return true
  }

  /** Moves a partition (and its topic) to the end of the fetch order. */
  rotate (topicKey: string, entry: SessionPartition): void {
    const partitions = this.topics.get(topicKey)
    if (partitions === undefined) return
    partitions.delete(entry.partition)
    partitions.set(entry.partition, entry)
    this.topics.delete(topicKey)
    this.topics.set(topicKey, partitions)
  }
}

/** Kafka's FetchMetadata.nextEpoch for a session's epochs (>= 1). */
export function nextSessionEpoch (epoch: number): number {
  return epoch >= 0x7fffffff ? 1 : epoch + 1
}

export interface FetchSessionCacheOptions {
  /** Sessions this worker keeps at once; 0 turns sessions off. */
  readonly slots: number
  readonly maxPartitionsPerSession: number
  readonly maxCachedPartitions: number
  /** A session idle this long may be evicted by any new one. */
  readonly staleMs: number
  /** Session ids are `k * workers + workerIndex + 1`: see the header. */
  readonly workerIndex: number
  readonly workers: number
  readonly now?: () => number
}

export class FetchSessionCache {
  readonly #options: FetchSessionCacheOptions
  readonly #now: () => number
  /** By id, least recently used first (touch moves a session to the end). */
  readonly #sessions: Map<number, FetchSession>
  #cachedPartitions: number

  constructor (options: FetchSessionCacheOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#sessions = new Map()
    this.#cachedPartitions = 0
  }

  get size (): number {
    return this.#sessions.size
  }

  get cachedPartitions (): number {
    return this.#cachedPartitions
  }

  get (id: number): FetchSession | undefined {
    return this.#sessions.get(id)
  }

  /** Marks the session used now (it becomes the most recently used). */
  touch (session: FetchSession): void {
    session.lastUsedMs = this.#now()
    this.#sessions.delete(session.id)
    this.#sessions.set(session.id, session)
  }

  remove (id: number): boolean {
    const session = this.#sessions.get(id)
    if (session === undefined) return false
    this.#sessions.delete(id)
    this.#cachedPartitions -= session.size
    return true
  }

  /** An incremental update changed a session's size by `delta`; false when a bound is passed (the caller removes it). */
  resized (session: FetchSession, delta: number): boolean {
    this.#cachedPartitions += delta
    return session.size <= this.#options.maxPartitionsPerSession && this.#cachedPartitions <= this.#options.maxCachedPartitions
  }

  /**
   * A new empty session that will hold `size` partitions (the caller adds them, then calls `resized`), or null
   * when it cannot have room (see the header's eviction rule). `evicted` is called for each session evicted.
   */
  create (size: number, usesTopicIds: boolean, evicted: () => void): FetchSession | null {
    const { slots, maxPartitionsPerSession, maxCachedPartitions } = this.#options
    if (slots <= 0 || size <= 0 || size > maxPartitionsPerSession || size > maxCachedPartitions) return null
    const now = this.#now()
    while (this.#sessions.size >= slots || this.#cachedPartitions + size > maxCachedPartitions) {
      const victim = this.#victim(size, now)
      if (victim === null) return null
      this.remove(victim.id)
      evicted()
    }
    const session = new FetchSession(this.#newId(), usesTopicIds, now)
    this.#sessions.set(session.id, session)
    return session
  }

  #victim (size: number, now: number): FetchSession | null {
    let smallest: FetchSession | null = null
    for (const session of this.#sessions.values()) {
      // The first is the least recently used: stale, it goes whatever its size.
      if (smallest === null && now - session.lastUsedMs >= this.#options.staleMs) return session
      if (smallest === null || session.size < smallest.size) smallest = session
    }
    return smallest !== null && smallest.size < size ? smallest : null
  }

  #newId (): number {
    const { workers, workerIndex } = this.#options
    const limit = Math.floor((0x7fffffff - 1 - workerIndex) / workers)
    for (;;) {
      const id = randomInt(0, limit) * workers + workerIndex + 1
      if (!this.#sessions.has(id)) return id
    }
  }
}
