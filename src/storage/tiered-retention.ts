// Retention and eviction across the two tiers of a partition (KIP-405's rules, on Shoal's S3 copy): the local
// disk holds [localStartOffset, nextOffset); S3 holds everything below uploadedOffset, so after eviction the part
// [logStartOffset, localStartOffset) is only in S3. The maintenance task (src/shard/log-maintenance.ts,
// RetentionTask) calls these one unit at a time, oldest first:
//
//   retention (retention.ms / retention.bytes) deletes the oldest data of the partition, whichever tier holds
//     it: first the evicted part, range by range (by a range's maxTimestamp; by the partition's size counting
//     the evicted bytes too), moving the log start offset (PartitionLog.deleteRecordsBefore) and telling S3
//     (RemoteTier.advanceStart); then local segments as before (src/log/retention.ts). Kafka stops at the first
//     unit that stays, so while the evicted part stays no local segment is deleted.
//   eviction (local.retention.ms / local.retention.bytes; -2: the retention.* value) removes the oldest sealed
//     local segment once it lies wholly below uploadedOffset and the local log is over local.retention.bytes
//     without it, or its newest timestamp is older than local.retention.ms. The log start does not move.
//
// Only cleanup.policy=delete topics are evicted (Kafka refuses remote storage on compacted topics): the caller
// checks.
import type { PartitionLog } from '../log/partition-log.ts'
import type { RetentionConfig } from '../log/retention.ts'
import type { RemotePartitionIndex } from './remote-index.ts'
import type { RemoteTier } from './remote-tier.ts'

/** What retention and eviction need of the worker's RemoteTier. */
export type RetentionTier = Pick<RemoteTier, 'index' | 'uploadedOffset' | 'advanceStart'>

/** local.retention.* as numbers, -2 resolved to the retention.* value (-1: that limit is off). */
export interface LocalRetentionConfig {
  localRetentionMs: number
  localRetentionBytes: number
}

/** A local.retention.* value with -2 ("as retention.*") resolved. */
export function resolveLocalRetention (localValue: number, retentionValue: number): number {
  return localValue === -2 ? retentionValue : localValue
}

/** Bytes of the S3 ranges holding the evicted part [logStartOffset, localStartOffset) of `log`. */
export function evictedBytes (log: PartitionLog, index: RemotePartitionIndex): number {
  const localStart = log.localStartOffset
  let bytes = 0
  for (let at = index.firstEndingAbove(log.logStartOffset); at < index.ranges.length && index.ranges[at].baseOffset < localStart; at++) {
    bytes += index.ranges[at].length
  }
  return bytes
}

/** The partition's size for retention.bytes: local segments plus the evicted part in S3. */
export function tieredSizeBytes (log: PartitionLog, tier: RetentionTier | null, topicId: string, partition: number): number {
  const index = tier?.index(topicId, partition)
  return index === undefined || log.logStartOffset >= log.localStartOffset ? log.sizeBytes : log.sizeBytes + evictedBytes(log, index)
}

/** deleteOneExpiredEvictedRange's answer when the log has no evicted part (local retention decides). */
export const kNoEvictedPart = -1
/** deleteOneExpiredEvictedRange's answer when the evicted part's oldest range stays (so does everything newer). */
export const kEvictedPartKept = -2

/**
 * Retention of the evicted part: when its oldest range (by S3's index) has expired, moves the log start past it
 * (no further than localStartOffset), tells the tier, and returns the range's bytes. kNoEvictedPart when there
 * is none (or S3's index does not reach the log start: then only local retention can go on), kEvictedPartKept
 * when the oldest range stays. Throws what PartitionLog.deleteRecordsBefore throws.
 */
export function deleteOneExpiredEvictedRange (log: PartitionLog, tier: RetentionTier, topicId: string, partition: number, config: RetentionConfig, nowMs: number): number {
  const start = log.logStartOffset
  const localStart = log.localStartOffset
  if (start >= localStart) return kNoEvictedPart
  const index = tier.index(topicId, partition)
  if (index === undefined) return kNoEvictedPart
  const oldest = index.ranges[index.firstEndingAbove(start)]
  if (oldest === undefined || oldest.baseOffset > start) return kNoEvictedPart
  const byTime = config.retentionMs >= 0 && oldest.maxTimestamp >= 0 && nowMs - oldest.maxTimestamp > config.retentionMs
  const bySize = config.retentionBytes >= 0 && log.sizeBytes + evictedBytes(log, index) - oldest.length >= config.retentionBytes
  if (!byTime && !bySize) return kEvictedPartKept
  log.deleteRecordsBefore(Math.min(oldest.endOffset, localStart), 0, nowMs)
  tier.advanceStart(topicId, partition, log.logStartOffset)
  return oldest.length
}

/**
 * Eviction: removes the oldest sealed local segment when it is wholly in S3 and local.retention.* says it may
 * go (see the header); returns its bytes, -1 when nothing was evicted. Throws what
 * PartitionLog.evictOldestSegment throws.
 */
export function evictOneSegment (log: PartitionLog, tier: RetentionTier, topicId: string, partition: number, config: LocalRetentionConfig, nowMs: number): number {
  if (config.localRetentionMs < 0 && config.localRetentionBytes < 0) return -1
  const oldest = log.oldestSealedSegment()
  if (oldest === null || oldest.nextOffset > tier.uploadedOffset(topicId, partition)) return -1
  const byTime = config.localRetentionMs >= 0 && oldest.maxTimestamp >= 0 && nowMs - oldest.maxTimestamp > config.localRetentionMs
  const bySize = config.localRetentionBytes >= 0 && log.sizeBytes - oldest.size >= config.localRetentionBytes
  if (!byTime && !bySize) return -1
  return log.evictOldestSegment(nowMs)
}
