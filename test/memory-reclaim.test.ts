import { test } from 'node:test'
import assert from 'node:assert/strict'
import { canReleaseFreeHeapPages, collectGarbage, ProcessReclaim, reclaimWhenQuiet, releaseFreeHeapPages, type ProcessReclaimSummary } from '../src/memory-reclaim.ts'
import { startBroker, waitFor } from './helpers/broker.ts'
import { KafkaClient } from './helpers/kafka-client.ts'

const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined

test('a full collection can be run on demand and does not grow the heap', () => {
  let garbage: object[] | null = Array.from({ length: 100_000 }, (_, i) => ({ i, text: `garbage ${i}` }))
  assert.equal(garbage.length, 100_000)
  garbage = null
  const before = process.memoryUsage().heapUsed
  assert.equal(collectGarbage(), true)
  assert.ok(process.memoryUsage().heapUsed <= before, 'the collection freed the garbage')
})

test('malloc_trim is reached through node:ffi where the C library is glibc', () => {
  assert.equal(canReleaseFreeHeapPages(), glibc && process.platform === 'linux')
  assert.equal(releaseFreeHeapPages(), canReleaseFreeHeapPages())
})

/** Keeps this thread's event loop busy for `ms`. */
function busy (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end);
}

/**
 * Lets the process settle (three quiet ticks of 200 ms), makes one burst of work, waits for its reclaim, then
 * `quietMs` more: answers how many reclaims the burst caused in all.
 */
async function reclaimsOfOneBurst (reclaimWhenQuietWith: (onReclaim: () => void) => () => void, quietMs: number): Promise<number> {
  let reclaims = 0
  const stop = reclaimWhenQuietWith(() => { reclaims++ })
  try {
    // Whatever this process did before settles first (the test runner's own work can count as work).
    const start = Date.now()
    await waitFor(() => Date.now() - start > 650, 2000, 'three quiet ticks')
    const before = reclaims
    busy(300)
    await waitFor(() => reclaims === before + 1, 5000, 'a reclaim after the burst')
    const after = Date.now()
    await waitFor(() => Date.now() - after > quietMs, 2000, 'more quiet ticks')
    return reclaims - before
  } finally {
    stop()
  }
}

test('a thread reclaims on the first quiet tick after work, once per quiet stretch', async () => {
  const reclaims = await reclaimsOfOneBurst((onReclaim) => reclaimWhenQuiet(200, onReclaim), 650)
  assert.equal(reclaims, 1, 'one reclaim per quiet stretch: quiet ticks after it did no work')
})

test('a reclaim whose work runs on after it returns (a second collection) does not start another one', async () => {
  const timers: NodeJS.Timeout[] = []
  try {
    // Like a worker's reclaim: more work (its second collection) half a tick later.
    const reclaims = await reclaimsOfOneBurst((onReclaim) => reclaimWhenQuiet(200, () => { onReclaim(); timers.push(setTimeout(() => busy(60), 100)) }), 1050)
    assert.equal(reclaims, 1, 'the reclaim\'s own later work is not a burst')
  } finally {
    for (const timer of timers) clearTimeout(timer)
  }
})

test('the main thread coalesces the workers\' reports into one trim', async () => {
  const summaries: ProcessReclaimSummary[] = []
  const reclaim = new ProcessReclaim((summary) => summaries.push(summary))
  reclaim.report({ arenaBytes: 1 << 20, heapBytes: 2 << 20 })
  reclaim.report({ arenaBytes: 3 << 20, heapBytes: 0 })
  await waitFor(() => summaries.length === 1, 5000, 'the trim')
  assert.equal(summaries[0].arenaBytes, 4 << 20)
  assert.equal(summaries[0].heapBytes, 2 << 20)
  assert.equal(summaries[0].trimmed, canReleaseFreeHeapPages())
  assert.ok(summaries[0].rssAfter > 0)
  reclaim.close()
})

test('a broker that goes quiet after a burst gives its memory back, says so, and keeps serving', async () => {
  const broker = await startBroker({ workers: 2, args: ['--memory-reclaim-interval-ms', '200', '--log-level', 'info'] })
  const client = await KafkaClient.connect(broker.host, broker.port)
  try {
    // A burst: many requests at once (Metadata creates the topic, ApiVersions keeps the loop busy).
    await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'burst' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false })
    await Promise.all(Array.from({ length: 3000 }, () => client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })))
    await waitFor(() => /memory: quiet after a burst, rss \d+ -> \d+ MiB/.test(broker.output()), 20_000, `a reclaim in the broker log:\n${broker.output()}`)
    if (canReleaseFreeHeapPages()) assert.doesNotMatch(broker.output(), /malloc_trim unavailable/)
    const versions = await client.request(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }) as { errorCode: number }
    assert.equal(versions.errorCode, 0)
  } finally {
    client.close()
    await broker.stop()
  }
})
