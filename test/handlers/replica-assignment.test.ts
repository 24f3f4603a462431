// Manual replica assignments in CreateTopics and CreatePartitions: accepted when they name this broker (the one
// registered broker), refused with Kafka's KRaft controller's codes and messages otherwise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startBroker } from '../helpers/broker.ts'
import { KafkaClient, createTopic } from '../helpers/kafka-client.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'

const kNodeId = 7

function newTopic (name: string, assignments: Array<[number, number[]]>, numPartitions = -1, replicationFactor = -1): object {
  return { name, numPartitions, replicationFactor, assignments: assignments.map(([partitionIndex, brokerIds]) => ({ partitionIndex, brokerIds })), configs: [] }
}

async function partitionCount (client: KafkaClient, name: string): Promise<number> {
  const metadata = await client.request(3, 12, { topics: [{ topicId: '0'.repeat(32), name }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })
  assert.equal(metadata.topics[0].errorCode, ErrorCode.NONE)
  for (const p of metadata.topics[0].partitions) assert.deepEqual([p.leaderId, p.replicaNodes], [kNodeId, [kNodeId]])
  return metadata.topics[0].partitions.length
}

test('CreateTopics accepts an assignment naming this broker and refuses others as Kafka does', async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--node-id', String(kNodeId)] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())

  const response = await client.request(19, 7, {
    topics: [
      newTopic('assigned', [[1, [kNodeId]], [0, [kNodeId]], [2, [kNodeId]]]),
      newTopic('rf-set', [[0, [kNodeId]]], -1, 1),
      newTopic('count-set', [[0, [kNodeId]]], 1, -1),
      newTopic('twice', [[0, [kNodeId]], [0, [kNodeId]]]),
      newTopic('empty-list', [[0, []]]),
      newTopic('unknown-broker', [[0, [kNodeId, 3]]]),
      newTopic('duplicate-broker', [[0, [kNodeId, kNodeId]]]),
      newTopic('gap', [[0, [kNodeId]], [2, [kNodeId]]])
    ],
    timeoutMs: 10_000,
    validateOnly: false
  })
  const results = new Map(response.topics.map((r: any) => [r.name, r]))
  const assigned = results.get('assigned') as any
  assert.equal(assigned.errorCode, ErrorCode.NONE, assigned.errorMessage)
  assert.equal(assigned.numPartitions, 3)
  assert.equal(assigned.replicationFactor, 1)
  const refused = (name: string): [number, string] => { const r = results.get(name) as any; return [r.errorCode, r.errorMessage] }
  assert.deepEqual(refused('rf-set'), [ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.'])
  assert.deepEqual(refused('count-set'), [ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.'])
  assert.deepEqual(refused('twice'), [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Found multiple manual partition assignments for partition 0'])
  assert.deepEqual(refused('empty-list'), [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.'])
  assert.deepEqual(refused('unknown-broker'), [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes broker 3, but no such broker is registered.'])
  assert.deepEqual(refused('duplicate-broker'), [ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${kNodeId} more than once.`])
  assert.deepEqual(refused('gap'), [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence'])
  assert.equal(await partitionCount(client, 'assigned'), 3)

  const validated = await client.request(19, 7, { topics: [newTopic('only-validated', [[0, [kNodeId]]])], timeoutMs: 10_000, validateOnly: true })
  assert.equal(validated.topics[0].errorCode, ErrorCode.NONE)
  assert.equal(validated.topics[0].numPartitions, 1)
})

test('CreatePartitions accepts one replica list per added partition naming this broker, and refuses others', async (t) => {
  const broker = await startBroker({ workers: 2, args: ['--node-id', String(kNodeId)] })
  t.after(() => broker.stop())
  const client = await KafkaClient.connect(broker.host, broker.port)
  t.after(() => client.close())
  await createTopic(client, 'grown', 1)
  await createTopic(client, 'kept', 1)

  const grow = (name: string, count: number, assignments: number[][] | null): object => ({ name, count, assignments: assignments === null ? null : assignments.map((brokerIds) => ({ brokerIds })) })
  const response = await client.request(37, 3, {
    topics: [grow('grown', 3, [[kNodeId], [kNodeId]])],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.deepEqual(response.results.map((r: any) => [r.name, r.errorCode, r.errorMessage]), [['grown', ErrorCode.NONE, null]])
  assert.equal(await partitionCount(client, 'grown'), 3)

  const refused = await client.request(37, 3, {
    topics: [grow('kept', 3, [[kNodeId]])],
    timeoutMs: 10_000,
    validateOnly: false
  })
  assert.deepEqual(refused.results.map((r: any) => [r.errorCode, r.errorMessage]),
    [[ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.']])
  for (const [assignment, message] of [
    [[2], 'The manual partition assignment includes broker 2, but no such broker is registered.'],
    [[kNodeId, kNodeId], `The manual partition assignment includes the broker ${kNodeId} more than once.`],
    [[], 'The manual partition assignment includes an empty replica list.']
  ] as Array<[number[], string]>) {
    const answer = await client.request(37, 3, { topics: [grow('kept', 2, [assignment])], timeoutMs: 10_000, validateOnly: false })
    assert.deepEqual(answer.results.map((r: any) => [r.errorCode, r.errorMessage]), [[ErrorCode.INVALID_REPLICA_ASSIGNMENT, message]])
  }
  assert.equal(await partitionCount(client, 'kept'), 1, 'nothing refused was applied')
  const plain = await client.request(37, 1, { topics: [grow('kept', 2, null)], timeoutMs: 10_000, validateOnly: false })
  assert.equal(plain.results[0].errorCode, ErrorCode.NONE)
  assert.equal(await partitionCount(client, 'kept'), 2)
})
