// OffsetForLeaderEpoch (key 23), v2-4 (KIP-101, KIP-320): for each partition, the end offset of the leader epoch
// asked, from the partition's leader-epoch checkpoint (src/log/leader-epochs.ts), answered by its owner. Consumers
// (librdkafka, Java) send it after a leader epoch change to detect log truncation below their position.
// v2 is served beyond the project's target range (3-4, src/protocol/apis.ts) because librdkafka (2.1+) sends
// only v2, and sends it even to a broker that does not list it, for every committed offset that carries a
// leader epoch (all of them, now that batches carry epoch 0); Kafka 4 serves v2-4. v2 lacks replicaId (-2).
//
// As Kafka answers a leader: a currentLeaderEpoch other than -1 is checked first (older: FENCED_LEADER_EPOCH,
// newer: UNKNOWN_LEADER_EPOCH); then the current epoch ends at the log end offset, an older one where the next
// higher epoch starts, an undefined or unknown newer epoch answers leaderEpoch -1, endOffset -1 with no error.
// replicaId -1 (a consumer) and -2 (a debug client) are answered alike: this broker leads every partition, so a
// request that must be served by the leader and one that may be served by a follower read the same log; the end
// offset of the current epoch is the log end, which is the high watermark on a single node.

import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { splitByTopic } from './authorize.ts'
import { AclOperation } from '../auth/acl.ts'
import type { Shard } from '../shard/shard.ts'
import { currentLeaderEpochError, kUndefinedEpoch, kUndefinedEpochOffset, type EpochEndOffset } from '../log/leader-epochs.ts'

const api = apiByKey(23)!

interface OffsetForLeaderPartition { partition: number, currentLeaderEpoch: number, leaderEpoch: number }
interface OffsetForLeaderTopic { topic: string, partitions: OffsetForLeaderPartition[] }
interface OffsetForLeaderEpochRequest { replicaId: number, topics: OffsetForLeaderTopic[] }
interface PartitionResult { errorCode: number, partition: number, leaderEpoch: number, endOffset: number }
interface TopicResult { topic: string, partitions: PartitionResult[] }
interface OffsetForLeaderEpochResponse { throttleTimeMs: number, topics: TopicResult[] }

function errorPartition (partition: number, errorCode: number): PartitionResult {
  return { errorCode, partition, leaderEpoch: kUndefinedEpoch, endOffset: kUndefinedEpochOffset }
}

function errorTopic (topic: OffsetForLeaderTopic, errorCode: number): TopicResult {
  return { topic: topic.topic, partitions: topic.partitions.map((p) => errorPartition(p.partition, errorCode)) }
}

async function serveLocal (shard: Shard, request: OffsetForLeaderEpochRequest): Promise<OffsetForLeaderEpochResponse> {
  const found: EpochEndOffset = { epoch: kUndefinedEpoch, endOffset: kUndefinedEpochOffset }
  const topics: TopicResult[] = []
  for (const topic of request.topics) {
    const entry = shard.table.topic(topic.topic)
    const partitions: PartitionResult[] = []
    for (const p of topic.partitions) {
      const local = entry === undefined ? undefined : shard.partition(entry, p.partition)
      if (local === undefined) {
        partitions.push(errorPartition(p.partition, entry === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER))
        continue
      }
      const epochs = local.log.leaderEpochs
      const fenced = currentLeaderEpochError(p.currentLeaderEpoch, epochs.currentEpoch)
      if (fenced !== ErrorCode.NONE) {
        partitions.push(errorPartition(p.partition, fenced))
        continue
      }
      epochs.endOffsetFor(p.leaderEpoch, local.log.nextOffset, found)
      partitions.push({ errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: found.epoch, endOffset: found.endOffset })
    }
    topics.push({ topic: topic.topic, partitions })
  }
  return { throttleTimeMs: 0, topics }
}

async function handle (context: RequestContext, request: OffsetForLeaderEpochRequest): Promise<OffsetForLeaderEpochResponse> {
  const { shard, apiVersion } = context
  // Kafka's authorization (a client's request): DESCRIBE per topic.
  const authorized = splitByTopic(context, request.topics, AclOperation.DESCRIBE, (t) => t.topic)
  if (authorized !== null) request = { ...request, topics: authorized.allowed }
  const grouping = groupByOwner(shard, request.topics, (t) => shard.table.topic(t.topic), (t) => t.partitions, (p) => p.partition,
    (t, partitions) => ({ topic: t.topic, partitions }))
  const parts = new Map<number, OffsetForLeaderEpochRequest>()
  for (const [owner, topics] of grouping.owners) parts.set(owner, { replicaId: request.replicaId, topics })
  const errorPart = (part: OffsetForLeaderEpochRequest, errorCode: number): OffsetForLeaderEpochResponse =>
    ({ throttleTimeMs: 0, topics: part.topics.map((t) => errorTopic(t, errorCode)) })
  const results: TopicResult[][] = []
  for (const call of dispatchParts(shard, api, apiVersion, parts, serveLocal, null, errorPart)) results.push((await call.response).topics)
  if (grouping.unknown.length > 0) results.push(grouping.unknown.map((t) => errorTopic(t, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)))
  if (authorized !== null) results.push(authorized.denied.map((t) => errorTopic(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED)))
  return { throttleTimeMs: 0, topics: results.length === 0 ? [] : mergeTopics(results, (t) => t.topic, 'partitions') }
}

export const offsetForLeaderEpochHandler: Handler = { api, minVersion: 2, maxVersion: 4, handle }
export const offsetForLeaderEpochServer = remoteServer(api, serveLocal)
