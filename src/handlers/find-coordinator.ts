// FindCoordinator (key 10), v0-6: every coordinator (group or transaction, one key or a batch from v4) is this
// broker. Internally, requests are routed to the coordinating worker (coordinated.ts). The internal topic of the
// key type (`__consumer_offsets`, `__transaction_state`) is created on the first lookup, as Kafka's
// getCoordinator does. An empty group id answers INVALID_GROUP_ID; an empty transactional id is answered like any
// other (Kafka's getCoordinator hashes whatever key it is given; the coordinator then refuses "" with
// INVALID_REQUEST). Other key types (share groups, 2) answer INVALID_REQUEST.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType } from '../auth/acl.ts'
import { offsetsTopic, transactionStateTopic } from './coordinated.ts'
import { advertisedAddress } from './metadata.ts'

const api = apiByKey(10)!
const kGroupKey = 0
const kTransactionKey = 1

async function handle (context: RequestContext, request: { key: string, keyType: number, coordinatorKeys: string[] }): Promise<object> {
  const { shard, apiVersion } = context
  const { nodeId } = shard.config
  const { host, port } = advertisedAddress(shard, context.connection)
  const keyError = request.keyType !== kGroupKey && request.keyType !== kTransactionKey ? ErrorCode.INVALID_REQUEST : ErrorCode.NONE
  if (keyError === ErrorCode.NONE && request.keyType === kGroupKey) await offsetsTopic(shard)
  if (keyError === ErrorCode.NONE && request.keyType === kTransactionKey) await transactionStateTopic(shard)
  // Kafka's authorization: DESCRIBE on the group or transactional id of each key.
  const authorizationError = (key: string): number => {
    if (!shard.config.authorizer || keyError !== ErrorCode.NONE) return ErrorCode.NONE
    return request.keyType === kGroupKey
      ? (allows(context, AclOperation.DESCRIBE, ResourceType.GROUP, key) ? ErrorCode.NONE : ErrorCode.GROUP_AUTHORIZATION_FAILED)
      : (allows(context, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key) ? ErrorCode.NONE : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
  }
  const answer = (key: string) => {
    const errorCode = keyError !== ErrorCode.NONE ? keyError : key === '' && request.keyType === kGroupKey ? ErrorCode.INVALID_GROUP_ID : authorizationError(key)
    const ok = errorCode === ErrorCode.NONE
    return { key, nodeId: ok ? nodeId : -1, host: ok ? host : '', port: ok ? port : -1, errorCode, errorMessage: ok ? null : 'invalid coordinator key' }
  }
  if (apiVersion >= 4) return { throttleTimeMs: 0, coordinators: request.coordinatorKeys.map(answer) }
  const single = answer(request.key)
  return { throttleTimeMs: 0, errorCode: single.errorCode, errorMessage: single.errorMessage, nodeId: single.nodeId, host: single.host, port: single.port }
}

export const findCoordinatorHandler: Handler = { api, minVersion: 0, maxVersion: 6, handle }
