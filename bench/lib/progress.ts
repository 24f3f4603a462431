// One progress line on stderr during long runs: rewritten in place on a terminal, printed every few seconds
// otherwise (CI logs), and cleared before the table is printed.

export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #tty: boolean
  readonly #intervalMs: number
  #prefix = ''
  #lastPrint = 0
  #shown = false

  constructor (stream: NodeJS.WriteStream = process.stderr, intervalMs = 5000) {
    this.#stream = stream
    this.#tty = stream.isTTY === true
    this.#intervalMs = intervalMs
  }

  /** Starts a new step: `[3/24] shoal w=2 produce-100B-acks1-none-1p rdkafka run 2/3`. */
  step (prefix: string): void {
    this.#prefix = prefix
    this.#lastPrint = 0
    this.update('starting')
  }

  update (detail: string): void {
    const text = `${this.#prefix}: ${detail}`
    const now = Date.now()
    if (this.#tty) {
      const columns = this.#stream.columns ?? 120
      this.#stream.write(`\r\x1b[K${text.slice(0, columns - 1)}`)
      this.#shown = true
    } else if (now - this.#lastPrint >= this.#intervalMs) {
      this.#stream.write(`${text}\n`)
      this.#lastPrint = now
    }
  }

  /** A line that stays (warnings, failures). */
  note (text: string): void {
    this.clear()
    this.#stream.write(`${text}\n`)
  }

  clear (): void {
    if (this.#tty && this.#shown) this.#stream.write('\r\x1b[K')
    this.#shown = false
  }
}
