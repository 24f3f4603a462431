import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ShardTable, type ClusterMetadata } from '../../src/shard/shard-table.ts'

const metadata: ClusterMetadata = {
  version: 3,
  clusterId: 'c',
  topics: [
    { name: 'a', id: '00000001' + '0'.repeat(24), partitions: 4, configs: {} },
    { name: 'b', id: '00000002' + '0'.repeat(24), partitions: 1, configs: { 'retention.ms': '5' } }
  ]
}

test('spreads the partitions of a topic over the workers, each owned by exactly one', () => {
  const table = new ShardTable(metadata, 2)
  const a = table.topic('a')
  assert.ok(a)
  const owners = [0, 1, 2, 3].map((p) => table.ownerOf(a, p))
  assert.deepEqual(owners, [1, 0, 1, 0])
  assert.equal(table.ownerOf(table.topic('b'), 0), 0)
})

test('answers -1 for unknown topics and partitions out of range', () => {
  const table = new ShardTable(metadata, 3)
  assert.equal(table.ownerOf(undefined, 0), -1)
  assert.equal(table.ownerOf(table.topic('a'), 4), -1)
  assert.equal(table.ownerOf(table.topic('a'), -1), -1)
})

test('looks topics up by name and by id, and carries the version', () => {
  const table = new ShardTable(metadata, 1)
  assert.equal(table.version, 3)
  assert.equal(table.topicById(metadata.topics[1].id)?.name, 'b')
  assert.equal(table.topic('b')?.configs['retention.ms'], '5')
  assert.deepEqual([...table.topics()].map((t) => t.name), ['a', 'b'])
  assert.ok([...table.topics()].every((t) => [...t.owners].every((o) => o === 0)))
})
