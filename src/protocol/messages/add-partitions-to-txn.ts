// AddPartitionsToTxn (API key 24).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   AddPartitionsToTxnRequest.json @ 054b66e3cbaca56df136922090606e5dfbeb516c (validVersions 0-5)
//   AddPartitionsToTxnResponse.json @ 0e3cf152fc0eea88c033930e1b6feeb1a5226273 (validVersions 0-5)
// Versions 0-3 are the client form (one transaction, V3AndBelow* fields); 4+ are the broker-to-broker batch form.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'AddPartitionsToTxn',
  apiKey: 24,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactions', type: '[]AddPartitionsToTxnTransaction', versions: '4+', fields: [
      { name: 'transactionalId', type: 'string', versions: '4+' },
      { name: 'producerId', type: 'int64', versions: '4+' },
      { name: 'producerEpoch', type: 'int16', versions: '4+' },
      { name: 'verifyOnly', type: 'bool', versions: '4+', default: false },
      { name: 'topics', type: '[]AddPartitionsToTxnTopic', versions: '4+' }
    ] },
    { name: 'v3AndBelowTransactionalId', type: 'string', versions: '0-3' },
    { name: 'v3AndBelowProducerId', type: 'int64', versions: '0-3' },
    { name: 'v3AndBelowProducerEpoch', type: 'int16', versions: '0-3' },
    { name: 'v3AndBelowTopics', type: '[]AddPartitionsToTxnTopic', versions: '0-3' }
  ],
  commonStructs: [
    { name: 'AddPartitionsToTxnTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'AddPartitionsToTxn',
  apiKey: 24,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '4+' },
    { name: 'resultsByTransaction', type: '[]AddPartitionsToTxnResult', versions: '4+', fields: [
      { name: 'transactionalId', type: 'string', versions: '4+' },
      { name: 'topicResults', type: '[]AddPartitionsToTxnTopicResult', versions: '4+' }
    ] },
    { name: 'resultsByTopicV3AndBelow', type: '[]AddPartitionsToTxnTopicResult', versions: '0-3' }
  ],
  commonStructs: [
    { name: 'AddPartitionsToTxnTopicResult', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'resultsByPartition', type: '[]AddPartitionsToTxnPartitionResult', versions: '0+' }
    ] },
    { name: 'AddPartitionsToTxnPartitionResult', versions: '0+', fields: [
      { name: 'partitionIndex', type: 'int32', versions: '0+' },
      { name: 'partitionErrorCode', type: 'int16', versions: '0+' }
    ] }
  ]
}
