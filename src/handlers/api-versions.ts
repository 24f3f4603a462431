// ApiVersions (key 18), v0-4: lists exactly the APIs and versions that have handlers. A version we do not
// know is answered in v0 with UNSUPPORTED_VERSION and the key list, as Kafka does, so that the client can
// retry with a version we support.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import type { Shard } from '../shard/shard.ts'

const api = apiByKey(18)!

function apiKeys (shard: Shard): Array<{ apiKey: number, minVersion: number, maxVersion: number }> {
  const keys = []
  for (const handler of shard.handlers.values()) keys.push({ apiKey: handler.api.key, minVersion: handler.advertisedMinVersion ?? handler.minVersion, maxVersion: handler.maxVersion })
  return keys.sort((a, b) => a.apiKey - b.apiKey)
}

function handle (context: RequestContext): object {
  return { errorCode: ErrorCode.NONE, apiKeys: apiKeys(context.shard), throttleTimeMs: 0 }
}

export const apiVersionsHandler: Handler = {
  api,
  minVersion: 0,
  maxVersion: 4,
  handle,
  unsupported: (shard) => ({ errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: apiKeys(shard), throttleTimeMs: 0 })
}
