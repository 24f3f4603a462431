// CreateAcls (key 30), v1-3 (Kafka 4 removed v0). As Kafka's AclApis: without an authorizer every creation
// answers SECURITY_DISABLED; the caller needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED for each);
// each creation is checked on its own (src/auth/acl.ts: newBindingError, INVALID_REQUEST) and the valid ones are
// stored by the controller, which persists them with the cluster metadata and sends them to every worker before
// this answers.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { AclOperation, ResourceType, kClusterName, newBindingError, toBinding, type AclBinding } from '../auth/acl.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { count } from '../counters.ts'

const api = apiByKey(30)!

interface CreateAclsRequest {
  creations: Array<{ resourceType: number, resourceName: string, resourcePatternType: number, principal: string, host: string, operation: number, permissionType: number }>
}

async function handle (context: RequestContext, request: CreateAclsRequest): Promise<object> {
  const creations = request.creations ?? []
  const all = (errorCode: number, errorMessage: string): object => ({ throttleTimeMs: 0, results: creations.map(() => ({ errorCode, errorMessage })) })
  if (!context.shard.config.authorizer) return all(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.')
  if (!allows(context, AclOperation.ALTER, ResourceType.CLUSTER, kClusterName)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const results: Array<{ errorCode: number, errorMessage: string | null }> = []
  const valid: AclBinding[] = []
  for (const creation of creations) {
    const binding = toBinding({ ...creation, patternType: creation.resourcePatternType })
    const error = newBindingError(binding)
    if (error !== null) {
      results.push({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: error })
    } else {
      valid.push(binding)
      results.push({ errorCode: ErrorCode.NONE, errorMessage: null })
    }
  }
  if (valid.length > 0) {
    await context.shard.admin<void>({ op: 'createAcls', acls: valid })
    count('acls-created')
  }
  return { throttleTimeMs: 0, results }
}

export const createAclsHandler: Handler = { api, minVersion: 1, maxVersion: 3, handle }
