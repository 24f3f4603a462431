// Entry point of a partition worker thread. The main thread sends it sockets, metadata versions and controller
// answers over its port (control plane); partition traffic between workers goes over the rings (Shard).
// The main thread supervises it: if this thread dies (an uncaught exception, an out-of-memory, the ring loop
// failing), it is restarted with the same index and rings, and its partitions recovered from disk.
import { parentPort, workerData } from 'node:worker_threads'
import { Logger } from '../logger.ts'
import { Shard } from './shard.ts'
import { buildHandlers } from '../handlers/index.ts'
import type { BrokerConfig } from '../config/config.ts'
import { collectGarbage, reclaimWhenQuiet } from '../memory-reclaim.ts'
import { dropIdleArenas } from '../net/arena-pool.ts'
import { reloadServerContext } from '../net/tls.ts'
import { attachMetricsSlab, startEventLoopSampler, workerSnapshot } from '../metrics/worker-metrics.ts'
import { ShardTable } from './shard-table.ts'
import { partitionDir } from './shard.ts'
import { PartitionLog } from '../log/partition-log.ts'
import { setRemoteStorageAvailable, topicConfigValue } from '../config/topic-config.ts'
import { RelayedObjectStore } from '../storage/relayed-object-store.ts'
import { loadRemoteState } from '../storage/remote-state-loader.ts'
import { restorePartition } from '../storage/restore.ts'
import { Uploader } from '../storage/uploader.ts'
import { fromWorkerRemoteState, partitionKey, workerRemoteState, type WorkerRemoteState } from '../storage/remote-index.ts'

interface WorkerData {
  index: number
  config: BrokerConfig
  outgoing: Array<SharedArrayBuffer | null>
  incoming: Array<SharedArrayBuffer | null>
  doorbells: SharedArrayBuffer
  metadata: import('./shard-table.ts').ClusterMetadata
  advertised: { host: string, port: number }
  /** Each listener's advertised address, by listener name. */
  advertisedListeners: Record<string, { host: string, port: number }>
  /** Workers restarting as this one starts; see Shard's header. */
  downPeers: number[]
  /** First call token: a restarted worker numbers its calls apart from its predecessor's. */
  tokenBase: number
  /** This worker's metrics slab (src/metrics/layout.ts), the same one across restarts. */
  metrics: SharedArrayBuffer
  /** --s3-bucket: the broker process's instance id (src/storage/lease.ts). */
  s3Instance?: string
  /**
   * --s3-bucket: what S3 holds of this worker's partitions, as the main thread read it at start; absent for a
   * restarted worker, which reads it again itself (its predecessor's view died with it).
   */
  remote?: WorkerRemoteState
}

const data = workerData as WorkerData
if (parentPort === null) throw new Error('worker.ts must run in a worker thread')
const port = parentPort
const logger = new Logger(data.config.logLevel, `worker-${data.index}`, { format: data.config.logFormat })
// Before the Shard opens (and recovers) its partitions: their fsyncs count from the start.
attachMetricsSlab(data.metrics)
const { handlers, remoteServers } = buildHandlers()
setRemoteStorageAvailable(data.config.s3 !== null)

// With --s3-bucket, S3 requests go to the main thread's flusher pool over this port, and their answers come back
// on it: the port is listened to from the start, and control messages that arrive before the Shard exists (while
// partitions are restored from S3) are handled once it does, in order.
const store = data.config.s3 === null ? null : new RelayedObjectStore(port)
let shardOrNull: Shard | null = null
const early: any[] = []
port.on('message', (message) => {
  if (store !== null && store.handleMessage(message)) return
  if (shardOrNull === null) early.push(message)
  else onControlMessage(shardOrNull, message)
})
const uploader = store === null ? undefined : await openStorage(store)
const shard = new Shard({ ...data, logger, port, handlers, remoteServers, uploader })
shardOrNull = shard
uploader?.start()
for (const message of early.splice(0)) onControlMessage(shard, message)

/**
 * The S3 side of this worker, before its partitions open: what S3 holds of them (from the main thread, or read
 * again after a restart), every partition whose local log ends below what S3 holds topped up from S3 (an empty
 * data directory: all of it; a disk that lost its tail: the tail), then the uploader that follows them.
 */
async function openStorage (objectStore: RelayedObjectStore): Promise<Uploader> {
  const s3 = data.config.s3 as NonNullable<typeof data.config.s3>
  const table = new ShardTable(data.metadata, data.config.workers)
  const owned = new Map<string, { topic: string, partition: number, configs: Readonly<Record<string, string>> }>()
  for (const topic of table.topics()) {
    for (let p = 0; p < topic.partitions; p++) if (topic.owners[p] === data.index) owned.set(partitionKey(topic.id, p), { topic: topic.name, partition: p, configs: topic.configs })
  }
  const plain = data.remote ?? workerRemoteState(await loadRemoteState(objectStore, s3.prefix, { logger }), (name) => owned.has(name))
  const { indexes, objectPartitions } = fromWorkerRemoteState(plain)
  let restored = 0
  for (const [name, index] of indexes) {
    const partition = owned.get(name)
    if (partition === undefined || index.endOffset === 0) continue
    const log = PartitionLog.open(partitionDir(data.config.dataDir, partition.topic, partition.partition), {
      segmentBytes: Number(topicConfigValue(partition.configs, 'segment.bytes')), indexIntervalBytes: 4096, maxOpenSegmentFiles: data.config.maxOpenSegmentFiles
    })
    try {
      if (index.endOffset > log.nextOffset || index.logStartOffset > log.logStartOffset) {
        const result = await restorePartition(log, index, objectStore, { logger })
        restored++
        if (result.corrupt) {
          // What S3 holds past the corrupt batch cannot come back: the index forgets it (from the range holding
          // the log's end on), so that what this log gets next is uploaded again, in newer objects that win.
          index.ranges.splice(index.firstEndingAbove(log.nextOffset))
          logger.error(`partition ${partition.topic}-${partition.partition}: S3 holds a corrupt batch at ${log.nextOffset}; restored up to there, the rest is not served`)
        }
      }
    } finally {
      log.close()
    }
  }
  if (restored > 0) logger.info(`worker ${data.index}: restored ${restored} partition(s) from S3`)
  return new Uploader({ store: objectStore, config: s3, durability: data.config.durability, worker: data.index, instance: data.s3Instance ?? '0000000000000000', logger, indexes, objectPartitions })
}

function onControlMessage (shard: Shard, message: any): void {
  switch (message.type) {
    case 'socket':
      shard.adopt(message.socket, message.listener, message.moved)
      break
    case 'metadata':
      shard.applyMetadata(message.metadata)
      port.postMessage({ type: 'metadata-ack', worker: data.index, version: message.metadata.version })
      break
    case 'admin-result':
      shard.adminResult(message.id, message.result, message.error)
      break
    case 'peer-down':
      // Another worker died: stop using its rings, fail what waits on it, then tell the main thread that it
      // may reset them (see the restart protocol in src/broker.ts).
      shard.peerDown(message.worker)
      port.postMessage({ type: 'peer-down-ack', worker: data.index, peer: message.worker })
      break
    case 'peer-up':
      shard.peerUp(message.worker)
      break
    case 'advertised':
      shard.advertised = message.advertised
      if (message.advertisedListeners !== undefined) shard.advertisedListeners = message.advertisedListeners
      break
    case 'tls-reload': {
      // SIGHUP on the main thread, which checked that the files load (src/net/tls.ts).
      const failure = reloadServerContext(data.config)
      if (failure === null) logger.info('TLS certificates reloaded for new connections')
      else logger.error(`TLS certificates not reloaded, the old ones stay: ${failure}`)
      break
    }
    case 'metrics-scrape':
      // One answer per scrape of /metrics (src/metrics/broker-metrics.ts): what has dynamic names.
      port.postMessage({ type: 'metrics-snapshot', id: message.id, worker: data.index, ...workerSnapshot(shard) })
      break
    case 'drain':
      // Graceful shutdown, step 1 (src/broker.ts): answer what is in flight, close the connections. The ring loop
      // and the partitions keep serving the other workers until 'stop'.
      shard.drain(() => port.postMessage({ type: 'drained', worker: data.index }))
      break
    case 'drain-status':
      port.postMessage({ type: 'drain-status', worker: data.index, ...shard.drainStatus() })
      break
    case 'stop': {
      // With S3: what is not there yet goes first (progress lines; a second SIGTERM exits at once, src/main.ts).
      const stop = (): void => {
        shard.stop()
        store?.close()
        port.postMessage({ type: 'stopped', worker: data.index })
        port.close()
      }
      if (uploader === undefined) stop()
      else uploader.finish().then(stop, stop)
      break
    }
    case 's3-fenced':
      // The main thread found the S3 prefix's lease taken over by another broker.
      uploader?.fence(message.holder)
      break
  }
}

// One message failing does not stop the loop (Shard#dispatchFailed answers it); the loop itself failing leaves
// this worker unable to serve its partitions to others, so the thread exits (process.exit in a worker thread
// ends only this thread) and the main thread restarts it.
shard.runRingLoop().catch((error: Error) => {
  logger.error(`ring loop failed: ${error.stack ?? error.message}`)
  process.exit(1)
})
port.postMessage({ type: 'ready', worker: data.index })
// Only with the metrics endpoint on: the delay monitor wakes the loop every 10 ms, and nobody would read it.
if (data.config.metricsHost !== null) startEventLoopSampler()

// Memory back after a burst (src/memory-reclaim.ts): this thread's idle arenas and heap; the main thread then
// trims malloc's arenas for the whole process.
if (data.config.memoryReclaimIntervalMs > 0) {
  reclaimWhenQuiet(data.config.memoryReclaimIntervalMs, () => {
    const arenaBytes = dropIdleArenas()
    const heapBefore = process.memoryUsage().heapTotal
    collectGarbage()
    // A second collection a moment later frees what the first one's finalizers let go (closed sockets'
    // handles, buffers of dropped arenas whose memory is released off-thread), before the main thread trims.
    setTimeout(() => {
      collectGarbage()
      port.postMessage({ type: 'memory-reclaimed', worker: data.index, arenaBytes, heapBytes: heapBefore - process.memoryUsage().heapTotal })
    }, 500).unref()
  })
}
