// Three records through @platformatic/kafka's Producer, read back with its Consumer's raw Fetch (no group): the
// round trip the SASL and TLS interop tests run over each listener and mechanism.
import { Consumer, FetchIsolationLevels, Producer } from '@platformatic/kafka'
import { waitFor } from '../helpers/broker.ts'

/** What a client needs to reach the listener: its bootstrap address and the `sasl` / `tls` options. */
export interface PlatformaticConnectionOptions {
  readonly bootstrapBrokers: string[]
  readonly sasl?: { mechanism: any, username: string, password: string }
  readonly tls?: { ca: string | Buffer }
}

/** Produces `platformatic-0..2` to partition 0 of `topic` and returns the values fetched back, in order. */
export async function platformaticRoundTrip (connection: PlatformaticConnectionOptions, topic: string): Promise<string[]> {
  const base = { ...connection, retries: 2, retryDelay: 100 }
  const producer = new Producer({ ...base, clientId: 'shoal-round-trip-producer', autocreateTopics: true })
  const consumer = new Consumer({ ...base, clientId: 'shoal-round-trip-consumer', groupId: 'unused' })
  try {
    await producer.send({ messages: [0, 1, 2].map((i) => ({ topic, partition: 0, value: Buffer.from(`platformatic-${i}`) })) })
    const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true })
    const described = metadata.topics.get(topic)!
    const values: string[] = []
    await waitFor(async () => {
      const response = await consumer.fetch({
        node: described.partitions[0].leader,
        maxWaitTime: 50,
        isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
        topics: [{ topicId: described.id, partitions: [{ partition: 0, fetchOffset: BigInt(values.length), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }]
      })
      for (const partition of response.responses.flatMap((t) => t.partitions)) {
        for (const batch of partition.records ?? []) {
          for (const record of batch.records) {
            if (Number(batch.firstOffset) + record.offsetDelta >= values.length) values.push(record.value?.toString() ?? '')
          }
        }
      }
      return values.length >= 3
    }, 20_000, 'platformatic fetched 3 records')
    return values
  } finally {
    await Promise.allSettled([producer.close(), consumer.close()])
  }
}
