// DescribeUserScramCredentials (key 50), v0: the mechanisms and iteration counts of SCRAM users, from this
// worker's copy of the store (src/auth/credentials.ts judges the request; no salt or key is ever told). Needs
// DESCRIBE on the cluster, as in Kafka (CLUSTER_AUTHORIZATION_FAILED for the whole request).
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { describeScramCredentials } from '../auth/credentials.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'

const api = apiByKey(50)!

function handle (context: RequestContext, request: { users: Array<{ name: string }> | null }): object {
  if (!allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed', results: [] }
  }
  const users = request.users === null ? null : request.users.map((user) => user.name)
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results: describeScramCredentials(context.shard.table.scramCredentials, users) }
}

export const describeUserScramCredentialsHandler: Handler = { api, minVersion: 0, maxVersion: 0, handle }
