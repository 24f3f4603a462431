// LeaveGroup (API key 13).
//
// Facts from apache/kafka clients/src/main/resources/common/message/:
//   LeaveGroupRequest.json: the only stored apache/kafka commits (0432e6c4d1bb1381297747ffcc1b5eac35bcb5c4) stop at
//     version 4; version 5 (KIP-800) adds Members[].Reason, taken from the copy of the upstream file that
//     radekg/kafka-protocol-go embeds ("Version 5 adds the Reason field (KIP-800)", validVersions 0-5).
//   LeaveGroupResponse.json @ 52c1a13d94c639b211c6e5a62201bf60120af5a1 (validVersions 0-5)
import type { MessageDef } from '../schema.ts'

export const request: MessageDef = {
  name: 'LeaveGroup',
  apiKey: 13,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'groupId', type: 'string', versions: '0+' },
    { name: 'memberId', type: 'string', versions: '0-2' },
    { name: 'members', type: '[]MemberIdentity', versions: '3+', fields: [
      { name: 'memberId', type: 'string', versions: '3+' },
      { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
      { name: 'reason', type: 'string', versions: '5+', nullableVersions: '5+', default: null }
    ] }
  ]
}

export const response: MessageDef = {
  name: 'LeaveGroup',
  apiKey: 13,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'members', type: '[]MemberResponse', versions: '3+', fields: [
      { name: 'memberId', type: 'string', versions: '3+' },
      { name: 'groupInstanceId', type: 'string', versions: '3+', nullableVersions: '3+' },
      { name: 'errorCode', type: 'int16', versions: '3+' }
    ] }
  ]
}
