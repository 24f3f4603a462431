// DescribeGroups (API key 15).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeGroupsRequest.json @ 42e240e797ee1eec6ae0d299e04906972411e023 (validVersions 0-5)
//   DescribeGroupsResponse.json @ d2cdfb4559370b476c79e822f64c4ed3180ef626 (validVersions 0-6)
// Version 6 (KIP-1043) only adds DescribedGroup.ErrorMessage to the response; the request is unchanged, and no
// stored request commit has it, so the request's validVersions is widened to 0-6 here.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeGroups',
  apiKey: 15,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    { name: 'groups', type: '[]string', versions: '0+' },
    { name: 'includeAuthorizedOperations', type: 'bool', versions: '3+', default: false }
  ]
}

export const response: MessageDef = {
  name: 'DescribeGroups',
  apiKey: 15,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'groups', type: '[]DescribedGroup', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '6+', nullableVersions: '6+', default: null },
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'groupState', type: 'string', versions: '0+' },
      { name: 'protocolType', type: 'string', versions: '0+' },
      { name: 'protocolData', type: 'string', versions: '0+' },
      { name: 'members', type: '[]DescribedGroupMember', versions: '0+', fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'groupInstanceId', type: 'string', versions: '4+', nullableVersions: '4+', default: null },
        { name: 'clientId', type: 'string', versions: '0+' },
        { name: 'clientHost', type: 'string', versions: '0+' },
        { name: 'memberMetadata', type: 'bytes', versions: '0+' },
        { name: 'memberAssignment', type: 'bytes', versions: '0+' }
      ] },
      { name: 'authorizedOperations', type: 'int32', versions: '3+', default: -2147483648 }
    ] }
  ]
}
