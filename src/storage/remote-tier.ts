// What the rest of a worker sees of the S3 copy of its partitions (implemented by the worker's uploader,
// uploader.ts): where each partition's offsets are in S3, how far S3 holds everything, and the store to read
// from. Tiered reads (fetches of offsets evicted from the local disk), eviction (local.retention.*) and log start
// moves (DeleteRecords, retention) go through it. Everything here runs on the partition's worker thread.
import type { ObjectStore } from './object-store.ts'
import type { RemotePartitionIndex } from './remote-index.ts'

export interface RemoteTier {
  readonly store: ObjectStore
  /** The partition's ranges confirmed in S3; undefined when S3 holds nothing of it. */
  index (topicId: string, partition: number): RemotePartitionIndex | undefined
  /** Every offset of the partition below it is confirmed in S3 (local segments ending at or below it may be evicted). */
  uploadedOffset (topicId: string, partition: number): number
  /**
   * The partition's log start offset moved to `offset` (DeleteRecords, retention): ranges wholly below it are
   * forgotten (their objects deleted once nothing else needs them) and the new start travels in the next upload.
   */
  advanceStart (topicId: string, partition: number, offset: number): void
  /** Produce is refused (NOT_ENOUGH_REPLICAS, retriable) while true: the S3 backlog is at its bound, or the prefix was taken over. */
  readonly refusesProduce: boolean
  /** Why, for the error message. */
  readonly refusalReason: string
  /** Bytes appended to this worker's partitions and not yet in S3 (the backlog). */
  readonly backlogBytes: number
  /** The throttle (ms) produce answers carry: 0 until the backlog passes half its bound. */
  produceThrottleMs (): number
}
