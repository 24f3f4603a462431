// Whether the broker is ready to serve (/readyz): start-up recovery is done (every worker opened and recovered
// its partitions and said 'ready'), the Kafka listener is up, and nothing is shutting down. A worker that dies
// makes the broker not ready until its successor has recovered its partitions; closing makes it not ready for
// good. Owned by the main thread.
export class Readiness {
  /** serving[i] = 1 while worker i has recovered its partitions and serves them. */
  readonly #serving: Uint8Array
  #listening: boolean
  #closing: boolean

  constructor (workers: number) {
    this.#serving = new Uint8Array(workers)
    this.#listening = false
    this.#closing = false
  }

  /** Worker `index` recovered its partitions and serves (its 'ready' message, also after a restart). */
  workerServing (index: number): void {
    this.#serving[index] = 1
  }

  /** Worker `index` died; its successor is not serving until it says 'ready'. */
  workerDown (index: number): void {
    this.#serving[index] = 0
  }

  /** The Kafka listener accepts connections. */
  listening (): void {
    this.#listening = true
  }

  /** Shutdown began: never ready again. */
  closing (): void {
    this.#closing = true
  }

  get ready (): boolean {
    if (!this.#listening || this.#closing) return false
    for (let i = 0; i < this.#serving.length; i++) if (this.#serving[i] === 0) return false
    return true
  }

  /** Why not ready, for the /readyz body. */
  describe (): string {
    if (this.#closing) return 'shutting down'
    const waiting: number[] = []
    for (let i = 0; i < this.#serving.length; i++) if (this.#serving[i] === 0) waiting.push(i)
    if (waiting.length > 0) return `waiting for worker(s) ${waiting.join(', ')} to recover their partitions`
    if (!this.#listening) return 'Kafka listener not up yet'
    return 'ready'
  }
}
