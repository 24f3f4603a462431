// FindCoordinator (API key 10).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   FindCoordinatorRequest.json @ 06a2dac25278cfca75f88df76352c9770e17383a (validVersions 0-4)
//   FindCoordinatorResponse.json @ 1af943b711b1d54515b8b644962f51c2ce4d831d (validVersions 0-4)
// No stored commit has versions 5 and 6. Kafka: "Version 5 adds support for new error code TRANSACTION_ABORTABLE
// (KIP-890)", "Version 6 adds support for share groups (KIP-932)": neither adds a field to either half, so
// validVersions is widened to 0-6 here with the fields unchanged.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'FindCoordinator',
  apiKey: 10,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    { name: 'key', type: 'string', versions: '0-3' },
    { name: 'keyType', type: 'int8', versions: '1+', default: 0 },
    { name: 'coordinatorKeys', type: '[]string', versions: '4+' }
  ]
}

export const response: MessageDef = {
  name: 'FindCoordinator',
  apiKey: 10,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0-3' },
    { name: 'errorMessage', type: 'string', versions: '1-3', nullableVersions: '1-3' },
    { name: 'nodeId', type: 'int32', versions: '0-3' },
    { name: 'host', type: 'string', versions: '0-3' },
    { name: 'port', type: 'int32', versions: '0-3' },
    { name: 'coordinators', type: '[]Coordinator', versions: '4+', fields: [
      { name: 'key', type: 'string', versions: '4+' },
      { name: 'nodeId', type: 'int32', versions: '4+' },
      { name: 'host', type: 'string', versions: '4+' },
      { name: 'port', type: 'int32', versions: '4+' },
      { name: 'errorCode', type: 'int16', versions: '4+' },
      { name: 'errorMessage', type: 'string', versions: '4+', nullableVersions: '4+' }
    ] }
  ]
}
