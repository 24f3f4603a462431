// DeleteAcls (key 31), v1-3 (Kafka 4 removed v0). As Kafka's AclApis: SECURITY_DISABLED without an authorizer
// and CLUSTER_AUTHORIZATION_FAILED without ALTER on the cluster, for every filter; a filter with an UNKNOWN
// element answers INVALID_REQUEST on its own. The controller deletes what the valid filters match (each ACL
// reported under the first filter matching it), persists and sends the result to every worker before this answers.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { AclOperation, ResourceType, filterError, kClusterName, type AclBinding, type AclBindingFilter } from '../auth/acl.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { toFilter, type AclFilterFields } from './describe-acls.ts'
import { count } from '../counters.ts'

const api = apiByKey(31)!

interface DeleteAclsRequest {
  filters: AclFilterFields[]
}

function matchingAcl (acl: AclBinding): object {
  return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: acl.resourceType, resourceName: acl.resourceName, patternType: acl.patternType, principal: acl.principal, host: acl.host, operation: acl.operation, permissionType: acl.permissionType }
}

async function handle (context: RequestContext, request: DeleteAclsRequest): Promise<object> {
  const filters = request.filters ?? []
  const all = (errorCode: number, errorMessage: string): object => ({ throttleTimeMs: 0, filterResults: filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })) })
  if (!context.shard.config.authorizer) return all(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.')
  if (!allows(context, AclOperation.ALTER, ResourceType.CLUSTER, kClusterName)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const valid: AclBindingFilter[] = []
  const errors: Array<string | null> = []
  for (const fields of filters) {
    const filter = toFilter(fields)
    const error = filterError(filter)
    errors.push(error)
    if (error === null) valid.push(filter)
  }
  const deleted = valid.length === 0 ? [] : await context.shard.admin<AclBinding[][]>({ op: 'deleteAcls', filters: valid })
  let next = 0
  const filterResults = errors.map((error) => error !== null
    ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: error, matchingAcls: [] }
    : { errorCode: ErrorCode.NONE, errorMessage: null, matchingAcls: deleted[next++].map(matchingAcl) })
  if (deleted.some((acls) => acls.length > 0)) count('acls-deleted')
  return { throttleTimeMs: 0, filterResults }
}

export const deleteAclsHandler: Handler = { api, minVersion: 1, maxVersion: 3, handle }
