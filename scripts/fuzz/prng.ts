// A small deterministic PRNG (mulberry32) for the fuzzer: the same seed gives the same frames, so a failing run
// can be repeated with `--seed`. Not for anything that needs real randomness.

export class Prng {
  #state: number

  constructor (seed: number) {
    this.#state = seed >>> 0
  }

  /** A uint32. */
  u32 (): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** A float in [0, 1). */
  next (): number {
    return this.u32() / 0x100000000
  }

  /** An integer in [low, high] inclusive. */
  int (low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1))
  }

  chance (probability: number): boolean {
    return this.next() < probability
  }

  pick<T> (items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }

  /** A fresh generator derived from this one (its own stream, e.g. per connection). */
  fork (salt: number): Prng {
    return new Prng((this.u32() ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0)
  }

  bytes (length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i += 4) {
      const word = this.u32()
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (j * 8)) & 0xff
    }
    return out
  }
}
