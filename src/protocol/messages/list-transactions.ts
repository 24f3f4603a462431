// ListTransactions (API key 66).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   ListTransactionsRequest.json @ 054b66e3cbaca56df136922090606e5dfbeb516c (validVersions 0-1)
//   ListTransactionsResponse.json @ 53364c539970785f9317c2ddab26a4e350f12b23 (validVersions 0-1)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'ListTransactions',
  apiKey: 66,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'stateFilters', type: '[]string', versions: '0+' },
    { name: 'producerIdFilters', type: '[]int64', versions: '0+' },
    { name: 'durationFilter', type: 'int64', versions: '1+', default: -1 }
  ]
}

export const response: MessageDef = {
  name: 'ListTransactions',
  apiKey: 66,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'unknownStateFilters', type: '[]string', versions: '0+' },
    { name: 'transactionStates', type: '[]TransactionState', versions: '0+', fields: [
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'transactionState', type: 'string', versions: '0+' }
    ] }
  ]
}
