// OffsetDelete (API key 47).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   OffsetDeleteRequest.json @ 147803fe428b0e7654eed36894245ce5eb8bf5f9 (validVersions 0)
//   OffsetDeleteResponse.json @ c2a414ea77c822325c642049a6c46974ebde3ac7 (validVersions 0)
// Not used: commit 33128146fe7e724e60297d0a66d1040506b0ff15 adds an unstable flexible version 1 (KIP-1313) that
// needs request header version 3 ("headerVersions"), which our format cannot express.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'OffsetDelete',
  apiKey: 47,
  type: 'request',
  validVersions: '0',
  flexibleVersions: 'none',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'topics', type: '[]OffsetDeleteRequestTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]OffsetDeleteRequestPartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' }
      ] }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'OffsetDelete',
  apiKey: 47,
  type: 'response',
  validVersions: '0',
  flexibleVersions: 'none',
  fields: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'topics', type: '[]OffsetDeleteResponseTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]OffsetDeleteResponsePartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' }
      ] }
    ] }
  ]
}
