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

const api = apiByKey(3)!

interface MetadataRequest {
  topics: Array<{ topicId: string, name: string | null }> | null
  allowAutoTopicCreation: boolean
}

/** Kafka's "operations not requested" marker for authorized-operation fields. */
const kOperationsNotRequested = -2147483648

export function brokerList (shard: Shard): Array<{ nodeId: number, host: string, port: number, rack: null }> {
  return [{ nodeId: shard.config.nodeId, host: shard.advertised.host, port: shard.advertised.port, rack: null }]
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

async function handle (context: RequestContext, request: MetadataRequest): Promise<object> {
  const { shard, apiVersion } = context
  const topics: object[] = []
  if (request.topics === null) {
    for (const topic of shard.table.topics()) topics.push(describeTopic(shard, topic))
  } else {
    const toCreate: string[] = []
    if (shard.config.autoCreateTopics && request.allowAutoTopicCreation) {
      for (const requested of request.topics) {
        if (typeof requested.name === 'string' && shard.table.topic(requested.name) === undefined && validateTopicName(requested.name) === null && !toCreate.includes(requested.name)) {
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
        topics.push(topic === undefined ? missingTopic(null, typeof requested.topicId === 'string' ? requested.topicId : zeroUuid(), ErrorCode.UNKNOWN_TOPIC_ID, apiVersion) : describeTopic(shard, topic))
        continue
      }
      const topic = shard.table.topic(requested.name)
      if (topic !== undefined) {
        topics.push(describeTopic(shard, topic))
      } else if (validateTopicName(requested.name) !== null) {
        topics.push(missingTopic(requested.name, zeroUuid(), ErrorCode.INVALID_TOPIC_EXCEPTION, apiVersion))
      } else {
        topics.push(missingTopic(requested.name, zeroUuid(), autoCreateFailure(created.get(requested.name)?.errorCode), apiVersion))
      }
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: brokerList(shard),
    clusterId: shard.table.clusterId,
    controllerId: shard.config.nodeId,
    topics,
    clusterAuthorizedOperations: kOperationsNotRequested,
    errorCode: ErrorCode.NONE
  }
}

export const metadataHandler: Handler = { api, minVersion: 4, maxVersion: 12, handle }
