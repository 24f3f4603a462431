// OffsetForLeaderEpoch (API key 23).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   OffsetForLeaderEpochRequest.json @ 354717d5d5bc14a8fc64c6c4e886a7f6a5b553e3 (validVersions 0-4)
//   OffsetForLeaderEpochResponse.json @ b967e968c65a43cab0ac708e52ca2e5ae638f412 (validVersions 2-4: Kafka 4.0
//     removed v0-1; no stored version of the response between has both 0-1 and v4)
// ReplicaId's default is -2 (a "debug" consumer that may read past the high watermark).
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'OffsetForLeaderEpoch',
  apiKey: 23,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'replicaId', type: 'int32', versions: '3+', default: -2 },
    { name: 'topics', type: '[]OffsetForLeaderTopic', versions: '0+', fields: [
      { name: 'topic', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]OffsetForLeaderPartition', versions: '0+', fields: [
        { name: 'partition', type: 'int32', versions: '0+' },
        { name: 'currentLeaderEpoch', type: 'int32', versions: '2+', default: -1 },
        { name: 'leaderEpoch', type: 'int32', versions: '0+' }
      ] }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'OffsetForLeaderEpoch',
  apiKey: 23,
  type: 'response',
  validVersions: '2-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    { name: 'topics', type: '[]OffsetForLeaderTopicResult', versions: '0+', fields: [
      { name: 'topic', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]EpochEndOffset', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'partition', type: 'int32', versions: '0+' },
        { name: 'leaderEpoch', type: 'int32', versions: '1+', default: -1 },
        { name: 'endOffset', type: 'int64', versions: '0+', default: -1 }
      ] }
    ] }
  ]
}
