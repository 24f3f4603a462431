// DescribeUserScramCredentials (API key 50).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeUserScramCredentialsRequest.json @ 3f108e996211c8ca5c2abb0f941142926f3e515d (validVersions 0)
//   DescribeUserScramCredentialsResponse.json @ 503cb89ef405bfad3eeec18322d2a170f197fd3b (validVersions 0)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeUserScramCredentials',
  apiKey: 50,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'users', type: '[]UserName', versions: '0+', nullableVersions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'DescribeUserScramCredentials',
  apiKey: 50,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'results', type: '[]DescribeUserScramCredentialsResult', versions: '0+', fields: [
      { name: 'user', type: 'string', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'credentialInfos', type: '[]CredentialInfo', versions: '0+', fields: [
        { name: 'mechanism', type: 'int8', versions: '0+' },
        { name: 'iterations', type: 'int32', versions: '0+' }
      ] }
    ] }
  ]
}
