// ConsumerGroupHeartbeat (API key 68).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   ConsumerGroupHeartbeatRequest.json @ aed0d799945379703d9b7d155691993f0fffe746 (validVersions 0-1)
//   ConsumerGroupHeartbeatResponse.json @ 12fc8e2b42fa2784acc6da92e219cfbd3cccebcc (validVersions 0-1)
// The response's Assignment is a nullable single struct (written as an int8 -1 / 1 marker before the struct).
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'ConsumerGroupHeartbeat',
  apiKey: 68,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'memberEpoch', type: 'int32', versions: '0+' },
    { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'rebalanceTimeoutMs', type: 'int32', versions: '0+', default: -1 },
    { name: 'subscribedTopicNames', type: '[]string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'subscribedTopicRegex', type: 'string', versions: '1+', nullableVersions: '1+', default: null },
    { name: 'serverAssignor', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+', nullableVersions: '0+', default: null, fields: [
      { name: 'topicId', type: 'uuid', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'ConsumerGroupHeartbeat',
  apiKey: 68,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'memberId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'memberEpoch', type: 'int32', versions: '0+' },
    { name: 'heartbeatIntervalMs', type: 'int32', versions: '0+' },
    { name: 'assignment', type: 'Assignment', versions: '0+', nullableVersions: '0+', default: null, fields: [
      { name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+' }
    ] }
  ],
  commonStructs: [
    { name: 'TopicPartitions', versions: '0+', fields: [
      { name: 'topicId', type: 'uuid', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' }
    ] }
  ]
}
