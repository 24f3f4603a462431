// CreateTopics (API key 19).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   CreateTopicsRequest.json @ muxun-research/kafka eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions 0-7; a
//     reformatted mirror of Kafka 3.x; the stored apache/kafka version 2b8ab4dd405c2ccfc68127440ab712e343a42165
//     only has 0-3, same fields)
//   CreateTopicsResponse.json @ apache/kafka e3e579e7d69ffef5ce5f6ba2fdd992bb8bcb9f33 (validVersions 0-7)
// The request's `timeoutMs` and `validateOnly` are spelt in lower camel case in Kafka's JSON too.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'CreateTopics',
  apiKey: 19,
  type: 'request',
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    { name: 'topics', type: '[]CreatableTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'numPartitions', type: 'int32', versions: '0+' },
      { name: 'replicationFactor', type: 'int16', versions: '0+' },
      { name: 'assignments', type: '[]CreatableReplicaAssignment', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'brokerIds', type: '[]int32', versions: '0+' }
      ] },
      { name: 'configs', type: '[]CreateableTopicConfig', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] },
    { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
    { name: 'validateOnly', type: 'bool', versions: '1+', default: false }
  ]
}

export const response: MessageDef = {
  name: 'CreateTopics',
  apiKey: 19,
  type: 'response',
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '2+' },
    { name: 'topics', type: '[]CreatableTopicResult', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'topicId', type: 'uuid', versions: '7+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '1+', nullableVersions: '0+' },
      { name: 'topicConfigErrorCode', type: 'int16', versions: '5+', taggedVersions: '5+', tag: 0 },
      { name: 'numPartitions', type: 'int32', versions: '5+', default: -1 },
      { name: 'replicationFactor', type: 'int16', versions: '5+', default: -1 },
      { name: 'configs', type: '[]CreatableTopicConfigs', versions: '5+', nullableVersions: '5+', fields: [
        { name: 'name', type: 'string', versions: '5+' },
        { name: 'value', type: 'string', versions: '5+', nullableVersions: '5+' },
        { name: 'readOnly', type: 'bool', versions: '5+' },
        { name: 'configSource', type: 'int8', versions: '5+', default: -1 },
        { name: 'isSensitive', type: 'bool', versions: '5+' }
      ] }
    ] }
  ]
}
