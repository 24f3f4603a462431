// CreatePartitions (API key 37).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   CreatePartitionsRequest.json @ muxun-research/kafka 05780be62c002b063ec0425b57f73be71a7e5681 (validVersions
//     0-3; a reformatted mirror of Kafka 3.x; the stored apache/kafka version
//     52b3c2b879bbbd0dc80bdb35d69a9d6b63f65b53 only has 0-1, same fields)
//   CreatePartitionsResponse.json @ apache/kafka b87b627a1b0d7b1c78c53e103f033bd54ac85a16 (validVersions 0-3)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'CreatePartitions',
  apiKey: 37,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'topics', type: '[]CreatePartitionsTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'count', type: 'int32', versions: '0+' },
      { name: 'assignments', type: '[]CreatePartitionsAssignment', versions: '0+', nullableVersions: '0+', fields: [
        { name: 'brokerIds', type: '[]int32', versions: '0+' }
      ] }
    ] },
    { name: 'timeoutMs', type: 'int32', versions: '0+' },
    { name: 'validateOnly', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'CreatePartitions',
  apiKey: 37,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]CreatePartitionsTopicResult', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null }
    ] }
  ]
}
