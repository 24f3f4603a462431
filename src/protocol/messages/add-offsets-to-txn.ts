// AddOffsetsToTxn (API key 25).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   AddOffsetsToTxnRequest.json @ 13521460503b9aed99dd2bf1ee88934021178e5b (validVersions 0-4)
//   AddOffsetsToTxnResponse.json @ 9dde33a2a55072b85c020050c7d063841c300b26 (validVersions 0-3)
// Version 4 (TRANSACTION_ABORTABLE, KIP-890) adds no field; no stored response commit has it, so the response's
// validVersions is widened to 0-4 here to match the request.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'AddOffsetsToTxn',
  apiKey: 25,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'groupId', type: 'string', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'AddOffsetsToTxn',
  apiKey: 25,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' }
  ]
}
