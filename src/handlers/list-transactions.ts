// ListTransactions (key 66), v0-1: every worker lists the transactional ids it coordinates (txn/coordinator.ts
// listTransactions, filtered by state, producer id and, from v1, by how long the transaction has been open), and
// the answers are merged, sorted by id. A state filter Kafka does not know is reported once in
// unknownStateFilters (every worker reports the same ones). While any worker is still loading a
// `__transaction_state` partition (or is restarting, so that it will load them again) the answer is
// COORDINATOR_LOAD_IN_PROGRESS with nothing listed, as Kafka's TransactionStateManager answers while it loads.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { ListedTransactions } from '../txn/transaction-metadata.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { callWorker, clientInfo, coordinatorServer, transactionStateTopic } from './coordinated.ts'

const api = apiByKey(66)!

interface ListTransactionsRequest { stateFilters: string[], producerIdFilters: number[], durationFilter: number }
interface ListTransactionsResponse extends ListedTransactions { throttleTimeMs: number }

function serve (shard: Shard, request: ListTransactionsRequest): ListTransactionsResponse {
  const listed = shard.transactions.listTransactions({
    stateFilters: request.stateFilters,
    producerIdFilters: request.producerIdFilters,
    durationFilterMs: request.durationFilter ?? -1
  })
  return { throttleTimeMs: 0, ...listed }
}

async function handle (context: RequestContext, request: ListTransactionsRequest): Promise<ListTransactionsResponse> {
  const { shard, apiVersion } = context
  await transactionStateTopic(shard)
  const client = clientInfo(context)
  const parts = await Promise.all(Array.from({ length: shard.workers }, async (_, worker): Promise<ListedTransactions> => {
    try {
      return await callWorker(shard, api, apiVersion, worker, request, client, serve)
    } catch (error) {
      if (!(error instanceof KafkaError)) throw error
      // A restarting worker loads its partitions again once it is back.
      const errorCode = error.code === ErrorCode.NOT_COORDINATOR ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : error.code
      return { errorCode, unknownStateFilters: [], transactionStates: [] }
    }
  }))
  const failed = parts.find((part) => part.errorCode !== ErrorCode.NONE)
  if (failed !== undefined) return { throttleTimeMs: 0, errorCode: failed.errorCode, unknownStateFilters: [], transactionStates: [] }
  const transactionStates = parts.flatMap((part) => part.transactionStates)
  // Kafka's authorization: only the transactional ids the connection may DESCRIBE are listed.
  if (shard.config.authorizer) {
    const visible = transactionStates.filter((state) => allows(context, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, state.transactionalId))
    transactionStates.length = 0
    transactionStates.push(...visible)
  }
  transactionStates.sort((a, b) => a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0)
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters: parts[0]?.unknownStateFilters ?? [], transactionStates }
}

export const listTransactionsHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
export const listTransactionsServer = coordinatorServer(api, serve)
