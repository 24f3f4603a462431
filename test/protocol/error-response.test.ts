import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kApis, apiByKey } from '../../src/protocol/apis.ts'
import { codecFor } from '../../src/protocol/codec.ts'
import { deriveErrorResponse } from '../../src/protocol/error-response.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import { ErrorCode } from '../../src/protocol/errors.ts'
import { buildSample, kVariants } from '../helpers/message-samples.ts'

function roundTrip (apiKey: number, version: number, response: object): any {
  const api = apiByKey(apiKey)!
  const writer = new Writer(64)
  api.response(version).encode(writer, response)
  return api.response(version).decode(new Reader(Buffer.from(writer.toBuffer())))
}

/** Every errorCode in a decoded response. */
function errorCodes (value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const element of value) errorCodes(element, out)
  else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [key, field] of Object.entries(value)) {
      if (key === 'errorCode') out.push(field as number)
      else errorCodes(field, out)
    }
  }
  return out
}

test('the derived error response of every API and version encodes, from no request and from decoded samples', () => {
  for (const api of kApis) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      // Codes are read from the derived object (a decoded one also holds the fields this version lacks).
      const fromNothing = deriveErrorResponse(api, version, null, ErrorCode.INVALID_REQUEST)
      roundTrip(api.key, version, fromNothing)
      for (const code of errorCodes(fromNothing)) assert.equal(code, ErrorCode.INVALID_REQUEST, `${api.name} v${version}`)
      for (const variant of kVariants) {
        // What a handler sees: the sample as the decoder returns it (nulls where nullable, defaults elsewhere).
        const writer = new Writer(64)
        codecFor(api.requestDef, version).encode(writer, buildSample(api.requestDef, version, variant).input)
        const request = codecFor(api.requestDef, version).decode(new Reader(Buffer.from(writer.toBuffer())))
        const response = deriveErrorResponse(api, version, request, ErrorCode.UNKNOWN_SERVER_ERROR, 'internal error')
        roundTrip(api.key, version, response)
        for (const code of errorCodes(response)) assert.equal(code, ErrorCode.UNKNOWN_SERVER_ERROR, `${api.name} v${version} ${variant}`)
      }
    }
  }
})

test('a Produce error response names every topic and partition of the request', () => {
  const api = apiByKey(0)!
  const request = { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'a', partitionData: [{ index: 0, records: null }, { index: 3, records: null }] }, { name: 'b', partitionData: [{ index: 1, records: null }] }] }
  const response = roundTrip(0, 9, deriveErrorResponse(api, 9, request, ErrorCode.KAFKA_STORAGE_ERROR, 'disk'))
  assert.deepEqual(response.responses.map((t: any) => [t.name, t.partitionResponses.map((p: any) => [p.index, p.errorCode, p.errorMessage])]), [
    ['a', [[0, 56, 'disk'], [3, 56, 'disk']]],
    ['b', [[1, 56, 'disk']]]
  ])
})

test('a Fetch error response maps `partition` to `partitionIndex` and keeps topic ids', () => {
  const api = apiByKey(1)!
  const topicId = 'ab'.repeat(16)
  const request = { topics: [{ topic: '', topicId, partitions: [{ partition: 7, fetchOffset: 0 }] }] }
  const response = roundTrip(1, 13, deriveErrorResponse(api, 13, request, ErrorCode.UNKNOWN_SERVER_ERROR))
  assert.equal(response.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR)
  assert.equal(response.responses[0].topicId, topicId)
  assert.deepEqual(response.responses[0].partitions.map((p: any) => [p.partitionIndex, p.errorCode]), [[7, -1]])
})

test('entries named by bare strings and indexes fill the first field of their type', () => {
  const deleteGroups = roundTrip(42, 2, deriveErrorResponse(apiByKey(42)!, 2, { groupsNames: ['g1', 'g2'] }, ErrorCode.INVALID_REQUEST))
  assert.deepEqual(deleteGroups.results.map((r: any) => [r.groupId, r.errorCode]), [['g1', 42], ['g2', 42]])
  const offsetFetch = roundTrip(9, 5, deriveErrorResponse(apiByKey(9)!, 5, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [4, 5] }] }, ErrorCode.UNKNOWN_SERVER_ERROR))
  assert.equal(offsetFetch.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR)
  assert.deepEqual(offsetFetch.topics[0].partitions.map((p: any) => p.partitionIndex), [4, 5])
})

test('values the response version cannot carry are left at their defaults', () => {
  // Metadata v10: a request topic may have a null name (it names its topic by id); the response name is
  // nullable only from v12.
  const api = apiByKey(3)!
  const request = { topics: [{ topicId: 'cd'.repeat(16), name: null }], allowAutoTopicCreation: false }
  const v10 = roundTrip(3, 10, deriveErrorResponse(api, 10, request, ErrorCode.UNKNOWN_SERVER_ERROR))
  assert.equal(v10.topics[0].name, '')
  assert.equal(v10.topics[0].topicId, 'cd'.repeat(16))
  const v12 = roundTrip(3, 12, deriveErrorResponse(api, 12, request, ErrorCode.UNKNOWN_SERVER_ERROR))
  assert.equal(v12.topics[0].name, null)
})
