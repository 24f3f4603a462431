// SASL on the wire for tests: free ports for a second listener, and SCRAM/PLAIN logins over a raw KafkaClient.
import { createServer } from 'node:net'
import assert from 'node:assert/strict'
import { KafkaClient } from '../helpers/kafka-client.ts'
import { ScramClient, kScramSha256, kScramSha512 } from '../../src/auth/scram.ts'

/** A port free a moment ago (the broker binds it next; a clash fails the broker's start loudly, not a test). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export const kUser = 'alice'
export const kPassword = 'alice-secret'
export const kScramUsers = `SCRAM-SHA-256=[name=${kUser},password=${kPassword}],SCRAM-SHA-512=[name=${kUser},password=${kPassword},iterations=4096]`

/**
 * Handshake v1 and SaslAuthenticate (`version`) for `mechanism`; resolves with the last SaslAuthenticate
 * response (errorCode 0 when logged in).
 */
export async function login (client: KafkaClient, mechanism: string, password = kPassword, version = 2, user = kUser): Promise<any> {
  const handshake = await client.request(17, 1, { mechanism })
  assert.equal(handshake.errorCode, 0, `handshake ${mechanism}`)
  if (mechanism === 'PLAIN') {
    return client.request(36, version, { authBytes: Buffer.from(`\0${user}\0${password}`) })
  }
  const scram = new ScramClient(mechanism === 'SCRAM-SHA-512' ? kScramSha512 : kScramSha256, user, password)
  const first = await client.request(36, version, { authBytes: scram.first() })
  if (first.errorCode !== 0) return first
  const final = await client.request(36, version, { authBytes: scram.final(first.authBytes) })
  if (final.errorCode === 0) assert.equal(scram.verify(final.authBytes), true, 'the server proves it knows the password')
  return final
}

/** Resolves once the broker has closed the client's connection (the test's deadline bounds the wait). */
export function closedByBroker (client: KafkaClient): Promise<void> {
  return client.closed
}
