// The embedded "consumer" protocol of classic groups (ConsumerProtocolSubscription): what a member is
// subscribed to, read where the broker must know (OffsetDelete). Layout, all versions:
//   int16 version, int32 topic count, then per topic int16 length + utf8 name, (then user data and, from v1,
//   owned partitions, which we do not need).
export function subscribedTopics (metadata: Buffer): string[] {
  try {
    if (metadata.length < 6) return []
    let at = 2
    const count = metadata.readInt32BE(at)
    at += 4
    const topics: string[] = []
    for (let i = 0; i < count && at + 2 <= metadata.length; i++) {
      const length = metadata.readInt16BE(at)
      at += 2
      if (length < 0 || at + length > metadata.length) break
      topics.push(metadata.toString('utf8', at, at + length))
      at += length
    }
    return topics
  } catch {
    return []
  }
}
