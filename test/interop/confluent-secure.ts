// Runs test/interop/fixtures/confluent_secure_roundtrip.py: three records produced and consumed back through
// confluent-kafka-python with the given client configuration (SASL, TLS, OAUTHBEARER interop tests).
import { fileURLToPath } from 'node:url'
import { run } from './processes.ts'

const kScript = fileURLToPath(new URL('fixtures/confluent_secure_roundtrip.py', import.meta.url))
const kPython = '/usr/bin/python3'

export interface SecureRoundTrip { ok: boolean, values?: string[], errors: string[] }

/** `conf`: librdkafka settings; `oauth_jwt` answers oauth_cb with that token. */
export async function confluentSecureRoundTrip (conf: Record<string, string>, topic: string, group: string): Promise<SecureRoundTrip> {
  const { stdout } = await run(kPython, [kScript, JSON.stringify(conf), topic, group], { timeoutMs: 60_000 })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}')
}
