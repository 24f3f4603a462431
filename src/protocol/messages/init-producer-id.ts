// InitProducerId (API key 22).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   InitProducerIdRequest.json @ 007dde706d72a2cfb9175111abd2ee2d8174b00c (validVersions 0-4)
//   InitProducerIdResponse.json @ 1636500f39c065d848685f2a02897c2c97a405a0 (validVersions 0-2)
// No stored commit has the later versions. Request versions 3 (ProducerId, ProducerEpoch) are in the commit above;
// version 4 (PRODUCER_FENCED) and version 5 (TRANSACTION_ABORTABLE, KIP-890) add no field to either half, and the
// response has had the same fields since version 0, so both halves are widened to 0-5 here. (Version 6, KIP-939
// two-phase commit, does add fields and is not included.)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'InitProducerId',
  apiKey: 22,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '3+', default: -1 },
    { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 }
  ]
}

export const response: MessageDef = {
  name: 'InitProducerId',
  apiKey: 22,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+', default: -1 },
    { name: 'producerEpoch', type: 'int16', versions: '0+' }
  ]
}
