// The log cleaner's key -> latest offset map (Kafka's SkimpyOffsetMap): a fixed-size open-addressing hash table
// of 64-bit key digests, never the keys' bytes, so that its memory is bounded by `log.cleaner.dedupe.buffer.size`
// whatever the keys look like.
//
// Layout: three parallel typed arrays of `slots` entries, 16 bytes a slot:
//   digestHigh  Int32Array    upper 32 bits of the key's digest
//   digestLow   Int32Array    lower 32 bits
//   offsets     Float64Array  the latest offset seen for the key; -1 marks a free slot
// Linear probing from digestLow mod slots. The map counts as full at kLoadFactor of its slots (Kafka's
// `log.cleaner.io.buffer.load.factor` default), so that probes stay short.
//
// The digest is two 32-bit multiply-xorshift hashes (murmur3's mixing) with different seeds over the key's bytes.
// Two distinct keys share a digest with probability about n^2 / 2^65 for n keys (1e-9 at 200,000 keys), which
// costs the older of the two records; Kafka accepts the same for its MD5 digests truncated to the map.

export const kOffsetMapSlotBytes = 16
const kLoadFactor = 0.9

export class OffsetMap {
  readonly slots: number
  readonly capacity: number
  #size = 0
  readonly #digestHigh: Int32Array
  readonly #digestLow: Int32Array
  readonly #offsets: Float64Array
  /** The digest of the last key given to #digest(), in fields: no allocation per key. */
  #high = 0
  #low = 0

  /** A map of `memoryBytes` / 16 slots (at least 16). */
  constructor (memoryBytes: number) {
    this.slots = Math.max(16, Math.floor(memoryBytes / kOffsetMapSlotBytes))
    this.capacity = Math.floor(this.slots * kLoadFactor)
    this.#digestHigh = new Int32Array(this.slots)
    this.#digestLow = new Int32Array(this.slots)
    this.#offsets = new Float64Array(this.slots).fill(-1)
  }

  get size (): number {
    return this.#size
  }

  get isFull (): boolean {
    return this.#size >= this.capacity
  }

  clear (): void {
    if (this.#size === 0) return
    this.#offsets.fill(-1)
    this.#size = 0
  }

  /**
   * Records `offset` as the latest of the key in buffer[start, end). Returns false, changing nothing, when the
   * key is new and the map is full (the caller stops mapping there).
   */
  put (buffer: Buffer, start: number, end: number, offset: number): boolean {
    this.#digest(buffer, start, end)
    const slot = this.#find()
    if (this.#offsets[slot] < 0) {
      if (this.#size >= this.capacity) return false
      this.#digestHigh[slot] = this.#high
      this.#digestLow[slot] = this.#low
      this.#size++
    }
    this.#offsets[slot] = offset
    return true
  }

  /** The latest offset recorded for the key in buffer[start, end), -1 when none. */
  get (buffer: Buffer, start: number, end: number): number {
    this.#digest(buffer, start, end)
    return this.#offsets[this.#find()]
  }

  /** The slot holding the current digest, or the free slot where it would go. */
  #find (): number {
    const slots = this.slots
    const high = this.#high
    const low = this.#low
    let slot = (low >>> 0) % slots
    for (;;) {
      if (this.#offsets[slot] < 0 || (this.#digestLow[slot] === low && this.#digestHigh[slot] === high)) return slot
      slot = slot + 1 === slots ? 0 : slot + 1
    }
  }

  #digest (buffer: Buffer, start: number, end: number): void {
    this.#high = hash32(buffer, start, end, 0x9747b28c)
    this.#low = hash32(buffer, start, end, 0x5bd1e995)
  }
}

/** murmur3_32 of buffer[start, end) with `seed` (a signed int32). */
function hash32 (buffer: Buffer, start: number, end: number, seed: number): number {
  let h = seed | 0
  let at = start
  const whole = start + ((end - start) & ~3)
  for (; at < whole; at += 4) {
    let k = buffer[at] | (buffer[at + 1] << 8) | (buffer[at + 2] << 16) | (buffer[at + 3] << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  switch (end - at) {
    case 3: k ^= buffer[at + 2] << 16 // falls through
    case 2: k ^= buffer[at + 1] << 8 // falls through
    case 1:
      k ^= buffer[at]
      k = Math.imul(k, 0xcc9e2d51)
      k = (k << 15) | (k >>> 17)
      k = Math.imul(k, 0x1b873593)
      h ^= k
  }
  h ^= end - start
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}
