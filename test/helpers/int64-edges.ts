// Request bodies carrying int64 values a JavaScript client cannot encode as numbers (2^63 - 1, -2^63, ...):
// encode the request with kMarker where the edge value goes, then overwrite every occurrence with the raw value.
import assert from 'node:assert/strict'
import { apiByKey } from '../../src/protocol/apis.ts'
import { Writer } from '../../src/protocol/writer.ts'

export const kMarker = 0x123456789abc
export const kEdges = [0x7fffffffffffffffn, -0x8000000000000000n, 0x7ffffffffffffffen, 2n ** 53n + 1n]

/** The request body with every int64 equal to kMarker replaced by `raw`, as a client could send it. */
export function bodyWith (apiKey: number, version: number, value: object, raw: bigint): Buffer {
  const writer = new Writer()
  apiByKey(apiKey)!.request(version).encode(writer, value)
  const body = Buffer.from(writer.toBuffer())
  const marker = Buffer.alloc(8)
  marker.writeBigInt64BE(BigInt(kMarker))
  let replaced = 0
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, at + 8)) {
    body.writeBigInt64BE(raw, at)
    replaced++
  }
  assert.ok(replaced > 0, 'marker not found in the encoded body')
  return body
}
