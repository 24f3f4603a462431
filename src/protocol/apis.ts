// Every API Shoal speaks: its key, its message definitions, and the version range of Kafka's that the
// project targets (the table). Which of them a running broker advertises is decided by the handlers
// (src/handlers/index.ts): ApiVersions lists only what has a handler.

import { codecFor, type VersionCodec } from './codec.ts'
import { inVersions, type FieldDef, type MessageDef } from './schema.ts'
import * as produce from './messages/produce.ts'
import * as fetch from './messages/fetch.ts'
import * as listOffsets from './messages/list-offsets.ts'
import * as metadata from './messages/metadata.ts'
import * as offsetCommit from './messages/offset-commit.ts'
import * as offsetFetch from './messages/offset-fetch.ts'
import * as findCoordinator from './messages/find-coordinator.ts'
import * as joinGroup from './messages/join-group.ts'
import * as heartbeat from './messages/heartbeat.ts'
import * as leaveGroup from './messages/leave-group.ts'
import * as syncGroup from './messages/sync-group.ts'
import * as describeGroups from './messages/describe-groups.ts'
import * as listGroups from './messages/list-groups.ts'
import * as saslHandshake from './messages/sasl-handshake.ts'
import * as apiVersions from './messages/api-versions.ts'
import * as createTopics from './messages/create-topics.ts'
import * as deleteTopics from './messages/delete-topics.ts'
import * as deleteRecords from './messages/delete-records.ts'
import * as initProducerId from './messages/init-producer-id.ts'
import * as offsetForLeaderEpoch from './messages/offset-for-leader-epoch.ts'
import * as addPartitionsToTxn from './messages/add-partitions-to-txn.ts'
import * as addOffsetsToTxn from './messages/add-offsets-to-txn.ts'
import * as endTxn from './messages/end-txn.ts'
import * as txnOffsetCommit from './messages/txn-offset-commit.ts'
import * as writeTxnMarkers from './messages/write-txn-markers.ts'
import * as describeAcls from './messages/describe-acls.ts'
import * as createAcls from './messages/create-acls.ts'
import * as deleteAcls from './messages/delete-acls.ts'
import * as describeConfigs from './messages/describe-configs.ts'
import * as alterConfigs from './messages/alter-configs.ts'
import * as describeLogDirs from './messages/describe-log-dirs.ts'
import * as saslAuthenticate from './messages/sasl-authenticate.ts'
import * as createPartitions from './messages/create-partitions.ts'
import * as deleteGroups from './messages/delete-groups.ts'
import * as incrementalAlterConfigs from './messages/incremental-alter-configs.ts'
import * as offsetDelete from './messages/offset-delete.ts'
import * as describeClientQuotas from './messages/describe-client-quotas.ts'
import * as alterClientQuotas from './messages/alter-client-quotas.ts'
import * as describeUserScramCredentials from './messages/describe-user-scram-credentials.ts'
import * as alterUserScramCredentials from './messages/alter-user-scram-credentials.ts'
import * as describeCluster from './messages/describe-cluster.ts'
import * as describeProducers from './messages/describe-producers.ts'
import * as describeTransactions from './messages/describe-transactions.ts'
import * as listTransactions from './messages/list-transactions.ts'
import * as consumerGroupHeartbeat from './messages/consumer-group-heartbeat.ts'
import * as consumerGroupDescribe from './messages/consumer-group-describe.ts'

export interface ApiEntry {
  readonly key: number
  readonly name: string
  /** The versions the project targets (the table). */
  readonly minVersion: number
  readonly maxVersion: number
  readonly requestDef: MessageDef
  readonly responseDef: MessageDef
  request (version: number): VersionCodec
  response (version: number): VersionCodec
  /** Whether the message definitions (not just the targeted range) have this version. */
  hasVersion (version: number): boolean
  /**
   * Whether a decoded request may hold views of its frame (a bytes or records field in some version). One that
   * cannot lets go of its read arena once decoded, however long it is then held (a long-polling Fetch).
   */
  readonly requestHoldsViews: boolean
}

/** Whether any field of the definition, nested and common structs included, is bytes or records. */
function holdsViews (def: MessageDef): boolean {
  const structs = new Map((def.commonStructs ?? []).map((struct) => [struct.name, struct.fields]))
  const visit = (fields: readonly FieldDef[], seen: Set<string>): boolean => fields.some((field) => {
    const type = field.type.startsWith('[]') ? field.type.slice(2) : field.type
    if (type === 'bytes' || type === 'records') return true
    if (field.fields !== undefined && visit(field.fields, seen)) return true
    const common = structs.get(type)
    if (common === undefined || seen.has(type)) return false
    seen.add(type)
    return visit(common, seen)
  })
  return visit(def.fields, new Set())
}

interface MessagePair {
  readonly request: MessageDef
  readonly response: MessageDef
}

function entry (pair: MessagePair, minVersion: number, maxVersion: number): ApiEntry {
  return {
    key: pair.request.apiKey,
    name: pair.request.name,
    minVersion,
    maxVersion,
    requestDef: pair.request,
    responseDef: pair.response,
    request: (version) => codecFor(pair.request, version),
    response: (version) => codecFor(pair.response, version),
    hasVersion: (version) => inVersions(pair.request.validVersions, version) && inVersions(pair.response.validVersions, version),
    requestHoldsViews: holdsViews(pair.request)
  }
}

export const kApis: readonly ApiEntry[] = [
  entry(produce, 3, 11),
  entry(fetch, 4, 16),
  entry(listOffsets, 1, 8),
  entry(metadata, 4, 12),
  entry(offsetCommit, 0, 9),
  entry(offsetFetch, 0, 9),
  entry(findCoordinator, 0, 6),
  entry(joinGroup, 0, 9),
  entry(heartbeat, 0, 4),
  entry(leaveGroup, 0, 5),
  entry(syncGroup, 0, 5),
  entry(describeGroups, 0, 6),
  entry(listGroups, 0, 5),
  entry(saslHandshake, 1, 1),
  entry(apiVersions, 0, 4),
  entry(createTopics, 2, 7),
  entry(deleteTopics, 0, 6),
  entry(deleteRecords, 0, 2),
  entry(initProducerId, 0, 5),
  entry(offsetForLeaderEpoch, 3, 4),
  entry(addPartitionsToTxn, 0, 4),
  entry(addOffsetsToTxn, 0, 3),
  entry(endTxn, 0, 4),
  // Inter-broker; only the coordinator's marker writes over the rings use it (never served to clients).
  entry(writeTxnMarkers, 1, 1),
  entry(txnOffsetCommit, 0, 4),
  entry(describeAcls, 1, 3),
  entry(createAcls, 1, 3),
  entry(deleteAcls, 1, 3),
  entry(describeConfigs, 0, 4),
  entry(alterConfigs, 0, 2),
  entry(describeLogDirs, 0, 4),
  entry(saslAuthenticate, 0, 2),
  entry(createPartitions, 0, 3),
  entry(deleteGroups, 0, 2),
  entry(incrementalAlterConfigs, 0, 1),
  entry(offsetDelete, 0, 0),
  entry(describeClientQuotas, 0, 1),
  entry(alterClientQuotas, 0, 1),
  entry(describeUserScramCredentials, 0, 0),
  entry(alterUserScramCredentials, 0, 0),
  entry(describeCluster, 0, 2),
  entry(describeProducers, 0, 0),
  entry(describeTransactions, 0, 0),
  entry(listTransactions, 0, 1),
  entry(consumerGroupHeartbeat, 0, 1),
  entry(consumerGroupDescribe, 0, 1)
]

const byKey = new Map<number, ApiEntry>(kApis.map((api) => [api.key, api]))

export function apiByKey (key: number): ApiEntry | undefined {
  return byKey.get(key)
}

/** Request header v2 for flexible versions, v1 otherwise (Shoal supports no API needing header v0). */
export function requestHeaderVersion (api: ApiEntry, version: number): number {
  return inVersions(api.requestDef.flexibleVersions, version) ? 2 : 1
}

/** Response header v1 for flexible versions, v0 otherwise; ApiVersions always answers with v0. */
export function responseHeaderVersion (api: ApiEntry, version: number): number {
  if (api.key === 18) return 0
  return inVersions(api.responseDef.flexibleVersions, version) ? 1 : 0
}
