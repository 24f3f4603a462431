// Garbage collection of data objects (src/storage/garbage.ts): redundant objects and objects wholly of deleted
// topics go once old enough; everything a kept range points at stays.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { counterValue } from '../../src/counters.ts'
import { collectGarbage, garbageKeys } from '../../src/storage/garbage.ts'
import { MemoryObjectStore } from '../../src/storage/memory-object-store.ts'
import { dataObjectKey, encodeObject, type ObjectRange } from '../../src/storage/object-format.ts'
import { loadRemoteState } from '../../src/storage/remote-state-loader.ts'

const kPrefix = 'g/'
const kInstance = 'fedcba9876543210'
const kLive = '1'.repeat(32)
const kDeleted = '2'.repeat(32)
const kNow = 10_000_000

function put (store: MemoryObjectStore, kind: 'flush' | 'merged', createdMs: number, seq: number, ranges: Array<[string, number, number]>): string {
  const key = dataObjectKey(kPrefix, kind, createdMs, kInstance, 0, seq)
  const full: Array<Omit<ObjectRange, 'position'>> = ranges.map(([topicId, baseOffset, endOffset]) => ({
    topicId, topic: 't', partition: 0, baseOffset, endOffset, length: endOffset - baseOffset, maxTimestamp: 0, logStartOffset: 0
  }))
  const { chunks } = encodeObject({ kind, instance: kInstance, worker: 0, createdMs }, full, full.map(r => Buffer.alloc(r.length)))
  store.objects.set(key, { body: Buffer.concat(chunks), lastModifiedMs: createdMs })
  return key
}

test('deletes old redundant objects and objects only of deleted topics; keeps young ones and live data', async () => {
  const store = new MemoryObjectStore()
  const old = kNow - 60_000
  const replaced = put(store, 'flush', old, 1, [[kLive, 10, 20]])
  const alsoReplaced = put(store, 'flush', old - 1, 0, [[kLive, 0, 10]]) // replaced too: the merged object reports the same start
  const merged = put(store, 'merged', old + 1, 2, [[kLive, 0, 20]])
  const deletedTopic = put(store, 'flush', old + 2, 3, [[kDeleted, 0, 5]])
  const mixed = put(store, 'flush', old + 3, 4, [[kDeleted, 5, 9], [kLive, 20, 30]])
  const young = put(store, 'flush', kNow - 1000, 5, [[kDeleted, 9, 12]])
  const state = await loadRemoteState(store, kPrefix)
  assert.deepEqual([...state.redundantKeys].sort(), [alsoReplaced, replaced].sort())
  const live = new Set([kLive])
  assert.deepEqual(garbageKeys(state, live, 30_000, kNow), [alsoReplaced, replaced, deletedTopic].sort())
  const before = counterValue('s3-objects-deleted')
  assert.equal(await collectGarbage(store, state, live, { olderThanMs: 30_000, nowMs: kNow }), 3)
  assert.equal(counterValue('s3-objects-deleted'), before + 3)
  assert.deepEqual([...store.objects.keys()].sort(), [merged, mixed, young].sort())
  // Later, the young one is old enough.
  assert.equal(await collectGarbage(store, await loadRemoteState(store, kPrefix), live, { olderThanMs: 30_000, nowMs: kNow + 60_000 }), 1)
  assert.equal(store.objects.has(young), false)
})

test('retriable DELETE failures are retried; nothing to delete sends nothing', async () => {
  const store = new MemoryObjectStore()
  put(store, 'flush', 1000, 1, [[kDeleted, 0, 5]])
  const state = await loadRemoteState(store, kPrefix)
  store.failNext = 2
  assert.equal(await collectGarbage(store, state, new Set(), { olderThanMs: 0, nowMs: kNow, sleep: async () => {} }), 1)
  assert.equal(store.objects.size, 0)
  const requests = store.requests.delete
  assert.equal(await collectGarbage(store, await loadRemoteState(store, kPrefix), new Set(), { olderThanMs: 0, nowMs: kNow }), 0)
  assert.equal(store.requests.delete, requests)
})
