// AddOffsetsToTxn (key 25), v0-3, on the transaction coordinator of the id (coordinated.ts): the group's
// `__consumer_offsets` partition joins the transaction (txn/coordinator.ts addOffsetsToTxn), so that EndTxn
// writes its marker there too and the transaction's offset commits (TxnOffsetCommit) are settled by it. The
// offsets topic is created first if it does not exist yet, as the group's later commits need it. Codes are the
// state machine's (PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before; INVALID_REQUEST for an empty
// transactional id). v4 (KIP-890's TRANSACTION_ABORTABLE) is not served.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { coordinatorServer, offsetsTopic, routeToTransactionCoordinator } from './coordinated.ts'

const api = apiByKey(25)!

interface AddOffsetsToTxnRequest { transactionalId: string, producerId: number, producerEpoch: number, groupId: string }
interface AddOffsetsToTxnResponse { throttleTimeMs: number, errorCode: number }

async function serve (shard: Shard, request: AddOffsetsToTxnRequest, apiVersion: number): Promise<AddOffsetsToTxnResponse> {
  const { errorCode } = await shard.transactions.addOffsetsToTxn({
    transactionalId: request.transactionalId,
    producerId: request.producerId,
    producerEpoch: request.producerEpoch,
    groupId: request.groupId,
    version: apiVersion
  })
  return { throttleTimeMs: 0, errorCode }
}

async function handle (context: RequestContext, request: AddOffsetsToTxnRequest): Promise<AddOffsetsToTxnResponse> {
  // Kafka's authorization: WRITE on the transactional id, then READ on the group.
  if (!allows(context, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED }
  if (!allows(context, AclOperation.READ, ResourceType.GROUP, request.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED }
  await offsetsTopic(context.shard)
  return routeToTransactionCoordinator(context, api, request.transactionalId, request, serve)
}

export const addOffsetsToTxnHandler: Handler = { api, minVersion: 0, maxVersion: 3, handle }
export const addOffsetsToTxnServer = coordinatorServer(api, serve)
