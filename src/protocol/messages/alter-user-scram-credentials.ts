// AlterUserScramCredentials (API key 51).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   AlterUserScramCredentialsRequest.json @ 7b9262bc1ae683dd46231ec40f1fcc3996d1a3f3 (validVersions 0)
//   AlterUserScramCredentialsResponse.json @ 477186ef4a52e75002ca8346c254065029b6af8e (validVersions 0)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'AlterUserScramCredentials',
  apiKey: 51,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'deletions', type: '[]ScramCredentialDeletion', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'mechanism', type: 'int8', versions: '0+' }
    ] },
    { name: 'upsertions', type: '[]ScramCredentialUpsertion', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'mechanism', type: 'int8', versions: '0+' },
      { name: 'iterations', type: 'int32', versions: '0+' },
      { name: 'salt', type: 'bytes', versions: '0+' },
      { name: 'saltedPassword', type: 'bytes', versions: '0+' }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'AlterUserScramCredentials',
  apiKey: 51,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]AlterUserScramCredentialsResult', versions: '0+', fields: [
      { name: 'user', type: 'string', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' }
    ] }
  ]
}
