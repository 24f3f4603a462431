// Heartbeat (API key 12).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   HeartbeatRequest.json @ 46006c9e61b3bf8c2c9929952b6e31bdf1d62c51 (validVersions 0-4)
//   HeartbeatResponse.json @ bf1562b7b9e12e7ec9140c0f8d2361f86786e834 (validVersions 0-4)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'Heartbeat',
  apiKey: 12,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0+' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null }
  ]
}

export const response: MessageDef = {
  name: 'Heartbeat',
  apiKey: 12,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' }
  ]
}
