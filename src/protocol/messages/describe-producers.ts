// DescribeProducers (API key 61).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeProducersRequest.json @ 1e9d680e4225de93169cb357147723d7527b3503 (validVersions 0)
//   DescribeProducersResponse.json @ 9dde33a2a55072b85c020050c7d063841c300b26 (validVersions 0)
// ProducerState.ProducerEpoch is an int32 on the wire here (unlike everywhere else), as Kafka defines it.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeProducers',
  apiKey: 61,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'topics', type: '[]TopicRequest', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitionIndexes', type: '[]int32', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'DescribeProducers',
  apiKey: 61,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'topics', type: '[]TopicResponse', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]PartitionResponse', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
        { name: 'activeProducers', type: '[]ProducerState', versions: '0+', fields: [
          { name: 'producerId', type: 'int64', versions: '0+' },
          { name: 'producerEpoch', type: 'int32', versions: '0+' },
          { name: 'lastSequence', type: 'int32', versions: '0+', default: -1 },
          { name: 'lastTimestamp', type: 'int64', versions: '0+', default: -1 },
          { name: 'coordinatorEpoch', type: 'int32', versions: '0+' },
          { name: 'currentTxnStartOffset', type: 'int64', versions: '0+', default: -1 }
        ] }
      ] }
    ] }
  ]
}
