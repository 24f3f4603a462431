// The controller's metadata in S3 (src/storage/metadata-sync.ts): restored into a data directory that has none,
// uploaded after every change with one PUT in flight and later versions coalescing, and the Controller's
// onPersist hook that feeds it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller } from '../../src/admin/controller.ts'
import { Logger } from '../../src/logger.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { metadataKey } from '../../src/storage/object-format.ts'
import { MetadataUploader, restoreMetadataIfMissing } from '../../src/storage/metadata-sync.ts'

const kPrefix = 'c/'
const logger = new Logger('error')

function dataDirectory (t: { after: (fn: () => void) => void }): string {
  const directory = mkdtempSync(join(tmpdir(), 'shoal-meta-'))
  t.after(() => rmSync(directory, { recursive: true, force: true }))
  return directory
}

/** A store whose PUTs wait until the test releases them, one at a time. */
class GatedStore extends MemoryObjectStore {
  readonly gates: Array<() => void> = []
  inFlight = 0
  maxInFlight = 0

  override async put (key: string, body: Buffer): Promise<void> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    await new Promise<void>(resolve => this.gates.push(resolve))
    this.inFlight--
    return super.put(key, body)
  }
}

async function until (condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setImmediate(resolve))
  }
}

test('restores cluster.json into a data directory without one, and only then', async (t) => {
  const store = new MemoryObjectStore()
  const dataDir = dataDirectory(t)
  assert.equal(await restoreMetadataIfMissing(store, kPrefix, dataDir, logger), false, 'S3 has none')
  assert.equal(existsSync(join(dataDir, 'meta', 'cluster.json')), false)
  store.objects.set(metadataKey(kPrefix), { body: Buffer.from('{"version":7}'), lastModifiedMs: 0 })
  assert.equal(await restoreMetadataIfMissing(store, kPrefix, dataDir, logger), true)
  assert.equal(readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8'), '{"version":7}')
  store.objects.set(metadataKey(kPrefix), { body: Buffer.from('{"version":8}'), lastModifiedMs: 0 })
  assert.equal(await restoreMetadataIfMissing(store, kPrefix, dataDir, logger), false, 'a local file wins')
  assert.equal(readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8'), '{"version":7}')
  store.down = true
  await assert.rejects(restoreMetadataIfMissing(store, kPrefix, dataDirectory(t), logger), { name: 'ObjectStoreError' })
})

test('the uploader keeps one PUT in flight, coalesces later versions and flush() waits for the latest', async () => {
  const store = new GatedStore()
  const uploader = new MetadataUploader(store, kPrefix, logger)
  await uploader.flush() // nothing noted: at once
  uploader.noteChanged('{"version":1}')
  await until(() => store.gates.length === 1)
  uploader.noteChanged('{"version":2}')
  uploader.noteChanged('{"version":3}')
  let flushed = false
  const flush = uploader.flush().then(() => { flushed = true })
  store.gates.shift()!()
  await until(() => store.gates.length === 1)
  assert.equal(store.objects.get(metadataKey(kPrefix))?.body.toString(), '{"version":1}')
  assert.equal(flushed, false)
  store.gates.shift()!()
  await flush
  assert.equal(store.objects.get(metadataKey(kPrefix))?.body.toString(), '{"version":3}')
  assert.equal(store.requests.put, 2, 'versions 2 and 3 went as one PUT')
  assert.equal(store.maxInFlight, 1)
  uploader.close()
})

test('the uploader retries failures until the version lands', async () => {
  const store = new MemoryObjectStore()
  const uploader = new MetadataUploader(store, kPrefix, logger, { sleep: async () => {} })
  store.failNext = 3
  uploader.noteChanged('{"version":1}')
  await uploader.flush()
  assert.equal(store.objects.get(metadataKey(kPrefix))?.body.toString(), '{"version":1}')
  assert.equal(store.requests.put, 4)
  uploader.close()
})

test('the Controller calls onPersist with every version it writes, as written', async (t) => {
  const dataDir = dataDirectory(t)
  const seen: string[] = []
  const controller = new Controller(dataDir, 1, logger, undefined, { onPersist: (json) => seen.push(json) })
  assert.equal(seen.length, 1, 'the new cluster')
  await controller.execute({ op: 'createTopics', topics: [{ name: 'a', numPartitions: 1, replicationFactor: -1, configs: [], hasAssignments: false }], validateOnly: false })
  assert.equal(seen.length, 2)
  assert.equal(seen[1], readFileSync(join(dataDir, 'meta', 'cluster.json'), 'utf8'))
  assert.equal((JSON.parse(seen[1]) as { topics: Array<{ name: string }> }).topics[0].name, 'a')
  // Restored into a fresh directory, the same metadata opens as the same cluster with the same topics.
  const store = new MemoryObjectStore()
  const uploader = new MetadataUploader(store, kPrefix, logger)
  uploader.noteChanged(seen[1])
  await uploader.flush()
  const fresh = dataDirectory(t)
  assert.equal(await restoreMetadataIfMissing(store, kPrefix, fresh, logger), true)
  const restored = new Controller(fresh, 1, logger)
  assert.equal(restored.metadata.clusterId, controller.metadata.clusterId)
  assert.deepEqual(restored.metadata.topics, controller.metadata.topics)
  uploader.close()
})
