// DescribeAcls (API key 29).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeAclsRequest.json @ 06a2dac25278cfca75f88df76352c9770e17383a (validVersions 0-3)
//   DescribeAclsResponse.json @ b967e968c65a43cab0ac708e52ca2e5ae638f412 (validVersions 1-3: Kafka 4.0 removed v0)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeAcls',
  apiKey: 29,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'resourceTypeFilter', type: 'int8', versions: '0+' },
    { name: 'resourceNameFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'patternTypeFilter', type: 'int8', versions: '1+', default: 3 },
    { name: 'principalFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'hostFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'operation', type: 'int8', versions: '0+' },
    { name: 'permissionType', type: 'int8', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DescribeAcls',
  apiKey: 29,
  type: 'response',
  validVersions: '1-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'resources', type: '[]DescribeAclsResource', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'patternType', type: 'int8', versions: '1+', default: 3 },
      { name: 'acls', type: '[]AclDescription', versions: '0+', fields: [
        { name: 'principal', type: 'string', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'operation', type: 'int8', versions: '0+' },
        { name: 'permissionType', type: 'int8', versions: '0+' }
      ] }
    ] }
  ]
}
