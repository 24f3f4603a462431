// DescribeLogDirs (key 35), v0-4 (KIP-113, KIP-827): the broker's one log directory (--data-dir) and, for each
// partition asked for (all of them when the request's topics are null), its size in bytes (the segments' data
// files, as Kafka's Log.size), offset lag 0 (a leader is never behind itself; Kafka reports
// max(highWatermark - logEndOffset, 0)) and isFutureKey false (no replica is ever being moved between
// directories). v4 adds the directory's file system total and usable bytes (statfs: blocks and blocks available
// to unprivileged users, times the block size, as Java's FileStore getTotalSpace and getUsableSpace).
//
// Partitions are owned by their workers: the sizes are asked of each owner over the rings (a request of the same
// API and version holding only that owner's partitions, or null topics sent to every worker), then merged.
// Partitions that do not exist are left out of the answer, as Kafka leaves out what a directory does not hold; so
// are those of an owner that cannot answer (restarting), whose failure is logged.

import { statfs } from 'node:fs/promises'
import { resolve } from 'node:path'
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import { dispatchParts, groupByOwner, mergeTopics, remoteServer } from './partitioned.ts'
import type { Handler } from './handler.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'
import type { Shard, LocalPartition } from '../shard/shard.ts'

const api = apiByKey(35)!

interface DescribableLogDirTopic { topic: string, partitions: number[] }
interface DescribeLogDirsRequest { topics: DescribableLogDirTopic[] | null }
interface PartitionResult { partitionIndex: number, partitionSize: number, offsetLag: number, isFutureKey: boolean }
interface TopicResult { name: string, partitions: PartitionResult[] }
interface LogDirResult { errorCode: number, logDir: string, topics: TopicResult[], totalBytes: number, usableBytes: number }
interface DescribeLogDirsResponse { throttleTimeMs: number, errorCode: number, results: LogDirResult[] }

function partitionResult (local: LocalPartition): PartitionResult {
  return { partitionIndex: local.index, partitionSize: local.log.sizeBytes, offsetLag: 0, isFutureKey: false }
}

/** The owner side: this worker's partitions among those asked (every one it owns for null topics). */
async function serveLocal (shard: Shard, request: DescribeLogDirsRequest): Promise<DescribeLogDirsResponse> {
  const topics: TopicResult[] = []
  if (request.topics === null) {
    for (const entry of shard.table.topics()) {
      const partitions: PartitionResult[] = []
      for (let index = 0; index < entry.partitions; index++) {
        const local = shard.partition(entry, index)
        if (local !== undefined) partitions.push(partitionResult(local))
      }
      if (partitions.length > 0) topics.push({ name: entry.name, partitions })
    }
  } else {
    for (const topic of request.topics) {
      const entry = shard.table.topic(topic.topic)
      if (entry === undefined) continue
      const partitions: PartitionResult[] = []
      for (const index of topic.partitions) {
        const local = shard.partition(entry, index)
        if (local !== undefined) partitions.push(partitionResult(local))
      }
      if (partitions.length > 0) topics.push({ name: topic.topic, partitions })
    }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir: '', topics, totalBytes: -1, usableBytes: -1 }] }
}

/** Total and usable bytes of the file system holding `dir`; -1 each when statfs fails. */
async function diskSpace (dir: string): Promise<{ totalBytes: number, usableBytes: number }> {
  try {
    const stats = await statfs(dir)
    return { totalBytes: stats.blocks * stats.bsize, usableBytes: stats.bavail * stats.bsize }
  } catch {
    return { totalBytes: -1, usableBytes: -1 }
  }
}

async function handle (context: RequestContext, request: DescribeLogDirsRequest): Promise<DescribeLogDirsResponse> {
  const { shard, apiVersion } = context
  // Kafka's authorization: DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED (v3+) and no results.
  if (!allows(context, AclOperation.DESCRIBE, ResourceType.CLUSTER, kClusterName)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] }
  const parts = new Map<number, DescribeLogDirsRequest>()
  if (request.topics === null) {
    for (let worker = 0; worker < shard.workers; worker++) parts.set(worker, { topics: null })
  } else {
    const grouping = groupByOwner(shard, request.topics, (t) => shard.table.topic(t.topic), (t) => t.partitions, (p) => p,
      (t, partitions) => ({ topic: t.topic, partitions }))
    for (const [owner, topics] of grouping.owners) parts.set(owner, { topics })
  }
  const logDir = resolve(shard.config.dataDir)
  const space = apiVersion >= 4 ? diskSpace(logDir) : null
  // A part whose owner could not answer contributes no partitions (see the header).
  const errorPart = (): DescribeLogDirsResponse => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [] })
  const found: TopicResult[][] = []
  for (const call of dispatchParts(shard, api, apiVersion, parts, serveLocal, null, errorPart)) {
    const response = await call.response
    for (const result of response.results) found.push(result.topics)
    if (response.results.length === 0) shard.logger.limited('describe-log-dirs-part', 'warn', `DescribeLogDirs: worker ${call.owner} did not answer; its partitions are left out`)
  }
  const topics = found.length === 0 ? [] : mergeTopics(found, (t) => t.name, 'partitions')
  const { totalBytes, usableBytes } = space === null ? { totalBytes: -1, usableBytes: -1 } : await space
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir, topics, totalBytes, usableBytes }] }
}

export const describeLogDirsHandler: Handler = { api, minVersion: 0, maxVersion: 4, handle }
export const describeLogDirsServer = remoteServer(api, serveLocal)
