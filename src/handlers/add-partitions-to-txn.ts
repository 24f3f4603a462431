// AddPartitionsToTxn (key 24), v0-4, on the transaction coordinator of each transactional id (coordinated.ts).
//   - v0-3 (a producer's request, one transaction): txn/coordinator.ts addPartitionsToTxn, one code for every
//     partition named.
//   - v4 (KIP-890 part 1, the batch a partition leader sends; here the Produce path's verification, see below):
//     `transactions[]`, each decided on its own by addPartitionsToTxnBatch; a `verifyOnly` one only checks that
//     its partitions are already in the transaction (INVALID_TXN_STATE when not) and writes nothing. A batch
//     whose ids are coordinated by several workers is split by coordinator and the answers are put back in
//     request order. A part whose coordinator cannot answer (its worker restarting: NOT_COORDINATOR) answers that
//     code in every partition of its transactions; the others are unaffected.
// Before the coordinator is asked, as Kafka's KafkaApis does: when any partition of a transaction is of a topic
// that does not exist, or past its partition count, those answer UNKNOWN_TOPIC_OR_PARTITION and every other
// partition of the transaction OPERATION_NOT_ATTEMPTED, and nothing is added. Internal topics are not refused
// (Kafka does not either; its authoriser usually does, and Shoal has none). A transaction that names no
// partition at all has nothing to answer (the response holds codes per partition only) and is not sent to the
// coordinator.
//
// `serveAddPartitionsToTxn` is the coordinator side for both forms and is exported for the Produce path, which
// verifies a transactional batch with a v4 verify-only request through callWorker (coordinated.ts).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { BatchedTransaction } from '../txn/coordinator.ts'
import type { TopicPartitions } from '../txn/transaction-metadata.ts'
import type { Handler } from './handler.ts'
import { allows, splitByTopic } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, routeToTransactionCoordinator, transactionCoordinatorOf, transactionStateTopic, type ClientInfo } from './coordinated.ts'

const api = apiByKey(24)!
/** The first version of the batched form. */
const kBatchVersion = 4

export interface AddPartitionsTopic { name: string, partitions: number[] }
export interface AddPartitionsTransaction {
  transactionalId: string
  producerId: number
  producerEpoch: number
  verifyOnly: boolean
  topics: AddPartitionsTopic[]
}
/** The decoded request: `transactions` from v4, the v3AndBelow* fields before. */
export interface AddPartitionsToTxnRequest {
  transactions?: AddPartitionsTransaction[]
  v3AndBelowTransactionalId?: string
  v3AndBelowProducerId?: number
  v3AndBelowProducerEpoch?: number
  v3AndBelowTopics?: AddPartitionsTopic[]
}
export interface AddPartitionsTopicResult {
  name: string
  resultsByPartition: Array<{ partitionIndex: number, partitionErrorCode: number }>
}
export interface AddPartitionsTransactionResult { transactionalId: string, topicResults: AddPartitionsTopicResult[] }
export interface AddPartitionsToTxnResponse {
  throttleTimeMs: number
  /** v4+: an error of the whole request (none here). */
  errorCode: number
  /** v4+ */
  resultsByTransaction: AddPartitionsTransactionResult[]
  /** v0-3 */
  resultsByTopicV3AndBelow: AddPartitionsTopicResult[]
}

function response (parts: Partial<AddPartitionsToTxnResponse>): AddPartitionsToTxnResponse {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: [], ...parts }
}

function everyPartition (topics: readonly AddPartitionsTopic[], codeOf: (topic: string, partition: number) => number): AddPartitionsTopicResult[] {
  return topics.map(({ name, partitions }) => ({
    name,
    resultsByPartition: partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: codeOf(name, partitionIndex) }))
  }))
}

/**
 * Kafka's check before the coordinator: null when every partition exists, else the answer (missing ones
 * UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED).
 */
function missingPartitions (shard: Shard, topics: readonly AddPartitionsTopic[]): AddPartitionsTopicResult[] | null {
  const exists = (name: string, partition: number): boolean => {
    const entry = shard.table.topic(name)
    return entry !== undefined && Number.isInteger(partition) && partition >= 0 && partition < entry.partitions
  }
  let missing = false
  for (const { name, partitions } of topics) {
    for (const partition of partitions) if (!exists(name, partition)) { missing = true; break }
    if (missing) break
  }
  if (!missing) return null
  return everyPartition(topics, (name, partition) => exists(name, partition) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
}

function namesNoPartition (topics: readonly AddPartitionsTopic[]): boolean {
  for (const topic of topics) if (topic.partitions.length > 0) return false
  return true
}

function coordinatorTopics (topics: readonly AddPartitionsTopic[]): TopicPartitions[] {
  return topics.map(({ name, partitions }) => ({ topic: name, partitions }))
}

/** The coordinator side of AddPartitionsToTxn, both forms (see the header). */
export async function serveAddPartitionsToTxn (shard: Shard, request: AddPartitionsToTxnRequest, apiVersion: number, _client?: ClientInfo): Promise<AddPartitionsToTxnResponse> {
  if (apiVersion < kBatchVersion) {
    const topics = request.v3AndBelowTopics ?? []
    const refused = missingPartitions(shard, topics)
    if (refused !== null) return response({ resultsByTopicV3AndBelow: refused })
    if (namesNoPartition(topics)) return response({ resultsByTopicV3AndBelow: everyPartition(topics, () => ErrorCode.NONE) })
    const results = await shard.transactions.addPartitionsToTxn({
      transactionalId: request.v3AndBelowTransactionalId ?? '',
      producerId: request.v3AndBelowProducerId ?? -1,
      producerEpoch: request.v3AndBelowProducerEpoch ?? -1,
      topics: coordinatorTopics(topics),
      version: apiVersion
    })
    return response({ resultsByTopicV3AndBelow: results as AddPartitionsTopicResult[] })
  }
  const transactions = request.transactions ?? []
  const answers: Array<AddPartitionsTransactionResult | undefined> = new Array(transactions.length)
  const asked: BatchedTransaction[] = []
  const askedAt: number[] = []
  for (let i = 0; i < transactions.length; i++) {
    const { transactionalId, producerId, producerEpoch, verifyOnly, topics } = transactions[i]
    const refused = missingPartitions(shard, topics)
    if (refused !== null) {
      answers[i] = { transactionalId, topicResults: refused }
    } else if (namesNoPartition(topics)) {
      answers[i] = { transactionalId, topicResults: everyPartition(topics, () => ErrorCode.NONE) }
    } else {
      asked.push({ transactionalId, producerId, producerEpoch, verifyOnly, topics: coordinatorTopics(topics) })
      askedAt.push(i)
    }
  }
  if (asked.length > 0) {
    const results = await shard.transactions.addPartitionsToTxnBatch(asked, apiVersion)
    for (let j = 0; j < askedAt.length; j++) {
      answers[askedAt[j]] = { transactionalId: asked[j].transactionalId, topicResults: results[j].topicResults as AddPartitionsTopicResult[] }
    }
  }
  return response({ resultsByTransaction: answers as AddPartitionsTransactionResult[] })
}

function failedTransaction (transaction: AddPartitionsTransaction, errorCode: number): AddPartitionsTransactionResult {
  return { transactionalId: transaction.transactionalId, topicResults: everyPartition(transaction.topics, () => errorCode) }
}

/** v4: the batch split by coordinator, the answers back in request order. */
async function handleBatch (context: RequestContext, request: AddPartitionsToTxnRequest): Promise<AddPartitionsToTxnResponse> {
  const { shard, apiVersion } = context
  const transactions = request.transactions ?? []
  const topic = await transactionStateTopic(shard)
  const byOwner = new Map<number, number[]>()
  for (let i = 0; i < transactions.length; i++) {
    const owner = topic === undefined ? shard.index : transactionCoordinatorOf(shard, topic, transactions[i].transactionalId)
    let list = byOwner.get(owner)
    if (list === undefined) { list = []; byOwner.set(owner, list) }
    list.push(i)
  }
  const answers: AddPartitionsTransactionResult[] = new Array(transactions.length)
  const client = clientInfo(context)
  await Promise.all([...byOwner].map(async ([owner, indexes]) => {
    const part = indexes.map((i) => transactions[i])
    let results: AddPartitionsTransactionResult[]
    try {
      const answered = await callWorker(shard, api, apiVersion, owner, { transactions: part }, client, serveAddPartitionsToTxn)
      results = answered.resultsByTransaction
    } catch (error) {
      const code = error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR
      if (!(error instanceof KafkaError)) shard.logger.limited('add-partitions-to-txn', 'error', `AddPartitionsToTxn v${apiVersion} on worker ${owner}: ${(error as Error).stack ?? String(error)}`)
      results = part.map((transaction) => failedTransaction(transaction, code))
    }
    for (let j = 0; j < indexes.length; j++) {
      answers[indexes[j]] = results[j] ?? failedTransaction(part[j], ErrorCode.UNKNOWN_SERVER_ERROR)
    }
  }))
  return response({ resultsByTransaction: answers })
}

async function handle (context: RequestContext, request: AddPartitionsToTxnRequest): Promise<AddPartitionsToTxnResponse> {
  // Kafka's authorization: the batched form (v4+) is broker-to-broker, CLUSTER_ACTION on the cluster; a client's
  // needs WRITE on the transactional id (every partition refused without), then WRITE per topic (those without
  // answer TOPIC_AUTHORIZATION_FAILED, the rest OPERATION_NOT_ATTEMPTED).
  if (context.shard.config.authorizer) {
    if (context.apiVersion >= kBatchVersion) {
      if (!allows(context, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, kClusterName)) return errorResponse(request, context.apiVersion, ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    } else {
      if (!allows(context, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.v3AndBelowTransactionalId ?? '')) return errorResponse(request, context.apiVersion, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
      const topics = request.v3AndBelowTopics ?? []
      const authorized = splitByTopic(context, topics, AclOperation.WRITE, (t) => t.name)
      if (authorized !== null) {
        return response({ resultsByTopicV3AndBelow: everyPartition(topics, (name) => authorized.denied.some((t) => t.name === name) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED) })
      }
    }
  }
  if (context.apiVersion >= kBatchVersion) return handleBatch(context, request)
  // Answered here when a partition is missing: no need to reach the coordinator (it would check the same).
  const refused = missingPartitions(context.shard, request.v3AndBelowTopics ?? [])
  if (refused !== null) return response({ resultsByTopicV3AndBelow: refused })
  try {
    return await routeToTransactionCoordinator(context, api, request.v3AndBelowTransactionalId ?? '', request, serveAddPartitionsToTxn)
  } catch (error) {
    // Answered here: the connection's error path recognises only fields named `errorCode`, which v0-3 lacks.
    if (error instanceof KafkaError) return errorResponse(request, context.apiVersion, error.code)
    throw error
  }
}

/**
 * The answer when the request fails as a whole (its coordinator cannot be reached, a bug): the code in every
 * partition. Given here because the derived error response (protocol/error-response.ts) fills fields named
 * `errorCode` only, and would leave these partitions' `partitionErrorCode` at NONE.
 */
function errorResponse (request: unknown, version: number, errorCode: number): AddPartitionsToTxnResponse {
  const decoded = (request ?? {}) as AddPartitionsToTxnRequest
  const topicsOf = (topics: unknown): AddPartitionsTopic[] => Array.isArray(topics) ? topics as AddPartitionsTopic[] : []
  if (version < kBatchVersion) return response({ resultsByTopicV3AndBelow: everyPartition(topicsOf(decoded.v3AndBelowTopics), () => errorCode) })
  const transactions = Array.isArray(decoded.transactions) ? decoded.transactions : []
  return response({
    errorCode,
    resultsByTransaction: transactions.map((transaction) => ({ transactionalId: transaction.transactionalId, topicResults: everyPartition(topicsOf(transaction.topics), () => errorCode) }))
  })
}

export const addPartitionsToTxnHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle, errorResponse }
export const addPartitionsToTxnServer = coordinatorServer(api, serveAddPartitionsToTxn)
