// SyncGroup (API key 14).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   SyncGroupRequest.json @ 43bb9093b599e7d3d7c3ae8401b08b91d52c7a53 (validVersions 0-5)
//   SyncGroupResponse.json @ c1969009137c80c8d9d78cf6fc9add3678fb47dd (validVersions 0-5)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'SyncGroup',
  apiKey: 14,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'assignments', type: '[]SyncGroupRequestAssignment', versions: '0+', fields: [
      { name: 'memberId', type: 'string', versions: '0+' },
      { name: 'assignment', type: 'bytes', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'SyncGroup',
  apiKey: 14,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'protocolType', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'protocolName', type: 'string', versions: '5+', nullableVersions: '5+', default: null },
    { name: 'assignment', type: 'bytes', versions: '0+' }
  ]
}
