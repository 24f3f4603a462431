// Java's String.hashCode and the partition choice built on it. Kafka places a consumer group on a
// `__consumer_offsets` partition and a transactional id on a `__transaction_state` partition with
// Utils.abs(key.hashCode()) % partitions; clients (FindCoordinator answers, tooling) and brokers must agree, so the
// arithmetic here is Java's exactly: 32-bit wrap-around on UTF-16 code units.

/** Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1], in 32-bit signed arithmetic over UTF-16 code units. */
export function javaStringHash (text: string): number {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0
  return hash
}

/** The partition Kafka assigns `key` to among `partitions`. */
export function partitionForKey (key: string, partitions: number): number {
  // Kafka's Utils.abs maps MIN_VALUE to 0 rather than overflowing (Math.abs(MIN_VALUE) is MIN_VALUE in Java).
  const hash = javaStringHash(key)
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions
}
