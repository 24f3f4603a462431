// AlterConfigs (API key 33).
//
// Facts from Kafka's clients/src/main/resources/common/message/, as mirrored (reformatted) by muxun-research/kafka:
//   AlterConfigsRequest.json @ 05780be62c002b063ec0425b57f73be71a7e5681 (validVersions 0-2)
//   AlterConfigsResponse.json @ eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions 0-2)
// The stored apache/kafka versions (c1969009137c80c8d9d78cf6fc9add3678fb47dd, 81d8d03ad4202dbe8509a03f5ad87d535207b707)
// only have 0-1; v2 changed nothing but flexibility.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'AlterConfigs',
  apiKey: 33,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'resources', type: '[]AlterConfigsResource', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'configs', type: '[]AlterableConfig', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] },
    { name: 'validateOnly', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'AlterConfigs',
  apiKey: 33,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'responses', type: '[]AlterConfigsResourceResponse', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' }
    ] }
  ]
}
