// CreateAcls (API key 30).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   CreateAclsRequest.json @ muxun-research/kafka 05780be62c002b063ec0425b57f73be71a7e5681 (validVersions 0-3; a
//     reformatted mirror of Kafka 3.x; the stored apache/kafka version 0effb0feec55f21030b622c6a2b815ab2a1940e0
//     only has 0-1, same fields, struct then named CreatableAcl)
//   CreateAclsResponse.json @ apache/kafka 1e4f437403484ee5397ae70f7af64a3542e2f83c (validVersions 1-3: Kafka 4.0
//     removed v0)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'CreateAcls',
  apiKey: 30,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'creations', type: '[]AclCreation', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'resourcePatternType', type: 'int8', versions: '1+', default: 3 },
      { name: 'principal', type: 'string', versions: '0+' },
      { name: 'host', type: 'string', versions: '0+' },
      { name: 'operation', type: 'int8', versions: '0+' },
      { name: 'permissionType', type: 'int8', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'CreateAcls',
  apiKey: 30,
  type: 'response',
  validVersions: '1-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]AclCreationResult', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' }
    ] }
  ]
}
