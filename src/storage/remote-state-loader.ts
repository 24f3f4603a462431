// What S3 holds of every partition, read at start (main thread): a LIST of `<prefix>data/` and one ranged GET per
// object for its header (object-format.ts), from which buildRemoteState (remote-index.ts) makes each partition's
// index. There is no manifest: the headers are the manifest. Then each worker gets the indexes of the partitions
// it owns, as plain data (serializeRemoteState / deserializeRemoteState: structured-clone safe, no classes).
//
// An object that is not one of ours (no magic, another format version, a header that does not parse) is skipped
// with a warning and counted `s3-objects-unreadable`: a stray file in the prefix must not stop the broker, and
// it is never deleted either (garbage.ts only deletes objects it could read). An object gone between the LIST and
// its GET (a merge of the previous run deleted it) is skipped silently. Retriable store errors are retried with
// back-off; any other store error (denied, no bucket) rejects: starting without what S3 holds would restore
// nothing and then upload over it.
import { count } from '../counters.ts'
import type { Logger } from '../logger.ts'
import { dataPrefix, decodeHeader, headerLength, kHeaderProbeBytes, kObjectPreambleBytes, type ObjectHeader } from './object-format.ts'
import { ObjectStoreError, retryDelayMs, type ObjectStore, type StoredObject } from './object-store.ts'
import { buildRemoteState, partitionKey, RemotePartitionIndex, type RemoteRange, type RemoteState } from './remote-index.ts'

export interface LoadRemoteStateOptions {
  readonly logger?: Logger
  /** Tries of each request (retriable errors only); default 20. */
  readonly attempts?: number
  /** Header reads in flight at once; default 8. */
  readonly concurrency?: number
  /** For tests: how a back-off waits. */
  readonly sleep?: (ms: number) => Promise<void>
}

const kDefaultAttempts = 20
const kDefaultConcurrency = 8

/** Lists the prefix's data objects, reads their headers and builds every partition's index. */
export async function loadRemoteState (store: ObjectStore, prefix: string, options: LoadRemoteStateOptions = {}): Promise<RemoteState> {
  const attempts = options.attempts ?? kDefaultAttempts
  const sleep = options.sleep ?? delay
  const logger = options.logger
  const listed = await withRetries(() => store.list(dataPrefix(prefix)), attempts, sleep, logger)
  const headers: Array<ObjectHeader | null> = new Array(listed.length).fill(null)
  let next = 0
  const reader = async (): Promise<void> => {
    while (next < listed.length) {
      const at = next++
      headers[at] = await readObjectHeader(store, listed[at], attempts, sleep, logger)
    }
  }
  const readers: Array<Promise<void>> = []
  for (let index = 0; index < Math.max(1, options.concurrency ?? kDefaultConcurrency); index++) readers.push(reader())
  await Promise.all(readers)
  // In LIST (key, so age) order, whatever order the reads finished in.
  const objects = new Map<string, ObjectHeader>()
  for (let index = 0; index < listed.length; index++) {
    const header = headers[index]
    if (header !== null) objects.set(listed[index].key, header)
  }
  const state = buildRemoteState(objects)
  logger?.info(`S3 "${prefix}": ${objects.size} data objects, ${state.partitions.size} partitions, ${state.redundantKeys.length} redundant objects`)
  return state
}

/** One object's header, or null when it is not ours (logged, counted) or is gone. */
async function readObjectHeader (store: ObjectStore, object: StoredObject, attempts: number, sleep: (ms: number) => Promise<void>, logger: Logger | undefined): Promise<ObjectHeader | null> {
  const key = object.key
  try {
    if (object.size < kObjectPreambleBytes) throw new Error(`${key} is not a Shoal data object (${object.size} bytes)`)
    const probe = await withRetries(() => store.get(key, { start: 0, end: Math.min(object.size, kHeaderProbeBytes) }), attempts, sleep, logger)
    const end = kObjectPreambleBytes + headerLength(probe, key)
    if (end > object.size) throw new Error(`${key}: header of ${end - kObjectPreambleBytes} bytes in an object of ${object.size}`)
    const bytes = end <= probe.length ? probe : await withRetries(() => store.get(key, { start: 0, end }), attempts, sleep, logger)
    return decodeHeader(bytes, key)
  } catch (error) {
    if (error instanceof ObjectStoreError) {
      if (error.kind === 'not-found') return null
      throw error
    }
    count('s3-objects-unreadable')
    logger?.limited('s3-objects-unreadable', 'warn', `skipping S3 object ${key}: ${(error as Error).message}`)
    return null
  }
}

async function withRetries<T> (request: () => Promise<T>, attempts: number, sleep: (ms: number) => Promise<void>, logger: Logger | undefined): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request()
    } catch (error) {
      if (!(error instanceof ObjectStoreError) || !error.retriable || attempt + 1 >= attempts) throw error
      logger?.limited('s3-state-retry', 'warn', `reading what S3 holds failed (${error.message}); retrying`)
      await sleep(retryDelayMs(attempt))
    }
  }
}

/** One partition's index as plain data. */
export interface SerializedPartition {
  readonly topicId: string
  readonly partition: number
  readonly logStartOffset: number
  readonly ranges: readonly RemoteRange[]
}

/** What a worker gets of the remote state (postMessage / workerData: plain arrays and objects only). */
export interface SerializedRemoteState {
  readonly partitions: readonly SerializedPartition[]
}

/**
 * The partitions' indexes as plain data, only those `wanted` keeps (a worker's own partitions). The ranges are
 * the index's own objects (plain already): structured cloning copies them.
 */
export function serializeRemoteState (state: RemoteState, wanted?: (topicId: string, partition: number) => boolean): SerializedRemoteState {
  const partitions: SerializedPartition[] = []
  for (const [name, index] of state.partitions) {
    const colon = name.lastIndexOf(':')
    const topicId = name.slice(0, colon)
    const partition = Number(name.slice(colon + 1))
    if (wanted !== undefined && !wanted(topicId, partition)) continue
    partitions.push({ topicId, partition, logStartOffset: index.logStartOffset, ranges: index.ranges })
  }
  return { partitions }
}

/** The indexes back, by partitionKey. */
export function deserializeRemoteState (serialized: SerializedRemoteState): Map<string, RemotePartitionIndex> {
  const indexes = new Map<string, RemotePartitionIndex>()
  for (const plain of serialized.partitions) {
    const index = new RemotePartitionIndex()
    index.logStartOffset = plain.logStartOffset
    for (const range of plain.ranges) index.ranges.push(range)
    indexes.set(partitionKey(plain.topicId, plain.partition), index)
  }
  return indexes
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
