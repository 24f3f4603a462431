// The versioned partition -> worker table and the topic metadata it is built from. The controller (main
// thread) owns `ClusterMetadata` and sends every change to every worker, which rebuilds its ShardTable from it;
// a table is never mutated in place, so a handler holding one sees a consistent version.
//
// Ownership rule: partition p of a topic is owned by worker (seed(topicId) + p) % workers. It is derived, not
// stored, so a restart with another --workers count just re-spreads the partitions; the seed spreads topics so
// that single-partition topics do not all land on worker 0.

import { kNoDynamicBrokerConfigs, type DynamicBrokerConfigs } from '../config/broker-configs.ts'
import { kNoScramCredentials, type StoredScramCredentials } from '../auth/credentials.ts'
import { QuotaResolver, kNoClientQuotas, kNoQuotaResolver, type ClientQuotaConfigs } from '../quota/client-quotas.ts'
import type { AclBinding } from '../auth/acl.ts'
import { Authorizer, type AuthorizerSettings } from '../auth/authorizer.ts'

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
  /**
   * SCRAM users (src/auth/credentials.ts): salts and derived keys only, persisted with the topics. Every worker
   * gets them, since any worker may authenticate a connection.
   */
  readonly scramCredentials?: StoredScramCredentials
  /** ACLs (CreateAcls; src/auth/acl.ts), persisted with the topics; every worker authorizes from them. */
  readonly acls?: readonly AclBinding[]
  /** Client quotas (AlterClientQuotas; src/quota/client-quotas.ts), persisted with the topics; absent: none. */
  readonly clientQuotas?: ClientQuotaConfigs
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
  /** The metadata's SCRAM users (SASL authentication and DescribeUserScramCredentials read them here). */
  readonly scramCredentials: StoredScramCredentials
  readonly acls: readonly AclBinding[]
  /** The metadata's client quotas, and their resolver (built once per version; `quotas.enabled[kind]` is the hot-path check). */
  readonly clientQuotas: ClientQuotaConfigs
  readonly quotas: QuotaResolver
  /** Built on first use from `acls` (src/auth/authorizer.ts), so a table of a new version starts with fresh caches. */
  #authorizer: Authorizer | null
  readonly #byName: Map<string, TopicEntry>
  readonly #byId: Map<string, TopicEntry>

  constructor (metadata: ClusterMetadata, workers: number) {
    this.version = metadata.version
    this.clusterId = metadata.clusterId
    this.workers = workers
    this.brokerConfigs = metadata.brokerConfigs ?? kNoDynamicBrokerConfigs
    this.loggers = metadata.loggers
    this.scramCredentials = metadata.scramCredentials ?? kNoScramCredentials
    this.acls = metadata.acls ?? []
    this.clientQuotas = metadata.clientQuotas ?? kNoClientQuotas
    this.quotas = this.clientQuotas.length === 0 ? kNoQuotaResolver : new QuotaResolver(this.clientQuotas)
    this.#authorizer = null
    this.#byName = new Map()
    this.#byId = new Map()
    for (const topic of metadata.topics) {
      const entry = new TopicEntry(topic, workers)
      this.#byName.set(entry.name, entry)
      this.#byId.set(entry.id, entry)
    }
  }

  /** The authorizer of this version's ACLs with `settings` (the broker's, the same on every call). */
  authorizer (settings: AuthorizerSettings): Authorizer {
    if (this.#authorizer === null) this.#authorizer = new Authorizer(settings, this.acls)
    return this.#authorizer
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
