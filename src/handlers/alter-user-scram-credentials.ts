// AlterUserScramCredentials (key 51), v0: adds, replaces or deletes SCRAM users. The client sends each
// upsertion's salt and SaltedPassword (Hi(password, salt, iterations)); here it becomes StoredKey and ServerKey
// at once, so SaltedPassword never leaves this worker. The controller judges the request as Kafka's does
// (src/auth/credentials.ts: alterScramCredentials), stores the result durably with the cluster metadata and
// publishes it to every worker before answering. Needs ALTER on the cluster, as in Kafka.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'
import { storedCredential, type ScramAlterationResult, type ScramUpsertion } from '../auth/credentials.ts'
import { keysFromSaltedPassword, scramMechanismByType } from '../auth/scram.ts'
import { allows } from './authorize.ts'
import { AclOperation, ResourceType, kClusterName } from '../auth/acl.ts'

const api = apiByKey(51)!

interface AlterRequest {
  deletions: Array<{ name: string, mechanism: number }>
  upsertions: Array<{ name: string, mechanism: number, iterations: number, salt: Buffer, saltedPassword: Buffer }>
}

async function handle (context: RequestContext, request: AlterRequest): Promise<object> {
  if (!allows(context, AclOperation.ALTER, ResourceType.CLUSTER, kClusterName)) {
    const users = new Set([...request.deletions, ...request.upsertions].map((entry) => entry.name))
    return { throttleTimeMs: 0, results: [...users].map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed' })) }
  }
  const upsertions: ScramUpsertion[] = request.upsertions.map((upsertion) => {
    const mechanism = scramMechanismByType(upsertion.mechanism)
    const usable = mechanism !== undefined && upsertion.salt.length > 0 && upsertion.saltedPassword.length > 0
    return {
      name: upsertion.name,
      mechanism: upsertion.mechanism,
      iterations: upsertion.iterations,
      // Copies: the request's Buffers are views of the connection's read arena.
      credential: usable ? storedCredential(keysFromSaltedPassword(mechanism, Buffer.from(upsertion.saltedPassword), Buffer.from(upsertion.salt), upsertion.iterations)) : null
    }
  })
  const deletions = request.deletions.map((deletion) => ({ name: deletion.name, mechanism: deletion.mechanism }))
  const results = await context.shard.admin<ScramAlterationResult[]>({ op: 'alterScramCredentials', deletions, upsertions })
  return { throttleTimeMs: 0, results }
}

export const alterUserScramCredentialsHandler: Handler = { api, minVersion: 0, maxVersion: 0, handle }
