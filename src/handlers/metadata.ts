// Metadata (key 3), v4-12. Answered from this worker's copy of the shard table: one broker (this one) leads
// every partition. Unknown topics are created on the controller first when auto-creation is on and the
// client allows it (v4+ `allowAutoTopicCreation`).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { validateTopicName } from '../config/topic-config.ts'
import { zeroUuid, type CreateTopicResult } from '../admin/controller.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import type { TopicEntry } from '../shard/shard-table.ts'
import type { Shard } from '../shard/shard.ts'
import { kPartitionLeaderEpoch } from '../log/leader-epochs.ts'
import { allows, authorizedOperations } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'

const api = apiByKey(3)!

interface MetadataRequest {
  topics: Array<{ topicId: string, name: string | null }> | null
  allowAutoTopicCreation: boolean
  includeClusterAuthorizedOperations?: boolean
  includeTopicAuthorizedOperations?: boolean
}

/** Kafka's "operations not requested" marker for authorized-operation fields. */
const kOperationsNotRequested = -2147483648

/**
 * The address this broker gives a client: that of the listener its connection came in on (Kafka answers
 * Metadata, DescribeCluster and FindCoordinator with the request's listener), else the first listener's.
 */
export function advertisedAddress (shard: Shard, connection?: RequestContext['connection']): { host: string, port: number } {
  return (connection === undefined ? undefined : shard.advertisedListeners[connection.listenerName]) ?? shard.advertised
}

export function brokerList (shard: Shard, connection?: RequestContext['connection']): Array<{ nodeId: number, host: string, port: number, rack: null }> {
  const { host, port } = advertisedAddress(shard, connection)
  return [{ nodeId: shard.config.nodeId, host, port, rack: null }]
}

function describeTopic (shard: Shard, topic: TopicEntry): object {
  const nodeId = shard.config.nodeId
  const partitions = []
  for (let p = 0; p < topic.partitions; p++) {
    partitions.push({ errorCode: ErrorCode.NONE, partitionIndex: p, leaderId: nodeId, leaderEpoch: kPartitionLeaderEpoch, replicaNodes: [nodeId], isrNodes: [nodeId], offlineReplicas: [] })
  }
  return { errorCode: ErrorCode.NONE, name: topic.name, topicId: topic.id, isInternal: topic.internal, partitions, topicAuthorizedOperations: kOperationsNotRequested }
}

/** `name` is nullable in the response only from v12; below it a topic asked for by id alone answers ''. */
function missingTopic (name: string | null, topicId: string, errorCode: number, apiVersion: number): object {
  return { errorCode, name: name ?? (apiVersion >= 12 ? null : ''), topicId, isInternal: false, partitions: [], topicAuthorizedOperations: kOperationsNotRequested }
}

/**
 * What a topic whose auto-creation was refused answers: a race with another creation (TOPIC_ALREADY_EXISTS) or
 * success means the topic is there but this worker's table may predate it by a message (retry:
 * LEADER_NOT_AVAILABLE); a refused name is INVALID_TOPIC_EXCEPTION; a limit or a reserved name leaves it unknown.
 */
function autoCreateFailure (errorCode: number | undefined): number {
  if (errorCode === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  if (errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return ErrorCode.LEADER_NOT_AVAILABLE
  if (errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION) return ErrorCode.INVALID_TOPIC_EXCEPTION
  return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
}

/**
 * Kafka's authorization of Metadata: a topic the connection may not DESCRIBE is left out of an all-topics answer
 * and answers TOPIC_AUTHORIZATION_FAILED when named (with the zero id); auto-creation needs CREATE on the cluster
 * or on the topic, else the unknown topic answers TOPIC_AUTHORIZATION_FAILED. Authorized operations are filled
 * when asked (topics: for those described; cluster: 0 without DESCRIBE on the cluster).
 */
async function handle (context: RequestContext, request: MetadataRequest): Promise<object> {
  const { shard, apiVersion } = context
  const topics: object[] = []
  const authorizing = shard.config.authorizer
  const describable = (name: string): boolean => !authorizing || allows(context, AclOperation.DESCRIBE, ResourceType.TOPIC, name)
  const denied = (name: string | null): object => missingTopic(name, zeroUuid(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, apiVersion)
  if (request.topics === null) {
    for (const topic of shard.table.topics()) if (describable(topic.name)) topics.push(describeTopic(shard, topic))
  } else {
    const toCreate: string[] = []
    const mayCreate = (name: string): boolean => !authorizing || allows(context, AclOperation.CREATE, ResourceType.CLUSTER, kClusterName) || allows(context, AclOperation.CREATE, ResourceType.TOPIC, name)
    if (shard.config.autoCreateTopics && request.allowAutoTopicCreation) {
      for (const requested of request.topics) {
        if (typeof requested.name === 'string' && shard.table.topic(requested.name) === undefined && validateTopicName(requested.name) === null && !toCreate.includes(requested.name) &&
          describable(requested.name) && mayCreate(requested.name)) {
          toCreate.push(requested.name)
        }
      }
    }
    const created = new Map<string, CreateTopicResult>()
    if (toCreate.length > 0) {
      const results = await shard.admin<CreateTopicResult[]>({
        op: 'createTopics',
        topics: toCreate.map((name) => ({ name, numPartitions: -1, replicationFactor: -1, configs: [], hasAssignments: false })),
        validateOnly: false
      })
      for (const result of results) created.set(result.name, result)
    }
    for (const requested of request.topics) {
      if (typeof requested.name !== 'string') {
        // By id (v10+ may leave the name null; Kafka only serves ids from v12, Shoal serves them from v10).
        const topic = typeof requested.topicId === 'string' ? shard.table.topicById(requested.topicId) : undefined
        if (topic !== undefined && !describable(topic.name)) { topics.push(denied(null)); continue }
        topics.push(topic === undefined ? missingTopic(null, typeof requested.topicId === 'string' ? requested.topicId : zeroUuid(), ErrorCode.UNKNOWN_TOPIC_ID, apiVersion) : describeTopic(shard, topic))
        continue
      }
      const topic = shard.table.topic(requested.name)
      if (!describable(requested.name)) {
        topics.push(denied(requested.name))
      } else if (topic === undefined && authorizing && shard.config.autoCreateTopics && request.allowAutoTopicCreation && validateTopicName(requested.name) === null && !mayCreate(requested.name)) {
        topics.push(denied(requested.name))
      } else if (topic !== undefined) {
        topics.push(describeTopic(shard, topic))
      } else if (validateTopicName(requested.name) !== null) {
        topics.push(missingTopic(requested.name, zeroUuid(), ErrorCode.INVALID_TOPIC_EXCEPTION, apiVersion))
      } else {
        topics.push(missingTopic(requested.name, zeroUuid(), autoCreateFailure(created.get(requested.name)?.errorCode), apiVersion))
      }
    }
  }
  if (request.includeTopicAuthorizedOperations === true) {
    for (const topic of topics as Array<{ errorCode: number, name: string | null, topicAuthorizedOperations: number }>) {
      if (topic.errorCode === ErrorCode.NONE && topic.name !== null) topic.topicAuthorizedOperations = authorizedOperations(context, ResourceType.TOPIC, topic.name)
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: brokerList(shard, context.connection),
    clusterId: shard.table.clusterId,
    controllerId: shard.config.nodeId,
    topics,
    clusterAuthorizedOperations: request.includeClusterAuthorizedOperations === true
      ? (allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName) ? authorizedOperations(context, ResourceType.CLUSTER, kClusterName) : 0)
      : kOperationsNotRequested,
    errorCode: ErrorCode.NONE
  }
}

export const metadataHandler: Handler = { api, minVersion: 4, maxVersion: 12, handle }
