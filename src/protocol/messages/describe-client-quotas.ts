// DescribeClientQuotas (API key 48).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeClientQuotasRequest.json @ 95c0bd738a7a609332c7cac6ea6e285dcca4022e (validVersions 0-1)
//   DescribeClientQuotasResponse.json @ 85342cfd61b767dc2bf0d8c81e190879100310d2 (validVersions 0-1)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeClientQuotas',
  apiKey: 48,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'components', type: '[]ComponentData', versions: '0+', fields: [
      { name: 'entityType', type: 'string', versions: '0+' },
      { name: 'matchType', type: 'int8', versions: '0+' },
      { name: 'match', type: 'string', versions: '0+', nullableVersions: '0+' }
    ] },
    { name: 'strict', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DescribeClientQuotas',
  apiKey: 48,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'entries', type: '[]EntryData', versions: '0+', nullableVersions: '0+', fields: [
      { name: 'entity', type: '[]EntityData', versions: '0+', fields: [
        { name: 'entityType', type: 'string', versions: '0+' },
        { name: 'entityName', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] },
      { name: 'values', type: '[]ValueData', versions: '0+', fields: [
        { name: 'key', type: 'string', versions: '0+' },
        { name: 'value', type: 'float64', versions: '0+' }
      ] }
    ] }
  ]
}
