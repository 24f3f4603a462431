// Fan-out / reduce for requests that touch partitions (Produce, Fetch, ListOffsets): group the request's
// partitions by owner worker, serve the local group directly, send every other group over the ring to its
// owner as a request of the same API and version holding only that owner's partitions, then merge the parts'
// responses. Unknown topics and partitions never leave the connection's worker: they are answered here.
// A part whose owner cannot answer it (the owner worker died and is restarting, its server failed, or its
// reply does not decode) is answered here too, as that part's response with an error code in each of its
// partitions (NOT_LEADER_OR_FOLLOWER while the owner restarts, so clients refresh metadata and retry), and
// merged with the others like any part.

import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import type { ApiEntry } from '../protocol/apis.ts'
import type { RequestContext } from '../net/connection.ts'
import { CallFailedError, kCallPeerDown, type Shard, type RemoteServer } from '../shard/shard.ts'
import { deriveErrorResponse } from '../protocol/error-response.ts'
import { count } from '../counters.ts'
import type { TopicEntry } from '../shard/shard-table.ts'

export type ServeLocal<Req, Res> = (shard: Shard, request: Req, apiVersion: number, wakeKey: string | null) => Promise<Res>

export interface Grouping<T> {
  /** Topics (each restricted to that owner's partitions) by owner worker. */
  readonly owners: Map<number, T[]>
  /** Topics (restricted to the partitions that do not exist), answered with an error by the caller. */
  readonly unknown: T[]
}

/**
 * Splits `topics` by owner. `withPartitions` makes a shallow copy of a topic entry with other partitions; it
 * is called only when a topic's partitions are spread over several owners.
 */
export function groupByOwner<T, P> (
  shard: Shard,
  topics: readonly T[],
  entryOf: (topic: T) => TopicEntry | undefined,
  partitionsOf: (topic: T) => readonly P[],
  indexOf: (partition: P) => number,
  withPartitions: (topic: T, partitions: P[]) => T
): Grouping<T> {
  const owners = new Map<number, T[]>()
  const unknown: T[] = []
  for (const topic of topics) {
    const entry = entryOf(topic)
    const partitions = partitionsOf(topic)
    let single = -2
    for (const partition of partitions) {
      const owner = shard.table.ownerOf(entry, indexOf(partition))
      if (single === -2) single = owner
      else if (single !== owner) { single = -3; break }
    }
    if (single !== -3) {
      // Every partition has the same owner (or the topic lists none): no copy needed.
      const list = single === -1 ? unknown : getOrCreate(owners, single < 0 ? shard.index : single)
      list.push(topic)
      continue
    }
    const byOwner = new Map<number, P[]>()
    for (const partition of partitions) {
      const owner = shard.table.ownerOf(entry, indexOf(partition))
      getOrCreate(byOwner, owner).push(partition)
    }
    for (const [owner, list] of byOwner) {
      (owner === -1 ? unknown : getOrCreate(owners, owner)).push(withPartitions(topic, list))
    }
  }
  return { owners, unknown }
}

function getOrCreate<K, V> (map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key)
  if (list === undefined) {
    list = []
    map.set(key, list)
  }
  return list
}

export interface PartCall<Res> {
  readonly owner: number
  /** The ring token of a remote part (to wake a long poll), -1 for the local part. */
  readonly token: number
  readonly response: Promise<Res>
}

/** The response to a part (as sent to its owner) in which every partition carries `errorCode`. */
export type ErrorPart<Req, Res> = (request: Req, errorCode: number) => Res

interface ProducePart { topicData: Array<{ name: string, topicId: string, partitionData: Array<{ index: number }> }> }
interface FetchPart { topics: Array<{ topic: string, topicId: string, partitions: Array<{ partition: number }> }> }
const kNoRecords = Buffer.alloc(0)

/**
 * Error parts of Produce and Fetch, whose merge keys (name or topic id, partition index) and fields the
 * handlers read must all be there; other APIs get the one derived from the message definitions.
 */
function defaultErrorPart<Req, Res> (api: ApiEntry, apiVersion: number): ErrorPart<Req, Res> {
  switch (api.key) {
    case 0: return ((request: ProducePart, errorCode: number) => ({
      throttleTimeMs: 0,
      responses: request.topicData.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage: null }))
      }))
    })) as unknown as ErrorPart<Req, Res>
    case 1: return ((request: FetchPart, errorCode: number) => ({
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: request.topics.map((t) => ({
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partition, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, preferredReadReplica: -1, records: kNoRecords
        }))
      }))
    })) as unknown as ErrorPart<Req, Res>
    default: return (request: Req, errorCode: number) => deriveErrorResponse(api, apiVersion, request, errorCode) as Res
  }
}

/** The error code a part gets when its call failed: see the header. */
export function partErrorCode (error: unknown): number {
  if (error instanceof CallFailedError) return error.reason === kCallPeerDown ? ErrorCode.NOT_LEADER_OR_FOLLOWER : error.code
  return ErrorCode.UNKNOWN_SERVER_ERROR
}

/**
 * Starts every part: the local one in place, the others on their owners. No part's response rejects: a remote
 * part that fails resolves with `errorPart` (by default the API's own, see defaultErrorPart).
 */
export function dispatchParts<Req, Res> (
  shard: Shard,
  api: ApiEntry,
  apiVersion: number,
  requests: Map<number, Req>,
  serveLocal: ServeLocal<Req, Res>,
  localWakeKey: string | null,
  errorPart?: ErrorPart<Req, Res>
): Array<PartCall<Res>> {
  const calls: Array<PartCall<Res>> = []
  for (const [owner, request] of requests) {
    if (owner === shard.index) {
      calls.push({ owner, token: -1, response: serveLocal(shard, request, apiVersion, localWakeKey) })
      continue
    }
    const writer = new Writer()
    api.request(apiVersion).encode(writer, request)
    writer.finishFrame()
    const { token, reply } = shard.call(owner, api.key, apiVersion, writer.chunks)
    const failed = (error: unknown): Res => {
      const code = partErrorCode(error)
      if (!(error instanceof CallFailedError)) {
        count('request-handler-errors')
        shard.logger.limited(`part-reply:${api.key}`, 'error', `${api.name} v${apiVersion} part from worker ${owner}: undecodable reply: ${(error as Error).message}`)
      }
      return (errorPart ?? defaultErrorPart<Req, Res>(api, apiVersion))(request, code)
    }
    calls.push({
      owner,
      token,
      response: reply.then((payload) => {
        try {
          return api.response(apiVersion).decode(new Reader(payload)) as Res
        } catch (error) {
          return failed(error)
        }
      }, failed)
    })
  }
  return calls
}

/**
 * The owner side of `dispatchParts`: decode the part, serve it, send the encoded response back. `servesInPlace`:
 * serveLocal is done with the request's Buffers before its first await and keeps none of them (see RemoteServer).
 */
/**
 * Owner side: once `served` settles, sends the caller its encoded response, or an error reply when it rejects
 * or its response cannot be encoded (partFailed).
 */
export function replyWhenServed<Res> (shard: Shard, api: ApiEntry, apiVersion: number, source: number, token: number, served: Promise<Res> | Res): void {
  Promise.resolve(served).then((response) => {
    try {
      const writer = new Writer()
      api.response(apiVersion).encode(writer, response)
      writer.finishFrame()
      shard.reply(source, token, apiVersion, writer.chunks)
    } catch (error) {
      partFailed(shard, api, apiVersion, source, token, error)
    }
  }, (error: unknown) => partFailed(shard, api, apiVersion, source, token, error))
}

export function remoteServer<Req, Res> (api: ApiEntry, serveLocal: ServeLocal<Req, Res>, options: { servesInPlace?: boolean } = {}): RemoteServer {
  const server = (shard: Shard, source: number, token: number, apiVersion: number, payload: Buffer): void => {
    let request: Req
    try {
      request = api.request(apiVersion).decode(new Reader(payload)) as Req
    } catch (error) {
      count('request-handler-errors')
      shard.logger.limited(`part-decode:${api.key}`, 'error', `${api.name} v${apiVersion} part from worker ${source} undecodable: ${(error as Error).message}`)
      shard.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
      return
    }
    replyWhenServed(shard, api, apiVersion, source, token, serveLocal(shard, request, apiVersion, `${source}:${token}`))
  }
  return Object.assign(server, { servesInPlace: options.servesInPlace === true })
}

/** serveLocal rejected, or its response did not encode: a bug here, answered as an error for the part. */
export function partFailed (shard: Shard, api: ApiEntry, apiVersion: number, source: number, token: number, error: unknown): void {
  // A KafkaError is an answer for the whole part, not a bug: its code goes back as it is.
  if (error instanceof KafkaError) {
    shard.replyError(source, token, error.code)
    return
  }
  count('request-handler-errors')
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
  shard.logger.limited(`part-failed:${api.key}`, 'error', `${api.name} v${apiVersion} part from worker ${source} failed: ${text}`)
  shard.replyError(source, token, ErrorCode.UNKNOWN_SERVER_ERROR)
}

/**
 * Merges topic responses from several parts: entries for the same topic key are combined into one, whose
 * partition list concatenates theirs, in the order the topics first appear.
 */
export function mergeTopics<T> (parts: ReadonlyArray<readonly T[]>, keyOf: (topic: T) => string, partitionsKey: string): T[] {
  if (parts.length === 1) return parts[0] as T[]
  const merged = new Map<string, T>()
  for (const part of parts) {
    for (const topic of part) {
      const key = keyOf(topic)
      const existing = merged.get(key) as any
      if (existing === undefined) merged.set(key, { ...topic, [partitionsKey]: [...(topic as any)[partitionsKey]] })
      else existing[partitionsKey].push(...(topic as any)[partitionsKey])
    }
  }
  return [...merged.values()]
}

interface NamedTopic<P> {
  name: string
  partitions: P[]
}

/**
 * The whole fan-out for APIs whose request and response both list `topics: [{ name, partitions }]` with
 * `partitionIndex` in each request partition (ListOffsets, DeleteRecords): split by owner, serve, answer
 * unknown partitions with UNKNOWN_TOPIC_OR_PARTITION via `unknownPartition`, merge by topic name.
 */
export function fanOutByTopicName<P extends { partitionIndex: number }, R, Req extends { topics: Array<NamedTopic<P>> }, Res extends { topics: Array<NamedTopic<R>> }> (
  context: RequestContext,
  api: ApiEntry,
  request: Req,
  serveLocal: ServeLocal<Req, Res>,
  unknownPartition: (partition: P, errorCode: number) => R
): Promise<Array<NamedTopic<R>>> {
  return fanOutByTopic<NamedTopic<P>, P, R, Req, Res>(context, api, request, serveLocal, {
    partitionsOf: (t) => t.partitions,
    indexOf: (p) => p.partitionIndex,
    withPartitions: (t, partitions) => ({ ...t, partitions }),
    unknownPartition
  })
}

/** How a request lists its partitions, for fanOutByTopic. */
export interface TopicShape<T, P, R> {
  partitionsOf: (topic: T) => readonly P[]
  indexOf: (partition: P) => number
  withPartitions: (topic: T, partitions: P[]) => T
  unknownPartition: (partition: P, errorCode: number) => R
}

/**
 * fanOutByTopicName for any request shape that names its topics and lists partitions in some form (DescribeProducers
 * lists bare `partitionIndexes`); the response lists `topics: [{ name, partitions }]`.
 */
export async function fanOutByTopic<T extends { name: string }, P, R, Req extends { topics: T[] }, Res extends { topics: Array<NamedTopic<R>> }> (
  context: RequestContext,
  api: ApiEntry,
  request: Req,
  serveLocal: ServeLocal<Req, Res>,
  shape: TopicShape<T, P, R>
): Promise<Array<NamedTopic<R>>> {
  const { shard, apiVersion } = context
  const grouping = groupByOwner(shard, request.topics, (t) => shard.table.topic(t.name), shape.partitionsOf, shape.indexOf, shape.withPartitions)
  const parts = new Map<number, Req>()
  for (const [owner, topics] of grouping.owners) parts.set(owner, { ...request, topics })
  const results: Array<Array<NamedTopic<R>>> = []
  const unknownTopic = (t: T, errorCode: number): NamedTopic<R> => ({ name: t.name, partitions: shape.partitionsOf(t).map((p) => shape.unknownPartition(p, errorCode)) })
  const errorPart = (part: Req, errorCode: number): Res => ({ topics: part.topics.map((t) => unknownTopic(t, errorCode)) }) as unknown as Res
  for (const call of dispatchParts(shard, api, apiVersion, parts, serveLocal, null, errorPart)) results.push((await call.response).topics)
  if (grouping.unknown.length > 0) results.push(grouping.unknown.map((t) => unknownTopic(t, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)))
  return results.length === 0 ? [] : mergeTopics(results, (t) => t.name, 'partitions')
}
