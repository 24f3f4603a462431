// The APIs this broker serves. ApiVersions advertises exactly these, with these version ranges.
import type { Handler } from './handler.ts'
import type { RemoteServer } from '../shard/shard.ts'
import { writeTxnMarkersServer } from '../shard/transaction-host.ts'
import { apiVersionsHandler } from './api-versions.ts'
import { metadataHandler } from './metadata.ts'
import { produceHandler, produceServer } from './produce.ts'
import { fetchHandler, fetchServer } from './fetch.ts'
import { listOffsetsHandler, listOffsetsServer } from './list-offsets.ts'
import { createTopicsHandler } from './create-topics.ts'
import { deleteTopicsHandler } from './delete-topics.ts'
import { createPartitionsHandler } from './create-partitions.ts'
import { describeClusterHandler } from './describe-cluster.ts'
import { initProducerIdHandler, initProducerIdServer } from './init-producer-id.ts'
import { addPartitionsToTxnHandler, addPartitionsToTxnServer } from './add-partitions-to-txn.ts'
import { addOffsetsToTxnHandler, addOffsetsToTxnServer } from './add-offsets-to-txn.ts'
import { endTxnHandler, endTxnServer } from './end-txn.ts'
import { describeTransactionsHandler, describeTransactionsServer } from './describe-transactions.ts'
import { listTransactionsHandler, listTransactionsServer } from './list-transactions.ts'
import { findCoordinatorHandler } from './find-coordinator.ts'
import { joinGroupHandler, joinGroupServer } from './join-group.ts'
import { syncGroupHandler, syncGroupServer } from './sync-group.ts'
import { heartbeatHandler, heartbeatServer } from './heartbeat.ts'
import { leaveGroupHandler, leaveGroupServer } from './leave-group.ts'
import { offsetCommitHandler, offsetCommitServer } from './offset-commit.ts'
import { offsetFetchHandler, offsetFetchServer } from './offset-fetch.ts'
import { txnOffsetCommitHandler, txnOffsetCommitServer } from './txn-offset-commit.ts'
import { listGroupsHandler, listGroupsServer } from './list-groups.ts'
import { describeGroupsHandler, describeGroupsServer } from './describe-groups.ts'
import { deleteGroupsHandler, deleteGroupsServer } from './delete-groups.ts'
import { offsetDeleteHandler, offsetDeleteServer } from './offset-delete.ts'
import { describeConfigsHandler } from './describe-configs.ts'
import { deleteRecordsHandler, deleteRecordsServer } from './delete-records.ts'
import { alterConfigsHandler, incrementalAlterConfigsHandler } from './alter-configs.ts'
import { consumerGroupHeartbeatHandler, consumerGroupHeartbeatServer } from './consumer-group-heartbeat.ts'
import { consumerGroupDescribeHandler, consumerGroupDescribeServer } from './consumer-group-describe.ts'
import { describeProducersHandler, describeProducersServer } from './describe-producers.ts'
import { describeLogDirsHandler, describeLogDirsServer } from './describe-log-dirs.ts'
import { offsetForLeaderEpochHandler, offsetForLeaderEpochServer } from './offset-for-leader-epoch.ts'
import { saslHandshakeHandler } from './sasl-handshake.ts'
import { saslAuthenticateHandler } from './sasl-authenticate.ts'
import { describeUserScramCredentialsHandler } from './describe-user-scram-credentials.ts'
import { alterUserScramCredentialsHandler } from './alter-user-scram-credentials.ts'
import { createAclsHandler } from './create-acls.ts'
import { describeAclsHandler } from './describe-acls.ts'
import { deleteAclsHandler } from './delete-acls.ts'
import { describeClientQuotasHandler } from './describe-client-quotas.ts'
import { alterClientQuotasHandler } from './alter-client-quotas.ts'

export function buildHandlers (): { handlers: Map<number, Handler>, remoteServers: Map<number, RemoteServer> } {
  const handlers = new Map<number, Handler>()
  for (const handler of [
    apiVersionsHandler, metadataHandler, produceHandler, fetchHandler, listOffsetsHandler,
    createTopicsHandler, deleteTopicsHandler, createPartitionsHandler, describeClusterHandler, initProducerIdHandler,
    findCoordinatorHandler, joinGroupHandler, syncGroupHandler, heartbeatHandler, leaveGroupHandler, offsetCommitHandler,
    offsetFetchHandler, listGroupsHandler, describeGroupsHandler, deleteGroupsHandler, offsetDeleteHandler,
    describeConfigsHandler, alterConfigsHandler, incrementalAlterConfigsHandler, deleteRecordsHandler,
    consumerGroupHeartbeatHandler, consumerGroupDescribeHandler, describeProducersHandler,
    addPartitionsToTxnHandler, addOffsetsToTxnHandler, endTxnHandler, describeTransactionsHandler, listTransactionsHandler
  ]) {
    handlers.set(handler.api.key, handler)
  }
  handlers.set(txnOffsetCommitHandler.api.key, txnOffsetCommitHandler)
  handlers.set(describeLogDirsHandler.api.key, describeLogDirsHandler)
  handlers.set(offsetForLeaderEpochHandler.api.key, offsetForLeaderEpochHandler)
  // SASL (src/auth/sasl.ts) and the SCRAM user store (src/auth/credentials.ts).
  for (const handler of [saslHandshakeHandler, saslAuthenticateHandler, describeUserScramCredentialsHandler, alterUserScramCredentialsHandler]) {
    handlers.set(handler.api.key, handler)
  }
  for (const handler of [createAclsHandler, describeAclsHandler, deleteAclsHandler]) handlers.set(handler.api.key, handler)
  for (const handler of [describeClientQuotasHandler, alterClientQuotasHandler]) handlers.set(handler.api.key, handler)
  // Owner-side servers of request parts sent over the rings, by op (= API key).
  const remoteServers = new Map<number, RemoteServer>([
    [produceHandler.api.key, produceServer],
    [fetchHandler.api.key, fetchServer],
    [listOffsetsHandler.api.key, listOffsetsServer],
    [deleteRecordsHandler.api.key, deleteRecordsServer],
    [describeProducersHandler.api.key, describeProducersServer],
    [describeLogDirsHandler.api.key, describeLogDirsServer],
    [offsetForLeaderEpochHandler.api.key, offsetForLeaderEpochServer],
    // Transaction markers a coordinator on another worker writes into this worker's partitions.
    [27, writeTxnMarkersServer],
    // Group requests forwarded to their coordinator (coordinated.ts).
    [joinGroupHandler.api.key, joinGroupServer],
    [syncGroupHandler.api.key, syncGroupServer],
    [heartbeatHandler.api.key, heartbeatServer],
    [leaveGroupHandler.api.key, leaveGroupServer],
    [offsetCommitHandler.api.key, offsetCommitServer],
    [offsetFetchHandler.api.key, offsetFetchServer],
    [txnOffsetCommitHandler.api.key, txnOffsetCommitServer],
    [listGroupsHandler.api.key, listGroupsServer],
    [describeGroupsHandler.api.key, describeGroupsServer],
    [deleteGroupsHandler.api.key, deleteGroupsServer],
    [offsetDeleteHandler.api.key, offsetDeleteServer],
    [consumerGroupHeartbeatHandler.api.key, consumerGroupHeartbeatServer],
    [consumerGroupDescribeHandler.api.key, consumerGroupDescribeServer],
    // Transaction requests forwarded to their coordinator (coordinated.ts).
    [initProducerIdHandler.api.key, initProducerIdServer],
    [addPartitionsToTxnHandler.api.key, addPartitionsToTxnServer],
    [addOffsetsToTxnHandler.api.key, addOffsetsToTxnServer],
    [endTxnHandler.api.key, endTxnServer],
    [describeTransactionsHandler.api.key, describeTransactionsServer],
    [listTransactionsHandler.api.key, listTransactionsServer]
  ])
  return { handlers, remoteServers }
}
