// EndTxn (key 26), v0-4, on the transaction coordinator of the id (coordinated.ts): commits or aborts the
// Ongoing transaction (txn/coordinator.ts endTxn). Answered once PrepareCommit/PrepareAbort is durable, as Kafka
// does; the COMMIT/ABORT markers and Complete* follow in the background (src/shard/transaction-host.ts), and until
// they are done the id answers CONCURRENT_TRANSACTIONS (retriable). A retry of an end that completed the same way
// answers NONE; the other outcome, or ending with no transaction, INVALID_TXN_STATE. Fencing is PRODUCER_FENCED
// from v2, INVALID_PRODUCER_EPOCH before. v5 (KIP-890 part 2: an epoch bump per transaction) is not served.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { Handler } from './handler.ts'
import { requireAllowed } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, routeToTransactionCoordinator } from './coordinated.ts'

const api = apiByKey(26)!

interface EndTxnRequest { transactionalId: string, producerId: number, producerEpoch: number, committed: boolean }
interface EndTxnResponse { throttleTimeMs: number, errorCode: number, producerId: number, producerEpoch: number }

async function serve (shard: Shard, request: EndTxnRequest, apiVersion: number): Promise<EndTxnResponse> {
  const { errorCode } = await shard.transactions.endTxn({
    transactionalId: request.transactionalId,
    producerId: request.producerId,
    producerEpoch: request.producerEpoch,
    committed: request.committed,
    version: apiVersion
  })
  // producerId/producerEpoch are v5+ fields (not served): their defaults.
  return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 }
}

function handle (context: RequestContext, request: EndTxnRequest): Promise<EndTxnResponse> {
  // Kafka's authorization: WRITE on the transactional id.
  requireAllowed(context, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  return routeToTransactionCoordinator(context, api, request.transactionalId, request, serve)
}

export const endTxnHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
export const endTxnServer = coordinatorServer(api, serve)
