// DeleteTopics (API key 20).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DeleteTopicsRequest.json @ 578fd5849302575ccf179b07fcaf3322daac6158 (validVersions 0-6)
//   DeleteTopicsResponse.json @ d7f0d39ba7ba308dcf408df2e66a0eab100c6aef (validVersions 0-6)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DeleteTopics',
  apiKey: 20,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    { name: 'topics', type: '[]DeleteTopicState', versions: '6+', fields: [
      { name: 'name', type: 'string', versions: '6+', nullableVersions: '6+' },
      { name: 'topicId', type: 'uuid', versions: '6+' }
    ] },
    { name: 'topicNames', type: '[]string', versions: '0-5' },
    { name: 'timeoutMs', type: 'int32', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DeleteTopics',
  apiKey: 20,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'responses', type: '[]DeletableTopicResult', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+', nullableVersions: '6+' },
      { name: 'topicId', type: 'uuid', versions: '6+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '5+', nullableVersions: '5+', default: null }
    ] }
  ]
}
