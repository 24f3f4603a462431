// The bytes of requests a worker holds (Kafka's `queued.max.request.bytes`, one budget per worker thread).
//
// Held bytes are of two kinds:
// - arenas retained by unanswered requests: a whole arena is charged while at least one request framed in it is
//   not answered (src/net/arena-pool.ts charges and gives back; the reference counts say when);
// - frames being read: a frame whose size field is in but whose bytes are not, reserves its declared size
//   before the connection reads on (its arena then grows as the bytes arrive), and gives it back once the
//   frame is whole (it is then in an arena charged by its request).
// A connection's own read arena with no request in it is not charged (at most one per connection, bounded by
// the connection limits), nor are idle pooled arenas (bounded by the pool).
//
// Beyond the budget a connection stops reading: at a frame boundary while the budget is exhausted, or when the
// frame it is reading cannot reserve its size. It waits in a FIFO and is woken when bytes come back (a request
// answered, a frame completed, a connection closed). Reserved frames always read on, so some connection always
// makes progress: while every connection waits, what is held is only requests being handled, which are answered
// and give their bytes back. A frame declaring more than the whole budget could never be admitted: the
// connection closes it as a framing error.

export type BudgetWaiter = () => boolean

export class MemoryBudget {
  /** Bytes that may be held; Infinity until a connection configures it. */
  limit: number
  #used: number
  /** Connections waiting for bytes, in arrival order; each returns true once it could go on. */
  readonly #waiters: Set<BudgetWaiter>
  #waking: boolean

  constructor (limit: number) {
    this.limit = limit
    this.#used = 0
    this.#waiters = new Set()
    this.#waking = false
  }

  get used (): number {
    return this.#used
  }

  get waiting (): number {
    return this.#waiters.size
  }

  /** Whether nothing more may be taken now (a connection at a frame boundary waits). */
  get exhausted (): boolean {
    return this.#used >= this.limit || (this.#waiters.size > 0 && !this.#waking)
  }

  /** Takes `bytes` if they fit and nobody waits for bytes before the caller (FIFO: no starving a big frame). */
  tryTake (bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false
    if (this.#waiters.size > 0 && !this.#waking) return false
    this.#used += bytes
    return true
  }

  /** Takes `bytes` whatever the limit: they are already in memory (a request in an arena). */
  charge (bytes: number): void {
    this.#used += bytes
  }

  /** Gives `bytes` back and wakes waiters, in order, while they can go on. */
  give (bytes: number): void {
    this.#used -= bytes
    if (this.#used < 0) throw new Error('memory budget given back more than was taken')
    this.#wake()
  }

  /** `waiter` is called (in order) when bytes come back, until it returns true. */
  wait (waiter: BudgetWaiter): void {
    this.#waiters.add(waiter)
  }

  /** A waiter that needs nothing any more (its connection closed). */
  cancel (waiter: BudgetWaiter): void {
    if (this.#waiters.delete(waiter)) this.#wake()
  }

  #wake (): void {
    // A waiter going on may give bytes back itself (a frame completing): the outer loop carries on.
    if (this.#waking || this.#waiters.size === 0) return
    this.#waking = true
    try {
      for (const waiter of this.#waiters) {
        if (this.#used >= this.limit) break
        if (!waiter()) break
        this.#waiters.delete(waiter)
      }
    } finally {
      this.#waking = false
    }
  }
}

/** This thread's budget (each worker thread has its own module instance, so its own budget). */
export const workerBudget = new MemoryBudget(Infinity)
