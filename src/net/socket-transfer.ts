// Handing a socket that has already been used from one thread to another (a connection moving between workers,
// through the main thread: src/net/connection.ts, "Moving a connection").
//
// Node transfers a net.Socket in postMessage only while it looks fresh: its check refuses one whose handle has
// read or written a byte (bytesRead, bytesWritten), besides one with bytes queued in the stream. Those two
// counters are the only state the check reads that a used, quiet socket differs in: the kernel keeps the bytes
// not yet read and the libuv handle moves whole, so the caller guarantees what matters instead: reading stopped,
// nothing buffered in the stream (writableLength 0, no readable bytes), no write in progress.

import type { Socket } from 'node:net'

/**
 * Makes `socket` pass Node's transfer check (see above), or says why it cannot move: a reason, else null. The
 * counters read 0 on this object only; the handle it holds goes to the receiving thread whole.
 */
export function prepareTransfer (socket: Socket): string | null {
  const handle = (socket as unknown as { _handle: unknown })._handle
  if (handle === null || handle === undefined) return 'the socket has no handle'
  if (socket.destroyed || socket.connecting) return 'the socket is closed or connecting'
  if (socket.writableLength > 0) return 'bytes are still queued for writing'
  if (socket.readableLength > 0) return 'read bytes are still queued'
  Object.defineProperty(socket, 'bytesRead', { value: 0, configurable: true })
  Object.defineProperty(socket, 'bytesWritten', { value: 0, configurable: true })
  return null
}
