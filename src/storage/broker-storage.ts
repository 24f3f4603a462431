// The main thread's side of the S3 copy (--s3-bucket), in start order:
//   1. the flusher pool (piscina threads with the S3 client; every S3 request of the process goes through it);
//   2. the prefix's lease (lease.ts): one broker per bucket prefix; a start waits for a dead owner's lease to
//      lapse and refuses to start beside a live one;
//   3. the metadata: an empty data directory gets `meta/cluster.json` back from S3 before the controller reads it;
//   4. what S3 holds (remote-state-loader.ts: one LIST and a header read per object), handed to each worker for
//      its partitions (the workers restore what their local logs lack, then upload);
//   5. the clean-up of objects nothing refers to (garbage.ts), in the background;
// and while running: every metadata change copied to S3 (metadata-sync.ts), the lease renewed, the workers told
// when another broker took the prefix over. close() (after the workers uploaded what they held) waits for the
// metadata upload, releases the lease and stops the pool.
import type { Worker } from 'node:worker_threads'
import type { S3Config } from '../config/config.ts'
import type { Logger } from '../logger.ts'
import { FlusherPool } from './flusher-pool.ts'
import { acquireLease, loadOrCreateInstanceId, type Lease, type LeaseRecord } from './lease.ts'
import { MetadataUploader, restoreMetadataIfMissing } from './metadata-sync.ts'
import { loadRemoteState } from './remote-state-loader.ts'
import { workerRemoteState, type RemoteState, type WorkerRemoteState } from './remote-index.ts'
import { collectGarbage } from './garbage.ts'

export interface BrokerStorage {
  /** This broker process's id (lease.json, data object keys). */
  readonly instance: string
  readonly pool: FlusherPool
  /** Hands metadata versions to S3 (the controller's onPersist). */
  readonly metadata: MetadataUploader
  /** What a worker starting now gets: its partitions' share of what S3 held at start (named by partitionKey). */
  remoteFor (wanted: (name: string) => boolean): WorkerRemoteState
  /** Once the controller knows the live topics: deletes objects no partition needs (in the background). */
  collectGarbage (liveTopicIds: ReadonlySet<string>): void
  /** Serves a worker thread's S3 requests (each new thread, restarts included). */
  serveWorker (worker: Worker): void
  /** Called when another broker takes the prefix over. */
  onFenced (listener: (holder: string) => void): void
  close (): Promise<void>
}

/** Objects younger than this are left alone by the start-up clean-up (a merge of a broker that just stopped). */
const kGarbageGraceMs = 10 * 60 * 1000

export async function openBrokerStorage (s3: S3Config, flushers: number, dataDir: string, logger: Logger): Promise<BrokerStorage> {
  const pool = FlusherPool.fromConfig(s3, flushers)
  try {
    const instance = loadOrCreateInstanceId(dataDir)
    const fencedListeners: Array<(holder: string) => void> = []
    const describe = (holder: LeaseRecord): string => `instance ${holder.instance} on ${holder.host}, pid ${holder.pid}`
    const lease: Lease = await acquireLease(pool, s3.prefix, {
      instance,
      leaseMs: s3.leaseMs,
      logger,
      onLost: (holder) => { for (const listener of fencedListeners) listener(describe(holder)) }
    })
    lease.start()
    if (await restoreMetadataIfMissing(pool, s3.prefix, dataDir, logger)) logger.info('S3: restoring this broker from the bucket (the data directory held no metadata)')
    const remote: RemoteState = await loadRemoteState(pool, s3.prefix, { logger })
    let partitions = 0
    for (const index of remote.partitions.values()) if (index.ranges.length > 0) partitions++
    logger.info(`S3: s3://${s3.bucket}/${s3.prefix} holds ${remote.objects.size} data object(s) for ${partitions} partition(s)`)
    pool.abortStaleMultipartUploads(s3.prefix, kGarbageGraceMs).catch((error: Error) => logger.warn(`S3: aborting stale multipart uploads failed: ${error.message}`))
    const metadata = new MetadataUploader(pool, s3.prefix, logger)
    return {
      instance,
      pool,
      metadata,
      remoteFor: (wanted) => workerRemoteState(remote, wanted),
      collectGarbage (liveTopicIds) {
        collectGarbage(pool, remote, liveTopicIds, { olderThanMs: kGarbageGraceMs, logger }).then((deleted) => {
          if (deleted > 0) logger.info(`S3: deleted ${deleted} object(s) no partition needs`)
        }, (error: Error) => logger.warn(`S3: clean-up of unneeded objects failed (the next start tries again): ${error.message}`))
      },
      serveWorker: (worker) => pool.serveWorker(worker),
      onFenced: (listener) => { fencedListeners.push(listener) },
      async close () {
        await metadata.flush()
        metadata.close()
        await lease.release().catch((error: Error) => logger.warn(`S3: releasing the lease failed (the next start waits for it to lapse): ${error.message}`))
        await pool.close()
      }
    }
  } catch (error) {
    await pool.close()
    throw error
  }
}
