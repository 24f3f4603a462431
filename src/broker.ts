// The main thread: the acceptor and the controller. It owns no partition: it accepts TCP connections and
// transfers each socket to a worker (least connections first, round robin among equals), and it runs the
// controller, which serialises metadata changes and publishes them to every worker.
//
// It also supervises the workers. A worker thread that dies (an uncaught exception, an out-of-memory, its ring
// loop failing, a terminate) does not take the process with it; it is logged, counted (`worker-restarts`) and
// restarted with the same index, rings and doorbells and the controller's current metadata, so that it opens
// its partitions from disk as after kill -9. Its connections died with it; clients reconnect and the acceptor
// hands them to any worker. The restart protocol keeps every ring single-producer/single-consumer:
//   1. the dead worker is marked down: no metadata broadcast waits for it, the acceptor steers away from it;
//   2. every live worker gets {type:'peer-down', worker}: it stops writing to and reading from the rings to and
//      from the dead worker, forgets their state, fails its calls to it and its long polls for it (Shard.peerDown),
//      and answers 'peer-down-ack' (a worker that dies meanwhile is not waited for);
//   3. with every ack in, no thread touches those rings: the main thread resets them (resetRingBuffer) and starts
//      the new worker (it starts with the workers still down marked down, and a call-token base of its own);
//   4. every live worker gets {type:'peer-up', worker} and uses the rings again.
// The dead thread's files need no care here: Node closes the fds a worker opened through node:fs when it exits,
// terminated or not, so the logs' segment files are not left open twice (test/interop/worker-restart.test.ts
// reports the count). Admin requests in flight from the dead worker are carried out, and their answers vanish
// with it. A worker that keeps dying is restarted after a growing delay (up to 10 s), so a fault at start does
// not spin.
import { createServer, type Server, type Socket } from 'node:net'
import { Worker } from 'node:worker_threads'
import { getHeapStatistics } from 'node:v8'
import { createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Controller, type AdminOp } from './admin/controller.ts'
import { dynamicBrokerSetting, installBrokerConfigs } from './config/broker-configs.ts'
import { createRingBuffer, Doorbells, resetRingBuffer } from './shard/ring.ts'
import { ConfigError, type BrokerConfig } from './config/config.ts'
import { isSaslListener, isTlsListener } from './config/listeners.ts'
import { checkTlsFiles, watchTlsReload } from './net/tls.ts'
import type { ClusterMetadata } from './shard/shard-table.ts'
import type { Logger } from './logger.ts'
import { AcceptorLimits } from './net/acceptor-limits.ts'
import { prepareTransfer } from './net/socket-transfer.ts'
import { kConnectionCreationRate } from './quota/client-quotas.ts'
import { count as countEvent } from './counters.ts' // `count` is the number of workers here
import { exposeGarbageCollection, fixMallocMmapThreshold, ProcessReclaim } from './memory-reclaim.ts'
import { createMetricsSlab } from './metrics/layout.ts'
import { Readiness } from './metrics/readiness.ts'
import { BrokerMetrics } from './metrics/broker-metrics.ts'
import { startMetricsServer, type MetricsServer } from './metrics/server.ts'
import { openBrokerStorage, type BrokerStorage } from './storage/broker-storage.ts'
import { setRemoteStorageAvailable } from './config/topic-config.ts'
import { LeaseHeldError } from './storage/lease.ts'
import { ObjectStoreError } from './storage/object-store.ts'
import { ShardTable } from './shard/shard-table.ts'

export interface Broker {
  /** The first listener's address (the one `listening on` reports). */
  readonly host: string
  readonly port: number
  /** Every listener with the port it listens on (port 0 resolved), in the order configured. */
  readonly listeners: ReadonlyArray<{ readonly name: string, readonly securityProtocol: string, readonly host: string, readonly port: number }>
  readonly clusterId: string
  /**
   * Graceful shutdown: stops accepting connections, has every worker answer the requests in flight (long polls
   * answer with what they have, acks=-1 produces once fsynced) and close its connections, then, once all have
   * drained, close their logs (fsync, producer snapshots, clean-shutdown markers) and exit. Not bounded here: the
   * caller bounds it (src/main.ts, --shutdown-timeout-ms) and asks `pending` what is left when it runs out.
   */
  /** Where /metrics, /healthz and /readyz are served (--metrics-listen), null when off. */
  readonly metrics: { readonly host: string, readonly port: number } | null
  close (): Promise<void>
  /** During close(): what it still waits for, one clause per worker (asks the workers, up to `waitMs`). */
  pending (waitMs?: number): Promise<string>
}

interface WorkerHandle {
  /** The current thread of this index (replaced on a restart). */
  worker: Worker
  connections: number
  /** False from the thread's death until its successor starts. */
  up: boolean
  restarts: number
  /** When it last died, and the delay before its next restart (grows while it keeps dying). */
  diedAt: number
  backoffMs: number
  restartTimer: NodeJS.Timeout | null
}

type ShutdownState = 'draining' | 'drained' | 'closing its logs' | 'exited'

interface DrainStatus {
  type: 'drain-status'
  connections: number
  requests: number
  unwrittenBytes: number
  longPolls: number
}

/**
 * What close() still waits for, e.g. `worker 0: draining, 3 requests in flight on 2 connections, 1048576 response
 * bytes not yet read by clients; worker 1: drained`. A draining worker is asked (Shard#drainStatus); one that
 * does not answer within `waitMs` is busy or stuck, and said so.
 */
async function describeShutdown (handles: readonly WorkerHandle[], states: readonly (ShutdownState | undefined)[], waitMs: number): Promise<string> {
  const clauses = await Promise.all(handles.map(async (handle, index): Promise<string> => {
    const state = states[index]
    if (state === undefined) return `worker ${index}: ${handle.up ? 'not asked to stop yet' : 'down'}`
    if (state !== 'draining') return `worker ${index}: ${state}`
    const status = await new Promise<DrainStatus | null>((resolve) => {
      const worker = handle.worker
      const onMessage = (message: { type: string }): void => {
        if (message.type !== 'drain-status') return
        clearTimeout(timer)
        worker.off('message', onMessage)
        resolve(message as DrainStatus)
      }
      const timer = setTimeout(() => { worker.off('message', onMessage); resolve(null) }, waitMs)
      worker.on('message', onMessage)
      worker.postMessage({ type: 'drain-status' })
    })
    if (status === null) return `worker ${index}: draining (did not answer within ${waitMs} ms: its thread is busy or stuck)`
    const parts = [`${status.requests} request(s) in flight on ${status.connections} connection(s)`]
    if (status.unwrittenBytes > 0) parts.push(`${status.unwrittenBytes} response bytes not yet taken by clients`)
    if (status.longPolls > 0) parts.push(`${status.longPolls} long poll(s)`)
    return `worker ${index}: draining, ${parts.join(', ')}`
  }))
  return clauses.join('; ')
}

/**
 * The connection count of a worker that is down: the acceptor (least connections) hands it no socket until
 * its successor starts (its count then starts again at 0). Large, but far from overflowing a sum.
 */
const kDownConnections = 2 ** 30
/** Restarts within this long of the previous death are delayed (doubling from 100 ms to 10 s). */
const kRestartWindowMs = 10_000

/**
 * The ip entities' connection_creation_rate client quotas (AlterClientQuotas, KIP-612) for the acceptor: by
 * address, and the default ip entity's. Called at start and for every metadata version.
 */
function applyCreationRateQuotas (limits: AcceptorLimits, metadata: ClusterMetadata): void {
  const byIp = new Map<string, number>()
  let defaultRate: number | null = null
  for (const record of metadata.clientQuotas ?? []) {
    const rate = record.values[kConnectionCreationRate]
    if (rate === undefined || record.entity.ip === undefined) continue
    if (record.entity.ip === null) defaultRate = rate
    else byIp.set(record.entity.ip, rate)
  }
  limits.setCreationRates(byIp, defaultRate)
}

export async function startBroker (config: BrokerConfig, logger: Logger): Promise<Broker> {
  // TLS listeners: certificate files that do not load stop the start here (src/net/tls.ts), not at a first client.
  const tlsListeners = config.listeners.some(isTlsListener)
  if (tlsListeners) checkTlsFiles(config)
  // --s3-bucket: the flusher pool, the prefix's lease, and (an empty data directory) the metadata back from S3,
  // all before the controller reads the metadata (src/storage/broker-storage.ts).
  let storage: BrokerStorage | null = null
  setRemoteStorageAvailable(config.s3 !== null)
  if (config.s3 !== null) {
    try {
      storage = await openBrokerStorage(config.s3, config.flushers, config.dataDir, logger)
    } catch (error) {
      // Another broker holds the prefix, or the bucket cannot be used (missing, denied, unreachable after the
      // retries): one line and exit 2, as for a bad flag, not a crash. The broker does not start without its copy.
      if (error instanceof LeaseHeldError) throw new ConfigError(error.message)
      if (error instanceof ObjectStoreError) throw new ConfigError(`S3 bucket ${config.s3.bucket} (prefix "${config.s3.prefix}"${config.s3.endpoint === null ? '' : `, endpoint ${config.s3.endpoint}`}) cannot be used: ${error.kind}: ${error.message}`)
      throw error
    }
  }
  const s3 = storage
  const controller = new Controller(config.dataDir, config.defaultPartitions, logger, { maxPartitionsPerTopic: config.maxPartitionsPerTopic, maxBrokerPartitions: config.maxBrokerPartitions, maxTopics: config.maxTopics },
    s3 === null ? {} : { onPersist: (json) => s3.metadata.noteChanged(json) })
  if (s3 !== null) {
    // S3 gets the metadata as it is now (a first start with a bucket, or changes it missed), then every change.
    s3.metadata.noteChanged(readFileSync(join(config.dataDir, 'meta', 'cluster.json'), 'utf8'))
    s3.collectGarbage(new Set(controller.metadata.topics.map((topic) => topic.id)))
  }
  // Dynamic broker configs and logger levels reach this thread too (topic defaults in CreateTopics answers, the
  // main thread's log level), before every worker gets the same version.
  installBrokerConfigs(controller.metadata, config, logger, 'main')
  const count = config.workers
  // rings[from][to]: the ring `from` writes and `to` reads.
  const rings: Array<Array<SharedArrayBuffer | null>> = []
  for (let from = 0; from < count; from++) {
    rings.push([])
    for (let to = 0; to < count; to++) rings[from].push(from === to ? null : createRingBuffer(config.ringBytes))
  }
  const doorbells = Doorbells.create(count)
  // Each worker counts its requests, latencies, errors and fsyncs into its slab (src/metrics/layout.ts), kept
  // across its restarts; the metrics endpoint reads them all when scraped.
  const slabs: SharedArrayBuffer[] = []
  for (let index = 0; index < count; index++) slabs.push(createMetricsSlab())
  const readiness = new Readiness(count)
  let advertised = { host: config.advertisedHost ?? config.listenHost, port: config.advertisedPort ?? config.listenPort }
  // Each listener's advertised address, by name (Metadata answers a client with the one it came in on).
  const advertisedListeners: Record<string, { host: string, port: number }> = {}
  for (const listener of config.listeners) advertisedListeners[listener.name] = { host: listener.advertisedHost ?? listener.host, port: listener.advertisedPort ?? listener.port }
  // SCRAM users given at start are stored before any worker starts; a SASL listener nobody can log in to is a
  // configuration error unless --sasl-allow-no-users says it is meant (users to be added by a PLAINTEXT admin).
  const addedUsers = await controller.addInitialScramCredentials(config.initialScramCredentials)
  if (addedUsers.length > 0) logger.info(`SCRAM users added: ${addedUsers.join(', ')}`)
  const saslListeners = config.listeners.filter(isSaslListener)
  // OAUTHBEARER needs no stored user (the JWKS vouches for its tokens): the check is for the user-store mechanisms.
  const needsUsers = config.saslEnabledMechanisms.some((mechanism) => mechanism !== 'OAUTHBEARER')
  if (saslListeners.length > 0 && needsUsers && !controller.hasScramCredentials && !config.saslAllowNoUsers) {
    throw new ConfigError(`SASL listener ${saslListeners.map((listener) => listener.name).join(', ')} but no SCRAM user stored or given: add users with --scram-users or --scram-users-file, or start with --sasl-allow-no-users`)
  }
  const handles: WorkerHandle[] = []
  // Connection limits (src/net/acceptor-limits.ts). A worker that dies takes its connections with it:
  // `limits.releaseWorker(index)` gives them back.
  // `limitOptions` stays this thread's to change: AcceptorLimits reads it at every admit, so a dynamic
  // max.connections or max.connections.per.ip (AlterConfigs on BROKER) applies from the next connection.
  const limitOptions = {
    maxConnections: dynamicBrokerSetting('max.connections', controller.metadata.brokerConfigs, config),
    maxConnectionsPerIp: dynamicBrokerSetting('max.connections.per.ip', controller.metadata.brokerConfigs, config),
    maxConnectionCreationRatePerIp: config.maxConnectionCreationRatePerIp
  }
  const limits = new AcceptorLimits(limitOptions)
  applyCreationRateQuotas(limits, controller.metadata)
  const acks = new Map<number, { pending: Set<number>, done: () => void }>()
  // Before any worker starts: the reclaim's full collections need `gc` (see memory-reclaim.ts).
  if (config.memoryReclaimIntervalMs > 0) {
    exposeGarbageCollection()
    fixMallocMmapThreshold()
  }
  // Workers that went quiet after a burst gave their memory back; the process trims malloc's arenas once.
  const mib = (bytes: number): string => Math.max(0, bytes / 1048576).toFixed(0)
  const reclaim = new ProcessReclaim((summary) => {
    countEvent('memory-reclaims')
    const line = `memory: quiet after a burst, rss ${mib(summary.rssBefore)} -> ${mib(summary.rssAfter)} MiB ` +
      `(idle arenas ${mib(summary.arenaBytes)} MiB, heaps ${mib(summary.heapBytes)} MiB${summary.trimmed ? '' : '; malloc_trim unavailable'})`
    // Where the rest is, for an operator reading the log: each thread's V8 heap (used/total) and external memory.
    const heap = (stats: { used_heap_size: number, total_heap_size: number, external_memory: number }): string =>
      `${mib(stats.used_heap_size)}/${mib(stats.total_heap_size)} MiB, external ${mib(stats.external_memory)} MiB`
    Promise.all(handles.map((handle, index) => handle.up
      ? handle.worker.getHeapStatistics().then((stats) => `worker ${index} ${heap(stats)}`, () => `worker ${index} ?`)
      : Promise.resolve(`worker ${index} down`)))
      .then((threads) => logger.info(`${line}; main ${heap(getHeapStatistics())}; ${threads.join('; ')}`), () => logger.info(line))
  })
  /** Dead worker -> the live workers that have yet to acknowledge its peer-down (step 2 of the protocol). */
  const restarting = new Map<number, Set<number>>()
  let started = false
  let closing = false
  /** Each worker's step in close() (for `pending`); undefined before close(). */
  const shutdownStates: ShutdownState[] = []

  /** Whether worker `index` owns a partition (named by partitionKey), by the metadata at start. */
  const startTable = new ShardTable(controller.metadata, count)
  const ownedBy = (index: number) => (name: string): boolean => {
    const colon = name.lastIndexOf(':')
    const topic = startTable.topicById(name.slice(0, colon))
    const partition = Number(name.slice(colon + 1))
    return topic !== undefined && partition < topic.partitions && topic.owners[partition] === index
  }
  const spawn = (index: number, generation: number): Worker => {
    const downPeers: number[] = []
    for (let i = 0; i < handles.length; i++) if (i !== index && !handles[i].up) downPeers.push(i)
    const worker = new Worker(new URL('./shard/worker.ts', import.meta.url), {
      workerData: {
        index,
        config,
        outgoing: rings[index],
        incoming: rings.map((row) => row[index]),
        doorbells,
        metadata: controller.metadata,
        advertised,
        advertisedListeners,
        downPeers,
        metrics: slabs[index],
        // Tokens are int32: each generation starts 2^24 further on (see Shard's header).
        tokenBase: ((generation * 0x01000000) & 0x7fffffff) + 1,
        // With S3: what it held of this worker's partitions at start; a restarted worker reads it again itself.
        s3Instance: s3?.instance,
        remote: s3 === null || generation > 0 ? undefined : s3.remoteFor(ownedBy(index))
      }
    })
    s3?.serveWorker(worker)
    // The handle of this index while `worker` is its thread (null once it was replaced).
    const current = (): WorkerHandle | null => handles[index]?.worker === worker ? handles[index] : null
    worker.on('error', (error: Error) => {
      logger.error(`worker ${index} failed: ${error.stack ?? error.message}`)
    })
    worker.on('exit', (code: number) => {
      if (closing || !started || current() === null) return
      workerDied(index, `exited with code ${code}`)
    })
    worker.on('message', (message) => {
      switch (message.type) {
        case 'ready':
          if (current() !== null) readiness.workerServing(index)
          if (generation > 0) logger.warn(`worker ${index} restarted (restart ${generation}), serving its partitions again`)
          break
        case 'admin':
          // --durability s3: an admin change (a topic created, auto-created by a produce, a user or ACL added) is
          // answered once the metadata is in S3 too, so that an acknowledged record's topic survives a lost disk.
          controller.execute(message.op as AdminOp).then((result) => s3 !== null && config.durability === 's3' ? s3.metadata.flush().then(() => result) : result).then(
            (result) => worker.postMessage({ type: 'admin-result', id: message.id, result }),
            (error: Error) => {
              logger.error(`controller: ${error.stack ?? error.message}`)
              worker.postMessage({ type: 'admin-result', id: message.id, error: error.message })
            }
          )
          break
        case 'metadata-ack': {
          if (current() === null) break
          const waiting = acks.get(message.version)
          if (waiting === undefined) break
          waiting.pending.delete(message.worker)
          if (waiting.pending.size === 0) { acks.delete(message.version); waiting.done() }
          break
        }
        case 'connection-closed': {
          const handle = current()
          if (handle !== null && handle.up) {
            handle.connections--
            // A dead worker's connections were given back at once (releaseWorker); its late messages are not.
            limits.released(message.ip, index)
          }
          break
        }
        case 'connection-move':
          moveConnection(index, message)
          break
        case 'memory-reclaimed':
          reclaim.report(message)
          break
        case 'metrics-snapshot':
          if (current()?.up === true) metrics?.snapshotArrived(index, message.id, message)
          break
        case 'peer-down-ack': {
          if (current() === null) break
          restarting.get(message.peer)?.delete(index)
          resetWhenAcknowledged(message.peer)
          break
        }
      }
    })
    return worker
  }

  const workerDied = (index: number, why: string): void => {
    const handle = handles[index]
    if (!handle.up) return
    countEvent('worker-restarts')
    const now = Date.now()
    handle.backoffMs = now - handle.diedAt < kRestartWindowMs ? Math.min(kRestartWindowMs, Math.max(100, handle.backoffMs * 2)) : 0
    handle.diedAt = now
    logger.error(`worker ${index} died (${why}); restarting it${handle.backoffMs > 0 ? ` in ${handle.backoffMs} ms` : ''}, its partitions recovered from disk`)
    handle.up = false
    handle.connections = kDownConnections
    readiness.workerDown(index)
    metrics?.workerDied(index)
    // Its connections died with it: give them back to the connection limits at once.
    limits.releaseWorker(index)
    // Step 1: nothing waits for it any more.
    for (const [version, waiting] of acks) {
      if (waiting.pending.delete(index) && waiting.pending.size === 0) { acks.delete(version); waiting.done() }
    }
    for (const [dead, pending] of restarting) {
      if (pending.delete(index)) resetWhenAcknowledged(dead)
    }
    // Step 2.
    const pending = new Set<number>()
    for (let i = 0; i < handles.length; i++) {
      if (i === index || !handles[i].up) continue
      pending.add(i)
      handles[i].worker.postMessage({ type: 'peer-down', worker: index })
    }
    restarting.set(index, pending)
    resetWhenAcknowledged(index)
  }

  const resetWhenAcknowledged = (index: number): void => {
    const pending = restarting.get(index)
    if (pending === undefined || pending.size > 0) return
    restarting.delete(index)
    // Step 3: no thread touches these rings now.
    for (let other = 0; other < count; other++) {
      if (other === index) continue
      resetRingBuffer(rings[index][other] as SharedArrayBuffer)
      resetRingBuffer(rings[other][index] as SharedArrayBuffer)
    }
    const handle = handles[index]
    if (handle.backoffMs === 0) restart(index)
    else handle.restartTimer = setTimeout(restart, handle.backoffMs, index)
  }

  const restart = (index: number): void => {
    const handle = handles[index]
    handle.restartTimer = null
    if (closing || handle.up) return
    handle.restarts++
    try {
      handle.worker = spawn(index, handle.restarts)
    } catch (error) {
      logger.error(`cannot restart worker ${index}: ${(error as Error).stack ?? (error as Error).message}`)
      handle.restartTimer = setTimeout(restart, kRestartWindowMs, index)
      return
    }
    handle.up = true
    handle.connections = 0
    // Step 4.
    for (let i = 0; i < handles.length; i++) {
      if (i !== index && handles[i].up) handles[i].worker.postMessage({ type: 'peer-up', worker: index })
    }
  }

  // The metrics endpoints come up before the workers, so that /readyz answers 503 while they recover.
  const metrics = config.metricsHost === null
    ? null
    : new BrokerMetrics({
      slabs,
      rings,
      isUp: (index) => handles[index]?.up === true,
      connections: (index) => handles[index]?.connections ?? 0,
      post: (index, message) => handles[index].worker.postMessage(message),
      ...(s3 === null ? {} : { s3Stats: () => s3.pool.stats() })
    }, readiness)
  const metricsServer: MetricsServer | null = config.metricsHost === null ? null : await startMetricsServer(config.metricsHost, config.metricsPort, readiness, metrics, logger)

  const ready: Array<Promise<void>> = []
  for (let index = 0; index < count; index++) {
    const worker = spawn(index, 0)
    handles.push({ worker, connections: 0, up: true, restarts: 0, diedAt: 0, backoffMs: 0, restartTimer: null })
    ready.push(new Promise((resolve, reject) => {
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`worker ${index} exited with code ${code} while starting`)))
      worker.on('message', function onReady (message) {
        if (message.type === 'ready') { worker.off('message', onReady); resolve() }
      })
    }))
  }
  controller.setBroadcast((metadata: ClusterMetadata) => new Promise<void>((resolve) => {
    installBrokerConfigs(metadata, config, logger, 'main')
    limitOptions.maxConnections = dynamicBrokerSetting('max.connections', metadata.brokerConfigs, config)
    limitOptions.maxConnectionsPerIp = dynamicBrokerSetting('max.connections.per.ip', metadata.brokerConfigs, config)
    applyCreationRateQuotas(limits, metadata)
    // Workers that are down get the current metadata when they start again.
    const pending = new Set<number>()
    for (let i = 0; i < handles.length; i++) if (handles[i].up) pending.add(i)
    if (pending.size === 0) { resolve(); return }
    acks.set(metadata.version, { pending, done: resolve })
    for (const handle of handles) if (handle.up) handle.worker.postMessage({ type: 'metadata', metadata })
  }))
  await Promise.all(ready)
  started = true
  // Another broker took the S3 prefix over: every worker stops uploading and refuses produce.
  s3?.onFenced((holder) => {
    for (const handle of handles) if (handle.up) handle.worker.postMessage({ type: 's3-fenced', holder })
  })

  // Test-only hook, never on by default: with SHOAL_TEST_HOOKS=1 in the environment, SIGUSR2 terminates worker 1
  // (worker 0 with one worker), as abruptly as a crash of that thread, so that tests exercise the supervision
  // above (test/interop/worker-restart.test.ts).
  const onTestSignal = (): void => {
    const index = Math.min(1, count - 1)
    const handle = handles[index]
    if (!handle.up) return
    logger.warn(`SIGUSR2 (test hook): terminating worker ${index}`)
    handle.worker.terminate().catch(() => {})
  }
  if (process.env.SHOAL_TEST_HOOKS === '1') process.on('SIGUSR2', onTestSignal)
  // Diagnostic hook, never on by default: with SHOAL_HEAP_SNAPSHOT_DIR set, SIGUSR2 writes a heap snapshot of every
  // worker there (worker-N-<time>.heapsnapshot), for finding what a long run left in memory.
  const snapshotDir = process.env.SHOAL_HEAP_SNAPSHOT_DIR
  const onSnapshotSignal = (): void => {
    const stamp = Date.now()
    handles.forEach((handle, index) => {
      if (!handle.up) return
      const file = `${snapshotDir}/worker-${index}-${stamp}.heapsnapshot`
      handle.worker.getHeapSnapshot().then((stream) => pipeline(stream, createWriteStream(file)))
        .then(() => logger.warn(`heap snapshot of worker ${index} written to ${file}`), (error: Error) => logger.warn(`heap snapshot of worker ${index} failed: ${error.message}`))
    })
  }
  if (snapshotDir !== undefined && process.env.SHOAL_TEST_HOOKS !== '1') process.on('SIGUSR2', onSnapshotSignal)

  // SIGHUP rereads the certificate files; only files that load reach the workers, which use them for new
  // connections (existing ones keep their context).
  const stopTlsReload = tlsListeners
    ? watchTlsReload(config, () => {
      logger.info('SIGHUP: TLS certificates reloaded; new connections get them')
      for (const handle of handles) if (handle.up) handle.worker.postMessage({ type: 'tls-reload' })
    }, (reason) => logger.error(`SIGHUP: TLS certificates not reloaded, the old ones stay: ${reason}`))
    : () => {}

  /**
   * Worker `from` hands over a quiet connection to worker `message.to` (src/net/connection.ts, "Moving a
   * connection"). When that worker is down or the broker is closing, it goes back to `from` (or is closed); the
   * counts follow it either way.
   */
  const moveConnection = (from: number, message: { socket: Socket, listener: string, to: number, ip: string | undefined, moved: unknown }): void => {
    const socket = message.socket
    const source = handles[from]
    if (closing || source === undefined || !source.up) {
      // A dead worker's connections were given back at once (releaseWorker); a closing broker takes no more.
      if (source?.up === true) { source.connections--; limits.released(message.ip, from) }
      socket.destroy()
      return
    }
    const to = handles[message.to]?.up === true ? message.to : from
    const refusal = prepareTransfer(socket)
    try {
      if (refusal !== null) throw new Error(refusal)
      handles[to].worker.postMessage({ type: 'socket', socket, listener: message.listener, moved: message.moved }, [socket as any])
    } catch (error) {
      logger.error(`cannot move a connection from worker ${from} to worker ${to}: ${(error as Error).message}`)
      source.connections--
      limits.released(message.ip, from)
      socket.destroy()
      return
    }
    countEvent(to === from ? 'connection-moves-returned' : 'connection-moves')
    source.connections--
    handles[to].connections++
    limits.moved(message.ip, from, to)
  }

  let next = 0
  // One server per listener; a socket goes to its worker with the name of the listener it came in on.
  const accept = (socket: Socket, listener: string): void => {
    // Least connections, starting the scan after the last choice so that ties rotate.
    let chosen = next
    for (let i = 1; i < count; i++) {
      const candidate = (next + i) % count
      if (handles[candidate].connections < handles[chosen].connections) chosen = candidate
    }
    const ip = socket.remoteAddress ?? 'unknown'
    const refused = limits.admit(ip, chosen)
    if (refused !== null) {
      // Kafka closes a connection over max.connections(.per.ip) at once; so do we, before any worker sees it.
      countEvent('connections-rejected')
      countEvent(`connections-rejected-${refused}`)
      logger.limited(refused, 'warn', `refusing connection from ${ip}:${socket.remotePort}: --${refused} reached (${refused === 'max-connections' ? limits.total : refused === 'max-connections-per-ip' ? limits.connectionsFrom(ip) : limits.creationRateOf(ip) + '/s, the flag or the ip\'s connection_creation_rate quota'})`)
      socket.destroy()
      return
    }
    next = (chosen + 1) % count
    handles[chosen].connections++
    try {
      handles[chosen].worker.postMessage({ type: 'socket', socket, listener }, [socket as any])
    } catch (error) {
      logger.error(`cannot hand a connection to worker ${chosen}: ${(error as Error).message}`)
      handles[chosen].connections--
      limits.released(ip, chosen)
      socket.destroy()
    }
  }
  const servers: Server[] = []
  const listening: Array<{ name: string, securityProtocol: string, host: string, port: number }> = []
  for (const listener of config.listeners) {
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket: Socket) => accept(socket, listener.name))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listener.port, listener.host, () => resolve())
    })
    servers.push(server)
    const address = server.address()
    const listenPort = typeof address === 'object' && address !== null ? address.port : listener.port
    listening.push({ name: listener.name, securityProtocol: listener.securityProtocol, host: listener.host, port: listenPort })
    if (listener.advertisedPort === null) advertisedListeners[listener.name] = { host: advertisedListeners[listener.name].host, port: listenPort }
  }
  const port = listening[0].port
  readiness.listening()
  if (config.advertisedPort === null) advertised = { host: advertised.host, port }
  if (config.listeners.some((listener) => listener.advertisedPort === null)) {
    for (const handle of handles) handle.worker.postMessage({ type: 'advertised', advertised, advertisedListeners })
  }
  if (config.listeners.length > 1) logger.info(`listeners: ${listening.map((listener) => `${listener.name} (${listener.securityProtocol}) on ${listener.host}:${listener.port}`).join(', ')}`)
  logger.info(`cluster ${controller.metadata.clusterId}: ${count} worker(s), data in ${config.dataDir}`)

  return {
    host: config.listenHost,
    port,
    clusterId: controller.metadata.clusterId,
    listeners: listening,
    metrics: metricsServer === null ? null : { host: metricsServer.host, port: metricsServer.port },
    pending: (waitMs = 250) => describeShutdown(handles, shutdownStates, waitMs),
    async close () {
      closing = true
      readiness.closing()
      reclaim.close()
      process.off('SIGUSR2', onTestSignal)
      process.off('SIGUSR2', onSnapshotSignal)
      stopTlsReload()
      for (const server of servers) server.close()
      for (const handle of handles) if (handle.restartTimer !== null) clearTimeout(handle.restartTimer)
      const live = handles.filter((handle) => handle.up)
      // Step 1: every worker drains. None stops before all have: a drained worker still serves the others' parts.
      await Promise.all(live.map((handle) => new Promise<void>((resolve) => {
        const worker = handle.worker
        const index = handles.indexOf(handle)
        const onMessage = (message: { type: string }): void => { if (message.type === 'drained') finish() }
        const finish = (): void => {
          worker.off('message', onMessage)
          worker.off('exit', finish)
          shutdownStates[index] = 'drained'
          resolve()
        }
        worker.on('message', onMessage)
        worker.once('exit', finish)
        shutdownStates[index] = 'draining'
        worker.postMessage({ type: 'drain' })
      })))
      // Step 2: each closes its logs (writing clean-shutdown markers) and exits. A worker that hangs here is left
      // to the caller's timeout, which exits the process unclean (no marker: the next start recovers that log).
      await Promise.all(live.map((handle) => new Promise<void>((resolve) => {
        const index = handles.indexOf(handle)
        shutdownStates[index] = 'closing its logs'
        handle.worker.once('exit', () => { shutdownStates[index] = 'exited'; resolve() })
        handle.worker.postMessage({ type: 'stop' })
      })))
      // The workers uploaded what they held before exiting; the metadata's last version, the lease, the pool.
      await s3?.close()
      // Last, so that /readyz answers 503 for the whole shutdown.
      await metricsServer?.close()
    }
  }
}
