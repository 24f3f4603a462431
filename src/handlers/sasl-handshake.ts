// SaslHandshake (key 17), v0-1: picks the SASL mechanism of a connection on a SASL listener (src/auth/sasl.ts).
// v1 is followed by SaslAuthenticate requests; v0 by raw SASL tokens, each framed by a 4-byte length
// (src/net/connection.ts answers those). A mechanism not in --sasl-enabled-mechanisms answers
// UNSUPPORTED_SASL_MECHANISM with the enabled ones, and the connection closes once that is written (Kafka's
// UnsupportedSaslMechanismException). On an authenticated connection it starts a re-authentication (KIP-368).
// On a PLAINTEXT listener there is nothing to authenticate: ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers.
import { apiByKey } from '../protocol/apis.ts'
import { ErrorCode } from '../protocol/errors.ts'
import type { RequestContext } from '../net/connection.ts'
import type { Handler } from './handler.ts'

const api = apiByKey(17)!

function handle (context: RequestContext, request: { mechanism: string }): object {
  const { connection } = context
  const session = connection.sasl
  if (session === null) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }
  const result = session.handshake(request.mechanism, context.apiVersion)
  if (result.errorCode !== ErrorCode.NONE) connection.closeAfterAnswers(`SaslHandshake: ${result.errorMessage ?? 'refused'}`)
  return { errorCode: result.errorCode, mechanisms: result.mechanisms }
}

export const saslHandshakeHandler: Handler = { api, minVersion: 0, maxVersion: 1, handle }
