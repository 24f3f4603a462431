// DescribeCluster (key 60), v0-2: the one broker, which is also the controller.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { advertisedAddress } from './metadata.ts'
import { allows, authorizedOperations, kOperationsNotRequested } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'

const api = apiByKey(60)!
/** v1+ `endpointType`: 1 broker, 2 controller. */
const kBrokerEndpoint = 1

/** Kafka fills clusterAuthorizedOperations when asked: 0 without DESCRIBE on the cluster (no other check). */
function clusterOperations (context: RequestContext, request: { includeClusterAuthorizedOperations?: boolean }): number {
  if (request.includeClusterAuthorizedOperations !== true) return kOperationsNotRequested
  return allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName) ? authorizedOperations(context, ResourceType.CLUSTER, kClusterName) : 0
}

function handle (context: RequestContext, request: { endpointType: number, includeClusterAuthorizedOperations?: boolean }): object {
  const { shard } = context
  if (context.apiVersion >= 1 && request.endpointType !== kBrokerEndpoint) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: 'Only broker endpoints are served', endpointType: request.endpointType, clusterId: shard.table.clusterId, controllerId: -1, brokers: [], clusterAuthorizedOperations: -2147483648 }
  }
  const { host, port } = advertisedAddress(shard, context.connection)
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: kBrokerEndpoint,
    clusterId: shard.table.clusterId,
    controllerId: shard.config.nodeId,
    brokers: [{ brokerId: shard.config.nodeId, host, port, rack: null, isFenced: false }],
    clusterAuthorizedOperations: clusterOperations(context, request)
  }
}

export const describeClusterHandler: Handler = { api, minVersion: 0, maxVersion: 2, handle }
