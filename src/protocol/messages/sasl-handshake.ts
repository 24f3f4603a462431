// SaslHandshake (API key 17).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   SaslHandshakeRequest.json @ b7f34012ad83ebdf708b4e82380d34bb25806c35 (validVersions 0-1; this version declares
//     no flexibleVersions at all, which Kafka's generator reads as "none", as later versions spell out)
//   SaslHandshakeResponse.json @ 1af943b711b1d54515b8b644962f51c2ce4d831d (validVersions 0-1)
// Never flexible: the version cannot be bumped because of clients <= 2.4 (KAFKA-9577).
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'SaslHandshake',
  apiKey: 17,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: [
    { name: 'mechanism', type: 'string', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'SaslHandshake',
  apiKey: 17,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'mechanisms', type: '[]string', versions: '0+' }
  ]
}
