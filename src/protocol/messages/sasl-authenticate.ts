// SaslAuthenticate (API key 36).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   SaslAuthenticateRequest.json @ 3f108e996211c8ca5c2abb0f941142926f3e515d (validVersions 0-2)
//   SaslAuthenticateResponse.json @ 52c1a13d94c639b211c6e5a62201bf60120af5a1 (validVersions 0-2)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'SaslAuthenticate',
  apiKey: 36,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'authBytes', type: 'bytes', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'SaslAuthenticate',
  apiKey: 36,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'authBytes', type: 'bytes', versions: '0+' },
    { name: 'sessionLifetimeMs', type: 'int64', versions: '1+', default: 0 }
  ]
}
