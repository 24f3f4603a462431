// ApiVersions (API key 18).
//
// Facts from Kafka's clients/src/main/resources/common/message/:
//   ApiVersionsRequest.json: fields @ apache/kafka 9dde33a2a55072b85c020050c7d063841c300b26 (validVersions 0-3);
//     v4 (KAFKA-17011) changed no field, and no stored apache/kafka version has it: validVersions 0-4 as in
//     Kafka 3.9+
//   ApiVersionsResponse.json @ hyneho/kafka 73da6594678141427217bef919e9153a28ea783a (validVersions 0-4, the
//     Kafka 3.9 state; the stored apache/kafka version abead0e83a7a2d0764fd7569939c5f0f15a3c877 only has 0-3)
// Kafka answers ApiVersions with response header v0 even in the flexible versions (no header tagged fields),
// so that a client that sent a version the broker does not know can still read the error.
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'ApiVersions',
  apiKey: 18,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'clientSoftwareName', type: 'string', versions: '3+' },
    { name: 'clientSoftwareVersion', type: 'string', versions: '3+' }
  ]
}

export const response: MessageDef = {
  name: 'ApiVersions',
  apiKey: 18,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'apiKeys', type: '[]ApiVersion', versions: '0+', fields: [
      { name: 'apiKey', type: 'int16', versions: '0+' },
      { name: 'minVersion', type: 'int16', versions: '0+' },
      { name: 'maxVersion', type: 'int16', versions: '0+' }
    ] },
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'supportedFeatures', type: '[]SupportedFeatureKey', versions: '3+', taggedVersions: '3+', tag: 0, fields: [
      { name: 'name', type: 'string', versions: '3+' },
      { name: 'minVersion', type: 'int16', versions: '3+' },
      { name: 'maxVersion', type: 'int16', versions: '3+' }
    ] },
    { name: 'finalizedFeaturesEpoch', type: 'int64', versions: '3+', taggedVersions: '3+', tag: 1, default: -1 },
    { name: 'finalizedFeatures', type: '[]FinalizedFeatureKey', versions: '3+', taggedVersions: '3+', tag: 2, fields: [
      { name: 'name', type: 'string', versions: '3+' },
      { name: 'maxVersionLevel', type: 'int16', versions: '3+' },
      { name: 'minVersionLevel', type: 'int16', versions: '3+' }
    ] },
    { name: 'zkMigrationReady', type: 'bool', versions: '3+', taggedVersions: '3+', tag: 3, default: false }
  ]
}
