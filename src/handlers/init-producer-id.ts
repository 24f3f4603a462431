// InitProducerId (key 22), v0-5, for idempotent (non-transactional) producers: a fresh producer id from the
// controller, epoch 0. Transactional ids need the transaction coordinator, which is not built yet: they get
// INVALID_REQUEST (not a retriable code), so that a transactional client fails fast instead of retrying.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(22)!

async function handle (context: RequestContext, request: { transactionalId: string | null }): Promise<object> {
  if (request.transactionalId !== null) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
  }
  const { producerId, producerEpoch } = await context.shard.admin<{ producerId: number, producerEpoch: number }>({ op: 'initProducerId' })
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch }
}

export const initProducerIdHandler: Handler = { api, minVersion: 0, maxVersion: 5, handle }
