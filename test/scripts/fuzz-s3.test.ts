// The fuzzer against a broker with the S3 copy on (--durability s3, s3rver) and a topic whose old segments are
// evicted and served from S3: the request paths S3 adds (acks=-1 waiting for uploads, fetches and ListOffsets of
// evicted offsets, DeleteRecords moving the start across tiers, CreateTopics with remote.storage.enable and
// local.retention.*) must not crash or hang it, and afterwards it still serves.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runFuzzer } from '../helpers/fuzz.ts'
import { startBroker, waitFor } from '../helpers/broker.ts'
import { startS3 } from '../helpers/s3.ts'
import { fetchRecords, KafkaClient, produce } from '../helpers/kafka-client.ts'

const kFrames = Number(process.env.SHOAL_FUZZ_FRAMES ?? 10_000)

test(`${kFrames} fuzzed frames of the S3 request paths: no crash, no hang, still serving afterwards`, { timeout: 5 * 60_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-fuzz-s3-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const broker = await startBroker({
    dataDir, cleanup: false, env: s3.env,
    args: ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--durability', 's3', '--s3-flush-interval-ms', '100', '--s3-lease-ms', '60000',
      '--flushers', '1', '--segment-bytes', '4096', '--log-retention-check-interval-ms', '100']
  })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  const created = await client.request(19, 7, {
    topics: [{ name: 'tiered', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'local.retention.bytes', value: '0' }] }],
    timeoutMs: 10_000, validateOnly: false
  })
  assert.equal(created.topics[0].errorCode, 0)
  const values = Array.from({ length: 120 }, (_, i) => `t${i}-${'x'.repeat(100)}`)
  for (const value of values) assert.equal((await produce(client, 'tiered', 0, [value])).errorCode, 0)
  await waitFor(async () => {
    const response = await client.request(2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'tiered', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -4 }] }] })
    return Number(response.topics[0].partitions[0].offset) > 0
  }, 30_000, 'eviction')

  const out = mkdtempSync(join(tmpdir(), 'shoal-fuzz-s3-out-'))
  t.after(() => rmSync(out, { recursive: true, force: true }))
  // Produce, Fetch, ListOffsets, Metadata, DeleteRecords, CreateTopics, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.
  const { result, summary, stderr } = await runFuzzer(['--broker', broker.bootstrap, '--frames', String(kFrames), '--seed', '7', '--apis', '0,1,2,3,21,19,32,33,44', '--out', out])
  assert.ok(result !== null, `no result from the fuzzer:\n${summary}\n${stderr}`)
  assert.equal(result.crashes, 0, `${summary}\n${stderr.slice(-8000)}\n${broker.output().slice(-8000)}`)
  assert.equal(result.hangs, 0, `${summary}\n${stderr.slice(-8000)}`)
  assert.equal(broker.process.exitCode, null, 'the broker is still running')
  // The fuzzer deletes every topic when it is done (the tiered one too, with its S3 objects); the broker still
  // takes acks=-1 produce through S3 and reads it back.
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  const after = await again.request(19, 7, { topics: [{ name: 'after-fuzz', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false })
  assert.equal(after.topics[0].errorCode, 0)
  assert.equal((await produce(again, 'after-fuzz', 0, ['still-serving'])).errorCode, 0)
  assert.deepEqual((await fetchRecords(again, 'after-fuzz', 0)).map((record) => record.value), ['still-serving'])
})
