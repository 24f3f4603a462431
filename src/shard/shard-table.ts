// The versioned partition -> worker table and the topic metadata it is built from. The controller (main
// thread) owns `ClusterMetadata` and sends every change to every worker, which rebuilds its ShardTable from it;
// a table is never mutated in place, so a handler holding one sees a consistent version.
//
// Ownership rule: partition p of a topic is owned by worker (seed(topicId) + p) % workers. It is derived, not
// stored, so a restart with another --workers count just re-spreads the partitions; the seed spreads topics so
// that single-partition topics do not all land on worker 0.

import { kNoDynamicBrokerConfigs, type DynamicBrokerConfigs } from '../config/broker-configs.ts'

export interface TopicMetadata {
  readonly name: string
  /** 32 lowercase hex characters. */
  readonly id: string
  readonly partitions: number
  /** Topic-level config overrides (Kafka names, string values). */
  readonly configs: Readonly<Record<string, string>>
  /** Broker-internal (`__consumer_offsets`): listed with isInternal, not writable by clients. */
  readonly internal?: boolean
}

export interface ClusterMetadata {
  /** Bumped on every change; workers acknowledge the version they applied. */
  readonly version: number
  readonly clusterId: string
  readonly topics: readonly TopicMetadata[]
  /** Dynamic broker configs (AlterConfigs on BROKER; src/config/broker-configs.ts), persisted with the topics. */
  readonly brokerConfigs?: DynamicBrokerConfigs
  /** Log levels set at run time (BROKER_LOGGER), by logger name; not persisted, as in Kafka. */
  readonly loggers?: Readonly<Record<string, string>>
}

export class TopicEntry {
  readonly name: string
  readonly id: string
  readonly partitions: number
  readonly configs: Readonly<Record<string, string>>
  readonly internal: boolean
  /** owners[p] = worker index owning partition p. */
  readonly owners: Int32Array

  constructor (topic: TopicMetadata, workers: number) {
    this.name = topic.name
    this.id = topic.id
    this.partitions = topic.partitions
    this.configs = topic.configs
    this.internal = topic.internal === true
    this.owners = new Int32Array(topic.partitions)
    const seed = parseInt(topic.id.slice(0, 8), 16)
    for (let p = 0; p < topic.partitions; p++) this.owners[p] = (seed + p) % workers
  }
}

export class ShardTable {
  readonly version: number
  readonly clusterId: string
  readonly workers: number
  /** The metadata's dynamic broker configs and logger levels (DescribeConfigs reads them here). */
  readonly brokerConfigs: DynamicBrokerConfigs
  readonly loggers: Readonly<Record<string, string>> | undefined
  readonly #byName: Map<string, TopicEntry>
  readonly #byId: Map<string, TopicEntry>

  constructor (metadata: ClusterMetadata, workers: number) {
    this.version = metadata.version
    this.clusterId = metadata.clusterId
    this.workers = workers
    this.brokerConfigs = metadata.brokerConfigs ?? kNoDynamicBrokerConfigs
    this.loggers = metadata.loggers
    this.#byName = new Map()
    this.#byId = new Map()
    for (const topic of metadata.topics) {
      const entry = new TopicEntry(topic, workers)
      this.#byName.set(entry.name, entry)
      this.#byId.set(entry.id, entry)
    }
  }

  topic (name: string): TopicEntry | undefined {
    return this.#byName.get(name)
  }

  topicById (id: string): TopicEntry | undefined {
    return this.#byId.get(id)
  }

  topics (): IterableIterator<TopicEntry> {
    return this.#byName.values()
  }

  /** Owner worker of a partition, or -1 when the topic or partition does not exist. */
  ownerOf (topic: TopicEntry | undefined, partition: number): number {
    if (topic === undefined || partition < 0 || partition >= topic.partitions) return -1
    return topic.owners[partition]
  }
}
