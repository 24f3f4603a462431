// The controller: the one owner of cluster metadata (topics, their ids, partition counts and configs, the
// cluster id, producer id allocation, dynamic broker configs and run-time logger levels). It lives on the main thread, off the data path. Workers ask it for
// changes over postMessage (`AdminOp`); it validates, persists `<data-dir>/meta/cluster.json` (written to a
// temporary file, fsynced, renamed, directory fsynced), sends the new metadata to every worker and answers the
// asking worker only once every worker has acknowledged that version. So when a CreateTopics answer reaches a
// client, every worker already owns and has opened the new partitions.

import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { writeFileDurable } from '../log/files.ts'
import { join } from 'node:path'
import { ErrorCode } from '../protocol/errors.ts'
import { repeatedKeys } from '../protocol/repeated.ts'
import { kTopicConfigDefaults, topicConfigValue, validateTopicConfig, validateTopicName } from '../config/topic-config.ts'
import { kNoDynamicBrokerConfigs, type DynamicBrokerConfigs } from '../config/broker-configs.ts'
import { kOffsetsTopic } from '../group/offset-store.ts'
import { count } from '../counters.ts'
import type { ClusterMetadata, TopicMetadata } from '../shard/shard-table.ts'
import { alterScramCredentials, hasAnyCredential, kNoScramCredentials, type ScramAlterationResult, type ScramDeletion, type ScramUpsertion, type StoredScramCredentials } from '../auth/credentials.ts'
import { alterClientQuotas, kNoClientQuotas, type AlterEntry, type AlterResult } from '../quota/client-quotas.ts'
import type { Logger } from '../logger.ts'
import { clipName } from '../protocol/clip.ts'
import { filterMatches, sameBinding, type AclBinding, type AclBindingFilter } from '../auth/acl.ts'

/** Producer ids are reserved on disk in blocks, so that a crash never hands out an id twice. */
const kProducerIdBlock = 1000

/**
 * Broker-internal topics: clients cannot create, delete or repartition them, and may change only the configs in
 * kInternalTopicAlterableConfigs. `__consumer_offsets`' partition count decides every group's coordinator
 * (javaHash(group) % 50), so growing it moves every group away from its offsets. `__transaction_state` is
 * reserved by name for the transaction coordinator; `__cluster_metadata` is refused as Kafka refuses it.
 */
export const kInternalTopics: ReadonlySet<string> = new Set([kOffsetsTopic, '__transaction_state', '__cluster_metadata'])

/**
 * The configs of an internal topic a client may change: segment sizing, flushing, retention and compaction
 * tuning. `cleanup.policy` must stay `compact`; the others (max.message.bytes, message.timestamp.*,
 * min.insync.replicas, ...) would change how the coordinator's own records are accepted.
 */
export const kInternalTopicAlterableConfigs: ReadonlySet<string> = new Set([
  'compression.type', 'delete.retention.ms', 'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'index.interval.bytes',
  'max.compaction.lag.ms', 'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'preallocate', 'retention.bytes',
  'retention.ms', 'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms'
])

/**
 * Limits on what admin requests may create. Each partition a worker opens holds a segment file and its two
 * index files open, so the broker total bounds file descriptors (3 per partition, before connections).
 * A breach answers POLICY_VIOLATION (as KIP-578's max.broker.partitions does) and creates nothing.
 */
export interface ControllerOptions {
  /**
   * Called after every write of cluster.json with what was written (synchronously, once it is durable here):
   * the broker hands it to the S3 metadata uploader (src/storage/metadata-sync.ts) with --s3-bucket.
   */
  readonly onPersist?: (json: string) => void
}

export interface ControllerLimits {
  /** --max-partitions-per-topic: most partitions one topic may have. */
  readonly maxPartitionsPerTopic: number
  /** --max-broker-partitions (KIP-578's max.broker.partitions): most partitions of all topics together. */
  readonly maxBrokerPartitions: number
  /** --max-topics: most topics, internal ones included. */
  readonly maxTopics: number
}

export const kDefaultControllerLimits: ControllerLimits = { maxPartitionsPerTopic: 4000, maxBrokerPartitions: 5000, maxTopics: 5000 }

/** Partition counts travel as int32; a larger count cannot be asked for over the wire. */
const kInt32Max = 2 ** 31 - 1

interface PersistedState extends ClusterMetadata {
  readonly producerIdBlockEnd: number
}

export interface CreateTopicRequest {
  readonly name: string
  readonly numPartitions: number
  readonly replicationFactor: number
  readonly configs: ReadonlyArray<{ readonly name: string, readonly value: string | null }>
  readonly hasAssignments: boolean
  /** The manual replica assignment when hasAssignments (CreateTopics' `assignments`), checked by replicaAssignmentError. */
  readonly assignments?: readonly ReplicaAssignment[]
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

/** One partition of a manual replica assignment: the brokers that hold it, its leader (the preferred one) first. */
export interface ReplicaAssignment {
  readonly partitionIndex: number
  readonly brokerIds: readonly number[]
}

/** A CreatePartitions topic: its new partition count and, optionally, the replicas of each partition added. */
export interface CreatePartitionsRequest {
  readonly name: string
  readonly count: number
  readonly assignments?: ReadonlyArray<readonly number[]> | null
}

/**
 * Kafka's validateManualPartitionAssignment (KRaft ReplicationControlManager) for one partition's replicas: none
 * missing, every broker registered, none twice (checked in ascending id order, so the message names the lowest
 * offender), as many replicas as `replicationFactor` when given. `brokers`: the registered brokers, on this
 * single node only its own id. Returns the INVALID_REPLICA_ASSIGNMENT message, or null.
 */
export function replicaAssignmentError (brokerIds: readonly number[], brokers: readonly number[], replicationFactor: number | null): string | null {
  if (brokerIds.length === 0) return 'The manual partition assignment includes an empty replica list.'
  const sorted = [...brokerIds].sort((a, b) => a - b)
  for (let index = 0; index < sorted.length; index++) {
    const brokerId = sorted[index]
    if (!brokers.includes(brokerId)) return `The manual partition assignment includes broker ${brokerId}, but no such broker is registered.`
    if (index > 0 && sorted[index - 1] === brokerId) return `The manual partition assignment includes the broker ${brokerId} more than once.`
  }
  if (replicationFactor !== null && sorted.length !== replicationFactor) {
    return `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`
  }
  return null
}

/**
 * A CreateTopics manual assignment as Kafka's controller judges it (ReplicationControlManager.createTopic):
 * numPartitions and replicationFactor must both be -1 (INVALID_REQUEST), each partition assigned once, each
 * replica list valid and as long as the first, the partitions numbered 0..n-1 (INVALID_REPLICA_ASSIGNMENT).
 */
function topicAssignmentError (request: CreateTopicRequest, brokers: readonly number[]): { errorCode: number, message: string } | null {
  if (request.replicationFactor !== -1) return { errorCode: ErrorCode.INVALID_REQUEST, message: 'A manual partition assignment was specified, but replication factor was not set to -1.' }
  if (request.numPartitions !== -1) return { errorCode: ErrorCode.INVALID_REQUEST, message: 'A manual partition assignment was specified, but numPartitions was not set to -1.' }
  const assignments = request.assignments ?? []
  const seen = new Set<number>()
  let replicationFactor: number | null = null
  for (const assignment of assignments) {
    if (seen.has(assignment.partitionIndex)) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: `Found multiple manual partition assignments for partition ${assignment.partitionIndex}` }
    const error = replicaAssignmentError(assignment.brokerIds, brokers, replicationFactor)
    if (error !== null) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: error }
    replicationFactor = assignment.brokerIds.length
    seen.add(assignment.partitionIndex)
  }
  for (let index = 0; index < seen.size; index++) {
    if (!seen.has(index)) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: 'partitions should be a consecutive 0-based integer sequence' }
  }
  return null
}

export type AdminOp =
  /** `brokers`: the registered broker ids manual assignments may name (this node's id); none when absent. */
  | { readonly op: 'createTopics', readonly topics: readonly CreateTopicRequest[], readonly validateOnly: boolean, readonly brokers?: readonly number[] }
  | { readonly op: 'deleteTopics', readonly names: readonly string[], readonly ids: readonly string[] }
  | { readonly op: 'createPartitions', readonly topics: readonly CreatePartitionsRequest[], readonly validateOnly: boolean, readonly brokers?: readonly number[] }
  | { readonly op: 'alterTopicConfigs', readonly topic: string, readonly set: Readonly<Record<string, string | null>>, readonly incremental: boolean, readonly validateOnly: boolean }
  | { readonly op: 'initProducerId' }
  /** Dynamic broker configs (src/config/broker-configs.ts): `broker` is "" (every broker) or a node id. Values checked by the caller. */
  | { readonly op: 'alterBrokerConfigs', readonly broker: string, readonly set: Readonly<Record<string, string | null>>, readonly incremental: boolean, readonly validateOnly: boolean }
  /** Logger levels (BROKER_LOGGER), Kafka's names, null to remove a logger's own level. Values checked by the caller. */
  | { readonly op: 'alterLoggers', readonly set: Readonly<Record<string, string | null>>, readonly validateOnly: boolean }
  /** AlterUserScramCredentials, upsertions already derived to keys by the worker (src/auth/credentials.ts judges them). */
  | { readonly op: 'alterScramCredentials', readonly deletions: readonly ScramDeletion[], readonly upsertions: readonly ScramUpsertion[] }
  /** AlterClientQuotas' entries, checked and applied here (src/quota/client-quotas.ts); answers one AlterResult each. */
  | { readonly op: 'alterClientQuotas', readonly entries: readonly AlterEntry[], readonly validateOnly: boolean }
  /** ACLs to add (checked by the caller, src/handlers/create-acls.ts); one already stored is kept once. */
  | { readonly op: 'createAcls', readonly acls: readonly AclBinding[] }
  /** Deletes the ACLs each filter matches (filters checked by the caller); answers them per filter, each ACL once. */
  | { readonly op: 'deleteAcls', readonly filters: readonly AclBindingFilter[] }

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
  readonly #limits: ControllerLimits
  #state: PersistedState
  #nextProducerId: number
  /** BROKER_LOGGER levels set at run time (not persisted); see #alterLoggers. */
  #loggers: Readonly<Record<string, string>>
  #broadcast: Broadcast
  /** ControllerOptions.onPersist: told every version written (the S3 copy, src/storage/metadata-sync.ts). */
  readonly #onPersist: ((json: string) => void) | null
  /** Changes are applied one at a time, in arrival order. */
  #queue: Promise<unknown>

  constructor (dataDir: string, defaultPartitions: number, logger: Logger, limits: ControllerLimits = kDefaultControllerLimits, options: ControllerOptions = {}) {
    this.#onPersist = options.onPersist ?? null
    this.#dir = join(dataDir, 'meta')
    this.#file = join(this.#dir, 'cluster.json')
    this.#defaultPartitions = defaultPartitions
    this.#logger = logger
    this.#limits = limits
    this.#broadcast = async () => {}
    this.#queue = Promise.resolve()
    this.#loggers = {}
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
    warnIfFileDescriptorsShort(limits.maxBrokerPartitions, logger)
  }

  get limits (): ControllerLimits {
    return this.#limits
  }

  /** Partitions of every topic together. */
  #brokerPartitions (): number {
    let total = 0
    for (const topic of this.#state.topics) total += topic.partitions
    return total
  }

  /**
   * Checks a topic of `partitions` (new, or growing by `added`) against the limits, given the partitions and
   * topics accepted earlier in the same request; returns the breach's message (already logged and counted).
   */
  #limitBreach (what: string, name: string, partitions: number, added: number, brokerPartitions: number, topics: number, newTopic: boolean): string | null {
    const limits = this.#limits
    let counter: string
    let message: string
    if (newTopic && topics + 1 > limits.maxTopics) {
      counter = 'admin-max-topics-reached'
      message = `${what} ${name}: the broker already has ${topics} topics, the most --max-topics allows (${limits.maxTopics}).`
    } else if (partitions > limits.maxPartitionsPerTopic) {
      counter = 'admin-max-partitions-per-topic-reached'
      message = `${what} ${name}: ${partitions} partitions exceed the ${limits.maxPartitionsPerTopic} one topic may have (--max-partitions-per-topic).`
    } else if (brokerPartitions + added > limits.maxBrokerPartitions) {
      counter = 'admin-max-broker-partitions-reached'
      message = `${what} ${name}: ${added} more partitions would bring the broker to ${brokerPartitions + added}, beyond max.broker.partitions ${limits.maxBrokerPartitions} (--max-broker-partitions).`
    } else {
      return null
    }
    count(counter)
    this.#logger.warn(`refused: ${message}`)
    return message
  }

  get metadata (): ClusterMetadata {
    const { version, clusterId, topics } = this.#state
    const brokerConfigs = this.#state.brokerConfigs ?? kNoDynamicBrokerConfigs
    const loggers = this.#loggers
    const acls = this.#state.acls
    const clientQuotas = this.#state.clientQuotas ?? kNoClientQuotas
    const scramCredentials = this.#state.scramCredentials ?? kNoScramCredentials
    const withAcls = { ...(acls === undefined || acls.length === 0 ? {} : { acls }), ...(clientQuotas.length === 0 ? {} : { clientQuotas }), ...(scramCredentials === kNoScramCredentials ? {} : { scramCredentials }) }
    if (brokerConfigs !== kNoDynamicBrokerConfigs || Object.keys(loggers).length > 0) return { version, clusterId, topics, brokerConfigs, loggers, ...withAcls }
    return { version, clusterId, topics, ...withAcls }
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
      case 'createTopics': return this.#createTopics(op.topics, op.validateOnly, op.brokers ?? [])
      case 'deleteTopics': return this.#deleteTopics(op.names, op.ids)
      case 'createPartitions': return this.#createPartitions(op.topics, op.validateOnly, op.brokers ?? [])
      case 'alterTopicConfigs': return this.#alterTopicConfigs(op.topic, op.set, op.incremental, op.validateOnly)
      case 'initProducerId': return this.#allocateProducerId()
      case 'alterBrokerConfigs': return this.#alterBrokerConfigs(op.broker, op.set, op.incremental, op.validateOnly)
      case 'alterLoggers': return this.#alterLoggers(op.set, op.validateOnly)
      case 'alterScramCredentials': return this.#alterScramCredentials(op.deletions, op.upsertions)
      case 'alterClientQuotas': return this.#alterClientQuotas(op.entries, op.validateOnly)
      case 'createAcls': return this.#createAcls(op.acls)
      case 'deleteAcls': return this.#deleteAcls(op.filters)
    }
  }

  #persist (state: PersistedState): void {
    const json = JSON.stringify(state)
    writeFileDurable(this.#file, json)
    this.#onPersist?.(json)
  }

  async #commit (topics: readonly TopicMetadata[], producerIdBlockEnd = this.#state.producerIdBlockEnd, brokerConfigs = this.#state.brokerConfigs): Promise<void> {
    // The rest of the state (ACLs among it) is carried over as it is.
    const state: PersistedState = { ...this.#state, version: this.#state.version + 1, clusterId: this.#state.clusterId, topics, producerIdBlockEnd, ...(brokerConfigs === undefined ? {} : { brokerConfigs }) }
    this.#persist(state)
    this.#state = state
    await this.#broadcast(this.metadata)
  }

  #effectiveConfigs (overrides: Readonly<Record<string, string>>): Record<string, string> {
    // topicConfigValue: the broker-level defaults this thread installed (dynamic ones included; src/broker.ts).
    const configs: Record<string, string> = {}
    for (const name of Object.keys(kTopicConfigDefaults)) configs[name] = topicConfigValue(overrides, name)
    return configs
  }

  async #createTopics (requests: readonly CreateTopicRequest[], validateOnly: boolean, brokers: readonly number[]): Promise<CreateTopicResult[]> {
    const results: CreateTopicResult[] = []
    const added: TopicMetadata[] = []
    const repeated = repeatedKeys(requests, (request) => typeof request.name === 'string' ? request.name : '')
    // Each topic is judged on its own, in order, counting the ones accepted before it; nothing is applied
    // until all are judged.
    let brokerPartitions = this.#brokerPartitions()
    let topicCount = this.#state.topics.length
    for (const request of requests) {
      const name = typeof request.name === 'string' ? request.name : ''
      const fail = (errorCode: number, errorMessage: string): void => {
        results.push({ name, errorCode, errorMessage, topicId: zeroUuid(), numPartitions: -1, replicationFactor: -1, configs: {} })
      }
      const nameError = typeof request.name === 'string' ? validateTopicName(name) : 'Topic name is illegal, it can\'t be null'
      if (nameError !== null) { fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError); continue }
      if (repeated.has(name)) { fail(ErrorCode.INVALID_REQUEST, `Duplicate topic name ${name} in request`); continue }
      const internal = request.internal === true
      if (kInternalTopics.has(name) && !internal) { fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${name} is prohibited.`); continue }
      if (this.#state.topics.some((t) => t.name === name)) {
        fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`)
        continue
      }
      if (request.hasAssignments) {
        const refused = topicAssignmentError(request, brokers)
        if (refused !== null) { fail(refused.errorCode, refused.message); continue }
      }
      // A manual assignment's partitions are those it lists; every replica is this broker, the only one.
      const partitions = request.hasAssignments ? (request.assignments ?? []).length : request.numPartitions === -1 ? this.#defaultPartitions : request.numPartitions
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > kInt32Max) {
        fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, or -1 to use the default value, got ${request.numPartitions}.`)
        continue
      }
      if (request.replicationFactor !== -1 && request.replicationFactor !== 1) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, request.replicationFactor < 1
          ? `Replication factor must be larger than 0, or -1 to use the default value, got ${request.replicationFactor}.`
          : `Replication factor: ${request.replicationFactor} larger than available brokers: 1.`)
        continue
      }
      const overrides: Record<string, string> = {}
      let configError: string | null = null
      for (const config of request.configs ?? []) {
        const configName = typeof config?.name === 'string' ? config.name : String(config?.name)
        configError = validateTopicConfig(configName, config.value)
        if (configError === null && config.value === null) configError = `Null value not supported for topic configs: ${configName}`
        if (configError !== null) break
        overrides[configName] = config.value as string
      }
      if (configError !== null) { fail(ErrorCode.INVALID_CONFIG, configError); continue }
      // The broker's own topics are created whatever the limits (a full broker must still serve groups); their
      // partitions count against what clients may create after them.
      if (!internal) {
        const breach = this.#limitBreach('CreateTopics', name, partitions, partitions, brokerPartitions, topicCount, true)
        if (breach !== null) { fail(ErrorCode.POLICY_VIOLATION, breach); continue }
      }
      brokerPartitions += partitions
      topicCount++
      const topic: TopicMetadata = { name, id: newTopicId(), partitions, configs: overrides, internal }
      added.push(topic)
      results.push({
        name,
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
      else if (isInternal(topic)) results.push({ name, topicId: topic.id, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Cannot delete internal topic ${name}.` })
      else { remove.add(topic.id); results.push({ name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null }) }
    }
    for (const id of ids) {
      const topic = this.#state.topics.find((t) => t.id === id)
      if (topic === undefined) results.push({ name: null, topicId: id, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'This server does not host this topic ID.' })
      else if (isInternal(topic)) results.push({ name: topic.name, topicId: id, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Cannot delete internal topic ${topic.name}.` })
      else { remove.add(topic.id); results.push({ name: topic.name, topicId: id, errorCode: ErrorCode.NONE, errorMessage: null }) }
    }
    if (remove.size > 0) {
      await this.#commit(this.#state.topics.filter((t) => !remove.has(t.id)))
      this.#logger.info(`deleted ${remove.size} topic(s)`)
    }
    return results
  }

  async #createPartitions (requests: readonly CreatePartitionsRequest[], validateOnly: boolean, brokers: readonly number[]): Promise<TopicResult[]> {
    const results: TopicResult[] = []
    const grown = new Map<string, number>()
    const repeated = repeatedKeys(requests, (request) => request.name)
    let brokerPartitions = this.#brokerPartitions()
    for (const request of requests) {
      const { name, count: wanted } = request
      const topic = this.#state.topics.find((t) => t.name === name)
      const fail = (errorCode: number, errorMessage: string): void => {
        results.push({ name, topicId: topic?.id ?? zeroUuid(), errorCode, errorMessage })
      }
      if (repeated.has(name)) { fail(ErrorCode.INVALID_REQUEST, 'Duplicate topic in request.'); continue }
      if (topic === undefined) {
        fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${clipName(name)}' does not exist.`)
      } else if (isInternal(topic)) {
        count('admin-internal-topic-refused')
        this.#logger.warn(`refused: CreatePartitions on internal topic ${name}`)
        fail(ErrorCode.INVALID_REQUEST, `Cannot add partitions to internal topic ${name}: its partition count places every group's coordinator.`)
      } else if (!Number.isInteger(wanted) || wanted < 1 || wanted > kInt32Max) {
        fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0, got ${wanted}.`)
      } else if (wanted === topic.partitions) {
        fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${topic.partitions} partition(s).`)
      } else if (wanted < topic.partitions) {
        fail(ErrorCode.INVALID_PARTITIONS, `The topic ${name} currently has ${topic.partitions} partition(s); ${wanted} would not be an increase.`)
      } else {
        const added = wanted - topic.partitions
        // Kafka's createPartitions: one replica list per partition added, each valid and as long as the
        // topic's replication factor (1). An empty list is taken as none given (see create-partitions.ts).
        const assignments = request.assignments ?? []
        if (assignments.length > 0 && assignments.length !== added) {
          fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${added} additional partition(s), but only ${assignments.length} assignment(s) were specified.`)
          continue
        }
        let assignmentError: string | null = null
        for (const brokerIds of assignments) {
          assignmentError = replicaAssignmentError(brokerIds, brokers, 1)
          if (assignmentError !== null) break
        }
        if (assignmentError !== null) { fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, assignmentError); continue }
        const breach = this.#limitBreach('CreatePartitions', name, wanted, added, brokerPartitions, this.#state.topics.length, false)
        if (breach !== null) { fail(ErrorCode.POLICY_VIOLATION, breach); continue }
        brokerPartitions += added
        grown.set(name, wanted)
        results.push({ name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null })
      }
    }
    if (!validateOnly && grown.size > 0) {
      await this.#commit(this.#state.topics.map((t) => grown.has(t.name) ? { ...t, partitions: grown.get(t.name) as number } : t))
      for (const [name, partitions] of grown) this.#logger.info(`topic ${name} now has ${partitions} partitions`)
    }
    return results
  }

  async #alterTopicConfigs (name: string, set: Readonly<Record<string, string | null>>, incremental: boolean, validateOnly: boolean): Promise<TopicResult> {
    const topic = this.#state.topics.find((t) => t.name === name)
    if (topic === undefined) return { name, topicId: zeroUuid(), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${clipName(name)} does not exist.` }
    const configs: Record<string, string> = incremental ? { ...topic.configs } : {}
    for (const [key, value] of Object.entries(set)) {
      const error = validateTopicConfig(key, value)
      if (error !== null) return { name, topicId: topic.id, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: error }
      if (value === null) delete configs[key]
      else configs[key] = value
    }
    if (isInternal(topic)) {
      const breach = internalConfigBreach(name, topic.configs, configs)
      if (breach !== null) {
        count('admin-internal-topic-refused')
        this.#logger.warn(`refused: ${breach}`)
        return { name, topicId: topic.id, errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: breach }
      }
    }
    if (!validateOnly) await this.#commit(this.#state.topics.map((t) => t.id === topic.id ? { ...t, configs } : t))
    return { name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null }
  }

  /**
   * Sets (null: removes) dynamic broker configs of `broker` ("" for every broker); AlterConfigs (not
   * incremental) replaces that resource's whole set. Names and values were checked by the handler
   * (src/handlers/alter-configs.ts). Persisted and broadcast like a topic change.
   */
  async #alterBrokerConfigs (broker: string, set: Readonly<Record<string, string | null>>, incremental: boolean, validateOnly: boolean): Promise<TopicResult> {
    const current = this.#state.brokerConfigs ?? kNoDynamicBrokerConfigs
    const before = broker === '' ? current.clusterDefault : (Object.hasOwn(current.perBroker, broker) ? current.perBroker[broker] : {})
    const configs: Record<string, string> = incremental ? { ...before } : {}
    for (const [key, value] of Object.entries(set)) {
      if (value === null) delete configs[key]
      else configs[key] = value
    }
    if (validateOnly) return { name: broker, topicId: zeroUuid(), errorCode: ErrorCode.NONE, errorMessage: null }
    const perBroker = { ...current.perBroker }
    if (broker !== '') {
      if (Object.keys(configs).length === 0) delete perBroker[broker]
      else perBroker[broker] = configs
    }
    const next: DynamicBrokerConfigs = { clusterDefault: broker === '' ? configs : current.clusterDefault, perBroker }
    await this.#commit(this.#state.topics, this.#state.producerIdBlockEnd, next)
    this.#logger.info(`dynamic broker configs of ${broker === '' ? 'the cluster default' : `broker ${broker}`} now: ${JSON.stringify(configs)}`)
    return { name: broker, topicId: zeroUuid(), errorCode: ErrorCode.NONE, errorMessage: null }
  }

  /** Logger levels live only in memory (as Kafka's do), but travel with the metadata so that every thread applies them. */
  async #alterLoggers (set: Readonly<Record<string, string | null>>, validateOnly: boolean): Promise<TopicResult> {
    if (!validateOnly) {
      const loggers: Record<string, string> = { ...this.#loggers }
      for (const [key, value] of Object.entries(set)) {
        if (value === null) delete loggers[key]
        else loggers[key] = value
      }
      this.#loggers = loggers
      await this.#commit(this.#state.topics)
    }
    return { name: null, topicId: zeroUuid(), errorCode: ErrorCode.NONE, errorMessage: null }
  }

  async #createAcls (acls: readonly AclBinding[]): Promise<void> {
    const stored = this.#state.acls ?? []
    const added: AclBinding[] = []
    for (const acl of acls) {
      if (!stored.some((other) => sameBinding(other, acl)) && !added.some((other) => sameBinding(other, acl))) added.push(acl)
    }
    if (added.length === 0) return
    this.#state = { ...this.#state, acls: [...stored, ...added] }
    await this.#commit(this.#state.topics)
    this.#logger.info(`created ${added.length} ACL(s)`)
  }

  async #deleteAcls (filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    let remaining = this.#state.acls ?? []
    const results: AclBinding[][] = []
    for (const filter of filters) {
      const matched = remaining.filter((acl) => filterMatches(filter, acl))
      if (matched.length > 0) remaining = remaining.filter((acl) => !matched.includes(acl))
      results.push(matched)
    }
    const deleted = (this.#state.acls ?? []).length - remaining.length
    if (deleted > 0) {
      this.#state = { ...this.#state, acls: remaining }
      await this.#commit(this.#state.topics)
      this.#logger.info(`deleted ${deleted} ACL(s)`)
    }
    return results
  }

  /** Client quotas: persisted with the topics and broadcast like them (workers resolve from ClusterMetadata.clientQuotas). */
  async #alterClientQuotas (entries: readonly AlterEntry[], validateOnly: boolean): Promise<AlterResult[]> {
    const altered = alterClientQuotas(this.#state.clientQuotas ?? kNoClientQuotas, entries, validateOnly)
    if (altered.changed) {
      this.#state = { ...this.#state, clientQuotas: altered.configs }
      await this.#commit(this.#state.topics)
      this.#logger.info(`client quotas now: ${JSON.stringify(altered.configs)}`)
    }
    return altered.results
  }

  /** SCRAM users: persisted with the topics and broadcast like them (any worker may authenticate a connection). */
  async #alterScramCredentials (deletions: readonly ScramDeletion[], upsertions: readonly ScramUpsertion[]): Promise<ScramAlterationResult[]> {
    const altered = alterScramCredentials(this.#state.scramCredentials ?? kNoScramCredentials, deletions, upsertions)
    if (altered.changed) {
      this.#state = { ...this.#state, scramCredentials: altered.store }
      await this.#commit(this.#state.topics)
      // Names and outcomes only: no salt or key is logged.
      this.#logger.info(`SCRAM credentials altered: ${altered.results.map((result) => `${result.user} ${result.errorCode === 0 ? 'ok' : `error ${result.errorCode}`}`).join(', ')}`)
    }
    return altered.results
  }

  /**
   * The users given at start (--scram-users, --scram-users-file): each user and mechanism not stored yet is
   * added, so that a password changed later with AlterUserScramCredentials is not reset by a restart.
   */
  async addInitialScramCredentials (initial: StoredScramCredentials): Promise<string[]> {
    const stored = this.#state.scramCredentials ?? kNoScramCredentials
    const next: Record<string, Record<string, unknown>> = {}
    for (const [user, mechanisms] of Object.entries(stored)) next[user] = { ...mechanisms }
    const added: string[] = []
    for (const [user, mechanisms] of Object.entries(initial)) {
      for (const [mechanism, credential] of Object.entries(mechanisms)) {
        if (next[user]?.[mechanism] !== undefined) continue
        ;(next[user] ??= {})[mechanism] = credential
        added.push(`${user} (${mechanism})`)
      }
    }
    if (added.length > 0) {
      this.#state = { ...this.#state, scramCredentials: next as StoredScramCredentials }
      await this.#commit(this.#state.topics)
    }
    return added
  }

  /** Whether any SCRAM user is stored (a SASL listener with none would let nobody in). */
  get hasScramCredentials (): boolean {
    return hasAnyCredential(this.#state.scramCredentials ?? kNoScramCredentials)
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

function isInternal (topic: TopicMetadata): boolean {
  return topic.internal === true || kInternalTopics.has(topic.name)
}

/** Why a change of an internal topic's overrides from `before` to `after` would break it, or null. */
function internalConfigBreach (name: string, before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string | null {
  if (name === kOffsetsTopic && after['cleanup.policy'] !== 'compact') {
    return `Internal topic ${name} must keep cleanup.policy=compact (asked: ${after['cleanup.policy'] ?? 'the default, delete'}).`
  }
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!kInternalTopicAlterableConfigs.has(key) && key !== 'cleanup.policy' && before[key] !== after[key]) {
      return `Config ${key} of internal topic ${name} cannot be changed.`
    }
  }
  return null
}

/** Linux only (elsewhere silent): a warning when the open-files limit cannot hold every allowed partition. */
function warnIfFileDescriptorsShort (maxBrokerPartitions: number, logger: Logger): void {
  let limits: string
  try { limits = readFileSync('/proc/self/limits', 'utf8') } catch { return }
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (match === null || match[1] === 'unlimited') return
  const soft = Number(match[1])
  // A segment file and two indexes per partition, plus room for connections and the controller's own files.
  const needed = maxBrokerPartitions * 3 + 1024
  if (needed > soft) logger.warn(`--max-broker-partitions ${maxBrokerPartitions} needs about ${needed} open files; the limit (ulimit -n) is ${soft}`)
}
