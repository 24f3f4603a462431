// WriteTxnMarkers (API key 27). An inter-broker API in Kafka: Shoal never serves it to clients, and uses it only
// as the encoding of the marker writes a transaction coordinator sends over the rings to the workers that own
// the transaction's partitions (src/shard/transaction-host.ts).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   WriteTxnMarkersRequest.json (validVersions 0-1, flexibleVersions 1+)
//   WriteTxnMarkersResponse.json (validVersions 0-1, flexibleVersions 1+)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'WriteTxnMarkers',
  apiKey: 27,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    {
      name: 'markers',
      type: '[]WritableTxnMarker',
      versions: '0+',
      fields: [
        { name: 'producerId', type: 'int64', versions: '0+' },
        { name: 'producerEpoch', type: 'int16', versions: '0+' },
        { name: 'transactionResult', type: 'bool', versions: '0+' },
        {
          name: 'topics',
          type: '[]WritableTxnMarkerTopic',
          versions: '0+',
          fields: [
            { name: 'name', type: 'string', versions: '0+' },
            { name: 'partitionIndexes', type: '[]int32', versions: '0+' }
          ]
        },
        { name: 'coordinatorEpoch', type: 'int32', versions: '0+' }
      ]
    }
  ]
}

export const response: MessageDef = {
  name: 'WriteTxnMarkers',
  apiKey: 27,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    {
      name: 'markers',
      type: '[]WritableTxnMarkerResult',
      versions: '0+',
      fields: [
        { name: 'producerId', type: 'int64', versions: '0+' },
        {
          name: 'topics',
          type: '[]WritableTxnMarkerTopicResult',
          versions: '0+',
          fields: [
            { name: 'name', type: 'string', versions: '0+' },
            {
              name: 'partitions',
              type: '[]WritableTxnMarkerPartitionResult',
              versions: '0+',
              fields: [
                { name: 'partitionIndex', type: 'int32', versions: '0+' },
                { name: 'errorCode', type: 'int16', versions: '0+' }
              ]
            }
          ]
        }
      ]
    }
  ]
}
