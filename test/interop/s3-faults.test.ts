// The S3 copy when S3 misbehaves, on a real broker process with s3rver behind a fault-injecting proxy:
//   - the endpoint down for 30 s during acks=-1 produce (--durability local): produce is throttled, then refused
//     with NOT_ENOUGH_REPLICAS (retriable) once the backlog reaches its bound; nothing acknowledged is lost; the
//     backlog drains when S3 returns (shown by a restore onto an empty disk);
//   - --durability s3 with S3 down: acks=-1 is answered REQUEST_TIMED_OUT at the request's timeout, and the
//     retry after S3 returns is answered as the duplicate it is;
//   - a second broker on the same bucket prefix is refused; SIGTERM uploads what is pending before exiting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, waitFor, type TestBroker } from '../helpers/broker.ts'
import { startS3, type TestS3 } from '../helpers/s3.ts'
import { startFaultProxy } from '../helpers/s3-fault-proxy.ts'
import { createTopic, fetchRecords, initProducerId, KafkaClient, kProduceVersion, produce } from '../helpers/kafka-client.ts'
import { buildRecordBatch } from '../../src/protocol/record-batch.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

function dataDirectory (t: { after (fn: () => unknown): void }): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-s3-faults-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  return dataDir
}

function args (s3: TestS3, endpoint: string, durability: 'local' | 's3', extra: string[] = []): string[] {
  return ['--s3-bucket', s3.bucket, '--s3-endpoint', endpoint, '--durability', durability, '--s3-lease-ms', '1000',
    '--s3-request-timeout-ms', '1000', '--flushers', '1', ...extra]
}

/** One acks=-1 produce of `values` to partition 0, with its throttle time (the helper's produce() drops it). */
async function produceWithThrottle (client: KafkaClient, topic: string, values: string[], timeoutMs = 30_000, batchOptions = {}): Promise<{ errorCode: number, baseOffset: number, throttleTimeMs: number }> {
  const records = buildRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), batchOptions)
  const response = await client.request(0, kProduceVersion, { transactionalId: null, acks: -1, timeoutMs, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })
  const partition = response.responses[0].partitionResponses[0]
  return { errorCode: partition.errorCode, baseOffset: Number(partition.baseOffset), throttleTimeMs: response.throttleTimeMs }
}

test('S3 down for 30 s during acks=-1 produce: throttled, then refused (retriable), nothing acknowledged lost, the backlog drains', { timeout: 180_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const proxy = await startFaultProxy(s3.endpoint)
  t.after(() => proxy.close())
  const dataDir = dataDirectory(t)
  const brokerArgs = args(s3, proxy.endpoint, 'local', ['--s3-flush-interval-ms', '100', '--s3-flush-bytes', String(256 * 1024), '--s3-backlog-max-bytes', String(2 * 1024 * 1024)])
  let broker: TestBroker = await startBroker({ dataDir, cleanup: false, workers: 1, args: brokerArgs, env: s3.env })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'faults', 1)
  const acked = new Map<number, string>()
  const value = (i: number): string => `r${i}-${'p'.repeat(1000)}`
  let next = 0
  const send = async (): Promise<{ errorCode: number, throttleTimeMs: number }> => {
    const i = next++
    const result = await produceWithThrottle(client, 'faults', [value(i)])
    if (result.errorCode === ErrorCode.NONE) acked.set(result.baseOffset, value(i))
    else next-- // the same record again next time (a client's retry)
    return result
  }
  for (let i = 0; i < 20; i++) assert.equal((await send()).errorCode, ErrorCode.NONE)

  await proxy.setMode('down')
  const downSince = Date.now()
  let throttled = 0
  let refused = 0
  while (Date.now() - downSince < 30_000) {
    const result = await send()
    if (result.throttleTimeMs > 0) throttled++
    if (result.errorCode === ErrorCode.NOT_ENOUGH_REPLICAS) {
      refused++
      await new Promise((resolve) => setTimeout(resolve, 50))
    } else {
      assert.equal(result.errorCode, ErrorCode.NONE)
    }
  }
  assert.ok(throttled > 0, 'produce answers carried a throttle time while the backlog grew')
  assert.ok(refused > 0, 'produce was refused once the backlog reached --s3-backlog-max-bytes')
  const acknowledgedWhileDown = acked.size

  await proxy.setMode('pass')
  // The backlog drains: produce is accepted again, unthrottled.
  await waitFor(async () => {
    const result = await send()
    return result.errorCode === ErrorCode.NONE && result.throttleTimeMs === 0
  }, 60_000, 'produce accepted and unthrottled again')
  assert.ok(acked.size > acknowledgedWhileDown)
  // Everything acknowledged reached S3: a restore onto an empty disk has it all.
  const highWatermark = Math.max(...acked.keys()) + 1
  await new Promise((resolve) => setTimeout(resolve, 500))
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
  broker = await startBroker({ dataDir, cleanup: false, workers: 1, args: brokerArgs, env: s3.env })
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  const records = await fetchRecords(again, 'faults', 0)
  assert.equal(records.length, highWatermark)
  for (const [offset, expected] of acked) assert.equal(records[offset].value, expected, `offset ${offset}`)
})

test('--durability s3 with S3 down: acks=-1 times out (REQUEST_TIMED_OUT), and the retry once S3 is back is a duplicate', { timeout: 120_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const proxy = await startFaultProxy(s3.endpoint)
  t.after(() => proxy.close())
  const broker = await startBroker({ dataDir: dataDirectory(t), cleanup: false, args: args(s3, proxy.endpoint, 's3'), env: s3.env })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  t.after(() => client.close())
  await createTopic(client, 'strict', 1)
  const { producerId, producerEpoch } = await initProducerId(client)
  const batch = { producerId, producerEpoch, baseSequence: 0 }
  assert.equal((await produceWithThrottle(client, 'strict', ['first'], 30_000, batch)).errorCode, ErrorCode.NONE)
  await proxy.setMode('hang')
  const stalled = await produceWithThrottle(client, 'strict', ['second'], 2000, { ...batch, baseSequence: 1 })
  assert.equal(stalled.errorCode, ErrorCode.REQUEST_TIMED_OUT)
  await proxy.setMode('pass')
  const retry = await produceWithThrottle(client, 'strict', ['second'], 30_000, { ...batch, baseSequence: 1 })
  assert.equal(retry.errorCode, ErrorCode.NONE)
  assert.equal(retry.baseOffset, 1)
  const records = await fetchRecords(client, 'strict', 0)
  assert.deepEqual(records.map((record) => record.value), ['first', 'second'])
})

test('a second broker on the same bucket prefix is refused, naming the holder', { timeout: 60_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const first = await startBroker({ dataDir: dataDirectory(t), cleanup: false, args: args(s3, s3.endpoint, 'local'), env: s3.env })
  t.after(() => first.kill())
  await assert.rejects(startBroker({ dataDir: dataDirectory(t), cleanup: false, args: args(s3, s3.endpoint, 'local'), env: s3.env }),
    (error: Error) => /exited with 2/.test(error.message) && /lease/i.test(error.message))
  // Another prefix in the same bucket is another broker's to take.
  const other = await startBroker({ dataDir: dataDirectory(t), cleanup: false, args: [...args(s3, s3.endpoint, 'local'), '--s3-prefix', 'other'], env: s3.env })
  await other.stop()
})

test('SIGTERM uploads what is not yet in S3 before exiting', { timeout: 60_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  const dataDir = dataDirectory(t)
  // A flush interval far longer than the test: only the shutdown uploads.
  const brokerArgs = [...args(s3, s3.endpoint, 'local'), '--s3-flush-interval-ms', '600000', '--log-level', 'info']
  let broker = await startBroker({ dataDir, cleanup: false, args: brokerArgs, env: s3.env })
  t.after(() => broker.kill())
  const client = await KafkaClient.to(broker.bootstrap)
  await createTopic(client, 'pending', 2)
  for (let i = 0; i < 10; i++) assert.equal((await produce(client, 'pending', i % 2, [`m${i}`])).errorCode, ErrorCode.NONE)
  client.close()
  await broker.stop()
  assert.equal(broker.process.exitCode, 0, broker.output())
  assert.match(broker.output(), /S3: uploading what is not there yet/)
  rmSync(dataDir, { recursive: true, force: true })
  broker = await startBroker({ dataDir, cleanup: false, args: brokerArgs, env: s3.env })
  const again = await KafkaClient.to(broker.bootstrap)
  t.after(() => again.close())
  const values = [...(await fetchRecords(again, 'pending', 0)), ...(await fetchRecords(again, 'pending', 1))].map((record) => record.value).sort()
  assert.deepEqual(values, Array.from({ length: 10 }, (_, i) => `m${i}`).sort())
})

test('a bucket that does not exist stops the start with one line and exit 2', { timeout: 60_000 }, async (t) => {
  const s3 = await startS3()
  t.after(() => s3.close())
  await assert.rejects(startBroker({ dataDir: dataDirectory(t), cleanup: false, args: ['--s3-bucket', 'no-such-bucket', '--s3-endpoint', s3.endpoint], env: s3.env }),
    (error: Error) => /exited with 2/.test(error.message) && /no-such-bucket .*cannot be used: no-bucket/.test(error.message))
})
