// DescribeConfigs (API key 32).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   DescribeConfigsRequest.json @ muxun-research/kafka eb37e781f5b077509a51c0f8defb30100802b5ea (validVersions
//     0-4; a reformatted mirror of Kafka 3.x; the stored apache/kafka version
//     b60abe2de2e13ad183f1a39ff841690326c08cd6 only has 0-2, where IncludeSynonyms is still misspelt
//     "IncludeSynoyms")
//   DescribeConfigsResponse.json @ apache/kafka e3e579e7d69ffef5ce5f6ba2fdd992bb8bcb9f33 (validVersions 0-4)
// Synonyms.Value and Documentation declare nullableVersions "0+" wider than their versions, as Kafka does.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeConfigs',
  apiKey: 32,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'resources', type: '[]DescribeConfigsResource', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'configurationKeys', type: '[]string', versions: '0+', nullableVersions: '0+' }
    ] },
    { name: 'includeSynonyms', type: 'bool', versions: '1+', default: false },
    { name: 'includeDocumentation', type: 'bool', versions: '3+', default: false }
  ]
}

export const response: MessageDef = {
  name: 'DescribeConfigs',
  apiKey: 32,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]DescribeConfigsResult', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'configs', type: '[]DescribeConfigsResourceResult', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
        { name: 'readOnly', type: 'bool', versions: '0+' },
        { name: 'isDefault', type: 'bool', versions: '0' },
        { name: 'configSource', type: 'int8', versions: '1+', default: -1 },
        { name: 'isSensitive', type: 'bool', versions: '0+' },
        { name: 'synonyms', type: '[]DescribeConfigsSynonym', versions: '1+', fields: [
          { name: 'name', type: 'string', versions: '1+' },
          { name: 'value', type: 'string', versions: '1+', nullableVersions: '0+' },
          { name: 'source', type: 'int8', versions: '1+' }
        ] },
        { name: 'configType', type: 'int8', versions: '3+', default: 0 },
        { name: 'documentation', type: 'string', versions: '3+', nullableVersions: '0+' }
      ] }
    ] }
  ]
}
