// TxnOffsetCommit (API key 28).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   TxnOffsetCommitRequest.json @ 06ebebe41655808bcbfe1400e8a906a353782182 (validVersions 0-3)
//   TxnOffsetCommitResponse.json @ a55a429930c0ae02dd2b4e1bdc0e3b0f2d150e62 (validVersions 0-5)
// Versions 4 (TRANSACTION_ABORTABLE, KIP-890) and 5 (KIP-890 part 2) add no field to either half; no stored request
// commit has them, so the request's validVersions is widened to 0-5 here to match the response.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'TxnOffsetCommit',
  apiKey: 28,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'generationId', type: 'int32', versions: '3+', default: -1 },
    { name: 'memberId', type: 'string', versions: '3+', default: '' },
    { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
    { name: 'topics', type: '[]TxnOffsetCommitRequestTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]TxnOffsetCommitRequestPartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'committedOffset', type: 'int64', versions: '0+' },
        { name: 'committedLeaderEpoch', type: 'int32', versions: '2+', default: -1 },
        { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' }
      ] }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'TxnOffsetCommit',
  apiKey: 28,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'topics', type: '[]TxnOffsetCommitResponseTopic', versions: '0+', fields: [
      { name: 'name', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]TxnOffsetCommitResponsePartition', versions: '0+', fields: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'errorCode', type: 'int16', versions: '0+' }
      ] }
    ] }
  ]
}
