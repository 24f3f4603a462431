// Fan-out / reduce for requests that touch partitions (Produce, Fetch, ListOffsets): group the request's
// partitions by owner worker, serve the local group directly, send every other group over the ring to its
// owner as a request of the same API and version holding only that owner's partitions, then merge the parts'
// responses. Unknown topics and partitions never leave the connection's worker: they are answered here.

import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { ApiEntry } from '../protocol/apis.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard, RemoteServer } from '../shard/shard.ts'
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

/** Starts every part: the local one in place, the others on their owners. */
export function dispatchParts<Req, Res> (
  shard: Shard,
  api: ApiEntry,
  apiVersion: number,
  requests: Map<number, Req>,
  serveLocal: ServeLocal<Req, Res>,
  localWakeKey: string | null
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
    calls.push({ owner, token, response: reply.then((payload) => api.response(apiVersion).decode(new Reader(payload)) as Res) })
  }
  return calls
}

/**
 * The reply of a part that failed on its owner (a bug, logged there): an empty payload, which the caller cannot
 * decode, so its request fails and that connection closes, instead of the caller waiting forever.
 */
export const kFailedReply = Buffer.alloc(0)

/**
 * The owner side of `dispatchParts`: decode the part, serve it, send the encoded response back. `servesInPlace`:
 * serveLocal is done with the request's Buffers before its first await and keeps none of them (see RemoteServer).
 */
export function remoteServer<Req, Res> (api: ApiEntry, serveLocal: ServeLocal<Req, Res>, options: { servesInPlace?: boolean } = {}): RemoteServer {
  const server = (shard: Shard, source: number, token: number, apiVersion: number, payload: Buffer): void => {
    let request: Req
    try {
      request = api.request(apiVersion).decode(new Reader(payload)) as Req
    } catch (error) {
      shard.logger.error(`${api.name} part from worker ${source} undecodable: ${(error as Error).message}`)
      shard.reply(source, token, apiVersion, kFailedReply)
      return
    }
    serveLocal(shard, request, apiVersion, `${source}:${token}`).then((response) => {
      const writer = new Writer()
      api.response(apiVersion).encode(writer, response)
      writer.finishFrame()
      shard.reply(source, token, apiVersion, writer.chunks)
    }, (error: Error) => {
      shard.logger.error(`${api.name} part from worker ${source} failed: ${error.stack ?? error.message}`)
      shard.reply(source, token, apiVersion, kFailedReply)
    })
  }
  return Object.assign(server, { servesInPlace: options.servesInPlace === true })
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
export async function fanOutByTopicName<P extends { partitionIndex: number }, R, Req extends { topics: Array<NamedTopic<P>> }, Res extends { topics: Array<NamedTopic<R>> }> (
  context: RequestContext,
  api: ApiEntry,
  request: Req,
  serveLocal: ServeLocal<Req, Res>,
  unknownPartition: (partition: P, errorCode: number) => R
): Promise<Array<NamedTopic<R>>> {
  const { shard, apiVersion } = context
  const grouping = groupByOwner(shard, request.topics, (t) => shard.table.topic(t.name), (t) => t.partitions, (p) => p.partitionIndex,
    (t, partitions) => ({ ...t, partitions }))
  const parts = new Map<number, Req>()
  for (const [owner, topics] of grouping.owners) parts.set(owner, { ...request, topics })
  const results: Array<Array<NamedTopic<R>>> = []
  for (const call of dispatchParts(shard, api, apiVersion, parts, serveLocal, null)) results.push((await call.response).topics)
  if (grouping.unknown.length > 0) {
    results.push(grouping.unknown.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => unknownPartition(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) })))
  }
  return results.length === 0 ? [] : mergeTopics(results, (t) => t.name, 'partitions')
}
