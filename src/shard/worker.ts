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
}

const data = workerData as WorkerData
const port = parentPort
if (port === null) throw new Error('worker.ts must run in a worker thread')
const logger = new Logger(data.config.logLevel, `worker-${data.index}`, { format: data.config.logFormat })
// Before the Shard opens (and recovers) its partitions: their fsyncs count from the start.
attachMetricsSlab(data.metrics)
const { handlers, remoteServers } = buildHandlers()
const shard = new Shard({ ...data, logger, port, handlers, remoteServers })

port.on('message', (message) => {
  switch (message.type) {
    case 'socket':
      shard.adopt(message.socket, message.listener)
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
    case 'stop':
      shard.stop()
      port.postMessage({ type: 'stopped', worker: data.index })
      port.close()
      break
  }
})

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
