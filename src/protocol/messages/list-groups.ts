// ListGroups (API key 16).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   ListGroupsRequest.json @ 6647cf989f5a0c1b72b999c7cff168e833d26fed (validVersions 0-5)
//   ListGroupsResponse.json @ 5c1644fc05a8ef4b56b72b01d622e94b8298ac3e (validVersions 0-5)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'ListGroups',
  apiKey: 16,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'statesFilter', type: '[]string', versions: '4+' },
    { name: 'typesFilter', type: '[]string', versions: '5+' }
  ]
}

export const response: MessageDef = {
  name: 'ListGroups',
  apiKey: 16,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'groups', type: '[]ListedGroup', versions: '0+', fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'protocolType', type: 'string', versions: '0+' },
      { name: 'groupState', type: 'string', versions: '4+' },
      { name: 'groupType', type: 'string', versions: '5+' }
    ] }
  ]
}
