// The TLS read path copies decrypted bytes straight into the connection's arena through Node internals
// (readDecryptedInto, src/net/tls.ts), falling back to 'data' events where Node does not offer them. The fallback
// is silent and much slower (about a third more CPU per record, bench/README "TLS"), so a Node upgrade that takes
// the internals away must fail here rather than slow every TLS listener down unnoticed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { readDecryptedInto } from '../../src/net/tls.ts'

test('this Node lets a TLS socket read decrypted bytes into our buffers (the fast path is in use)', () => {
  const socket = new TLSSocket(new Duplex({ read () {}, write (_chunk, _encoding, done) { done() } }), { isServer: true })
  try {
    assert.equal(readDecryptedInto(socket, () => Buffer.alloc(16), () => true), true)
  } finally {
    socket.destroy()
  }
})
