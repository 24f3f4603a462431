// Request and response headers (no API key; apiKey -1).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   RequestHeader.json @ 1c73eb837ef69aeb11024dba29c5493e1083a05e
//   ResponseHeader.json @ 931fce6a91eee0c87a094d2564b86da4bea5adc3
// Request header versions: 0 (no client id, only ever used by ControlledShutdown v0), 1, 2 (flexible).
// Response header versions: 0, 1 (flexible). A message uses request header 2 / response header 1 in its flexible
// versions and 1 / 0 otherwise, with two exceptions in Kafka: ControlledShutdown v0 requests use request header 0,
// and ApiVersions responses always use response header 0 (so that any client can read them).
import type { MessageDef } from '../schema.ts'

export const requestHeader: MessageDef = {
  name: 'RequestHeader',
  apiKey: -1,
  type: 'header',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'requestApiKey', type: 'int16', versions: '0+' },
    { name: 'requestApiVersion', type: 'int16', versions: '0+' },
    { name: 'correlationId', type: 'int32', versions: '0+' },
    // Kafka gives ClientId its own "flexibleVersions": "none": it stays a classic int16-length string even in the
    // flexible header version 2, so that any broker can read the header of any ApiVersions request.
    { name: 'clientId', type: 'string', versions: '1+', nullableVersions: '1+', flexibleVersions: 'none' }
  ]
}

export const responseHeader: MessageDef = {
  name: 'ResponseHeader',
  apiKey: -1,
  type: 'header',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'correlationId', type: 'int32', versions: '0+' }
  ]
}
