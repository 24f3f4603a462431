// Routing of group requests to their coordinator: the worker that owns the group's `__consumer_offsets`
// partition. Like partitioned.ts, a request for a group coordinated elsewhere travels over the ring as a Kafka
// request of the same version; its payload is prefixed with the client's id and address (JoinGroup records
// them, DescribeGroups reports them):
//   int16 clientIdLength, clientId (utf8), int16 clientHostLength, clientHost (utf8), request bytes
// Requests naming several groups are split by coordinator and the answers concatenated.
// A call whose coordinator cannot answer (its worker died and is restarting, its server failed, its reply does
// not decode) fails with a KafkaError: NOT_COORDINATOR while the worker restarts (clients look the coordinator
// up again and retry), else the owner's code; the connection answers the request with that error in each entry.

import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { kOffsetsTopic, kOffsetsTopicPartitions, offsetsPartitionFor } from '../group/offset-store.ts'
import { kTransactionStateTopic, kTransactionStateTopicPartitions, transactionPartitionFor } from '../txn/transaction-log.ts'
import { partFailed, replyWhenServed } from './partitioned.ts'
import { CallFailedError, kCallPeerDown } from '../shard/shard.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { count } from '../counters.ts'
import type { ApiEntry } from '../protocol/apis.ts'
import type { RequestContext } from '../net/connection.ts'
import type { RemoteServer, Shard } from '../shard/shard.ts'
import type { TopicEntry } from '../shard/shard-table.ts'

export interface ClientInfo {
  readonly clientId: string
  readonly clientHost: string
}

export type ServeGroup<Req, Res> = (shard: Shard, request: Req, apiVersion: number, client: ClientInfo) => Promise<Res> | Res

/**
 * Segments of the internal topics roll at 16 MiB so that checkpoints (group/coordinator.ts, txn/coordinator.ts)
 * free disk soon.
 */
const kInternalSegmentBytes = 16 * 1024 * 1024

const creating = new Map<string, Promise<unknown>>()

/** An internal topic (compacted by its coordinator's checkpoints, `partitions` like Kafka), created on first use. */
async function internalTopic (shard: Shard, name: string, partitions: number): Promise<TopicEntry | undefined> {
  const existing = shard.table.topic(name)
  if (existing !== undefined) return existing
  let pending = creating.get(name)
  if (pending === undefined) {
    pending = shard.admin({
      op: 'createTopics',
      topics: [{ name, numPartitions: partitions, replicationFactor: -1, configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(kInternalSegmentBytes) }], hasAssignments: false, internal: true }],
      validateOnly: false
    }).finally(() => { creating.delete(name) })
    creating.set(name, pending)
  }
  await pending
  return shard.table.topic(name)
}

/** The offsets topic, created (internal, 50 partitions like Kafka) on first use. */
export function offsetsTopic (shard: Shard): Promise<TopicEntry | undefined> {
  return internalTopic(shard, kOffsetsTopic, kOffsetsTopicPartitions)
}

/** The transaction state topic, created (internal, 50 partitions like Kafka) on first use. */
export function transactionStateTopic (shard: Shard): Promise<TopicEntry | undefined> {
  return internalTopic(shard, kTransactionStateTopic, kTransactionStateTopicPartitions)
}

/** The worker coordinating `transactionalId`: the owner of its `__transaction_state` partition. */
export function transactionCoordinatorOf (shard: Shard, topic: TopicEntry, transactionalId: string): number {
  return shard.table.ownerOf(topic, transactionPartitionFor(transactionalId, topic.partitions))
}

/** Runs `serve` on the transaction coordinator of `transactionalId`: here, or over the ring. */
export async function routeToTransactionCoordinator<Req, Res> (context: RequestContext, api: ApiEntry, transactionalId: string, request: Req, serve: ServeGroup<Req, Res>): Promise<Res> {
  const { shard, apiVersion } = context
  const topic = await transactionStateTopic(shard)
  const owner = topic === undefined ? shard.index : transactionCoordinatorOf(shard, topic, transactionalId)
  return callWorker(shard, api, apiVersion, owner, request, clientInfo(context), serve)
}

/** Splits transactional ids by coordinator worker. */
export async function transactionalIdsByCoordinator (shard: Shard, transactionalIds: readonly string[]): Promise<Map<number, string[]>> {
  const topic = await transactionStateTopic(shard)
  const byOwner = new Map<number, string[]>()
  for (const id of transactionalIds) {
    const owner = topic === undefined ? shard.index : transactionCoordinatorOf(shard, topic, id)
    let list = byOwner.get(owner)
    if (list === undefined) { list = []; byOwner.set(owner, list) }
    list.push(id)
  }
  return byOwner
}

/** The worker coordinating `groupId`. */
export function coordinatorOf (shard: Shard, topic: TopicEntry, groupId: string): number {
  return shard.table.ownerOf(topic, offsetsPartitionFor(groupId, topic.partitions))
}

export function clientInfo (context: RequestContext): ClientInfo {
  return { clientId: context.clientId ?? '', clientHost: `/${context.connection.socket.remoteAddress ?? ''}` }
}

/** Runs `serve` on the coordinator of `groupId`: here, or over the ring. */
export async function routeToCoordinator<Req, Res> (context: RequestContext, api: ApiEntry, groupId: string, request: Req, serve: ServeGroup<Req, Res>): Promise<Res> {
  const { shard, apiVersion } = context
  const topic = await offsetsTopic(shard)
  const owner = topic === undefined ? shard.index : coordinatorOf(shard, topic, groupId)
  return callWorker(shard, api, apiVersion, owner, request, clientInfo(context), serve)
}

/** Runs `serve` with `request` on worker `owner`. */
export async function callWorker<Req, Res> (shard: Shard, api: ApiEntry, apiVersion: number, owner: number, request: Req, client: ClientInfo, serve: ServeGroup<Req, Res>): Promise<Res> {
  if (owner === shard.index) return serve(shard, request, apiVersion, client)
  const writer = new Writer()
  writer.nullableString(client.clientId)
  writer.nullableString(client.clientHost)
  api.request(apiVersion).encode(writer, request)
  writer.finishFrame()
  const { reply } = shard.call(owner, api.key, apiVersion, writer.chunks)
  let payload: Buffer
  try {
    payload = await reply
  } catch (error) {
    if (error instanceof CallFailedError && error.reason === kCallPeerDown) throw new KafkaError(ErrorCode.NOT_COORDINATOR, error.message)
    if (error instanceof CallFailedError) throw new KafkaError(error.code, error.message)
    throw error
  }
  try {
    return api.response(apiVersion).decode(new Reader(payload)) as Res
  } catch (error) {
    count('request-handler-errors')
    shard.logger.limited(`group-reply:${api.key}`, 'error', `${api.name} v${apiVersion} from worker ${owner}: undecodable reply: ${(error as Error).message}`)
    throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'undecodable reply from the coordinator')
  }
}

/** Splits the groups of a request by coordinator; every group of one list goes to the same worker. */
export async function groupsByCoordinator (context: RequestContext, groupIds: readonly string[]): Promise<Map<number, string[]>> {
  const { shard } = context
  const topic = await offsetsTopic(shard)
  const byOwner = new Map<number, string[]>()
  for (const groupId of groupIds) {
    const owner = topic === undefined ? shard.index : coordinatorOf(shard, topic, groupId)
    let list = byOwner.get(owner)
    if (list === undefined) { list = []; byOwner.set(owner, list) }
    list.push(groupId)
  }
  return byOwner
}


/** The coordinator side of a routed request. */
export function coordinatorServer<Req, Res> (api: ApiEntry, serve: ServeGroup<Req, Res>): RemoteServer {
  return (shard, source, token, apiVersion, payload) => {
    let request: Req
    let client: ClientInfo
    try {
      const reader = new Reader(payload)
      client = { clientId: reader.nullableString() ?? '', clientHost: reader.nullableString() ?? '' }
      request = api.request(apiVersion).decode(reader) as Req
    } catch (error) {
      count('request-handler-errors')
      shard.logger.limited(`group-decode:${api.key}`, 'error', `${api.name} v${apiVersion} from worker ${source} undecodable: ${(error as Error).message}`)
      shard.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
      return
    }
    let served: Promise<Res> | Res
    try {
      served = serve(shard, request, apiVersion, client)
    } catch (error) {
      partFailed(shard, api, apiVersion, source, token, error)
      return
    }
    replyWhenServed(shard, api, apiVersion, source, token, served)
  }
}
