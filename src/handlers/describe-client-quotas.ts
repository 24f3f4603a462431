// DescribeClientQuotas (key 48), v0-1: the client quotas whose entities match the request's filter (src/quota/
// client-quotas.ts, describeClientQuotas: EXACT / DEFAULT / SPECIFIED components, `strict`), from this worker's
// copy of the cluster metadata. As Kafka's KafkaApis, it needs DESCRIBE_CONFIGS on the cluster (with
// --authorizer): else CLUSTER_AUTHORIZATION_FAILED and null entries. An invalid filter answers INVALID_REQUEST
// with a message and null entries.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import { describeClientQuotas, type DescribeComponent } from '../quota/client-quotas.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'

const api = apiByKey(48)!

interface DescribeClientQuotasRequest {
  components: DescribeComponent[]
  strict: boolean
}

function handle (context: RequestContext, request: DescribeClientQuotasRequest): object {
  if (!allows(context, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER, kClusterName)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, entries: null }
  }
  const result = describeClientQuotas(context.shard.table.clientQuotas, request.components, request.strict)
  return { throttleTimeMs: 0, errorCode: result.errorCode, errorMessage: result.errorMessage, entries: result.entries }
}

export const describeClientQuotasHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
