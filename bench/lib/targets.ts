// The brokers the loads run against:
//   shoal    a Shoal broker process per worker count (src/main.ts), data in a fresh directory
//   against  another Kafka-compatible broker given by --against HOST:PORT (not started, not sampled)
//   ceiling  librdkafka's in-memory mock cluster (bench/.build/mock-cluster): the same clients and loads served
//            by C code that keeps everything in memory
// Topics are made through each target's admin: the CreateTopics API (@platformatic/kafka's admin client) for Shoal and
// --against, the mock-cluster's stdin commands for the mock (its broker does not implement CreateTopics).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Admin } from '@platformatic/kafka'
import { startServer, type ServerProcess } from './proc.ts'

export type TargetKind = 'shoal' | 'against' | 'ceiling'

export interface TopicAdmin {
  create (topic: string, partitions: number): Promise<void>
  delete (topic: string): Promise<void>
  close (): Promise<void>
}

export interface Target {
  kind: TargetKind
  /** For tables: `shoal w=2`, `against 10.0.0.5:9092`, `ceiling (mock)`. */
  label: string
  workers: number | null
  bootstrap: string
  /** The broker's process when the bench started it (RSS is sampled from it). */
  pid: number | null
  admin: TopicAdmin
  /** Broker output so far (for error reports). */
  output (): string
  stop (): Promise<void>
}

/** Admin through the CreateTopics/DeleteTopics APIs, with @platformatic/kafka's admin client. */
export async function kafkaAdmin (bootstrap: string): Promise<TopicAdmin> {
  const admin = new Admin({ clientId: 'shoal-bench', bootstrapBrokers: [bootstrap], timeout: 30_000, retries: 5 })
  // Connects on first use: check that the broker answers before any load runs.
  await admin.metadata({ topics: [] })
  return {
    async create (topic, partitions) {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
    },
    async delete (topic) {
      await admin.deleteTopics({ topics: [topic] })
    },
    async close () {
      await admin.close()
    }
  }
}

export interface ShoalOptions {
  node: string
  mainPath: string
  workers: number
  /** Parent of the data directory; a fresh directory is made (and removed at stop) under it. */
  dataParent: string | null
  brokerArgs: readonly string[]
}

export async function startShoal (options: ShoalOptions): Promise<Target> {
  const parent = options.dataParent ?? tmpdir()
  mkdirSync(parent, { recursive: true })
  const dataDir = mkdtempSync(join(parent, 'shoal-bench-'))
  let server: ServerProcess
  try {
    server = await startServer(options.node, [options.mainPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir,
      '--workers', String(options.workers), '--log-level', 'warn', ...options.brokerArgs], /listening on (\S+)/, 30_000)
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  let admin: TopicAdmin
  try {
    admin = await kafkaAdmin(server.bootstrap)
  } catch (error) {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  return {
    kind: 'shoal',
    label: `shoal w=${options.workers}`,
    workers: options.workers,
    bootstrap: server.bootstrap,
    pid: server.pid,
    admin,
    output: server.output,
    async stop () {
      await admin.close().catch(() => {})
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

export async function connectAgainst (bootstrap: string): Promise<Target> {
  const admin = await kafkaAdmin(bootstrap)
  return {
    kind: 'against',
    label: `against ${bootstrap}`,
    workers: null,
    bootstrap,
    pid: null,
    admin,
    output: () => '',
    async stop () {
      await admin.close().catch(() => {})
    }
  }
}

/** Starts bench/.build/mock-cluster and makes topics through its stdin (`create TOPIC N` -> `ok TOPIC`). */
export async function startCeiling (binary: string): Promise<Target> {
  const server = await startServer(binary, [], /bootstrap (\S+)/, 15_000, 'pipe')
  const waiting = new Map<string, { resolve: () => void, reject: (error: Error) => void }>()
  const lines = createInterface({ input: server.child.stdout! })
  lines.on('line', (line) => {
    const match = /^(ok|error) (\S+)(.*)$/.exec(line)
    if (match === null) return
    const waiter = waiting.get(match[2])
    if (waiter === undefined) return
    waiting.delete(match[2])
    if (match[1] === 'ok') waiter.resolve()
    else waiter.reject(new Error(`mock-cluster could not create ${match[2]}:${match[3]}`))
  })
  const admin: TopicAdmin = {
    create (topic, partitions) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(topic)
          reject(new Error(`mock-cluster did not answer 'create ${topic}' within 10 s`))
        }, 10_000)
        waiting.set(topic, {
          resolve: () => { clearTimeout(timer); resolve() },
          reject: (error) => { clearTimeout(timer); reject(error) }
        })
        server.child.stdin!.write(`create ${topic} ${partitions}\n`)
      })
    },
    // The mock keeps topics in memory until it stops; there is no delete.
    async delete () {},
    async close () {}
  }
  return {
    kind: 'ceiling',
    label: 'ceiling (mock)',
    workers: null,
    bootstrap: server.bootstrap,
    pid: server.pid,
    admin,
    output: server.output,
    async stop () {
      lines.close()
      server.child.stdin?.end()
      await server.stop()
    }
  }
}
