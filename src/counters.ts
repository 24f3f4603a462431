// Named counters of this thread (limits breached, requests refused, handler bugs contained, ...). Each thread
// counts its own; the metrics endpoint (a later issue) sums them. A counter name is Kafka-style where Kafka has
// one (`connections-rejected`, `request-errors`), else kebab-case, and every limit has one.

const counts = new Map<string, number>()

export function count (name: string, by = 1): void {
  counts.set(name, (counts.get(name) ?? 0) + by)
}

export function counterValue (name: string): number {
  return counts.get(name) ?? 0
}

/** A copy of every counter of this thread. */
export function counterSnapshot (): Record<string, number> {
  return Object.fromEntries(counts)
}
