// What every API handler module exports. A handler gets the decoded request and returns the response object
// (or a Promise of it, or kNoResponse); per-partition failures are error codes inside the response, never
// exceptions. Throwing means a bug: the connection logs and counts it and answers the request with its error
// response (UNKNOWN_SERVER_ERROR, or the code of a thrown KafkaError), derived from the message definitions
// (src/protocol/error-response.ts) unless the handler gives its own (`errorResponse`).
//
// The Buffers of a request (records, group metadata: every bytes field) are views of the connection's read
// arena, which is reused once the request is answered (src/net/arena-pool.ts). A handler that keeps one past its
// answer, or puts one in a response, keeps a copy.
import type { ApiEntry } from '../protocol/apis.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Shard } from '../shard/shard.ts'

export interface Handler {
  readonly api: ApiEntry
  /** The versions this handler implements, advertised by ApiVersions. */
  readonly minVersion: number
  readonly maxVersion: number
  /**
   * The lowest version ApiVersions advertises, when lower than minVersion. Only Produce needs it: librdkafka
   * compresses with lz4 only if the broker lists Produce v0, so Kafka 4 lists 0 and refuses v0-2 when sent
   * (KAFKA-18659); so do we.
   */
  readonly advertisedMinVersion?: number
  handle (context: RequestContext, request: any): unknown
  /**
   * The response carrying `errorCode` for every entry of `request` (null when it could not be decoded), where
   * the derived one (deriveErrorResponse) does not fit the API. Must be encodable whatever the request held.
   */
  errorResponse? (request: unknown, version: number, errorCode: number, errorMessage: string | null): object
  /** The response to a version outside [minVersion, maxVersion], for APIs that can express the error. */
  unsupported? (shard: Shard): object
}
