// DeleteGroups (API key 42).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DeleteGroupsRequest.json @ 1636500f39c065d848685f2a02897c2c97a405a0 (validVersions 0-2)
//   DeleteGroupsResponse.json @ b1eafb67645b3fdbdda163598c4cf8104c30762e (validVersions 1-2: Kafka 4.0 dropped
//     version 0, whose fields are the "0+" ones below; validVersions is put back to 0-2 here)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DeleteGroups',
  apiKey: 42,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'groupsNames', type: '[]string', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DeleteGroups',
  apiKey: 42,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]DeletableGroupResult', versions: '0+', fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' }
    ] }
  ]
}
