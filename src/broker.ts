// The main thread: the acceptor and the controller. It owns no partition: it accepts TCP connections and
// transfers each socket to a worker (least connections first, round robin among equals), and it runs the
// controller, which serialises metadata changes and publishes them to every worker.
import { createServer, type Server, type Socket } from 'node:net'
import { Worker } from 'node:worker_threads'
import { Controller, type AdminOp } from './admin/controller.ts'
import { createRingBuffer, Doorbells } from './shard/ring.ts'
import type { BrokerConfig } from './config/config.ts'
import type { ClusterMetadata } from './shard/shard-table.ts'
import type { Logger } from './logger.ts'

export interface Broker {
  readonly host: string
  readonly port: number
  readonly clusterId: string
  close (): Promise<void>
}

interface WorkerHandle {
  readonly worker: Worker
  connections: number
}

export async function startBroker (config: BrokerConfig, logger: Logger): Promise<Broker> {
  const controller = new Controller(config.dataDir, config.defaultPartitions, logger)
  const count = config.workers
  // rings[from][to]: the ring `from` writes and `to` reads.
  const rings: Array<Array<SharedArrayBuffer | null>> = []
  for (let from = 0; from < count; from++) {
    rings.push([])
    for (let to = 0; to < count; to++) rings[from].push(from === to ? null : createRingBuffer(config.ringBytes))
  }
  const doorbells = Doorbells.create(count)
  const advertised = { host: config.advertisedHost ?? config.listenHost, port: config.advertisedPort ?? config.listenPort }
  const handles: WorkerHandle[] = []
  const acks = new Map<number, { pending: Set<number>, done: () => void }>()
  const ready: Array<Promise<void>> = []

  for (let index = 0; index < count; index++) {
    const worker = new Worker(new URL('./shard/worker.ts', import.meta.url), {
      workerData: {
        index,
        config,
        outgoing: rings[index],
        incoming: rings.map((row) => row[index]),
        doorbells,
        metadata: controller.metadata,
        advertised
      }
    })
    const handle: WorkerHandle = { worker, connections: 0 }
    handles.push(handle)
    ready.push(new Promise((resolve, reject) => {
      worker.once('error', reject)
      worker.on('message', function onReady (message) {
        if (message.type === 'ready') { worker.off('message', onReady); resolve() }
      })
    }))
    worker.on('error', (error: Error) => {
      logger.error(`worker ${index} failed: ${error.stack ?? error.message}`)
      process.exit(1)
    })
    worker.on('message', (message) => {
      switch (message.type) {
        case 'admin':
          controller.execute(message.op as AdminOp).then(
            (result) => worker.postMessage({ type: 'admin-result', id: message.id, result }),
            (error: Error) => {
              logger.error(`controller: ${error.stack ?? error.message}`)
              worker.postMessage({ type: 'admin-result', id: message.id, error: error.message })
            }
          )
          break
        case 'metadata-ack': {
          const waiting = acks.get(message.version)
          if (waiting === undefined) break
          waiting.pending.delete(message.worker)
          if (waiting.pending.size === 0) { acks.delete(message.version); waiting.done() }
          break
        }
        case 'connection-closed':
          handle.connections--
          break
      }
    })
  }
  controller.setBroadcast((metadata: ClusterMetadata) => new Promise<void>((resolve) => {
    acks.set(metadata.version, { pending: new Set(handles.map((_, i) => i)), done: resolve })
    for (const handle of handles) handle.worker.postMessage({ type: 'metadata', metadata })
  }))
  await Promise.all(ready)

  let next = 0
  const server: Server = createServer({ pauseOnConnect: true, noDelay: true }, (socket: Socket) => {
    // Least connections, starting the scan after the last choice so that ties rotate.
    let chosen = next
    for (let i = 1; i < count; i++) {
      const candidate = (next + i) % count
      if (handles[candidate].connections < handles[chosen].connections) chosen = candidate
    }
    next = (chosen + 1) % count
    handles[chosen].connections++
    try {
      handles[chosen].worker.postMessage({ type: 'socket', socket }, [socket as any])
    } catch (error) {
      logger.error(`cannot hand a connection to worker ${chosen}: ${(error as Error).message}`)
      socket.destroy()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listenPort, config.listenHost, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.listenPort
  if (config.advertisedPort === null) {
    const actual = { host: advertised.host, port }
    for (const handle of handles) handle.worker.postMessage({ type: 'advertised', advertised: actual })
  }
  logger.info(`cluster ${controller.metadata.clusterId}: ${count} worker(s), data in ${config.dataDir}`)

  return {
    host: config.listenHost,
    port,
    clusterId: controller.metadata.clusterId,
    async close () {
      server.close()
      await Promise.all(handles.map((handle) => new Promise<void>((resolve) => {
        // A worker closes its logs (writing clean-shutdown markers) and exits; one that hangs is terminated.
        const timer = setTimeout(() => { handle.worker.terminate().catch(() => {}) }, 10_000)
        handle.worker.once('exit', () => { clearTimeout(timer); resolve() })
        handle.worker.postMessage({ type: 'stop' })
      })))
    }
  }
}
