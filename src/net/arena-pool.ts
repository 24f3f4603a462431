// Read arenas for connections, reused once nothing refers to them.
//
// A connection reads into an arena and hands each request on as a view of it (src/net/connection.ts). An arena
// holds one reference for the connection while it reads into it, and one per request framed in it until that
// request is answered. At zero it goes back to the pool of its worker thread, and the next connection that needs
// an arena of its size class takes it instead of allocating: fresh memory costs page faults in the kernel and,
// as V8 external memory, garbage collection work on the helper threads, for every byte produced.
//
// The contract that makes reuse safe: a request's Buffers (records, group metadata: every `bytes` field) are
// views of an arena and valid until the request is answered. A handler that keeps one longer keeps a copy.
// A request that is never answered (its connection closed while it ran) never gives its reference back: its
// arena is left to the garbage collector, never reused.
//
// Memory budget (src/net/memory-budget.ts): an arena is charged to its worker's budget, whole, from the moment
// a first request is framed in it until the last request framed in it is answered (its reader's own reference
// is not charged). The connection gives its reader reference back with releaseReaderArena, requests theirs
// with releaseArena, so the pool knows which references are requests.

import { workerBudget } from './memory-budget.ts'

/** Size classes are powers of two from this up to kLargestPooledBytes; larger arenas are not pooled. */
export const kSmallestArenaBytes = 256 * 1024
const kLargestPooledBytes = 16 * 1024 * 1024
/** Bytes of idle arenas kept per worker thread; beyond it released arenas are left to the garbage collector. */
const kPooledBytesLimit = 64 * 1024 * 1024

export class Arena {
  readonly buffer: Buffer
  /** The connection reading into it, plus the requests framed in it that are not answered yet. */
  references: number
  /** The requests framed in it that are not answered yet (while above zero, the arena is charged). */
  requests: number

  constructor (buffer: Buffer) {
    this.buffer = buffer
    this.references = 1
    this.requests = 0
  }
}

/** Idle arenas by size (a power of two). */
const idle = new Map<number, Arena[]>()
let idleBytes = 0

function sizeClass (bytes: number): number {
  let size = kSmallestArenaBytes
  while (size < bytes) size *= 2
  return size
}

/**
 * An arena of at least `bytes`, holding one reference (the caller's). Sizes are rounded up to a power of two
 * (at least 256 KiB) up to 16 MiB; a larger request gets exactly its size and is not pooled afterwards.
 */
export function takeArena (bytes: number): Arena {
  if (bytes > kLargestPooledBytes) return new Arena(Buffer.allocUnsafeSlow(bytes))
  const size = sizeClass(bytes)
  const list = idle.get(size)
  const reused = list?.pop()
  if (reused !== undefined) {
    idleBytes -= size
    reused.references = 1
    reused.requests = 0
    return reused
  }
  return new Arena(Buffer.allocUnsafeSlow(size))
}

/** Adds a reference: a request framed in the arena (the first one charges the arena to the budget). */
export function retainArena (arena: Arena): void {
  arena.references++
  if (arena.requests++ === 0) workerBudget.charge(arena.buffer.length)
}

/**
 * Drops a request's reference (the request is answered); the last request gives the arena's bytes back to the
 * budget, and the last reference returns the arena to the pool (when it is of a pooled size and there is room).
 */
export function releaseArena (arena: Arena): void {
  if (arena.requests <= 0) throw new Error('read arena released more often than retained')
  if (--arena.requests === 0) workerBudget.give(arena.buffer.length)
  dropReference(arena)
}

/** Drops the reference of the connection reading into the arena (it moved on, or closed). */
export function releaseReaderArena (arena: Arena): void {
  dropReference(arena)
}

function dropReference (arena: Arena): void {
  if (--arena.references !== 0) {
    if (arena.references < 0) throw new Error('read arena released more often than retained')
    return
  }
  const size = arena.buffer.length
  if (size > kLargestPooledBytes || size !== sizeClass(size) || idleBytes + size > kPooledBytesLimit) return
  let list = idle.get(size)
  if (list === undefined) {
    list = []
    idle.set(size, list)
  }
  list.push(arena)
  idleBytes += size
}

/** Idle pooled bytes in this thread (tests). */
export function idleArenaBytes (): number {
  return idleBytes
}

/**
 * Drops every idle arena of this thread (the memory reclaim after a burst, src/memory-reclaim.ts): the pool
 * refills from fresh allocations when load comes back. Returns the bytes dropped.
 */
export function dropIdleArenas (): number {
  const dropped = idleBytes
  idle.clear()
  idleBytes = 0
  return dropped
}
