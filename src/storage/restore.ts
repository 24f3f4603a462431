// Restore of one partition from its S3 copy (worker side): when S3 holds offsets past the end of the local log (a
// fresh data directory, or a disk that lost its tail), the ranges ending above the local end are downloaded in
// order and their batches appended as they were stored (PartitionLog.appendRestored: same offsets, epochs,
// timestamps and CRCs), so that the producer state, the aborted-transaction index and the leader epochs come
// back as the recovery replay rebuilds them. Then the log start moves up to what S3 knows.
//
// Trust: every batch's CRC-32C is checked before it is appended. A batch that does not frame or check out stops
// the partition's restore there (logged, counted `s3-restore-corrupt`): nothing after a hole may be appended, as
// offsets must only grow. What was appended before it stays. Retriable store errors are retried with back-off;
// others (and exhausted retries) reject, leaving the log as far as it got (a later restore continues from there).
import { count } from '../counters.ts'
import type { Logger } from '../logger.ts'
import { crc32c } from '../protocol/crc32c.ts'
import { ErrorCode, KafkaError } from '../protocol/errors.ts'
import { readInt64 } from '../protocol/int64.ts'
import { kAttributesOffset, kCrcOffset, kLastOffsetDeltaOffset, kMagicOffset } from '../protocol/record-batch-layout.ts'
import { kMagicV2, nextBatchEnd } from '../protocol/record-batch.ts'
import type { PartitionLog } from '../log/partition-log.ts'
import { ObjectStoreError, retryDelayMs, type ObjectStore } from './object-store.ts'
import type { RemotePartitionIndex, RemoteRange } from './remote-index.ts'

export interface RestoreOptions {
  readonly logger?: Logger
  /** Tries per range download (retriable errors only); default 20. */
  readonly attempts?: number
  /** For tests: how a back-off waits. */
  readonly sleep?: (ms: number) => Promise<void>
}

export interface RestoreResult {
  /** Batches appended and their bytes. */
  batches: number
  bytes: number
  /** A corrupt batch (or a short range) stopped the restore before the end of what S3 holds. */
  corrupt: boolean
}

const kDefaultAttempts = 20

/**
 * Brings `log` up to what `index` says S3 holds: downloads every range ending above log.nextOffset, in order,
 * appending its batches from log.nextOffset on; then moves the log start to index.logStartOffset when that is
 * above the log's. Rejects with the store's error when a download fails for good, or with what the log throws
 * on a storage error.
 */
export async function restorePartition (log: PartitionLog, index: RemotePartitionIndex, store: ObjectStore, options: RestoreOptions = {}): Promise<RestoreResult> {
  const result: RestoreResult = { batches: 0, bytes: 0, corrupt: false }
  const attempts = options.attempts ?? kDefaultAttempts
  const sleep = options.sleep ?? delay
  if (index.endOffset > log.nextOffset) {
    for (let at = index.firstEndingAbove(log.nextOffset); at < index.ranges.length; at++) {
      const range = index.ranges[at]
      if (range.endOffset <= log.nextOffset) continue
      const bytes = await download(store, range, attempts, sleep, options.logger)
      if (!appendRange(log, range, index.logStartOffset, bytes, result, options.logger)) {
        result.corrupt = true
        count('s3-restore-corrupt')
        break
      }
    }
    if (!result.corrupt && log.nextOffset < index.endOffset) {
      // The last batch ends below the range's end: the copy is of a compacted log whose cleaner removed the
      // last batches of the span (the uploader rewrites compacted partitions from their cleaned logs). The log
      // goes on where S3's copy ends, so that the next offsets are new ones to S3 too.
      log.continueRestoredAt(index.endOffset)
    }
  }
  if (index.logStartOffset > log.logStartOffset) log.restoreLogStart(index.logStartOffset)
  if (result.batches > 0) {
    // On the local disk too before the partition serves (flushLocal: the data is in S3 already), so that a
    // crash right after does not download it again.
    await log.flushLocal()
    options.logger?.info(`restored ${result.batches} batches (${result.bytes} bytes) of ${log.directory} from S3, up to offset ${log.nextOffset}`)
  }
  return result
}

/**
 * Appends the batches of one downloaded range that end at or above the log end; false when the bytes stop
 * framing or a batch fails its checks (logged).
 */
function appendRange (log: PartitionLog, range: RemoteRange, logStartOffset: number, bytes: Buffer, result: RestoreResult, logger: Logger | undefined): boolean {
  if (bytes.length !== range.length) {
    logger?.error(`restore of ${log.directory}: ${range.key} [${range.position}, +${range.length}) came back with ${bytes.length} bytes`)
    return false
  }
  let position = 0
  while (position < bytes.length) {
    const end = nextBatchEnd(bytes, position, bytes.length)
    if (end < 0) {
      logger?.error(`restore of ${log.directory}: ${range.key} holds no whole batch at byte ${range.position + position}; restore stopped at offset ${log.nextOffset}`)
      return false
    }
    const batch = bytes.subarray(position, end)
    const baseOffset = readInt64(batch, 0)
    if (batch[kMagicOffset] !== kMagicV2 || batch.readUInt32BE(kCrcOffset) !== crc32c(batch.subarray(kAttributesOffset))) {
      logger?.error(`restore of ${log.directory}: the batch at offset ${baseOffset} in ${range.key} fails its CRC; restore stopped at offset ${log.nextOffset}`)
      return false
    }
    const lastOffset = baseOffset + batch.readInt32BE(kLastOffsetDeltaOffset)
    if (lastOffset >= log.nextOffset) {
      // A batch wholly at or above S3's log start while the log ends below it (the start lies in a gap the
      // cleaner left, or the log is empty): the start moves first, so the log starts where S3's does rather
      // than at this batch.
      if (baseOffset >= logStartOffset && log.nextOffset < logStartOffset) log.restoreLogStart(logStartOffset)
      try {
        log.appendRestored(batch)
      } catch (error) {
        if (!(error instanceof KafkaError) || error.code !== ErrorCode.CORRUPT_MESSAGE) throw error
        logger?.error(`restore of ${log.directory}: the batch at offset ${baseOffset} in ${range.key} is refused (${error.message}); restore stopped`)
        return false
      }
      result.batches++
      result.bytes += batch.length
    }
    position = end
  }
  return true
}

async function download (store: ObjectStore, range: RemoteRange, attempts: number, sleep: (ms: number) => Promise<void>, logger: Logger | undefined): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.get(range.key, { start: range.position, end: range.position + range.length })
    } catch (error) {
      if (!isRetriable(error) || attempt + 1 >= attempts) throw error
      logger?.limited('s3-restore-retry', 'warn', `restore: reading ${range.key} failed (${(error as Error).message}); retrying`)
      await sleep(retryDelayMs(attempt))
    }
  }
}

function isRetriable (error: unknown): boolean {
  return error instanceof ObjectStoreError && error.retriable
}

function delay (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
