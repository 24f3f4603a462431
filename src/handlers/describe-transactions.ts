// DescribeTransactions (key 65), v0: each transactional id described by its coordinator (txn/coordinator.ts
// describeTransactions): state, timeout, start time, producer id and epoch, and the partitions in the transaction.
// The ids are split by coordinator worker and the answers put back in request order (an id named twice is
// answered twice). An unknown id answers TRANSACTIONAL_ID_NOT_FOUND, an empty one INVALID_REQUEST, one whose
// partition is still loading COORDINATOR_LOAD_IN_PROGRESS; the ids of a worker that cannot answer (it is
// restarting) answer NOT_COORDINATOR, the others are unaffected.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { DescribedTransaction } from '../txn/transaction-metadata.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, transactionalIdsByCoordinator } from './coordinated.ts'

const api = apiByKey(65)!

interface DescribeTransactionsRequest { transactionalIds: string[] }
interface DescribeTransactionsResponse { throttleTimeMs: number, transactionStates: DescribedTransaction[] }

function serve (shard: Shard, request: DescribeTransactionsRequest): DescribeTransactionsResponse {
  return { throttleTimeMs: 0, transactionStates: shard.transactions.describeTransactions(request.transactionalIds) }
}

function failed (transactionalId: string, errorCode: number): DescribedTransaction {
  return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: 0, producerId: 0, producerEpoch: 0, topics: [] }
}

async function handle (context: RequestContext, request: DescribeTransactionsRequest): Promise<DescribeTransactionsResponse> {
  const { shard, apiVersion } = context
  // Kafka's authorization: DESCRIBE per transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED without).
  if (shard.config.authorizer) {
    const denied = request.transactionalIds.filter((id) => !allows(context, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, id))
    if (denied.length > 0) {
      const allowed = request.transactionalIds.filter((id) => !denied.includes(id))
      const answered = allowed.length === 0 ? [] : (await handle(context, { transactionalIds: allowed })).transactionStates
      return { throttleTimeMs: 0, transactionStates: [...answered, ...denied.map((id) => failed(id, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED))] }
    }
  }
  const byOwner = await transactionalIdsByCoordinator(shard, request.transactionalIds)
  const client = clientInfo(context)
  const answered = new Map<number, DescribedTransaction[]>()
  await Promise.all([...byOwner].map(async ([owner, ids]) => {
    let states: DescribedTransaction[]
    try {
      states = (await callWorker(shard, api, apiVersion, owner, { transactionalIds: ids }, client, serve)).transactionStates
    } catch (error) {
      if (!(error instanceof KafkaError)) throw error
      states = ids.map((id) => failed(id, error.code))
    }
    answered.set(owner, states)
  }))
  // Each owner's answers are in the order its ids were listed, which is request order.
  const ownerOf = new Map<string, number>()
  for (const [owner, ids] of byOwner) for (const id of ids) ownerOf.set(id, owner)
  const next = new Map<number, number>()
  const transactionStates = request.transactionalIds.map((id) => {
    const owner = ownerOf.get(id)!
    const at = next.get(owner) ?? 0
    next.set(owner, at + 1)
    return answered.get(owner)?.[at] ?? failed(id, ErrorCode.UNKNOWN_SERVER_ERROR)
  })
  return { throttleTimeMs: 0, transactionStates }
}

export const describeTransactionsHandler: Handler = { api, minVersion: 0, maxVersion: 0, handle }
export const describeTransactionsServer = coordinatorServer(api, serve)
