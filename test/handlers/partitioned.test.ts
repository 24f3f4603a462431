import { test } from 'node:test'
import assert from 'node:assert/strict'
import { groupByOwner, mergeTopics } from '../../src/handlers/partitioned.ts'
import { ShardTable } from '../../src/shard/shard-table.ts'
import type { Shard } from '../../src/shard/shard.ts'

const table = new ShardTable({
  version: 1,
  clusterId: 'c',
  topics: [
    { name: 'spread', id: '00000000' + '1'.repeat(24), partitions: 4, configs: {} },
    { name: 'single', id: '00000001' + '1'.repeat(24), partitions: 1, configs: {} }
  ]
}, 2)
const shard = { index: 0, table } as unknown as Shard

interface T { name: string, parts: Array<{ p: number }> }

function group (topics: T[]) {
  return groupByOwner(shard, topics, (t) => table.topic(t.name), (t) => t.parts, (x) => x.p, (t, parts) => ({ ...t, parts }))
}

test('splits a topic whose partitions have different owners and keeps unknown partitions apart', () => {
  const result = group([
    { name: 'spread', parts: [{ p: 0 }, { p: 1 }, { p: 2 }, { p: 3 }, { p: 9 }] },
    { name: 'single', parts: [{ p: 0 }] },
    { name: 'missing', parts: [{ p: 0 }] }
  ])
  assert.deepEqual(result.owners.get(0), [{ name: 'spread', parts: [{ p: 0 }, { p: 2 }] }])
  assert.deepEqual(result.owners.get(1), [{ name: 'spread', parts: [{ p: 1 }, { p: 3 }] }, { name: 'single', parts: [{ p: 0 }] }])
  assert.deepEqual(result.unknown, [{ name: 'spread', parts: [{ p: 9 }] }, { name: 'missing', parts: [{ p: 0 }] }])
})

test('passes a topic through uncopied when one owner has all its partitions', () => {
  const topic = { name: 'spread', parts: [{ p: 1 }, { p: 3 }] }
  const result = group([topic])
  assert.equal(result.owners.get(1)?.[0], topic)
})

test('merges topic responses from several parts into one entry per topic', () => {
  const merged = mergeTopics([
    [{ name: 'a', partitions: [1] }, { name: 'b', partitions: [2] }],
    [{ name: 'a', partitions: [3] }]
  ], (t) => t.name, 'partitions')
  assert.deepEqual(merged, [{ name: 'a', partitions: [1, 3] }, { name: 'b', partitions: [2] }])
})
