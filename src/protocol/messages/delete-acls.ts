// DeleteAcls (API key 31).
//
// Facts from Kafka's clients/src/main/resources/common/message/, as mirrored (reformatted) by muxun-research/kafka:
//   DeleteAclsRequest.json @ 05780be62c002b063ec0425b57f73be71a7e5681 (validVersions 0-3)
//   DeleteAclsResponse.json @ 05780be62c002b063ec0425b57f73be71a7e5681 (validVersions 0-3)
// The stored apache/kafka versions (b7e785ab59c0e774e81c90b7639930cf41a26ab4, 694631eccff9cbbc6a1860642b46b415e43d216c)
// only have 0-1, with the same fields.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DeleteAcls',
  apiKey: 31,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'filters', type: '[]DeleteAclsFilter', versions: '0+', fields: [
      { name: 'resourceTypeFilter', type: 'int8', versions: '0+' },
      { name: 'resourceNameFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'patternTypeFilter', type: 'int8', versions: '1+', default: 3 },
      { name: 'principalFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'hostFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'operation', type: 'int8', versions: '0+' },
      { name: 'permissionType', type: 'int8', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'DeleteAcls',
  apiKey: 31,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'filterResults', type: '[]DeleteAclsFilterResult', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'matchingAcls', type: '[]DeleteAclsMatchingAcl', versions: '0+', fields: [
        { name: 'errorCode', type: 'int16', versions: '0+' },
        { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
        { name: 'resourceType', type: 'int8', versions: '0+' },
        { name: 'resourceName', type: 'string', versions: '0+' },
        { name: 'patternType', type: 'int8', versions: '1+', default: 3 },
        { name: 'principal', type: 'string', versions: '0+' },
        { name: 'host', type: 'string', versions: '0+' },
        { name: 'operation', type: 'int8', versions: '0+' },
        { name: 'permissionType', type: 'int8', versions: '0+' }
      ] }
    ] }
  ]
}
