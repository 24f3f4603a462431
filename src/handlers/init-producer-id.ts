// InitProducerId (key 22), v0-5.
//   - A null transactional id is the idempotent path: a fresh producer id from the controller, epoch 0.
//   - Any other id goes to its transaction coordinator (the worker owning its `__transaction_state` partition,
//     coordinated.ts) and txn/coordinator.ts initProducerId: a new id gets a fresh producer id at epoch 0, a known
//     one an epoch bump (which fences older instances; an Ongoing transaction is aborted first and the client is
//     answered CONCURRENT_TRANSACTIONS so that its retry bumps again). v3+ may name the producer id and epoch held
//     (KIP-360); v0-2 carry neither, and decode to -1 and -1.
//   - An empty transactional id reaches the coordinator too, which answers INVALID_REQUEST, as Kafka's
//     TransactionCoordinator does.
// Every code (fencing mapped per version: PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before) is the state
// machine's (txn/transaction-metadata.ts).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'
import type { Handler } from './handler.ts'
import { authorizerOf } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import { coordinatorServer, routeToTransactionCoordinator } from './coordinated.ts'

const api = apiByKey(22)!

interface InitProducerIdRequest { transactionalId: string | null, transactionTimeoutMs: number, producerId: number, producerEpoch: number }
interface InitProducerIdResponse { throttleTimeMs: number, errorCode: number, producerId: number, producerEpoch: number }

/** The coordinator side (the request's transactional id is never null here). */
async function serve (shard: Shard, request: InitProducerIdRequest, apiVersion: number): Promise<InitProducerIdResponse> {
  const { errorCode, producerId, producerEpoch } = await shard.transactions.initProducerId({
    transactionalId: request.transactionalId ?? '',
    transactionTimeoutMs: request.transactionTimeoutMs,
    producerId: request.producerId ?? -1,
    producerEpoch: request.producerEpoch ?? -1,
    version: apiVersion
  })
  return { throttleTimeMs: 0, errorCode, producerId, producerEpoch }
}

async function handle (context: RequestContext, request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  // Kafka's authorization: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on the
  // cluster or (KIP-679, Kafka 2.8+) WRITE on some topic.
  const refused = (errorCode: number): InitProducerIdResponse => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 })
  const authorizer = authorizerOf(context)
  if (authorizer !== null) {
    if (request.transactionalId !== null) {
      if (!authorizer.allows(context.connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId)) return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    } else if (!authorizer.allows(context.connection, AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, kClusterName) &&
      !authorizer.allowsAnyOfType(context.connection, AclOperation.WRITE, ResourceType.TOPIC)) {
      return refused(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    }
  }
  if (request.transactionalId !== null) return routeToTransactionCoordinator(context, api, request.transactionalId, request, serve)
  const { producerId, producerEpoch } = await context.shard.admin<{ producerId: number, producerEpoch: number }>({ op: 'initProducerId' })
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch }
}

export const initProducerIdHandler: Handler = { api, minVersion: 0, maxVersion: 5, handle }
export const initProducerIdServer = coordinatorServer(api, serve)
