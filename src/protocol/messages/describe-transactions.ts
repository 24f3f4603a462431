// DescribeTransactions (API key 65).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   DescribeTransactionsRequest.json @ 46006c9e61b3bf8c2c9929952b6e31bdf1d62c51 (validVersions 0)
//   DescribeTransactionsResponse.json @ cbf3d00a25fba6f781d319050a0074dfe9319d5e (validVersions 0)
// Not used: commit 1676074719b84e3992f6c1633615d1d38a47999b, a pre-release draft with an int32 ProducerEpoch.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeTransactions',
  apiKey: 65,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'transactionalIds', type: '[]string', versions: '0+' }
  ]
}

export const response: MessageDef = {
  name: 'DescribeTransactions',
  apiKey: 65,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'transactionStates', type: '[]TransactionState', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'transactionState', type: 'string', versions: '0+' },
      { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
      { name: 'transactionStartTimeMs', type: 'int64', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'topics', type: '[]TopicData', versions: '0+', fields: [
        { name: 'topic', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]int32', versions: '0+' }
      ] }
    ] }
  ]
}
