// EndTxn (API key 26).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   EndTxnRequest.json @ 0d94c1248feb975c3c658d0e1497899a51682562 (validVersions 0-5)
//   EndTxnResponse.json @ a55a429930c0ae02dd2b4e1bdc0e3b0f2d150e62 (validVersions 0-5)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'EndTxn',
  apiKey: 26,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'committed', type: 'bool', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'EndTxn',
  apiKey: 26,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '5+', default: -1 },
    { name: 'producerEpoch', type: 'int16', versions: '5+', default: -1 }
  ]
}
