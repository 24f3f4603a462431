// The controller: the one owner of cluster metadata (topics, their ids, partition counts and configs, the
// cluster id, producer id allocation). It lives on the main thread, off the data path. Workers ask it for
// changes over postMessage (`AdminOp`); it validates, persists `<data-dir>/meta/cluster.json` (written to a
// temporary file, fsynced, renamed, directory fsynced), sends the new metadata to every worker and answers the
// asking worker only once every worker has acknowledged that version. So when a CreateTopics answer reaches a
// client, every worker already owns and has opened the new partitions.

import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode } from '../protocol/errors.ts'
import { kTopicConfigDefaults, validateTopicConfig, validateTopicName } from '../config/topic-config.ts'
import { kOffsetsTopic } from '../group/offset-store.ts'
import type { ClusterMetadata, TopicMetadata } from '../shard/shard-table.ts'
import type { Logger } from '../logger.ts'

/** Producer ids are reserved on disk in blocks, so that a crash never hands out an id twice. */
const kProducerIdBlock = 1000

interface PersistedState extends ClusterMetadata {
  readonly producerIdBlockEnd: number
}

export interface CreateTopicRequest {
  readonly name: string
  readonly numPartitions: number
  readonly replicationFactor: number
  readonly configs: ReadonlyArray<{ readonly name: string, readonly value: string | null }>
  readonly hasAssignments: boolean
  /** Broker-internal topics (`__consumer_offsets`); clients cannot create these. */
  readonly internal?: boolean
}

export interface CreateTopicResult {
  readonly name: string
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly topicId: string
  readonly numPartitions: number
  readonly replicationFactor: number
  readonly configs: Record<string, string>
}

export interface TopicResult {
  readonly name: string | null
  readonly topicId: string
  readonly errorCode: number
  readonly errorMessage: string | null
}

export type AdminOp =
  | { readonly op: 'createTopics', readonly topics: readonly CreateTopicRequest[], readonly validateOnly: boolean }
  | { readonly op: 'deleteTopics', readonly names: readonly string[], readonly ids: readonly string[] }
  | { readonly op: 'createPartitions', readonly topics: ReadonlyArray<{ readonly name: string, readonly count: number }>, readonly validateOnly: boolean }
  | { readonly op: 'alterTopicConfigs', readonly topic: string, readonly set: Readonly<Record<string, string | null>>, readonly incremental: boolean, readonly validateOnly: boolean }
  | { readonly op: 'initProducerId' }

export type Broadcast = (metadata: ClusterMetadata) => Promise<void>

export function zeroUuid (): string {
  return '0'.repeat(32)
}

function newTopicId (): string {
  // Kafka reserves the zero uuid and the uuid with only the lowest bit set.
  for (;;) {
    const id = randomBytes(16).toString('hex')
    if (id !== zeroUuid() && id !== '0'.repeat(31) + '1') return id
  }
}

export class Controller {
  readonly #file: string
  readonly #dir: string
  readonly #defaultPartitions: number
  readonly #logger: Logger
  #state: PersistedState
  #nextProducerId: number
  #broadcast: Broadcast
  /** Changes are applied one at a time, in arrival order. */
  #queue: Promise<unknown>

  constructor (dataDir: string, defaultPartitions: number, logger: Logger) {
    this.#dir = join(dataDir, 'meta')
    this.#file = join(this.#dir, 'cluster.json')
    this.#defaultPartitions = defaultPartitions
    this.#logger = logger
    this.#broadcast = async () => {}
    this.#queue = Promise.resolve()
    mkdirSync(this.#dir, { recursive: true })
    let state: PersistedState
    try {
      state = JSON.parse(readFileSync(this.#file, 'utf8')) as PersistedState
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      // Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
      state = { version: 1, clusterId: randomBytes(16).toString('base64url'), topics: [], producerIdBlockEnd: 0 }
      this.#persist(state)
      logger.info(`new cluster ${state.clusterId} in ${dataDir}`)
    }
    this.#state = state
    this.#nextProducerId = state.producerIdBlockEnd
  }

  get metadata (): ClusterMetadata {
    const { version, clusterId, topics } = this.#state
    return { version, clusterId, topics }
  }

  setBroadcast (broadcast: Broadcast): void {
    this.#broadcast = broadcast
  }

  /** Runs one admin operation, serialised with all others. */
  execute (op: AdminOp): Promise<unknown> {
    const run = this.#queue.then(() => this.#execute(op))
    this.#queue = run.catch(() => {})
    return run
  }

  async #execute (op: AdminOp): Promise<unknown> {
    switch (op.op) {
      case 'createTopics': return this.#createTopics(op.topics, op.validateOnly)
      case 'deleteTopics': return this.#deleteTopics(op.names, op.ids)
      case 'createPartitions': return this.#createPartitions(op.topics, op.validateOnly)
      case 'alterTopicConfigs': return this.#alterTopicConfigs(op.topic, op.set, op.incremental, op.validateOnly)
      case 'initProducerId': return this.#allocateProducerId()
    }
  }

  #persist (state: PersistedState): void {
    const temporary = `${this.#file}.tmp`
    writeFileSync(temporary, JSON.stringify(state))
    const fd = openSync(temporary, 'r')
    try { fsyncSync(fd) } finally { closeSync(fd) }
    renameSync(temporary, this.#file)
    const dirFd = openSync(this.#dir, 'r')
    try { fsyncSync(dirFd) } finally { closeSync(dirFd) }
  }

  async #commit (topics: readonly TopicMetadata[], producerIdBlockEnd = this.#state.producerIdBlockEnd): Promise<void> {
    const state: PersistedState = { version: this.#state.version + 1, clusterId: this.#state.clusterId, topics, producerIdBlockEnd }
    this.#persist(state)
    this.#state = state
    await this.#broadcast(this.metadata)
  }

  #effectiveConfigs (overrides: Readonly<Record<string, string>>): Record<string, string> {
    return { ...kTopicConfigDefaults, ...overrides }
  }

  async #createTopics (requests: readonly CreateTopicRequest[], validateOnly: boolean): Promise<CreateTopicResult[]> {
    const results: CreateTopicResult[] = []
    const added: TopicMetadata[] = []
    const seen = new Set<string>()
    for (const request of requests) {
      const fail = (errorCode: number, errorMessage: string): void => {
        results.push({ name: request.name, errorCode, errorMessage, topicId: zeroUuid(), numPartitions: -1, replicationFactor: -1, configs: {} })
      }
      const nameError = validateTopicName(request.name)
      if (nameError !== null) { fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError); continue }
      if (request.name === kOffsetsTopic && request.internal !== true) { fail(ErrorCode.INVALID_REQUEST, `${kOffsetsTopic} is reserved for the broker`); continue }
      if (seen.has(request.name)) { fail(ErrorCode.INVALID_REQUEST, `Duplicate topic name ${request.name} in request`); continue }
      seen.add(request.name)
      if (this.#state.topics.some((t) => t.name === request.name)) {
        fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${request.name}' already exists.`)
        continue
      }
      if (request.hasAssignments) { fail(ErrorCode.INVALID_REQUEST, 'Manual replica assignment is not supported by a single-node broker'); continue }
      const partitions = request.numPartitions === -1 ? this.#defaultPartitions : request.numPartitions
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
        fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${request.numPartitions}.`)
        continue
      }
      if (request.replicationFactor !== -1 && request.replicationFactor !== 1) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${request.replicationFactor} larger than available brokers: 1.`)
        continue
      }
      const overrides: Record<string, string> = {}
      let configError: string | null = null
      for (const config of request.configs) {
        configError = validateTopicConfig(config.name, config.value)
        if (configError !== null) break
        if (config.value !== null) overrides[config.name] = config.value
      }
      if (configError !== null) { fail(ErrorCode.INVALID_CONFIG, configError); continue }
      const topic: TopicMetadata = { name: request.name, id: newTopicId(), partitions, configs: overrides, internal: request.internal === true }
      added.push(topic)
      results.push({
        name: request.name,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicId: validateOnly ? zeroUuid() : topic.id,
        numPartitions: partitions,
        replicationFactor: 1,
        configs: this.#effectiveConfigs(overrides)
      })
    }
    if (!validateOnly && added.length > 0) {
      await this.#commit([...this.#state.topics, ...added])
      for (const topic of added) this.#logger.info(`created topic ${topic.name} (${topic.partitions} partitions, id ${topic.id})`)
    }
    return results
  }

  async #deleteTopics (names: readonly string[], ids: readonly string[]): Promise<TopicResult[]> {
    const results: TopicResult[] = []
    const remove = new Set<string>()
    for (const name of names) {
      const topic = this.#state.topics.find((t) => t.name === name)
      if (topic === undefined) results.push({ name, topicId: zeroUuid(), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' })
      else if (topic.internal === true) results.push({ name, topicId: topic.id, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Internal topics cannot be deleted.' })
      else { remove.add(topic.id); results.push({ name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null }) }
    }
    for (const id of ids) {
      const topic = this.#state.topics.find((t) => t.id === id)
      if (topic === undefined) results.push({ name: null, topicId: id, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'This server does not host this topic ID.' })
      else if (topic.internal === true) results.push({ name: topic.name, topicId: id, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Internal topics cannot be deleted.' })
      else { remove.add(topic.id); results.push({ name: topic.name, topicId: id, errorCode: ErrorCode.NONE, errorMessage: null }) }
    }
    if (remove.size > 0) {
      await this.#commit(this.#state.topics.filter((t) => !remove.has(t.id)))
      this.#logger.info(`deleted ${remove.size} topic(s)`)
    }
    return results
  }

  async #createPartitions (requests: ReadonlyArray<{ name: string, count: number }>, validateOnly: boolean): Promise<TopicResult[]> {
    const results: TopicResult[] = []
    const grown = new Map<string, number>()
    for (const { name, count } of requests) {
      const topic = this.#state.topics.find((t) => t.name === name)
      if (topic === undefined) {
        results.push({ name, topicId: zeroUuid(), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `The topic '${name}' does not exist.` })
      } else if (grown.has(name)) {
        results.push({ name, topicId: topic.id, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic in request.' })
      } else if (count <= topic.partitions) {
        results.push({ name, topicId: topic.id, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `Topic currently has ${topic.partitions} partitions, which is higher than the requested ${count}.` })
      } else if (count > 100_000) {
        results.push({ name, topicId: topic.id, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `Too many partitions: ${count}.` })
      } else {
        grown.set(name, count)
        results.push({ name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null })
      }
    }
    if (!validateOnly && grown.size > 0) {
      await this.#commit(this.#state.topics.map((t) => grown.has(t.name) ? { ...t, partitions: grown.get(t.name) as number } : t))
    }
    return results
  }

  async #alterTopicConfigs (name: string, set: Readonly<Record<string, string | null>>, incremental: boolean, validateOnly: boolean): Promise<TopicResult> {
    const topic = this.#state.topics.find((t) => t.name === name)
    if (topic === undefined) return { name, topicId: zeroUuid(), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${name} does not exist.` }
    const configs: Record<string, string> = incremental ? { ...topic.configs } : {}
    for (const [key, value] of Object.entries(set)) {
      const error = validateTopicConfig(key, value)
      if (error !== null) return { name, topicId: topic.id, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: error }
      if (value === null) delete configs[key]
      else configs[key] = value
    }
    if (!validateOnly) await this.#commit(this.#state.topics.map((t) => t.id === topic.id ? { ...t, configs } : t))
    return { name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null }
  }

  async #allocateProducerId (): Promise<{ producerId: number, producerEpoch: number }> {
    if (this.#nextProducerId >= this.#state.producerIdBlockEnd) {
      const state: PersistedState = { ...this.#state, producerIdBlockEnd: this.#nextProducerId + kProducerIdBlock }
      this.#persist(state)
      this.#state = state
    }
    return { producerId: this.#nextProducerId++, producerEpoch: 0 }
  }
}
