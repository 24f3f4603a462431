// AlterClientQuotas (API key 49).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   AlterClientQuotasRequest.json @ 3f108e996211c8ca5c2abb0f941142926f3e515d (validVersions 0-1)
//   AlterClientQuotasResponse.json @ 87e12238b1476d195ae14d011f85326d3587196d (validVersions 0-1)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'AlterClientQuotas',
  apiKey: 49,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'entries', type: '[]EntryData', versions: '0+', fields: [
      { name: 'entity', type: '[]EntityData', versions: '0+', fields: [
        { name: 'entityType', type: 'string', versions: '0+' },
        { name: 'entityName', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] },
      { name: 'ops', type: '[]OpData', versions: '0+', fields: [
        { name: 'key', type: 'string', versions: '0+' },
        { name: 'value', type: 'float64', versions: '0+' },
        { name: 'remove', type: 'bool', versions: '0+' }
      ] }
    ] },
    { name: 'validateOnly', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'AlterClientQuotas',
  apiKey: 49,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'entries', type: '[]EntryData', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'entity', type: '[]EntityData', versions: '0+', fields: [
        { name: 'entityType', type: 'string', versions: '0+' },
        { name: 'entityName', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] }
  ]
}
