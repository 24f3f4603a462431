// DeleteRecords (API key 21).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   DeleteRecordsRequest.json @ apache/kafka 71b6b461894f520a610dfc59b763908e16ddc361 (validVersions 0-2)
//   DeleteRecordsResponse.json @ muxun-research/kafka eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions 0-2;
//     a reformatted mirror of Kafka 3.x; the stored apache/kafka version
//     27e98898192e5a0522c628d831ea255b118764a5 only has 0-1, same fields)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DeleteRecords',
  apiKey: 21,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'topics', type: '[]DeleteRecordsTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]DeleteRecordsPartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'offset', type: 'int64', versions: '0+' }
      ] }
    ] },
    { name: 'timeoutMs', type: 'int32', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DeleteRecords',
  apiKey: 21,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'topics', type: '[]DeleteRecordsTopicResult', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]DeleteRecordsPartitionResult', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'lowWatermark', type: 'int64', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' }
      ] }
    ] }
  ]
}
