// Garbage collection of the prefix's data objects (main thread, after loadRemoteState): objects of which no
// range is kept (remote-index.ts: redundantKeys; a merge replaced them, or retention moved every partition of
// theirs past them) and objects every range of which belongs to a deleted topic (a topic id the controller no
// longer knows). Only objects older than `olderThanMs` (by the createdMs of their header) go: a younger one may
// be part of an upload or merge in flight whose index update the state read at start does not know of yet.
// Objects that are not ours were never read (remote-state-loader.ts) and so are never deleted.
import { count } from '../counters.ts'
import type { Logger } from '../logger.ts'
import { ObjectStoreError, retryDelayMs, type ObjectStore } from './object-store.ts'
import type { RemoteState } from './remote-index.ts'

export interface CollectGarbageOptions {
  readonly olderThanMs: number
  readonly nowMs?: number
  readonly logger?: Logger
  /** Tries of each DELETE request (retriable errors only); default 5. */
  readonly attempts?: number
  /** For tests: how a back-off waits. */
  readonly sleep?: (ms: number) => Promise<void>
}

/** S3's DeleteObjects takes at most 1,000 keys a request. */
const kDeleteBatch = 1000
const kDefaultAttempts = 5

/** The keys collectGarbage would delete, oldest first (key order). `state` is not changed. */
export function garbageKeys (state: RemoteState, liveTopicIds: ReadonlySet<string>, olderThanMs: number, nowMs = Date.now()): string[] {
  const cutoff = nowMs - olderThanMs
  const keys = new Set<string>()
  for (const key of state.redundantKeys) keys.add(key)
  for (const [key, header] of state.objects) {
    let live = false
    for (const range of header.ranges) {
      if (liveTopicIds.has(range.topicId)) {
        live = true
        break
      }
    }
    if (!live) keys.add(key)
  }
  const due: string[] = []
  for (const key of keys) {
    const header = state.objects.get(key)
    if (header !== undefined && header.createdMs < cutoff) due.push(key)
  }
  return due.sort()
}

/**
 * Deletes the garbage objects (see the header) and returns how many; counts `s3-objects-deleted`. Rejects with
 * the store's error when a DELETE fails for good (those deleted before stay deleted; the next start finds the
 * rest again).
 */
export async function collectGarbage (store: ObjectStore, state: RemoteState, liveTopicIds: ReadonlySet<string>, options: CollectGarbageOptions): Promise<number> {
  const keys = garbageKeys(state, liveTopicIds, options.olderThanMs, options.nowMs)
  const attempts = options.attempts ?? kDefaultAttempts
  const sleep = options.sleep ?? delay
  let deleted = 0
  for (let first = 0; first < keys.length; first += kDeleteBatch) {
    const batch = keys.slice(first, first + kDeleteBatch)
    for (let attempt = 0; ; attempt++) {
      try {
        await store.delete(batch)
        break
      } catch (error) {
        if (!(error instanceof ObjectStoreError) || !error.retriable || attempt + 1 >= attempts) throw error
        await sleep(retryDelayMs(attempt))
      }
    }
    deleted += batch.length
    count('s3-objects-deleted', batch.length)
  }
  if (deleted > 0) options.logger?.debug(`deleted ${deleted} S3 objects no longer needed (replaced by merges, below the log start, or of deleted topics)`)
  return deleted
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
