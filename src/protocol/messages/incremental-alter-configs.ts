// IncrementalAlterConfigs (API key 44).
//
// Facts from Kafka's clients/src/main/resources/common/message/, as mirrored (reformatted) by muxun-research/kafka:
//   IncrementalAlterConfigsRequest.json @ eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions 0-1)
//   IncrementalAlterConfigsResponse.json @ eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions 0-1)
// The stored apache/kafka versions (0baf9c158b5681a55df4de3a0e6193d32b1433ff, b003208b78a3260b1600a50f726694573ff816af)
// only have v0; v1 changed nothing but flexibility.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'IncrementalAlterConfigs',
  apiKey: 44,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'resources', type: '[]AlterConfigsResource', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'configs', type: '[]AlterableConfig', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'configOperation', type: 'int8', versions: '0+' },
        { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] },
    { name: 'validateOnly', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'IncrementalAlterConfigs',
  apiKey: 44,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
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
