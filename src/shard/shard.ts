// A partition worker's state: the partitions it owns (exclusively: no other thread touches their logs), its
// copy of the shard table, its client connections, and its ends of the rings to every other worker.
//
// Cross-worker calls travel over the rings as flat messages:
//   int32 op          the API key of the part (0 Produce, 1 Fetch, 2 ListOffsets), or kOpReply / kOpFetchWake
//   int32 token       chosen by the caller, echoed in the reply
//   int32 source      the caller's worker index
//   int32 apiVersion
//   payload           a Kafka-encoded request (or response, for kOpReply) of that API and version holding only
//                     the owner's partitions: the wire format is already a flat, versioned encoding, so the
//                     owner runs the same code it runs for its own clients' requests.
// Replies come back on the ring in the other direction. Each worker parks on its doorbell with
// Atomics.waitAsync and drains all its incoming rings when woken. A part the owner could not serve (its server
// threw, the request was undecodable, no server for the op) is answered with kOpReplyError, whose apiVersion
// slot carries a Kafka error code and whose payload is empty; the caller's `call` promise rejects with a
// CallFailedError, as it does when the owner worker dies.
//
// Peers restarting (the main thread supervises workers, src/broker.ts): when a worker dies, every other worker
// gets `peerDown(dead)`: from then on it writes nothing to the dead worker's ring and reads nothing from it,
// forgets its ends' state (RingWriter/RingReader.reset), rejects its calls to that worker, finishes the long
// polls it serves for it (their replies are dropped) and acknowledges; only then does the main thread reset
// the ring buffers and start the new worker, and `peerUp` opens the rings again. Replies and wakes for a peer
// that is down are dropped; calls to it fail at once. A restarted worker numbers its calls from another base
// (`tokenBase`), so a late reply meant for its predecessor matches none of its calls.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { MessagePort } from 'node:worker_threads'
import type { Socket } from 'node:net'
import { Doorbells, RingReader, RingWriter } from './ring.ts'
import { ShardTable, type ClusterMetadata, type TopicEntry } from './shard-table.ts'
import { PartitionLog } from '../log/partition-log.ts'
import { Connection, type MovedConnection } from '../net/connection.ts'
import type { BrokerConfig } from '../config/config.ts'
import type { Logger } from '../logger.ts'
import type { Handler } from '../handlers/handler.ts'
import type { AdminOp } from '../admin/controller.ts'
import { GroupCoordinator } from '../group/coordinator.ts'
import { kOffsetsTopic } from '../group/offset-store.ts'
import { TransactionCoordinator } from '../txn/coordinator.ts'
import { kTransactionStateTopic } from '../txn/transaction-log.ts'
import { ShardTransactionHost } from './transaction-host.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { count } from '../counters.ts'
import { createPartitionStats } from '../metrics/worker-metrics.ts'
import { RecoveryProgress } from './recovery-progress.ts'
import { LogMaintenance, RetentionTask } from './log-maintenance.ts'
import { oauthBearerValidator } from '../auth/oauthbearer.ts'
import { CompactionTask } from '../log/cleaner.ts'
import { dynamicBrokerSetting, installBrokerConfigs, type DynamicBrokerConfigs } from '../config/broker-configs.ts'
import { topicConfigValue } from '../config/topic-config.ts'
import type { RemoteTier } from '../storage/remote-tier.ts'
import { RemoteReader } from '../storage/remote-reader.ts'
import type { Uploader } from '../storage/uploader.ts'
import { kShareIntervalMs, quotaWindowsOf, workerQuotaSensors } from '../quota/quota-sensors.ts'

export const kOpReply = 1000
export const kOpFetchWake = 1001
export const kOpReplyError = 1002
/**
 * One-way: the sender's quota rates and controller mutations, JSON {sentMs, rates, mutations} (QuotaSensors'
 * ratesToShare and mutationsToShare), every kShareIntervalMs while it has any.
 */
export const kOpQuotaRates = 1003
export const kCallHeaderBytes = 16

/**
 * Owner-side server of one op: answers with `shard.reply(...)` (possibly later). `servesInPlace`: the server is
 * done with `payload` when it returns (it may still answer later), so it is given a view of the ring, not a copy.
 */
export type RemoteServer = ((shard: Shard, source: number, token: number, apiVersion: number, payload: Buffer) => void) & {
  readonly servesInPlace?: boolean
}

export interface AdvertisedAddress {
  readonly host: string
  readonly port: number
}

/** Something waiting for appends to a partition (a long-polling Fetch). */
export interface AppendWaiter {
  onAppend (): void
}

export class LocalPartition {
  readonly topic: TopicEntry
  readonly index: number
  readonly log: PartitionLog
  readonly waiters: Set<AppendWaiter>
  /** Traffic counters (bytes and records in and out; src/metrics/worker-metrics.ts), kept with the log. */
  readonly stats: Float64Array

  constructor (topic: TopicEntry, index: number, log: PartitionLog, stats: Float64Array = createPartitionStats()) {
    this.topic = topic
    this.index = index
    this.log = log
    this.waiters = new Set()
    this.stats = stats
  }

  /** Wakes long polls after an append. */
  appended (): void {
    if (this.waiters.size === 0) return
    for (const waiter of this.waiters) waiter.onAppend()
  }
}

/**
 * The log cleaner's dynamic settings (log.cleaner.io.max.bytes.per.second, log.cleaner.dedupe.buffer.size,
 * log.cleaner.backoff.ms), effective for this broker (per-broker, else cluster-wide, else the flag), applied to a
 * worker's compaction task and its scheduler. Called at start and for every metadata version; setting the same
 * values again changes nothing. The dedupe buffer is capped at 2^31-1 bytes a worker, as Kafka caps it a thread.
 */
export function applyCleanerSettings (compaction: LogMaintenance, task: CompactionTask, brokerConfigs: DynamicBrokerConfigs | undefined, config: BrokerConfig): void {
  const ioMaxBytesPerSecond = dynamicBrokerSetting('log.cleaner.io.max.bytes.per.second', brokerConfigs, config)
  task.cleaner.setIoMaxBytesPerSecond(ioMaxBytesPerSecond === 0 ? Infinity : ioMaxBytesPerSecond)
  task.cleaner.setDedupeBufferBytes(Math.min(2 ** 31 - 1, dynamicBrokerSetting('log.cleaner.dedupe.buffer.size', brokerConfigs, config)))
  compaction.setIntervalMs(dynamicBrokerSetting('log.cleaner.backoff.ms', brokerConfigs, config))
}

export function partitionDir (dataDir: string, topic: string, partition: number): string {
  return join(dataDir, `${topic}-${partition}`)
}

/** Why a call failed: its owner worker went down (restarting), or the owner could not serve it. */
export const kCallPeerDown = 1
export const kCallFailed = 2

/** The rejection of a `Shard.call` whose owner did not answer it. */
export class CallFailedError extends Error {
  readonly reason: typeof kCallPeerDown | typeof kCallFailed
  /** For kCallFailed: the error code the owner gave. */
  readonly code: number

  constructor (reason: typeof kCallPeerDown | typeof kCallFailed, code: number, message: string) {
    super(message)
    this.name = 'CallFailedError'
    this.reason = reason
    this.code = code
  }
}

interface PendingCall {
  readonly worker: number
  resolve (payload: Buffer): void
  reject (error: CallFailedError): void
}

const kNoPayload = Buffer.alloc(0)

export class Shard {
  readonly index: number
  readonly workers: number
  readonly config: BrokerConfig
  readonly logger: Logger
  readonly handlers: Map<number, Handler>
  readonly remoteServers: Map<number, RemoteServer>
  advertised: AdvertisedAddress
  /** The address given to clients of each listener, by listener name (Metadata answers with its connection's). */
  advertisedListeners: Readonly<Record<string, AdvertisedAddress>>
  table: ShardTable
  readonly #port: MessagePort
  readonly #partitions: Map<string, Array<LocalPartition | undefined>>
  readonly #writers: Array<RingWriter | null>
  readonly #readers: Array<RingReader | null>
  readonly #doorbells: Doorbells
  /** down[w] = 1 while worker w is restarting: nothing goes into its ring and nothing is read from it. */
  readonly #down: Uint8Array
  readonly #calls: Map<number, PendingCall>
  readonly #adminCalls: Map<number, { resolve (value: unknown): void, reject (error: Error): void }>
  readonly #connections: Set<Connection>
  /** Wakes for fetch parts this worker serves for others, by `${source}:${token}`. */
  readonly fetchWakers: Map<string, () => void>
  /**
   * Requests parked until a deadline (fetch long polls, local or served for another worker), each by the call
   * that answers it now with what it has: a drain (shutdown) calls them all.
   */
  readonly longPolls: Set<() => void>
  /** Coordinator of the groups whose offsets partitions this worker owns. */
  readonly groups: GroupCoordinator
  /** Coordinator of the transactional ids whose `__transaction_state` partitions this worker owns. */
  readonly transactions: TransactionCoordinator
  readonly #transactionHost: ShardTransactionHost
  /** Retention over this worker's partitions, every log.retention.check.interval.ms. */
  readonly maintenance: LogMaintenance
  /**
   * Compaction of this worker's compacted topics, every log.cleaner.backoff.ms: a scheduler of its own, since
   * the cleaner's cadence and the retention check's differ by orders of magnitude (15 s and 5 min by default).
   */
  readonly compaction: LogMaintenance
  /** The compaction scheduler's one task: its cleaner takes the dynamic cleaner settings (applyCleanerSettings). */
  readonly compactionTask: CompactionTask
  /** The S3 copy of this worker's partitions (src/storage/uploader.ts); null without --s3-bucket. */
  tier: RemoteTier | null = null
  /** Reads of offsets evicted to S3 (local.retention.*; src/storage/remote-reader.ts); set with `tier`, else null. */
  remoteReader: RemoteReader | null = null
  readonly #uploader: Uploader | null
  #nextToken: number
  #stopping: boolean
  /** Shares this worker's quota rates with the others (broker-wide quotas, see src/quota/quota-sensors.ts). */
  #quotaShareTimer: NodeJS.Timeout | null = null
  /** Set by drain(): called once the last connection has closed. */
  #drained: (() => void) | null
  #draining: boolean

  constructor (options: {
    index: number
    config: BrokerConfig
    logger: Logger
    port: MessagePort
    outgoing: Array<SharedArrayBuffer | null>
    incoming: Array<SharedArrayBuffer | null>
    doorbells: SharedArrayBuffer
    metadata: ClusterMetadata
    advertised: AdvertisedAddress
    /** By listener name; absent: every listener advertises `advertised`. */
    advertisedListeners?: Readonly<Record<string, AdvertisedAddress>>
    handlers: Map<number, Handler>
    remoteServers: Map<number, RemoteServer>
    /** Workers restarting when this one starts (each comes back with a peerUp). */
    downPeers?: readonly number[]
    /** First call token (a restarted worker starts elsewhere than its predecessor; see the header). */
    tokenBase?: number
    /** The S3 copy of this worker's partitions (--s3-bucket); it follows every partition the worker opens. */
    uploader?: Uploader
  }) {
    this.index = options.index
    this.config = options.config
    this.workers = options.config.workers
    this.logger = options.logger
    this.handlers = options.handlers
    this.remoteServers = options.remoteServers
    this.advertised = options.advertised
    this.advertisedListeners = options.advertisedListeners ?? {}
    this.#port = options.port
    this.#partitions = new Map()
    this.#writers = options.outgoing.map((sab) => sab === null ? null : new RingWriter(sab))
    this.#readers = options.incoming.map((sab) => sab === null ? null : new RingReader(sab))
    this.#doorbells = new Doorbells(options.doorbells)
    this.#down = new Uint8Array(this.workers)
    for (const peer of options.downPeers ?? []) this.#down[peer] = 1
    this.#calls = new Map()
    this.#adminCalls = new Map()
    this.#connections = new Set()
    this.fetchWakers = new Map()
    this.longPolls = new Set()
    this.#drained = null
    this.#draining = false
    this.#nextToken = Math.max(1, (options.tokenBase ?? 1) & 0x7fffffff)
    this.#uploader = options.uploader ?? null
    this.tier = this.#uploader
    // Fetches of offsets evicted from the local disk (local.retention.*) read them from S3 through this cache.
    if (this.tier !== null && options.config.s3 !== null) {
      this.remoteReader = new RemoteReader(this.tier, { cacheBytes: options.config.s3.cacheBytes, readAheadBytes: options.config.s3.readAheadBytes, logger: this.logger })
    }
    this.#stopping = false
    this.table = new ShardTable({ version: 0, clusterId: options.metadata.clusterId, topics: [] }, this.workers)
    this.groups = new GroupCoordinator(this)
    this.#transactionHost = new ShardTransactionHost(this)
    this.transactions = new TransactionCoordinator(this.#transactionHost, {
      transactionMaxTimeoutMs: options.config.transactionMaxTimeoutMs,
      transactionalIdExpirationMs: options.config.transactionalIdExpirationMs,
      abortTimedOutTransactionsIntervalMs: options.config.transactionAbortTimedOutIntervalMs,
      removeExpiredTransactionalIdsIntervalMs: options.config.transactionRemoveExpiredIntervalMs
    })
    this.#transactionHost.coordinator = this.transactions
    this.applyMetadata(options.metadata)
    this.maintenance = new LogMaintenance({
      partitions: this,
      logger: this.logger,
      intervalMs: options.config.logRetentionCheckIntervalMs,
      tasks: [new RetentionTask(this.logger, this)]
    })
    this.maintenance.start()
    // The task's cleaner wakes this scheduler when an fsync or an off-thread gzip of a clean is done (and
    // recompresses large gzip batches off the thread), so a clean does not wait log.cleaner.backoff.ms per step.
    // Built with the flags' values, then given the effective ones (a setting changed at run time and kept in the
    // metadata applies to a worker that starts or restarts too).
    this.compactionTask = new CompactionTask({
      dedupeBufferBytes: options.config.logCleanerDedupeBufferSize,
      ioMaxBytesPerSecond: options.config.logCleanerIoMaxBytesPerSecond === 0 ? Infinity : options.config.logCleanerIoMaxBytesPerSecond,
      logger: this.logger
    })
    this.compaction = new LogMaintenance({
      partitions: this,
      logger: this.logger,
      intervalMs: options.config.logCleanerBackoffMs,
      tasks: [this.compactionTask]
    })
    applyCleanerSettings(this.compaction, this.compactionTask, this.table.brokerConfigs, options.config)
    // Kafka's log.cleaner.enable=false: no cleaning at all (compacted topics' logs only grow).
    if (options.config.logCleanerEnable) this.compaction.start()
    // OAUTHBEARER's key set loads as the worker starts, so the first login does not wait for the JWKS.
    const oauthBearer = options.config.oauthBearer
    if (oauthBearer !== null) oauthBearerValidator(oauthBearer, (message) => this.logger.limited('oauthbearer-jwks', 'warn', message))
    if (this.workers > 1) {
      this.#quotaShareTimer = setInterval(() => this.#shareQuotaRates(), kShareIntervalMs)
      this.#quotaShareTimer.unref()
    }
  }

  /** Sends the other workers this worker's quota rates, when it has any (or had some at the last share). */
  #shareQuotaRates (): void {
    const sentMs = Date.now()
    const rates = workerQuotaSensors.ratesToShare(sentMs)
    const mutations = workerQuotaSensors.mutationsToShare()
    if (rates === null && mutations === null) return
    const payload = Buffer.from(JSON.stringify({ sentMs, rates: rates ?? [], mutations: mutations ?? [] }))
    for (let worker = 0; worker < this.workers; worker++) {
      if (worker !== this.index && this.#writers[worker] !== null) this.#send(worker, kOpQuotaRates, 0, 0, payload)
    }
    count('quota-rate-shares-sent')
  }

  // ---- partitions ----------------------------------------------------------------------------------------

  /** The local partition, or undefined when this worker does not own it (or it does not exist). */
  partition (topic: TopicEntry, index: number): LocalPartition | undefined {
    return this.#partitions.get(topic.id)?.[index]
  }

  /**
   * Installs a new metadata version: closes and deletes the logs of topics that are gone, opens the logs of
   * partitions this worker now owns. Runs before the worker acknowledges the version to the controller.
   */
  applyMetadata (metadata: ClusterMetadata): void {
    if (metadata.version <= this.table.version) return
    // Dynamic broker configs first: the logs opened below and every topicConfigValue reader see the new defaults.
    installBrokerConfigs(metadata, this.config, this.logger, 'worker')
    // Undefined only in the constructor's first call, before the compaction task exists (it applies them itself).
    if (this.compaction !== undefined) applyCleanerSettings(this.compaction, this.compactionTask, metadata.brokerConfigs, this.config)
    const table = new ShardTable(metadata, this.workers)
    const opened: LocalPartition[] = []
    // The first version (this worker starting, or restarting after a crash) opens every partition it owns from
    // disk: progress lines at info (src/shard/recovery-progress.ts). Later versions open new, empty logs.
    const progress = this.table.version === 0 ? new RecoveryProgress(this.logger, this.index, this.#ownedIn(table)) : null
    for (const [topicId, partitions] of this.#partitions) {
      const topic = table.topicById(topicId)
      for (const local of partitions) {
        if (local === undefined) continue
        // Only an offsets partition this worker loses unloads its groups (a kept one stays loaded).
        const lost = topic === undefined || table.ownerOf(topic, local.index) !== this.index
        if (local.topic.name === kOffsetsTopic && lost) this.groups.unloadPartition(local.index)
        if (local.topic.name === kTransactionStateTopic && lost) this.#transactionHost.unload(local.index)
        if (lost) this.#uploader?.detach(local.topic.id, local.index, topic === undefined)
        if (topic === undefined) {
          local.log.delete()
        } else if (table.ownerOf(topic, local.index) !== this.index) {
          local.log.close()
        } else {
          continue
        }
        local.appended()
        partitions[local.index] = undefined
      }
      if (topic === undefined) this.#partitions.delete(topicId)
    }
    for (const topic of table.topics()) {
      let partitions = this.#partitions.get(topic.id)
      for (let p = 0; p < topic.partitions; p++) {
        if (topic.owners[p] !== this.index) continue
        if (partitions === undefined) {
          partitions = []
          this.#partitions.set(topic.id, partitions)
        }
        const existing = partitions[p]
        if (existing !== undefined) {
          // Same log; the topic entry (configs, partition count) may have changed, and with it the rolling.
          partitions[p] = new LocalPartition(topic, p, existing.log, existing.stats)
          existing.log.updateSegmentConfig(Number(topicConfigValue(topic.configs, 'segment.bytes')), Number(topicConfigValue(topic.configs, 'segment.ms')),
            Number(topicConfigValue(topic.configs, 'segment.jitter.ms')))
          for (const waiter of existing.waiters) partitions[p]?.waiters.add(waiter)
          continue
        }
        const dir = partitionDir(this.config.dataDir, topic.name, p)
        mkdirSync(dir, { recursive: true })
        // The topic's override, else log.segment.bytes (dynamic, else --segment-bytes, else Kafka's default).
        const segmentBytes = Number(topicConfigValue(topic.configs, 'segment.bytes'))
        const segmentMs = Number(topicConfigValue(topic.configs, 'segment.ms'))
        const segmentJitterMs = Number(topicConfigValue(topic.configs, 'segment.jitter.ms'))
        partitions[p] = new LocalPartition(topic, p, PartitionLog.open(dir, { segmentBytes, segmentMs, segmentJitterMs, indexIntervalBytes: 4096, maxOpenSegmentFiles: this.config.maxOpenSegmentFiles }))
        this.#uploader?.attach({
          topicId: topic.id, topicName: topic.name, partition: p, log: (partitions[p] as LocalPartition).log,
          // The current configs (they change with AlterConfigs), asked by the S3 merge.
          compacted: () => topicConfigValue(this.table.topicById(topic.id)?.configs ?? {}, 'cleanup.policy').includes('compact')
        })
        if (topic.name === kOffsetsTopic || topic.name === kTransactionStateTopic) opened.push(partitions[p] as LocalPartition)
        progress?.opened((partitions[p] as LocalPartition).log)
      }
    }
    progress?.done()
    this.table = table
    // Groups are loaded once the table that routes to them is in place.
    for (const local of opened) {
      if (local.topic.name === kOffsetsTopic) this.groups.loadPartition(local)
      else this.#transactionHost.load(local)
    }
  }

  /** How many partitions `table` gives this worker. */
  #ownedIn (table: ShardTable): number {
    let owned = 0
    for (const topic of table.topics()) {
      for (let p = 0; p < topic.partitions; p++) if (topic.owners[p] === this.index) owned++
    }
    return owned
  }

  /** Every partition this worker owns (for metrics scrapes). */
  * localPartitions (): Generator<LocalPartition> {
    for (const partitions of this.#partitions.values()) {
      for (const local of partitions) if (local !== undefined) yield local
    }
  }

  // ---- connections ---------------------------------------------------------------------------------------

  /** `listener`: the name of the listener the socket was accepted on (src/config/listeners.ts). */
  adopt (socket: Socket, listener?: string, moved?: MovedConnection): void {
    if (this.#stopping || this.#draining) {
      socket.destroy()
      // The acceptor counted it here: it is given back as closed.
      this.#port.postMessage({ type: 'connection-closed', worker: this.index })
      return
    }
    const connection = Connection.adopt(socket, this, listener, moved)
    if (connection !== null) this.#connections.add(connection)
    else this.#port.postMessage({ type: 'connection-closed', worker: this.index })
  }

  /**
   * A quiet connection moves to worker `to` (src/net/connection.ts, "Moving a connection"): its socket goes to
   * the main thread, which hands it on. False when the socket could not be transferred (it stays here).
   */
  handOver (connection: Connection, socket: Socket, to: number, moved: MovedConnection): boolean {
    if (this.#stopping || this.#draining) return false
    try {
      this.#port.postMessage({ type: 'connection-move', socket, listener: connection.listenerName, to, ip: connection.remoteIp, moved }, [socket as any])
    } catch (error) {
      this.logger.limited('connection-move', 'warn', `connection ${connection.remote} stays on worker ${this.index}: ${(error as Error).message}`)
      return false
    }
    this.#connections.delete(connection)
    return true
  }

  connectionClosed (connection: Connection): void {
    this.#connections.delete(connection)
    // The acceptor counts connections per IP (src/net/acceptor-limits.ts).
    this.#port.postMessage({ type: 'connection-closed', worker: this.index, ip: connection.remoteIp })
    if (this.#draining && this.#connections.size === 0) this.#finishDrain()
  }

  // ---- controller (control plane, postMessage) ------------------------------------------------------------

  /** The next call or admin id: a positive int32 (tokens travel as int32), wrapping. */
  #token (): number {
    const token = this.#nextToken
    this.#nextToken = token >= 0x7fffffff ? 1 : token + 1
    return token
  }

  admin<T> (op: AdminOp): Promise<T> {
    const id = this.#token()
    return new Promise<T>((resolve, reject) => {
      this.#adminCalls.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#port.postMessage({ type: 'admin', id, op })
    })
  }

  adminResult (id: number, result: unknown, error: string | undefined): void {
    const call = this.#adminCalls.get(id)
    if (call === undefined) return
    this.#adminCalls.delete(id)
    if (error !== undefined) call.reject(new Error(error))
    else call.resolve(result)
  }

  // ---- rings (data plane) --------------------------------------------------------------------------------

  /**
   * Sends a request part to its owner; resolves with the owner's encoded response, or rejects with a
   * CallFailedError when the owner could not serve it or is down (at once, when it already is).
   */
  call (worker: number, op: number, apiVersion: number, payload: Buffer | Buffer[]): { token: number, reply: Promise<Buffer> } {
    const token = this.#token()
    if (this.#down[worker] === 1) {
      return { token, reply: Promise.reject(new CallFailedError(kCallPeerDown, 0, `worker ${worker} is restarting`)) }
    }
    const reply = new Promise<Buffer>((resolve, reject) => { this.#calls.set(token, { worker, resolve, reject }) })
    this.#send(worker, op, token, apiVersion, payload)
    return { token, reply }
  }

  reply (worker: number, token: number, apiVersion: number, payload: Buffer | Buffer[]): void {
    this.#send(worker, kOpReply, token, apiVersion, payload)
  }

  /** Answers a call with a Kafka error code instead of a response (the part could not be served). */
  replyError (worker: number, token: number, errorCode: number): void {
    this.#send(worker, kOpReplyError, token, errorCode, kNoPayload)
  }

  /** Asks a worker to answer a long-polling fetch part now. */
  wakeFetch (worker: number, token: number): void {
    this.#send(worker, kOpFetchWake, token, 0, kNoPayload)
  }

  /** Whether `worker` is restarting (calls to it fail at once). */
  isDown (worker: number): boolean {
    return this.#down[worker] === 1
  }

  /**
   * Worker `worker` died (the main thread restarts it): stop using the rings to and from it, forget their state,
   * fail the calls waiting on it and finish the long polls served for it. The caller then acknowledges, after
   * which the main thread resets those rings; see the header.
   */
  peerDown (worker: number): void {
    if (worker === this.index || this.#down[worker] === 1) return
    this.#down[worker] = 1
    workerQuotaSensors.forgetPeer(worker)
    this.#writers[worker]?.reset()
    this.#readers[worker]?.reset()
    let failed = 0
    for (const [token, call] of this.#calls) {
      if (call.worker !== worker) continue
      this.#calls.delete(token)
      call.reject(new CallFailedError(kCallPeerDown, 0, `worker ${worker} died`))
      failed++
    }
    // Long polls served for the dead worker: finishing them settles their parts, whose replies are dropped.
    const prefix = `${worker}:`
    const wakers: Array<() => void> = []
    for (const [key, wake] of this.fetchWakers) if (key.startsWith(prefix)) wakers.push(wake)
    for (const wake of wakers) {
      try {
        wake()
      } catch (error) {
        this.logger.error(`finishing a fetch for worker ${worker}: ${(error as Error).stack ?? (error as Error).message}`)
      }
    }
    this.logger.warn(`worker ${this.index}: worker ${worker} is down; failed ${failed} call(s) to it, dropped ${wakers.length} fetch(es) for it`)
  }

  /** Worker `worker` is back (its rings were reset before it started): use them again. */
  peerUp (worker: number): void {
    if (this.#down[worker] === 0) return
    this.#down[worker] = 0
    // It may have written to us already, while we were not reading its ring.
    this.#doorbells.ring(this.index)
  }

  #send (worker: number, op: number, token: number, apiVersion: number, payload: Buffer | Buffer[]): void {
    // A peer that is down gets nothing: its ring is about to be reset (calls to it already failed).
    if (this.#down[worker] === 1) return
    // The header and the payload's chunks go into the ring as one message, copied once, straight into it.
    const header = Buffer.allocUnsafe(kCallHeaderBytes)
    header.writeInt32LE(op, 0)
    header.writeInt32LE(token, 4)
    header.writeInt32LE(this.index, 8)
    header.writeInt32LE(apiVersion, 12)
    const message = Buffer.isBuffer(payload) ? [header, payload] : [header, ...payload]
    const writer = this.#writers[worker]
    if (writer === null) throw new Error(`no ring from worker ${this.index} to itself`)
    if (writer.send(message)) this.#doorbells.ring(worker)
  }

  /** The worker's ring loop: drain every incoming ring, then park on the doorbell. */
  async runRingLoop (): Promise<void> {
    const doorbells = this.#doorbells
    while (!this.#stopping) {
      const seen = doorbells.load(this.index)
      this.#drain()
      const wait = doorbells.wait(this.index, seen)
      if (wait !== null) await wait
    }
  }

  #drain (): void {
    for (let source = 0; source < this.#readers.length; source++) {
      const reader = this.#readers[source]
      if (reader === null || this.#down[source] === 1) continue
      let message
      // Views of the ring: each is valid until the next receiveView on that reader (see #dispatch).
      while ((message = reader.receiveView()) !== null) {
        try {
          this.#dispatch(message)
        } catch (error) {
          this.#dispatchFailed(message, error)
        }
      }
      // The other side queued messages behind a full ring: tell it we made room.
      if (reader.takeSenderWaiting()) this.#doorbells.ring(source)
    }
    for (let target = 0; target < this.#writers.length; target++) {
      const writer = this.#writers[target]
      if (writer !== null && this.#down[target] === 0 && writer.blocked && writer.flush()) this.#doorbells.ring(target)
    }
  }

  /**
   * A message whose handling threw (a bug): logged with its op, version and source, counted, and, when it was a
   * request, answered with UNKNOWN_SERVER_ERROR so that the caller is not left waiting. The ring loop goes on.
   * `view` is still valid here (it is handed back on the next receiveView).
   */
  #dispatchFailed (view: Buffer, error: unknown): void {
    count('request-handler-errors')
    const op = view.readInt32LE(0)
    const token = view.readInt32LE(4)
    const source = view.readInt32LE(8)
    const apiVersion = view.readInt32LE(12)
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
    this.logger.limited(`ring-op:${op}`, 'error', `worker ${this.index}: op ${op} v${apiVersion} from worker ${source} failed: ${text}`)
    if (op !== kOpReply && op !== kOpReplyError && op !== kOpFetchWake && op !== kOpQuotaRates && source >= 0 && source < this.workers && source !== this.index) {
      this.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
    }
  }

  /**
   * `view` is a view of a ring, valid only until this returns. A server that says it is done with its request
   * when it returns (`servesInPlace`) is given the view itself; everything else may outlive this call (a fetch
   * part parks in a long poll, a reply is answered later) and gets a copy of its own.
   */
  #dispatch (view: Buffer): void {
    const op = view.readInt32LE(0)
    const token = view.readInt32LE(4)
    const source = view.readInt32LE(8)
    const apiVersion = view.readInt32LE(12)
    if (op === kOpReply) {
      const call = this.#calls.get(token)
      if (call === undefined) return
      this.#calls.delete(token)
      call.resolve(Buffer.from(view.subarray(kCallHeaderBytes)))
      return
    }
    if (op === kOpReplyError) {
      const call = this.#calls.get(token)
      if (call === undefined) return
      this.#calls.delete(token)
      call.reject(new CallFailedError(kCallFailed, apiVersion, `worker ${source} could not serve the call (error ${apiVersion})`))
      return
    }
    if (op === kOpFetchWake) {
      this.fetchWakers.get(`${source}:${token}`)?.()
      return
    }
    if (op === kOpQuotaRates) {
      const share = JSON.parse(view.subarray(kCallHeaderBytes).toString('utf8')) as { sentMs: number, rates: unknown, mutations: unknown }
      workerQuotaSensors.acceptPeerRates(source, share.rates, share.sentMs)
      workerQuotaSensors.acceptPeerMutations(share.mutations, quotaWindowsOf(this.config), Date.now())
      count('quota-rate-shares-received')
      return
    }
    const server = this.remoteServers.get(op)
    if (server === undefined) {
      this.logger.limited(`ring-op:${op}`, 'error', `worker ${this.index}: no server for op ${op} from worker ${source}`)
      this.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
      return
    }
    const payload = view.subarray(kCallHeaderBytes)
    server(this, source, token, apiVersion, server.servesInPlace === true ? payload : Buffer.from(payload))
  }

  // ---- shutdown ------------------------------------------------------------------------------------------
  //
  // A graceful shutdown has two steps, both driven by the main thread (src/broker.ts): every worker drains, and
  // only once all of them have drained does any stop. A worker that has drained keeps its ring loop and its
  // partitions serving the others: a request still in flight on another worker may need a part of it (a
  // produce part, an acks=-1 flush, a group's offsets) until that worker has drained too.

  /** Whether drain() was called: new long polls answer at once, new connections are refused. */
  get draining (): boolean {
    return this.#draining
  }

  /**
   * Step 1: stop starting requests, answer those in flight, close the connections; `done` once none is left.
   * Long polls answer at once with what they have, and so do group members waiting in a JoinGroup or SyncGroup
   * (NOT_COORDINATOR, as Kafka answers them when a coordinator resigns: they find the coordinator again, which
   * is this broker after its restart). An acks=-1 produce is answered once its fsync is done.
   */
  drain (done: () => void): void {
    if (this.#draining) return
    this.#draining = true
    this.#drained = done
    this.groups.drain()
    for (const finish of [...this.longPolls]) finish()
    for (const connection of [...this.#connections]) connection.drain()
    if (this.#connections.size === 0) this.#finishDrain()
  }

  #finishDrain (): void {
    const done = this.#drained
    this.#drained = null
    done?.()
  }

  /** What a drain still waits for, for the log line when the shutdown times out. */
  drainStatus (): { connections: number, requests: number, unwrittenBytes: number, longPolls: number } {
    let requests = 0
    let unwrittenBytes = 0
    for (const connection of this.#connections) {
      requests += connection.inFlight
      unwrittenBytes += connection.socket.writableLength
    }
    return { connections: this.#connections.size, requests, unwrittenBytes, longPolls: this.longPolls.size }
  }


  stop (): void {
    this.#stopping = true
    if (this.#quotaShareTimer !== null) clearInterval(this.#quotaShareTimer)
    this.maintenance.stop()
    this.compaction.stop()
    this.groups.shutdown()
    this.#transactionHost.shutdown()
    this.#uploader?.close()
    for (const connection of this.#connections) connection.socket.destroy()
    for (const partitions of this.#partitions.values()) {
      for (const local of partitions) local?.log.close()
    }
    this.#partitions.clear()
    this.#doorbells.ring(this.index)
  }
}
