// AlterClientQuotas (key 49), v0-1: sets and removes client quotas (src/quota/client-quotas.ts). The controller
// checks each entry on its own (entity types and names, keys, values: INVALID_REQUEST with a message), applies
// the valid ones, persists them with the cluster metadata and publishes them to every worker before it answers,
// so a quota is enforced on every worker once the response is sent. validateOnly checks and changes nothing.
// As Kafka's KafkaApis, it needs ALTER_CONFIGS on the cluster (with --authorizer): else every entry answers
// CLUSTER_AUTHORIZATION_FAILED.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { AlterEntry, AlterResult } from '../quota/client-quotas.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'

const api = apiByKey(49)!

interface AlterClientQuotasRequest {
  entries: AlterEntry[]
  validateOnly: boolean
}

async function handle (context: RequestContext, request: AlterClientQuotasRequest): Promise<object> {
  if (!allows(context, AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER, kClusterName)) {
    return {
      throttleTimeMs: 0,
      entries: request.entries.map((entry) => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, entity: entry.entity }))
    }
  }
  const results = request.entries.length === 0
    ? []
    : await context.shard.admin<AlterResult[]>({ op: 'alterClientQuotas', entries: request.entries, validateOnly: request.validateOnly })
  return { throttleTimeMs: 0, entries: results }
}

export const alterClientQuotasHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
