// Building what S3 holds at start (src/storage/remote-state-loader.ts) from the data objects' headers in a
// MemoryObjectStore: overlapping flush and merged objects, objects that are not ours, a header longer than the
// first GET, retried failures, and the plain form handed to workers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { counterValue } from '../../src/counters.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { dataObjectKey, encodeObject, kHeaderProbeBytes, type ObjectRange } from '../../src/storage/object-format.ts'
import { partitionKey } from '../../src/storage/remote-index.ts'
import { deserializeRemoteState, loadRemoteState, serializeRemoteState } from '../../src/storage/remote-state-loader.ts'

const kPrefix = 'x/'
const kInstance = '0123456789abcdef'
const kTopicA = 'a'.repeat(32)
const kTopicB = 'b'.repeat(32)
const immediately = async (): Promise<void> => {}

type Range = Omit<ObjectRange, 'position'>

function range (topicId: string, partition: number, baseOffset: number, endOffset: number, logStartOffset = 0): Range {
  return { topicId, topic: topicId[0], partition, baseOffset, endOffset, length: (endOffset - baseOffset) * 10, maxTimestamp: 1000 + endOffset, logStartOffset }
}

/** Stores an object of `ranges` (each range's bytes filled with its partition number) and returns its key. */
function put (store: MemoryObjectStore, kind: 'flush' | 'merged', createdMs: number, seq: number, ranges: Range[]): string {
  const key = dataObjectKey(kPrefix, kind, createdMs, kInstance, 0, seq)
  const data = ranges.map(r => Buffer.alloc(r.length, r.partition))
  const { chunks } = encodeObject({ kind, instance: kInstance, worker: 0, createdMs }, ranges, data)
  store.objects.set(key, { body: Buffer.concat(chunks), lastModifiedMs: createdMs })
  return key
}

test('builds each partition index from the headers; a merged object wins its overlap and the flush object it replaces is redundant', async () => {
  const store = new MemoryObjectStore()
  const first = put(store, 'flush', 1000, 1, [range(kTopicA, 0, 0, 10), range(kTopicB, 1, 0, 5)])
  const second = put(store, 'flush', 2000, 2, [range(kTopicA, 0, 10, 20)])
  const merged = put(store, 'merged', 3000, 3, [range(kTopicA, 0, 0, 20)])
  const third = put(store, 'flush', 4000, 4, [range(kTopicA, 0, 20, 25), range(kTopicB, 1, 5, 8, 3)])
  const state = await loadRemoteState(store, kPrefix, { sleep: immediately })
  const a0 = state.partitions.get(partitionKey(kTopicA, 0))!
  assert.deepEqual(a0.ranges.map(r => [r.key, r.baseOffset, r.endOffset]), [[merged, 0, 20], [third, 20, 25]])
  assert.equal(a0.endOffset, 25)
  const b1 = state.partitions.get(partitionKey(kTopicB, 1))!
  assert.equal(b1.logStartOffset, 3)
  assert.deepEqual(b1.ranges.map(r => [r.key, r.baseOffset, r.endOffset]), [[first, 0, 5], [third, 5, 8]])
  assert.deepEqual(state.redundantKeys, [second])
  assert.equal(state.objects.size, 4)
  // The range positions point at the range's bytes.
  const body = store.objects.get(third)!.body
  const r = b1.ranges[1]
  assert.ok(body.subarray(r.position, r.position + r.length).equals(Buffer.alloc(r.length, 1)))
})

test('objects that are not ours are skipped and counted; ones gone since the LIST are skipped', async () => {
  const store = new MemoryObjectStore()
  const ours = put(store, 'flush', 1000, 1, [range(kTopicA, 0, 0, 10)])
  store.objects.set(`${kPrefix}data/README.txt`, { body: Buffer.from('hello, this is not a data object at all'), lastModifiedMs: 0 })
  store.objects.set(`${kPrefix}data/tiny`, { body: Buffer.from('x'), lastModifiedMs: 0 })
  const broken = Buffer.from(store.objects.get(ours)!.body)
  broken[20] = 0x7b // '{' inside the JSON: no longer parses
  broken[21] = 0x7b
  store.objects.set(`${kPrefix}data/0000000000500-broken.obj`, { body: broken, lastModifiedMs: 0 })
  const before = counterValue('s3-objects-unreadable')
  const realGet = store.get.bind(store)
  const gone = put(store, 'flush', 900, 9, [range(kTopicB, 0, 0, 1)])
  store.get = async (key, byteRange) => {
    if (key === gone) store.objects.delete(gone)
    return realGet(key, byteRange)
  }
  const state = await loadRemoteState(store, kPrefix, { sleep: immediately })
  assert.deepEqual([...state.objects.keys()], [ours])
  assert.equal(counterValue('s3-objects-unreadable'), before + 3)
  assert.equal(state.partitions.size, 1)
})

test('a header longer than the first GET is read with a second one', async () => {
  const store = new MemoryObjectStore()
  const ranges: Range[] = []
  for (let partition = 0; partition < 1500; partition++) ranges.push(range(kTopicA, partition, 0, 1))
  const key = put(store, 'flush', 1000, 1, ranges)
  assert.ok(store.objects.get(key)!.body.readUInt32BE(12) > kHeaderProbeBytes)
  const state = await loadRemoteState(store, kPrefix, { sleep: immediately })
  assert.equal(state.partitions.size, 1500)
  assert.equal(store.requests.get, 2)
})

test('retriable failures are retried; a store that stays down rejects', async () => {
  const store = new MemoryObjectStore()
  for (let seq = 0; seq < 20; seq++) put(store, 'flush', 1000 + seq, seq, [range(kTopicA, 0, seq * 10, seq * 10 + 10)])
  store.failNext = 7
  const state = await loadRemoteState(store, kPrefix, { sleep: immediately, concurrency: 3 })
  assert.equal(state.partitions.get(partitionKey(kTopicA, 0))?.endOffset, 200)
  assert.equal(state.objects.size, 20)
  store.down = true
  await assert.rejects(loadRemoteState(store, kPrefix, { sleep: immediately, attempts: 3 }), { name: 'ObjectStoreError' })
})

test('the plain form survives structured cloning and keeps only the partitions wanted', async () => {
  const store = new MemoryObjectStore()
  put(store, 'flush', 1000, 1, [range(kTopicA, 0, 0, 10, 2), range(kTopicA, 1, 0, 4), range(kTopicB, 0, 0, 3)])
  put(store, 'flush', 2000, 2, [range(kTopicA, 0, 10, 12, 2)])
  const state = await loadRemoteState(store, kPrefix, { sleep: immediately })
  const plain = structuredClone(serializeRemoteState(state, (topicId, partition) => topicId === kTopicA && partition === 0))
  const indexes = deserializeRemoteState(plain)
  assert.deepEqual([...indexes.keys()], [partitionKey(kTopicA, 0)])
  const index = indexes.get(partitionKey(kTopicA, 0))!
  const original = state.partitions.get(partitionKey(kTopicA, 0))!
  assert.equal(index.logStartOffset, 2)
  assert.deepEqual(index.ranges, original.ranges)
  assert.equal(index.find(11)?.baseOffset, 10)
  assert.equal(deserializeRemoteState(serializeRemoteState(state)).size, 3)
})
