// SaslAuthenticate (key 36), v0-2: one token of the SASL exchange chosen by SaslHandshake v1 (src/auth/sasl.ts).
// A challenge is answered with NONE and the server's bytes; success also sets the connection's principal
// (`User:<name>`) and, from v1, tells the session's lifetime (KIP-368, --connections-max-reauth-ms; 0: none). A
// failure is answered with SASL_AUTHENTICATION_FAILED and its message after
// --connection-failed-authentication-delay-ms, and the connection closes once that is written, as Kafka delays
// and closes. Outside an exchange (a PLAINTEXT listener, an authenticated connection not re-authenticating):
// ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(36)!
const kEmpty = Buffer.alloc(0)

function answer (errorCode: number, errorMessage: string | null, authBytes: Buffer, sessionLifetimeMs: number): object {
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs }
}

async function handle (context: RequestContext, request: { authBytes: Buffer }): Promise<object> {
  const { connection, shard } = context
  const session = connection.sasl
  if (session === null || session.state !== 'authenticate' || session.rawTokens) {
    return answer(ErrorCode.ILLEGAL_SASL_STATE, session === null ? 'SaslAuthenticate on a listener without SASL' : 'SaslAuthenticate request received after successful authentication', kEmpty, 0)
  }
  const result = await session.authenticate(request.authBytes, Date.now())
  if (result.kind === 'challenge') return answer(ErrorCode.NONE, null, result.bytes, 0)
  if (result.kind === 'success') {
    connection.saslAuthenticated(result.principal)
    return answer(ErrorCode.NONE, null, result.bytes, result.sessionLifetimeMs)
  }
  connection.closeAfterAnswers(`SASL authentication failed: ${result.message}`)
  const delayMs = shard.config.connectionFailedAuthenticationDelayMs
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
  return answer(ErrorCode.SASL_AUTHENTICATION_FAILED, result.message, kEmpty, 0)
}

export const saslAuthenticateHandler: Handler = { api, minVersion: 0, maxVersion: 2, handle }
