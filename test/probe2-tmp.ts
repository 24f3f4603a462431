import { startBroker } from './helpers/broker.ts'
import { KafkaClient, createTopic } from './helpers/kafka-client.ts'
import { buildRecordBatch } from '../src/protocol/record-batch.ts'
const broker = await startBroker({ workers: 2 })
const admin = await KafkaClient.to(broker.bootstrap)
await createTopic(admin, 't', 2)
const batch = buildRecordBatch([{ key: null, value: Buffer.from('v') }])
const fetchReq = (over: any, part: any = {}) => ({ replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
  topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1, ...part }] }], forgottenTopicsData: [], rackId: '', ...over })
const prodReq = (over: any, pd: any = {}) => ({ transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch, ...pd }] }], ...over })
const cases: Array<[string, number, number, any]> = [
  ['fetch neg partitionMaxBytes', 1, 12, fetchReq({}, { partitionMaxBytes: -1 })],
  ['fetch zero maxBytes', 1, 12, fetchReq({ maxBytes: 0 }, { partitionMaxBytes: 0 })],
  ['fetch neg maxBytes', 1, 12, fetchReq({ maxBytes: -100 })],
  ['fetch neg offset', 1, 12, fetchReq({}, { fetchOffset: -5 })],
  ['fetch huge offset', 1, 12, fetchReq({}, { fetchOffset: 2 ** 53 })],
  ['fetch partition -1', 1, 12, fetchReq({}, { partition: -1 })],
  ['fetch partition 2^31-1', 1, 12, fetchReq({}, { partition: 2 ** 31 - 1 })],
  ['fetch neg maxWait', 1, 12, fetchReq({ maxWaitMs: -1, minBytes: 1 })],
  ['fetch dup partitions', 1, 12, { ...fetchReq({}), topics: [{ topic: 't', partitions: [0, 0, 1, 1].map(p => ({ partition: p, fetchOffset: 0, partitionMaxBytes: 100, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 })) }] }],
  ['fetch empty topics', 1, 12, fetchReq({ topics: [] })],
  ['fetch v4', 1, 4, fetchReq({})],
  ['produce partition -1', 0, 9, prodReq({}, { index: -1 })],
  ['produce partition 99', 0, 9, prodReq({}, { index: 99 })],
  ['produce records null', 0, 9, prodReq({}, { records: null })],
  ['produce acks 2', 0, 9, prodReq({ acks: 2 })],
  ['produce timeout neg', 0, 9, prodReq({ timeoutMs: -1 })],
  ['produce empty topics', 0, 9, prodReq({ topicData: [] })],
  ['produce dup partitions', 0, 9, prodReq({ topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }, { index: 0, records: batch }, { index: 1, records: batch }] }] })],
  ['produce dup topics', 0, 9, prodReq({ topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }] }, { name: 't', partitionData: [{ index: 1, records: batch }] }] })],
  ['produce unknown topic', 0, 9, prodReq({ topicData: [{ name: 'nope', partitionData: [{ index: 0, records: batch }] }] })],
  ['produce two batches', 0, 9, prodReq({}, { records: Buffer.concat([batch, batch]) })],
  ['produce transactional', 0, 9, prodReq({ transactionalId: 'tx' }, { records: buildRecordBatch([{ key: null, value: null }], { producerId: 5, producerEpoch: 0, baseSequence: 0, isTransactional: true }) })],
  ['produce control batch', 0, 9, prodReq({}, { records: buildRecordBatch([{ key: null, value: null }], { isControl: true }) })],
  ['produce empty batch', 0, 9, prodReq({}, { records: buildRecordBatch([]) })],
  ['produce pid with seq -1', 0, 9, prodReq({}, { records: buildRecordBatch([{ key: null, value: null }], { producerId: 1234, producerEpoch: 0, baseSequence: -1 }) })],
  ['produce pid huge seq', 0, 9, prodReq({}, { records: buildRecordBatch([{ key: null, value: null }, { key: null, value: null }], { producerId: 1235, producerEpoch: 0, baseSequence: 2 ** 31 - 1 }) })],
  ['produce pid neg epoch', 0, 9, prodReq({}, { records: buildRecordBatch([{ key: null, value: null }], { producerId: 1236, producerEpoch: -1, baseSequence: 0 }) })],
  ['metadata empty name', 3, 12, { topics: [{ topicId: '0'.repeat(32), name: '' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }],
  ['metadata long name', 3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'a'.repeat(300) }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }],
  ['metadata bad chars', 3, 12, { topics: [{ topicId: '0'.repeat(32), name: '../../etc' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }],
  ['metadata null name zero id', 3, 12, { topics: [{ topicId: '0'.repeat(32), name: null }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }],
  ['metadata dup names autocreate', 3, 12, { topics: [{ topicId: '0'.repeat(32), name: 'auto1' }, { topicId: '0'.repeat(32), name: 'auto1' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }],
  ['metadata v4 null topics', 3, 4, { topics: null, allowAutoTopicCreation: false }],
  ['listoffsets weird ts', 2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -7 }] }], timeoutMs: 0 }],
  ['listoffsets partition -1', 2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: -1, currentLeaderEpoch: -1, timestamp: -1 }] }], timeoutMs: 0 }],
  ['listoffsets max ts', 2, 8, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3 }] }], timeoutMs: 0 }],
  ['listoffsets isolation 5', 2, 8, { replicaId: -1, isolationLevel: 5, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 1 }] }], timeoutMs: 0 }],
  ['create 0 partitions', 19, 7, { topics: [{ name: 'z0', numPartitions: 0, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 0, validateOnly: false }],
  ['create bad config', 19, 7, { topics: [{ name: 'z1', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '-1' }, { name: 'unknown.thing', value: 'x' }] }], timeoutMs: 0, validateOnly: false }],
  ['create null config', 19, 7, { topics: [{ name: 'z2', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: null }] }], timeoutMs: 0, validateOnly: false }],
  ['create dot', 19, 7, { topics: [{ name: '..', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 0, validateOnly: false }],
  ['create assignments', 19, 7, { topics: [{ name: 'z3', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }], configs: [] }], timeoutMs: 0, validateOnly: false }],
  ['createpartitions fewer', 37, 3, { topics: [{ name: 't', count: 1, assignments: null }], timeoutMs: 0, validateOnly: false }],
  ['createpartitions nan', 37, 3, { topics: [{ name: 't', count: -1, assignments: null }], timeoutMs: 0, validateOnly: false }],
  ['deletetopics unknown', 20, 6, { topicNames: [], topics: [{ name: 'nope', topicId: '0'.repeat(32) }, { name: null, topicId: 'f'.repeat(32) }], timeoutMs: 0 }],
  ['initpid tx', 22, 4, { transactionalId: 'tx', transactionTimeoutMs: 1, producerId: -1, producerEpoch: -1 }],
  ['initpid existing', 22, 4, { transactionalId: null, transactionTimeoutMs: 1, producerId: 0, producerEpoch: 5 }],
  ['describecluster', 60, 1, { includeClusterAuthorizedOperations: true, endpointType: 99 }],
]
for (const [name, key, version, body] of cases) {
  const c = await KafkaClient.to(broker.bootstrap)
  try {
    const r = await Promise.race([c.request(key, version, body), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout 3s')), 3000))])
    console.log('OK', name, JSON.stringify(r, (k, v) => (v && v.type === 'Buffer') ? `<${v.data.length} bytes>` : v).slice(0, 400))
  } catch (e) { console.log('ERR', name, (e as Error).message) }
  c.close()
}
admin.close()
await broker.stop()
console.log(broker.output())
