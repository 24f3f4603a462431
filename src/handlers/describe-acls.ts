// DescribeAcls (key 29), v1-3 (Kafka 4 removed v0). As Kafka's AclApis: SECURITY_DISABLED without an authorizer,
// CLUSTER_AUTHORIZATION_FAILED without DESCRIBE on the cluster, INVALID_REQUEST for a filter with an UNKNOWN
// element; else the ACLs the filter matches (src/auth/acl.ts: filterMatches) grouped by resource pattern, from
// this worker's copy of the metadata.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { AclOperation, ResourceType, filterError, filterMatches, kClusterName, type AclBindingFilter } from '../auth/acl.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'

const api = apiByKey(29)!

export interface AclFilterFields {
  resourceTypeFilter: number
  resourceNameFilter: string | null
  patternTypeFilter: number
  principalFilter: string | null
  hostFilter: string | null
  operation: number
  permissionType: number
}

export function toFilter (fields: AclFilterFields): AclBindingFilter {
  return {
    resourceType: fields.resourceTypeFilter,
    resourceName: fields.resourceNameFilter,
    patternType: fields.patternTypeFilter,
    principal: fields.principalFilter,
    host: fields.hostFilter,
    operation: fields.operation,
    permissionType: fields.permissionType
  }
}

function handle (context: RequestContext, request: AclFilterFields): object {
  const fail = (errorCode: number, errorMessage: string): object => ({ throttleTimeMs: 0, errorCode, errorMessage, resources: [] })
  if (!context.shard.config.authorizer) return fail(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.')
  if (!allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName)) return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.')
  const filter = toFilter(request)
  const error = filterError(filter)
  if (error !== null) return fail(ErrorCode.INVALID_REQUEST, error)
  const resources = new Map<string, { resourceType: number, resourceName: string, patternType: number, acls: object[] }>()
  for (const acl of context.shard.table.acls) {
    if (!filterMatches(filter, acl)) continue
    const key = `${acl.resourceType}\u0000${acl.patternType}\u0000${acl.resourceName}`
    let resource = resources.get(key)
    if (resource === undefined) {
      resource = { resourceType: acl.resourceType, resourceName: acl.resourceName, patternType: acl.patternType, acls: [] }
      resources.set(key, resource)
    }
    resource.acls.push({ principal: acl.principal, host: acl.host, operation: acl.operation, permissionType: acl.permissionType })
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...resources.values()] }
}

export const describeAclsHandler: Handler = { api, minVersion: 1, maxVersion: 3, handle }
