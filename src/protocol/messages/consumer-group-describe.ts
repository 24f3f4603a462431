// ConsumerGroupDescribe (API key 69).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   ConsumerGroupDescribeRequest.json @ 0e54774efe252ec950d4e29998d42666ad4766cc (validVersions 0-1)
//   ConsumerGroupDescribeResponse.json @ 908b1e48898d533eb086068474f4457816ccd5e5 (validVersions 0)
// No stored apache/kafka commit has response version 1 (KIP-1099). It adds one field, Members[].MemberType
// (int8, versions 1+, default -1: -1 unknown, 0 classic member, 1 consumer member), added here after
// TargetAssignment as in the upstream file (as copied in m1a2st/kafka @ 1f5e76b74fa39fbd7cb4e5ab3c77480ffdb95d35).
// Not used: commit 239fc884e671a425510acd0a1a524f4ccf2a202e (pre-release draft: uuid MemberId, larger Assignment).
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'ConsumerGroupDescribe',
  apiKey: 69,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'groupIds', type: '[]string', versions: '0+' },
    { name: 'includeAuthorizedOperations', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'ConsumerGroupDescribe',
  apiKey: 69,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'groups', type: '[]DescribedGroup', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'groupState', type: 'string', versions: '0+' },
      { name: 'groupEpoch', type: 'int32', versions: '0+' },
      { name: 'assignmentEpoch', type: 'int32', versions: '0+' },
      { name: 'assignorName', type: 'string', versions: '0+' },
      { name: 'members', type: '[]Member', versions: '0+', fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
        { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
        { name: 'memberEpoch', type: 'int32', versions: '0+' },
        { name: 'clientId', type: 'string', versions: '0+' },
        { name: 'clientHost', type: 'string', versions: '0+' },
        { name: 'subscribedTopicNames', type: '[]string', versions: '0+' },
        { name: 'subscribedTopicRegex', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
        { name: 'assignment', type: 'Assignment', versions: '0+' },
        { name: 'targetAssignment', type: 'Assignment', versions: '0+' },
        { name: 'memberType', type: 'int8', versions: '1+', default: -1 }
      ] },
      { name: 'authorizedOperations', type: 'int32', versions: '0+', default: -2147483648 }
    ] }
  ],
  commonStructs: [
    { name: 'TopicPartitions', versions: '0+', fields: [
      { name: 'topicId', type: 'uuid', versions: '0+' },
      { name: 'topicName', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' }
    ] },
    { name: 'Assignment', versions: '0+', fields: [
      { name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+' }
    ] }
  ]
}
