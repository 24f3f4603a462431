// Log retention by time and size (Kafka's cleanup.policy=delete): which of a partition's oldest segments have
// expired, and deleting them one at a time so that the caller (src/shard/log-maintenance.ts) bounds how long
// one slice of work holds the worker's thread.
//
// Kafka's rules, per partition, whole segments only, oldest first, stopping at the first segment that stays:
//   retention.ms     a sealed segment expires when now - (its largest record timestamp) > retention.ms; a
//                    segment without timestamps goes by its .log file's modification time. -1: never by time.
//   retention.bytes  the oldest sealed segment goes while the partition's size without it is still at least
//                    retention.bytes (so the log never drops below it). -1: unlimited.
// Either rule deletes. The active segment is never deleted: segment.ms rolls it first (rollIfOlderThan), after
// which it is sealed and these rules apply to it. Deleting moves the log start offset to the next segment's base
// offset: Fetch and ListOffsets below it answer OFFSET_OUT_OF_RANGE, and consumers reset by auto.offset.reset.
// The files are renamed `.deleted` and removed after file.delete.delay.ms (PartitionLog.deleteOldestSegment;
// DeleteRecords' PartitionLog.deleteRecordsBefore deletes its segments through the same path).
import { statSync } from 'node:fs'
import { count } from '../counters.ts'
import type { PartitionLog } from './partition-log.ts'

/** What retention needs of a topic's configs, as numbers (-1: that limit is off). */
export interface RetentionConfig {
  /** retention.ms */
  retentionMs: number
  /** retention.bytes */
  retentionBytes: number
  /** file.delete.delay.ms */
  fileDeleteDelayMs: number
}

/** Why a segment may go: retentionBreach's answers. */
export const kRetentionKept = 0
export const kRetentionByTime = 1
export const kRetentionBySize = 2

/**
 * Whether the oldest segment of `log` may be deleted at `nowMs`: kRetentionByTime, kRetentionBySize, or
 * kRetentionKept (also when the log has no sealed segment).
 */
export function retentionBreach (log: PartitionLog, config: RetentionConfig, nowMs: number): number {
  const oldest = log.oldestSealedSegment()
  if (oldest === null) return kRetentionKept
  if (config.retentionMs >= 0) {
    const largestTimestamp = oldest.maxTimestamp >= 0 ? oldest.maxTimestamp : modifiedAtMs(oldest.logPath)
    if (nowMs - largestTimestamp > config.retentionMs) return kRetentionByTime
  }
  if (config.retentionBytes >= 0 && log.sizeBytes - oldest.size >= config.retentionBytes) return kRetentionBySize
  return kRetentionKept
}

/**
 * Deletes the oldest segment when it has expired (retentionBreach); returns the bytes deleted, -1 when nothing
 * was (call again while it returns >= 0: each call deletes at most one segment). Counts
 * `retention-segments-deleted` and `retention-bytes-deleted`. Throws what PartitionLog.deleteOldestSegment throws.
 */
export function deleteOneExpiredSegment (log: PartitionLog, config: RetentionConfig, nowMs: number): number {
  if (retentionBreach(log, config, nowMs) === kRetentionKept) return -1
  const bytes = log.deleteOldestSegment(config.fileDeleteDelayMs, nowMs)
  count('retention-segments-deleted')
  count('retention-bytes-deleted', bytes)
  return bytes
}

/** Everything retention deletes from `log` now, in one go (tests, tools): segments and bytes deleted. */
export function applyRetention (log: PartitionLog, config: RetentionConfig, nowMs = Date.now()): { segments: number, bytes: number } {
  let segments = 0
  let bytes = 0
  for (;;) {
    const deleted = deleteOneExpiredSegment(log, config, nowMs)
    if (deleted < 0) break
    segments++
    bytes += deleted
  }
  return { segments, bytes }
}

/** A .log file's modification time, or +Infinity when it cannot be read (never expired by time). */
function modifiedAtMs (path: string): number {
  try {
    return statSync(path).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}
