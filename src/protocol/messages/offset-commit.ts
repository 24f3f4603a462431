// OffsetCommit (API key 8).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   OffsetCommitRequest.json @ 3e22e0dd5d5fba0fced57b2204d8ea9347deebd5 (validVersions 0-9; version 9 there is
//     still marked latestVersionUnstable, but its wire format is the released one: the same as version 8)
//   OffsetCommitResponse.json @ 6d152370926ad3f25907cec290eeefef5ecd3726 (validVersions 2-9: Kafka 4.0 dropped
//     versions 0-1, whose fields are the ones below; validVersions is put back to 0-9 here)
// Not used: commit 036b9e3292d6a4dd52134f60af3dbfc78cae72b4, where a never-released version 9 had TopicId fields.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'OffsetCommit',
  apiKey: 8,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationIdOrMemberEpoch', type: 'int32', versions: '1+', default: -1 },
    { name: 'memberId', type: 'string', versions: '1+' },
    { name: 'groupInstanceId', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
    { name: 'retentionTimeMs', type: 'int64', versions: '2-4', default: -1 },
    { name: 'topics', type: '[]OffsetCommitRequestTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]OffsetCommitRequestPartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'committedOffset', type: 'int64', versions: '0+' },
        { name: 'committedLeaderEpoch', type: 'int32', versions: '6+', default: -1 },
        { name: 'commitTimestamp', type: 'int64', versions: '1', default: -1 },
        { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'OffsetCommit',
  apiKey: 8,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '3+' },
    { name: 'topics', type: '[]OffsetCommitResponseTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]OffsetCommitResponsePartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' }
      ] }
    ] }
  ]
}
