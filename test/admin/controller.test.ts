import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller, type CreateTopicResult, type TopicResult } from '../../src/admin/controller.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { Logger } from '../../src/logger.ts'
import { counterValue } from '../../src/counters.ts'
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
  // A topic named twice is refused in both entries and grows by neither.
  const twice = await controller.execute({ op: 'createPartitions', topics: [{ name: 'c', count: 5 }, { name: 'c', count: 6 }, { name: 'd', count: 2 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(twice.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION])
  assert.equal(controller.metadata.topics[0].partitions, 2)
  const grown = await controller.execute({ op: 'createPartitions', topics: [{ name: 'c', count: 5 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(grown.map((r) => r.errorCode), [0])
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

const kLimits = { maxPartitionsPerTopic: 10, maxBrokerPartitions: 20, maxTopics: 3 }

test('a CreateTopics beyond a limit answers POLICY_VIOLATION, counting the topics accepted before it in the same request', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger, kLimits)
  const before = counterValue('admin-max-partitions-per-topic-reached')
  const results = await controller.execute({
    op: 'createTopics',
    topics: [topic('big', 11), topic('a', 10), topic('b', 8), topic('c', 5), topic('d', 2), topic('e', 1)],
    validateOnly: false
  }) as CreateTopicResult[]
  // big: over the per-topic limit; c: 10 + 8 + 5 > 20; e: a, b and d are 3 topics already.
  assert.deepEqual(results.map((r) => [r.name, r.errorCode]), [
    ['big', ErrorCode.POLICY_VIOLATION], ['a', 0], ['b', 0], ['c', ErrorCode.POLICY_VIOLATION], ['d', 0], ['e', ErrorCode.POLICY_VIOLATION]
  ])
  assert.match(results[0].errorMessage ?? '', /max-partitions-per-topic/)
  assert.match(results[3].errorMessage ?? '', /max.broker.partitions/)
  assert.match(results[5].errorMessage ?? '', /max-topics/)
  assert.deepEqual(controller.metadata.topics.map((t) => [t.name, t.partitions]), [['a', 10], ['b', 8], ['d', 2]])
  assert.equal(counterValue('admin-max-partitions-per-topic-reached'), before + 1)
}))

test('a CreatePartitions beyond a limit answers POLICY_VIOLATION and grows nothing; bad counts answer INVALID_PARTITIONS', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger, kLimits)
  await controller.execute({ op: 'createTopics', topics: [topic('a', 2), topic('b', 2)], validateOnly: false })
  const version = controller.metadata.version
  const refused = await controller.execute({ op: 'createPartitions', topics: [{ name: 'a', count: 20_000 }, { name: 'b', count: -5 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(refused.map((r) => r.errorCode), [ErrorCode.POLICY_VIOLATION, ErrorCode.INVALID_PARTITIONS])
  const same = await controller.execute({ op: 'createPartitions', topics: [{ name: 'b', count: 2 }, { name: 'a', count: 1.5 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(same.map((r) => r.errorCode), [ErrorCode.INVALID_PARTITIONS, ErrorCode.INVALID_PARTITIONS])
  assert.equal(controller.metadata.version, version, 'nothing was committed')
  // 10 + 10 = 20 fits; one more each would not.
  const grown = await controller.execute({ op: 'createPartitions', topics: [{ name: 'a', count: 10 }, { name: 'b', count: 10 }], validateOnly: false }) as TopicResult[]
  assert.deepEqual(grown.map((r) => r.errorCode), [0, 0])
  const full = await controller.execute({ op: 'createPartitions', topics: [{ name: 'b', count: 11 }], validateOnly: false }) as TopicResult[]
  assert.equal(full[0].errorCode, ErrorCode.POLICY_VIOLATION)
  assert.deepEqual(controller.metadata.topics.map((t) => t.partitions), [10, 10])
}))

test('the broker\'s internal topics are created whatever the limits, and clients cannot create, delete, repartition or break them', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger, { maxPartitionsPerTopic: 10, maxBrokerPartitions: 10, maxTopics: 1 })
  const offsets = { ...topic('__consumer_offsets', 50), internal: true, configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(16 << 20) }] }
  const created = await controller.execute({ op: 'createTopics', topics: [offsets], validateOnly: false }) as CreateTopicResult[]
  assert.equal(created[0].errorCode, 0)
  const byClients = await controller.execute({ op: 'createTopics', topics: [topic('__transaction_state'), topic('__cluster_metadata'), topic('user')], validateOnly: false }) as CreateTopicResult[]
  assert.deepEqual(byClients.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.POLICY_VIOLATION])

  const id = controller.metadata.topics[0].id
  const deleted = await controller.execute({ op: 'deleteTopics', names: ['__consumer_offsets'], ids: [id] }) as TopicResult[]
  assert.deepEqual(deleted.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST])
  const grown = await controller.execute({ op: 'createPartitions', topics: [{ name: '__consumer_offsets', count: 815 }], validateOnly: false }) as TopicResult[]
  assert.equal(grown[0].errorCode, ErrorCode.INVALID_REQUEST)

  const alter = (set: Record<string, string | null>, incremental: boolean) =>
    controller.execute({ op: 'alterTopicConfigs', topic: '__consumer_offsets', set, incremental, validateOnly: false }) as Promise<TopicResult>
  assert.equal((await alter({ 'cleanup.policy': 'delete' }, true)).errorCode, ErrorCode.POLICY_VIOLATION)
  assert.equal((await alter({ 'cleanup.policy': null }, true)).errorCode, ErrorCode.POLICY_VIOLATION)
  assert.equal((await alter({ 'max.message.bytes': '10' }, true)).errorCode, ErrorCode.POLICY_VIOLATION)
  // A full replacement that drops cleanup.policy=compact would break it too.
  assert.equal((await alter({ 'retention.ms': '1000' }, false)).errorCode, ErrorCode.POLICY_VIOLATION)
  assert.equal((await alter({ 'segment.bytes': String(32 << 20) }, true)).errorCode, ErrorCode.NONE)
  const [stored] = controller.metadata.topics
  assert.deepEqual([stored.partitions, stored.configs], [50, { 'cleanup.policy': 'compact', 'segment.bytes': String(32 << 20) }])
}))

test('absurd config values and names answer INVALID_CONFIG and never reach the topic', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger)
  const bad: Array<[string, string | null]> = [
    ['segment.bytes', '1'], ['segment.bytes', 'abc'], ['retention.ms', '1e400'], ['retention.ms', '99999999999999999999'],
    ['max.message.bytes', '2147483648'], ['min.cleanable.dirty.ratio', '1.5'], ['min.cleanable.dirty.ratio', 'NaN'],
    ['segment.ms', '0'], ['retention.ms', ' 5'], ['constructor', '1'], ['__proto__', '1'], ['toString', '1'], ['retention.ms', null]
  ]
  const results = await controller.execute({
    op: 'createTopics',
    topics: bad.map(([name, value], i) => topic(`t${i}`, 1, { configs: [{ name, value }] })),
    validateOnly: false
  }) as CreateTopicResult[]
  assert.deepEqual(results.map((r) => r.errorCode), bad.map(() => ErrorCode.INVALID_CONFIG))
  assert.equal(controller.metadata.topics.length, 0)
  await controller.execute({ op: 'createTopics', topics: [topic('ok', 1, { configs: [{ name: 'segment.bytes', value: '1048576' }, { name: 'retention.ms', value: '-1' }] })], validateOnly: false })
  for (const [name, value] of bad) {
    const result = await controller.execute({ op: 'alterTopicConfigs', topic: 'ok', set: { [name]: value ?? 'x' }, incremental: true, validateOnly: false }) as TopicResult
    assert.equal(result.errorCode, ErrorCode.INVALID_CONFIG, `${name}=${value}`)
  }
  assert.deepEqual(controller.metadata.topics[0].configs, { 'segment.bytes': '1048576', 'retention.ms': '-1' })
}))

test('CreateTopics refuses empty names, duplicate names, and replication factors other than -1 and 1', withDir(async (dir) => {
  const controller = new Controller(dir, 1, logger)
  const results = await controller.execute({
    op: 'createTopics',
    topics: [topic(''), topic('x'), topic('x'), topic('r0', 1, { replicationFactor: 0 }), topic('rn', 1, { replicationFactor: -5 }), topic('p', -5)],
    validateOnly: false
  }) as CreateTopicResult[]
  assert.deepEqual(results.map((r) => r.errorCode), [
    ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_PARTITIONS
  ])
  assert.deepEqual(controller.metadata.topics.map((t) => t.name), [], 'a name given twice creates neither')
}))
