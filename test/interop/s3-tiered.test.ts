// The S3 copy's request economy and tiered reads, on a real broker process and s3rver:
//   - PUTs per flush stay flat while the partitions written grow from 1 to 500 (one object per worker per flush,
//     whatever the partition count);
//   - with local.retention.bytes=0 every sealed segment is evicted once in S3, and a fetch of the evicted offsets
//     answers exactly the bytes a fetch answered before the eviction, for every codec; kcat (librdkafka)
//     consumes it all from the beginning.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { startS3 } from '../helpers/s3.ts'
import { KafkaClient, kFetchVersion } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const run = promisify(execFile)

function dataDirectory (t: { after (fn: () => unknown): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-tiered-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  return dataDir
}

async function createTopic (client: KafkaClient, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const response = await client.request(19, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
    timeoutMs: 10_000, validateOnly: false
  })
  assert.equal(response.topics[0].errorCode, 0, response.topics[0].errorMessage ?? '')
}

test('PUTs per flush stay flat while the partitions written grow from 1 to 500', { timeout: 120_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const workers = 2
  const broker = await startBroker({
    dataDir: dataDirectory(t), cleanup: false, workers, env: s3.env,
    args: ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--durability', 's3', '--s3-lease-ms', '60000', '--flushers', '1', '--max-partitions-per-topic', '600',
      '--metrics-listen', '127.0.0.1:0']
  })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'wide', 500)
  const objectsPerRound: Record<number, number[]> = {}
  for (const partitions of [1, 10, 100, 500]) {
    objectsPerRound[partitions] = []
    for (let round = 0; round < 3; round++) {
      const before = (await s3.listKeys('data/')).length
      // One acks=-1 request writing to `partitions` partitions: it is answered once everything is in S3.
      const response = await client.request(0, 9, {
        transactionalId: null, acks: -1, timeoutMs: 30_000,
        topicData: [{ name: 'wide', partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records: buildRecordBatch([{ key: null, value: Buffer.from(`p${index}-r${round}`) }]) })) }]
      })
      for (const partition of response.responses[0].partitionResponses) assert.equal(partition.errorCode, ErrorCode.NONE)
      objectsPerRound[partitions].push((await s3.listKeys('data/')).length - before)
    }
  }
  // Each worker's partitions of one request travel in one upload (two when an upload was already running as
  // the request's appends arrived): at most 2 per worker, for 1 partition as for 500.
  for (const [partitions, counts] of Object.entries(objectsPerRound)) {
    for (const objects of counts) assert.ok(objects >= 1 && objects <= 2 * workers, `${partitions} partitions: ${objects} objects in one round (${JSON.stringify(objectsPerRound)})`)
  }
  const mean = (counts: number[]): number => counts.reduce((sum, n) => sum + n, 0) / counts.length
  assert.ok(mean(objectsPerRound[500]) <= 2 * workers, JSON.stringify(objectsPerRound))
  // The uploads show in /metrics: counters, the backlog per worker, the PUT latency.
  const address = await waitFor(() => /metrics on ([^\s]+)/.exec(broker.output())?.[1], 10_000, 'the metrics address')
  const body = await (await fetch(`http://${address}/metrics`)).text()
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body)?.[1] ?? NaN)
  assert.ok(value('shoal_s3_uploads_total') >= 12, body.split('\n').filter((line) => line.includes('s3')).join('\n'))
  assert.ok(value('shoal_s3_upload_bytes_total') > 0)
  assert.equal(value('shoal_s3_backlog_bytes'), 0)
  assert.ok(value('shoal_s3_put_latency_seconds') > 0)
})

/** Raw record batches of partition 0 from `offset` to the high watermark. */
async function rawFrom (client: KafkaClient, topic: string, offset: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let at = offset
  for (;;) {
    const response = await client.request(1, kFetchVersion, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: at, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }],
      forgottenTopicsData: [], rackId: ''
    })
    const data = response.responses[0].partitions[0]
    assert.equal(data.errorCode, 0, `fetch at ${at}`)
    const records: Buffer | null = data.records
    if (records === null || records.length === 0) break
    chunks.push(Buffer.from(records))
    let position = 0
    let end = at
    while (position + 12 <= records.length) {
      const size = 12 + records.readInt32BE(position + 8)
      if (position + size > records.length) break
      end = Number(records.readBigInt64BE(position)) + records.readInt32BE(position + 23) + 1
      position += size
    }
    if (end >= Number(data.highWatermark)) break
    at = end
  }
  return Buffer.concat(chunks)
}

async function earliestLocal (client: KafkaClient, topic: string): Promise<number> {
  const response = await client.request(2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -4 }] }] })
  return Number(response.topics[0].partitions[0].offset)
}

test('evicted offsets (local.retention.bytes=0) are fetched from S3 byte for byte, for every codec; kcat reads them all; a restore onto an empty disk serves them again', { timeout: 120_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = dataDirectory(t)
  const brokerArgs = ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-flush-interval-ms', '100', '--s3-lease-ms', '1000', '--flushers', '1',
    '--segment-bytes', '4096', '--log-retention-check-interval-ms', '100']
  let broker = await startBroker({ dataDir, cleanup: false, env: s3.env, args: brokerArgs })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'cold', 1, { 'local.retention.bytes': '0', 'remote.storage.enable': 'true' })
  const values: string[] = []
  // none, gzip, snappy, lz4, zstd: batches of each, several segments' worth.
  for (let round = 0; round < 6; round++) {
    for (const compression of [0, 1, 2, 3, 4]) {
      const batch = Array.from({ length: 8 }, (_, i) => `c${compression}-r${round}-${i}-${'z'.repeat(90)}`)
      values.push(...batch)
      const response = await client.request(0, 9, {
        transactionalId: null, acks: -1, timeoutMs: 30_000,
        topicData: [{ name: 'cold', partitionData: [{ index: 0, records: buildRecordBatch(batch.map((value) => ({ key: null, value: Buffer.from(value) })), { compression }) }] }]
      })
      assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
    }
  }
  const before = await rawFrom(client, 'cold', 0)
  // The sealed segments go once they are in S3: the first local offset moves up, the log start stays 0.
  const firstLocal = await waitFor(async () => { const offset = await earliestLocal(client, 'cold'); return offset > 100 ? offset : 0 }, 30_000, 'eviction')
  assert.ok(firstLocal > 100)
  const after = await rawFrom(client, 'cold', 0)
  assert.ok(after.equals(before), 'the evicted offsets come back from S3 exactly as they were fetched before')
  // A real client reads the whole log, evicted part included.
  const { stdout } = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', 'cold', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { maxBuffer: 16 << 20 })
  assert.deepEqual(stdout.trim().split('\n'), values)
  // The disk lost: a restart on an empty data directory serves the whole log again, evicted part included.
  client.close()
  await broker.kill()
  rmSync(dataDir, { recursive: true, force: true })
  broker = await startBroker({ dataDir, cleanup: false, env: s3.env, args: brokerArgs })
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  assert.ok((await rawFrom(again, 'cold', 0)).equals(before), 'the restored log is byte-identical')
})

test('a deleted topic\'s objects are deleted from S3, and a topic of the same name starts afresh', { timeout: 60_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const broker = await startBroker({
    dataDir: dataDirectory(t), cleanup: false, env: s3.env,
    args: ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--durability', 's3', '--s3-lease-ms', '60000', '--flushers', '1']
  })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'doomed', 2)
  for (let i = 0; i < 6; i++) {
    const response = await client.request(0, 9, {
      transactionalId: null, acks: -1, timeoutMs: 30_000,
      topicData: [{ name: 'doomed', partitionData: [{ index: i % 2, records: buildRecordBatch([{ key: null, value: Buffer.from(`d${i}`) }]) }] }]
    })
    assert.equal(response.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE)
  }
  const before = (await s3.listKeys('data/')).length
  assert.ok(before >= 1)
  const deleted = await client.request(20, 6, { topics: [{ name: 'doomed', topicId: '0'.repeat(32) }], timeoutMs: 10_000 })
  assert.equal(deleted.responses[0].errorCode, 0)
  await waitFor(async () => (await s3.listKeys('data/')).length === 0, 20_000, 'the topic\'s objects to go')
  await createTopic(client, 'doomed', 1)
  const fresh = await client.request(0, 9, {
    transactionalId: null, acks: -1, timeoutMs: 30_000,
    topicData: [{ name: 'doomed', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('new') }]) }] }]
  })
  assert.equal(Number(fresh.responses[0].partitionResponses[0].baseOffset), 0)
})
