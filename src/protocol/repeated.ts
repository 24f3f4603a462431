// Entries a request names more than once. Kafka refuses every entry of a name given twice (CreateTopics,
// CreatePartitions, DeleteTopics, AlterConfigs' resources and config keys) with INVALID_REQUEST and acts on
// none of them, rather than acting on the first and refusing the rest.

/** The keys that occur more than once in `values`. */
export function repeatedKeys<T> (values: Iterable<T>, key: (value: T) => string): Set<string> {
  const seen = new Set<string>()
  const repeated = new Set<string>()
  for (const value of values) {
    const k = key(value)
    if (seen.has(k)) repeated.add(k)
    else seen.add(k)
  }
  return repeated
}
