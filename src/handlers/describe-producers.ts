// DescribeProducers (key 61), v0: the active producers of each partition (KIP-664), from its producer state:
// producer id and epoch, last sequence and timestamp, the coordinator epoch of its last transaction marker, and
// the first offset of its open transaction (-1 when none). Answered by each partition's owner.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { fanOutByTopic, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(61)!

interface DescribeProducersTopic { name: string, partitionIndexes: number[] }
interface DescribeProducersRequest { topics: DescribeProducersTopic[] }
interface ProducerState {
  producerId: number
  producerEpoch: number
  lastSequence: number
  lastTimestamp: number
  coordinatorEpoch: number
  currentTxnStartOffset: number
}
interface PartitionResponse { partitionIndex: number, errorCode: number, errorMessage: string | null, activeProducers: ProducerState[] }
interface TopicResponse { name: string, partitions: PartitionResponse[] }
interface DescribeProducersResponse { throttleTimeMs: number, topics: TopicResponse[] }

function errorPartition (partitionIndex: number, errorCode: number): PartitionResponse {
  return { partitionIndex, errorCode, errorMessage: null, activeProducers: [] }
}

async function serveLocal (shard: Shard, request: DescribeProducersRequest): Promise<DescribeProducersResponse> {
  const topics = request.topics.map((topic) => {
    const entry = shard.table.topic(topic.name)
    return {
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => {
        const local = entry === undefined ? undefined : shard.partition(entry, partitionIndex)
        if (local === undefined) return errorPartition(partitionIndex, entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER)
        const activeProducers: ProducerState[] = []
        for (const producer of local.log.producers.producers.values()) {
          activeProducers.push({
            producerId: producer.producerId,
            producerEpoch: producer.epoch,
            lastSequence: producer.lastSequence,
            lastTimestamp: producer.lastTimestamp,
            coordinatorEpoch: producer.coordinatorEpoch,
            currentTxnStartOffset: producer.currentTxnFirstOffset
          })
        }
        return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers }
      })
    }
  })
  return { throttleTimeMs: 0, topics }
}

async function handle (context: RequestContext, request: DescribeProducersRequest): Promise<DescribeProducersResponse> {
  // Kafka's authorization: READ per topic.
  const authorized = splitByTopic(context, request.topics, AclOperation.READ, (t) => t.name)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  const topics = await fanOutByTopic(context, api, request, serveLocal, {
    partitionsOf: (t: DescribeProducersTopic) => t.partitionIndexes,
    indexOf: (p: number) => p,
    withPartitions: (t: DescribeProducersTopic, partitionIndexes: number[]) => ({ ...t, partitionIndexes }),
    unknownPartition: errorPartition
  })
  if (authorized !== null) {
    for (const t of authorized.denied) topics.push({ name: t.name, partitions: t.partitionIndexes.map((p) => errorPartition(p, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) })
  }
  return { throttleTimeMs: 0, topics }
}

export const describeProducersHandler: Handler = { api, minVersion: 0, maxVersion: 0, handle }
export const describeProducersServer = remoteServer(api, serveLocal)
