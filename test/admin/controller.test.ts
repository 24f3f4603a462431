import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller, type CreateTopicResult, type TopicResult } from '../../src/admin/controller.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { Logger } from '../../src/logger.ts'
import type { ClusterMetadata } from '../../src/shard/shard-table.ts'

const logger = new Logger('error')

function withDir (run: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-controller-'))
    try { await run(dir) } finally { rmSync(dir, { recursive: true, force: true }) }
  }
}

function topic (name: string, numPartitions = 1, extra: object = {}) {
  return { name, numPartitions, replicationFactor: -1, configs: [], hasAssignments: false, ...extra }
}

test('creates topics, broadcasts each version, and keeps them across a restart', withDir(async (dir) => {
  const controller = new Controller(dir, 3, logger)
  const seen: ClusterMetadata[] = []
  controller.setBroadcast(async (metadata) => { seen.push(metadata) })
  const results = await controller.execute({ op: 'createTopics', topics: [topic('a', -1), topic('b', 2)], validateOnly: false }) as CreateTopicResult[]
  assert.deepEqual(results.map((r) => [r.name, r.errorCode, r.numPartitions]), [['a', 0, 3], ['b', 0, 2]])
  assert.equal(seen.length, 1)
  assert.deepEqual(seen[0].topics.map((t) => t.name), ['a', 'b'])
  const reopened = new Controller(dir, 1, logger)
  assert.equal(reopened.metadata.clusterId, controller.metadata.clusterId)
  assert.deepEqual(reopened.metadata.topics, controller.metadata.topics)
}))

test('rejects bad topics with Kafka error codes and validate-only changes nothing', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger)
  await controller.execute({ op: 'createTopics', topics: [topic('exists')], validateOnly: false })
  const results = await controller.execute({
    op: 'createTopics',
    topics: [
      topic('exists'), topic('bad name'), topic('x', 0), topic('y', 1, { replicationFactor: 3 }),
      topic('z', 1, { configs: [{ name: 'no.such.config', value: '1' }] }), topic('w', 1, { configs: [{ name: 'message.timestamp.type', value: 'Later' }] }),
      topic('ok', 2)
    ],
    validateOnly: true
  }) as CreateTopicResult[]
  assert.deepEqual(results.map((r) => r.errorCode), [
    ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_PARTITIONS,
    ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.NONE
  ])
  assert.deepEqual(controller.metadata.topics.map((t) => t.name), ['exists'])
}))

test('deletes topics by name and id, grows partitions, and never reuses producer ids after a restart', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger)
  await controller.execute({ op: 'createTopics', topics: [topic('a'), topic('b')], validateOnly: false })
  const b = controller.metadata.topics.find((t) => t.name === 'b')
  assert.ok(b)
  const deleted = await controller.execute({ op: 'deleteTopics', names: ['a', 'nope'], ids: [b.id] }) as TopicResult[]
  assert.deepEqual(deleted.map((r) => r.errorCode), [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0])
  assert.equal(controller.metadata.topics.length, 0)

  await controller.execute({ op: 'createTopics', topics: [topic('c', 2)], validateOnly: false })
  const grown = await controller.execute({ op: 'createPartitions', topics: [{ name: 'c', count: 5 }, { name: 'c', count: 6 }, { name: 'd', count: 2 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(grown.map((r) => r.errorCode), [0, ErrorCode.INVALID_REQUEST, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
  assert.equal(controller.metadata.topics[0].partitions, 5)
  const shrink = await controller.execute({ op: 'createPartitions', topics: [{ name: 'c', count: 3 }], validateOnly: false }) as TopicResult[]
  assert.equal(shrink[0].errorCode, ErrorCode.INVALID_PARTITIONS)

  const first = await controller.execute({ op: 'initProducerId' }) as { producerId: number }
  const second = await controller.execute({ op: 'initProducerId' }) as { producerId: number }
  assert.equal(second.producerId, first.producerId + 1)
  const restarted = new Controller(dir, 1, logger)
  const third = await restarted.execute({ op: 'initProducerId' }) as { producerId: number }
  assert.ok(third.producerId > second.producerId)
}))
