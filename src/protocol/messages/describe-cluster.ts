// DescribeCluster (API key 60).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   DescribeClusterRequest.json @ apache/kafka 9dde33a2a55072b85c020050c7d063841c300b26 (validVersions 0-1) plus
//     v2's IncludeFencedBrokers (KIP-1073, Kafka 4.0) as in TaiJuWu/kafka 1bdf2efba030424c6a157b57f9503d014afe1667
//     (the KIP author's branch); no stored apache/kafka version has v2
//   DescribeClusterResponse.json @ apache/kafka e3e579e7d69ffef5ce5f6ba2fdd992bb8bcb9f33 (validVersions 0-1) plus
//     v2's DescribeClusterBroker.IsFenced; both v2 additions cross-checked against Aiven-Open/kio's v2 generated
//     from Kafka 4.3.1 (no defaults declared for either)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'DescribeCluster',
  apiKey: 60,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '0+',
  fields: [
    { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '0+' },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
    { name: 'includeFencedBrokers', type: 'bool', versions: '2+' }
  ]
}

export const response: MessageDef = {
  name: 'DescribeCluster',
  apiKey: 60,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '0+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
    { name: 'clusterId', type: 'string', versions: '0+' },
    { name: 'controllerId', type: 'int32', versions: '0+', default: -1 },
    { name: 'brokers', type: '[]DescribeClusterBroker', versions: '0+', fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'host', type: 'string', versions: '0+' },
      { name: 'port', type: 'int32', versions: '0+' },
      { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'isFenced', type: 'bool', versions: '2+' }
    ] },
    { name: 'clusterAuthorizedOperations', type: 'int32', versions: '0+', default: -2147483648 }
  ]
}
