// A small RemoteTier for tests of tiered reads and eviction (until the worker's uploader, uploader.ts, exists):
// upload() copies a PartitionLog's batches from where S3 ends up to an offset into one flush object of a
// MemoryObjectStore, as a flush does (encodeObject), and records the range in the partition's index.
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { dataObjectKey, encodeObject } from '../../src/storage/object-format.ts'
import { RemotePartitionIndex, partitionKey } from '../../src/storage/remote-index.ts'
import type { RemoteTier } from '../../src/storage/remote-tier.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { readInt64 } from '../../src/protocol/int64.ts'
import { kMaxTimestampOffset } from '../../src/protocol/record-batch-layout.ts'
import { nextBatchEnd } from '../../src/protocol/record-batch.ts'

export class TestTier implements RemoteTier {
  readonly store = new MemoryObjectStore()
  readonly indexes = new Map<string, RemotePartitionIndex>()
  readonly advanced: Array<{ topicId: string, partition: number, offset: number }> = []
  readonly refusesProduce = false
  readonly refusalReason = ''
  readonly backlogBytes = 0
  #seq = 0

  produceThrottleMs (): number {
    return 0
  }

  index (topicId: string, partition: number): RemotePartitionIndex | undefined {
    return this.indexes.get(partitionKey(topicId, partition))
  }

  uploadedOffset (topicId: string, partition: number): number {
    return this.index(topicId, partition)?.endOffset ?? 0
  }

  advanceStart (topicId: string, partition: number, offset: number): void {
    this.advanced.push({ topicId, partition, offset })
    this.index(topicId, partition)?.advanceStart(offset)
  }

  /** Uploads the log's batches from the index's end up to (at least) `upTo`, whole batches, as one object. */
  upload (log: PartitionLog, topicId: string, partition: number, upTo = log.nextOffset): void {
    const name = partitionKey(topicId, partition)
    let index = this.indexes.get(name)
    if (index === undefined) {
      index = new RemotePartitionIndex()
      index.logStartOffset = log.logStartOffset
      this.indexes.set(name, index)
    }
    const from = Math.max(index.endOffset, log.logStartOffset)
    if (from >= upTo) return
    const chunks: Buffer[] = []
    let length = 0
    let maxTimestamp = -1
    let end = from
    while (end < upTo) {
      const records = log.read(end, 1 << 20, true).records
      if (records === null) break
      for (let position = 0, next; position < records.length && (next = nextBatchEnd(records, position, records.length)) > 0 && end < upTo; position = next) {
        const batch = Buffer.from(records.subarray(position, next))
        chunks.push(batch)
        length += batch.length
        maxTimestamp = Math.max(maxTimestamp, readInt64(batch, kMaxTimestampOffset))
        end = readInt64(batch, 0) + batch.readInt32BE(23) + 1
      }
    }
    const key = dataObjectKey('', 'flush', Date.now(), '0123456789abcdef', 0, this.#seq++)
    const { chunks: body, header } = encodeObject({ kind: 'flush', instance: '0123456789abcdef', worker: 0, createdMs: Date.now() },
      [{ topicId, topic: topicId, partition, baseOffset: from, endOffset: end, length, maxTimestamp, logStartOffset: log.logStartOffset }], chunks)
    this.store.objects.set(key, { body: Buffer.concat(body), lastModifiedMs: Date.now() })
    const range = header.ranges[0]
    index.append({ key, baseOffset: range.baseOffset, endOffset: range.endOffset, position: range.position, length: range.length, maxTimestamp: range.maxTimestamp })
  }
}
