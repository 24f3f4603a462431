// The main thread's side of the metrics: on each /metrics scrape it reads every worker's slab (shared memory,
// no message), the rings' headers, and asks each live worker once for its snapshot of what has dynamic names
// (named counters, partitions, groups; src/metrics/worker-metrics.ts), then renders everything in Prometheus'
// text format through prom-client.
//
// Families are registered with prom-client's Registry as collectors of our own (name, help, type and a get()
// that returns the values) rather than as its Counter/Gauge/Histogram: the numbers are already counted in the
// slabs, and prom-client's own types would keep a second copy to reset and refill on every scrape (its Histogram
// cannot be set at all). The Registry still does the formatting, label escaping and the process metrics.
//
// Names follow Kafka's JMX names as the Prometheus JMX exporter writes them (`kafka_<domain>_<type>_<name>`),
// counters with `_total` and times in seconds; what Kafka has no name for is `shoal_...`; consumer group lag
// follows kafka_exporter (`kafka_consumergroup_lag`).
//
// Workers that die lose their named counters and partition traffic counts; the last snapshot seen of them is
// kept ("retired") and added to what their successors count, so that counters never go down. What a worker
// counted after the last scrape before it died is lost.
import { Registry, collectDefaultMetrics } from 'prom-client'
import { apiByKey } from '../protocol/apis.ts'
import { errorName } from '../protocol/errors.ts'
import { counterSnapshot } from '../counters.ts'
import type { FlusherPoolStats } from '../storage/flusher-pool.ts'
import { kHeaderBytes, kReadField, kSenderWaitingField, kWriteField } from '../shard/ring.ts'
import {
  errorCodeAt, kBucketBounds, kConnectionsAcceptedSlot, kConnectionsClosedSlot, kErrorSlot, kFsyncHistogramSlot, kHeartbeatSlot,
  kHistogramSlots, kLatencySlot, kLoopDelayFields, kLoopDelaySlot, kLoopUtilisationSlot, kMaxApiKeys, kMaxErrorCodes, kMaxVersions,
  kRecoverySlot, kRequestCountSlot, kRingFullSlot, sumHistograms, type HistogramSum
} from './layout.ts'
import { Readiness } from './readiness.ts'
import type { WorkerSnapshot } from './worker-metrics.ts'

export interface MetricsSources {
  /** One slab per worker index (src/metrics/layout.ts). */
  readonly slabs: readonly SharedArrayBuffer[]
  /** rings[from][to], as in src/broker.ts. */
  readonly rings: ReadonlyArray<ReadonlyArray<SharedArrayBuffer | null>>
  isUp (worker: number): boolean
  /** Connections the acceptor handed to the worker and that are still open. */
  connections (worker: number): number
  /** Posts a control message to a live worker. */
  post (worker: number, message: object): void
  /** With --s3-bucket: the flusher pool's request figures (src/storage/flusher-pool.ts); absent without. */
  s3Stats?: () => FlusherPoolStats
}

type Labels = Record<string, string | number>
interface Sample { value: number, labels?: Labels, metricName?: string }
type MetricType = 'counter' | 'gauge' | 'histogram'

/** How long a scrape waits for the workers' snapshots; a worker that has not answered by then keeps its last one. */
const kSnapshotTimeoutMs = 1000

/** A counter's Prometheus name: `shoal_<name>_total`, characters outside [a-zA-Z0-9_] as `_`. */
export function counterMetricName (name: string): string {
  return `shoal_${name.replace(/[^a-zA-Z0-9_]/g, '_')}_total`
}

/** Samples of a summed histogram named `name` (Prometheus' _bucket / _sum / _count series). */
export function histogramSamples (name: string, histogram: HistogramSum, labels: Labels = {}): Sample[] {
  const samples: Sample[] = []
  for (let i = 0; i < kBucketBounds.length; i++) samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: kBucketBounds[i] }, value: histogram.cumulative[i] })
  samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count })
  samples.push({ metricName: `${name}_sum`, labels, value: histogram.sum })
  samples.push({ metricName: `${name}_count`, labels, value: histogram.count })
  return samples
}

/** Traffic counters of one topic, summed over its partitions: bytes in, records in, bytes out, records out. */
type TopicTraffic = [number, number, number, number]

export class BrokerMetrics {
  readonly registry: Registry
  readonly readiness: Readiness
  readonly #sources: MetricsSources
  readonly #slabs: Float64Array[]
  readonly #snapshots: Array<WorkerSnapshot | null>
  readonly #retiredCounters: Map<string, number>
  readonly #retiredTraffic: Map<string, TopicTraffic>
  readonly #waiting: Map<number, { pending: Set<number>, done: () => void }>
  readonly #counterFamilies: Set<string>
  #nextScrape: number
  /** Every thread's named counters, summed at the last scrape (read by the shoal_*_total families). */
  #counters: Map<string, number>

  constructor (sources: MetricsSources, readiness: Readiness, options: { processMetrics?: boolean } = {}) {
    this.registry = new Registry()
    this.readiness = readiness
    this.#sources = sources
    this.#slabs = sources.slabs.map((buffer) => new Float64Array(buffer))
    this.#snapshots = sources.slabs.map(() => null)
    this.#retiredCounters = new Map()
    this.#retiredTraffic = new Map()
    this.#waiting = new Map()
    this.#counterFamilies = new Set()
    this.#nextScrape = 1
    this.#counters = new Map()
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry })
    this.#registerFamilies()
  }

  /** A worker's answer to a scrape (its {type:'metrics-snapshot'} message). */
  snapshotArrived (worker: number, id: number, snapshot: WorkerSnapshot): void {
    this.#snapshots[worker] = { counters: snapshot.counters, partitions: snapshot.partitions, groups: snapshot.groups, s3: snapshot.s3 }
    const waiting = this.#waiting.get(id)
    if (waiting === undefined) return
    waiting.pending.delete(worker)
    if (waiting.pending.size === 0) waiting.done()
  }

  /** A worker died: what its last snapshot counted is kept, since its successor counts from zero. */
  workerDied (worker: number): void {
    this.readiness.workerDown(worker)
    // A scrape waiting for it does not wait for its timeout.
    for (const waiting of [...this.#waiting.values()]) {
      if (waiting.pending.delete(worker) && waiting.pending.size === 0) waiting.done()
    }
    const last = this.#snapshots[worker]
    this.#snapshots[worker] = null
    if (last === null) return
    for (const [name, value] of Object.entries(last.counters)) this.#retiredCounters.set(name, (this.#retiredCounters.get(name) ?? 0) + value)
    for (const row of last.partitions) {
      const traffic = this.#retiredTraffic.get(row[0]) ?? [0, 0, 0, 0]
      traffic[0] += row[6]
      traffic[1] += row[7]
      traffic[2] += row[8]
      traffic[3] += row[9]
      this.#retiredTraffic.set(row[0], traffic)
    }
  }

  /** The /metrics body: fresh snapshots from the live workers, then every family. */
  async render (): Promise<string> {
    await this.#refresh()
    this.#counters = this.#sumCounters()
    for (const name of this.#counters.keys()) this.#registerCounter(name)
    return this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  #refresh (): Promise<void> {
    const id = this.#nextScrape++
    const pending = new Set<number>()
    for (let worker = 0; worker < this.#slabs.length; worker++) {
      if (!this.#sources.isUp(worker)) continue
      try {
        this.#sources.post(worker, { type: 'metrics-scrape', id })
        pending.add(worker)
      } catch {}
    }
    if (pending.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiting.delete(id)
        resolve()
      }
      const timer = setTimeout(done, kSnapshotTimeoutMs)
      this.#waiting.set(id, { pending, done })
    })
  }

  #sumCounters (): Map<string, number> {
    const sums = new Map(this.#retiredCounters)
    const add = (counters: Record<string, number>): void => {
      for (const [name, value] of Object.entries(counters)) sums.set(name, (sums.get(name) ?? 0) + value)
    }
    add(counterSnapshot())
    for (const snapshot of this.#snapshots) if (snapshot !== null) add(snapshot.counters)
    return sums
  }

  #family (name: string, help: string, type: MetricType, collect: () => Sample[]): void {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: () => ({ name, help, type, aggregator: 'sum', values: collect() })
    }
    // A collector of our own (see the header): the Registry reads only name, help, type and get().
    this.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
  }

  #registerCounter (name: string): void {
    if (this.#counterFamilies.has(name)) return
    const metricName = counterMetricName(name)
    // A fixed family of the same name wins (none today); the counter is still in the registry under it.
    if (this.registry.getSingleMetric(metricName) !== undefined) return
    this.#counterFamilies.add(name)
    this.#family(metricName, `Shoal counter ${name}, summed over every thread`, 'counter', () => [{ value: this.#counters.get(name) ?? 0 }])
  }

  #registerFamilies (): void {
    const slabs = this.#slabs
    const workers = slabs.length
    const apiName = (key: number): string => apiByKey(key)?.name ?? `api_${key}`

    // ---- requests ----
    this.#family('kafka_network_requestmetrics_requests_total', 'Requests answered, by API and version (Kafka RequestMetrics RequestsPerSec)', 'counter', () => {
      const samples: Sample[] = []
      for (let key = 0; key < kMaxApiKeys; key++) {
        for (let version = 0; version < kMaxVersions; version++) {
          let total = 0
          for (const slab of slabs) total += slab[kRequestCountSlot + key * kMaxVersions + version]
          if (total > 0) samples.push({ labels: { request: apiName(key), version }, value: total })
        }
      }
      return samples
    })
    this.#family('kafka_network_requestmetrics_totaltime_seconds', 'Time from a request read to its answer, by API (Kafka RequestMetrics TotalTimeMs)', 'histogram', () => {
      const samples: Sample[] = []
      for (let key = 0; key < kMaxApiKeys; key++) {
        const histogram = sumHistograms(slabs, kLatencySlot + key * kHistogramSlots)
        if (histogram.count > 0) samples.push(...histogramSamples('kafka_network_requestmetrics_totaltime_seconds', histogram, { request: apiName(key) }))
      }
      return samples
    })
    this.#family('kafka_network_requestmetrics_errors_total', 'Error codes answered, for whole requests and per partition, by API and error (Kafka RequestMetrics ErrorsPerSec)', 'counter', () => {
      const samples: Sample[] = []
      for (let key = 0; key < kMaxApiKeys; key++) {
        for (let index = 0; index < kMaxErrorCodes; index++) {
          let total = 0
          for (const slab of slabs) total += slab[kErrorSlot + key * kMaxErrorCodes + index]
          if (total > 0) samples.push({ labels: { request: apiName(key), error: errorName(errorCodeAt(index)) }, value: total })
        }
      }
      return samples
    })

    // ---- topics and partitions (from the snapshots) ----
    const topicTraffic = (slot: 0 | 1 | 2 | 3): Sample[] => {
      const sums = new Map<string, number>()
      for (const [topic, traffic] of this.#retiredTraffic) sums.set(topic, traffic[slot])
      for (const snapshot of this.#snapshots) {
        if (snapshot === null) continue
        for (const row of snapshot.partitions) sums.set(row[0], (sums.get(row[0]) ?? 0) + (row[6 + slot] as number))
      }
      return [...sums].map(([topic, value]) => ({ labels: { topic }, value }))
    }
    this.#family('kafka_server_brokertopicmetrics_bytesin_total', 'Record batch bytes appended, by topic (Kafka BrokerTopicMetrics BytesInPerSec)', 'counter', () => topicTraffic(0))
    this.#family('kafka_server_brokertopicmetrics_messagesin_total', 'Records appended, by topic (Kafka BrokerTopicMetrics MessagesInPerSec)', 'counter', () => topicTraffic(1))
    this.#family('kafka_server_brokertopicmetrics_bytesout_total', 'Record batch bytes fetched, by topic (Kafka BrokerTopicMetrics BytesOutPerSec)', 'counter', () => topicTraffic(2))
    this.#family('shoal_brokertopicmetrics_messagesout_total', 'Records in the batches fetched, by topic (Kafka has no such metric)', 'counter', () => topicTraffic(3))
    const partitionGauge = (column: 2 | 3 | 4 | 5): Sample[] => {
      const samples: Sample[] = []
      for (const snapshot of this.#snapshots) {
        if (snapshot === null) continue
        for (const row of snapshot.partitions) samples.push({ labels: { topic: row[0], partition: row[1] }, value: row[column] })
      }
      return samples
    }
    this.#family('kafka_log_log_logstartoffset', 'First offset of the partition log (Kafka Log LogStartOffset)', 'gauge', () => partitionGauge(2))
    this.#family('kafka_log_log_logendoffset', 'Offset the next record of the partition gets (Kafka Log LogEndOffset)', 'gauge', () => partitionGauge(3))
    this.#family('kafka_log_log_size', 'Bytes of the partition log on disk, all segments (Kafka Log Size)', 'gauge', () => partitionGauge(4))
    this.#family('kafka_log_log_numlogsegments', 'Segments of the partition log (Kafka Log NumLogSegments)', 'gauge', () => partitionGauge(5))
    this.#family('kafka_log_logflushstats_logflushtime_seconds', 'Time of one fsync round of a partition log (Kafka LogFlushStats LogFlushRateAndTimeMs)', 'histogram',
      () => histogramSamples('kafka_log_logflushstats_logflushtime_seconds', sumHistograms(slabs, kFsyncHistogramSlot)))

    // ---- consumer groups (from the snapshots: offsets from the coordinators, end offsets from the owners) ----
    const groupOffsets = (lag: boolean): Sample[] => {
      const ends = new Map<string, number>()
      for (const snapshot of this.#snapshots) {
        if (snapshot !== null) for (const row of snapshot.partitions) ends.set(`${row[0]}\u0000${row[1]}`, row[3])
      }
      const samples: Sample[] = []
      for (const snapshot of this.#snapshots) {
        if (snapshot === null) continue
        for (const group of snapshot.groups) {
          for (const [topic, partition, offset] of group.offsets) {
            const labels = { consumergroup: group.group, topic, partition }
            if (!lag) { samples.push({ labels, value: offset }); continue }
            const end = ends.get(`${topic}\u0000${partition}`)
            if (end !== undefined && offset >= 0) samples.push({ labels, value: Math.max(0, end - offset) })
          }
        }
      }
      return samples
    }
    this.#family('kafka_consumergroup_current_offset', 'Committed offset of a group in a partition (as kafka_exporter)', 'gauge', () => groupOffsets(false))
    this.#family('kafka_consumergroup_lag', 'Log end offset minus the committed offset of a group in a partition (as kafka_exporter)', 'gauge', () => groupOffsets(true))
    this.#family('kafka_consumergroup_members', 'Members of a group (as kafka_exporter), with its type and state', 'gauge', () => {
      const samples: Sample[] = []
      for (const snapshot of this.#snapshots) {
        if (snapshot !== null) for (const group of snapshot.groups) samples.push({ labels: { consumergroup: group.group, type: group.type, state: group.state }, value: group.members })
      }
      return samples
    })

    // ---- connections ----
    const perWorker = (value: (worker: number) => number): Sample[] => {
      const samples: Sample[] = []
      for (let worker = 0; worker < workers; worker++) samples.push({ labels: { worker }, value: value(worker) })
      return samples
    }
    this.#family('kafka_server_socket_server_metrics_connection_count', 'Client connections open, by worker (Kafka socket-server-metrics connection-count)', 'gauge',
      () => perWorker((worker) => this.#sources.isUp(worker) ? this.#sources.connections(worker) : 0))
    this.#family('kafka_server_socket_server_metrics_connection_creation_total', 'Client connections a worker adopted (Kafka socket-server-metrics connection-creation-total)', 'counter',
      () => perWorker((worker) => slabs[worker][kConnectionsAcceptedSlot]))
    this.#family('kafka_server_socket_server_metrics_connection_close_total', 'Client connections closed, by either side (Kafka socket-server-metrics connection-close-total)', 'counter',
      () => perWorker((worker) => slabs[worker][kConnectionsClosedSlot]))
    this.#family('shoal_connections_closed_by_reason_total', 'Connections the broker closed or refused, by reason (the connections-closed-* and connections-rejected-* counters)', 'counter', () => {
      const samples: Sample[] = []
      for (const [name, value] of this.#counters) {
        if (name.startsWith('connections-closed-')) samples.push({ labels: { reason: name.slice('connections-closed-'.length) }, value })
        else if (name.startsWith('connections-rejected-')) samples.push({ labels: { reason: `rejected-${name.slice('connections-rejected-'.length)}` }, value })
      }
      return samples
    })

    // ---- workers, rings, readiness ----
    // ---- the S3 copy (--s3-bucket) ----
    const s3Stats = this.#sources.s3Stats
    if (s3Stats !== undefined) {
      this.#family('shoal_s3_backlog_bytes', 'Bytes appended to a worker\'s partitions and not yet in S3 (past half of --s3-backlog-max-bytes produce is throttled)', 'gauge',
        () => perWorker((worker) => this.#snapshots[worker]?.s3?.backlogBytes ?? 0))
      this.#family('shoal_s3_put_latency_seconds', 'PUT latency of the flusher pool over its last 1024 uploads', 'gauge', () => {
        const stats = s3Stats()
        return [{ labels: { quantile: '0.5' }, value: stats.putLatencyMsP50 / 1000 }, { labels: { quantile: '0.99' }, value: stats.putLatencyMsP99 / 1000 }]
      })
      this.#family('shoal_s3_requests_in_flight', 'S3 requests handed to the flusher pool and not yet answered', 'gauge', () => [{ value: s3Stats().inFlight }])
    }
    this.#family('shoal_worker_up', '1 while the worker thread runs (0 while it restarts)', 'gauge', () => perWorker((worker) => this.#sources.isUp(worker) ? 1 : 0))
    this.#family('shoal_worker_event_loop_delay_seconds', 'Event-loop delay of the worker over its last one-second sample (perf_hooks monitorEventLoopDelay)', 'gauge', () => {
      const samples: Sample[] = []
      for (let worker = 0; worker < workers; worker++) {
        if (slabs[worker][kHeartbeatSlot] === 0) continue
        for (let i = 0; i < kLoopDelayFields.length; i++) samples.push({ labels: { worker, stat: kLoopDelayFields[i] }, value: slabs[worker][kLoopDelaySlot + i] })
      }
      return samples
    })
    this.#family('shoal_worker_event_loop_utilisation', 'Share of the last second the worker event loop was busy (0..1)', 'gauge',
      () => perWorker((worker) => slabs[worker][kLoopUtilisationSlot]))
    this.#family('shoal_worker_heartbeat_age_seconds', 'Seconds since the worker last sampled its event loop (grows while it is stuck)', 'gauge', () => {
      const now = Date.now()
      const samples: Sample[] = []
      for (let worker = 0; worker < workers; worker++) {
        const at = slabs[worker][kHeartbeatSlot]
        if (at > 0) samples.push({ labels: { worker }, value: Math.max(0, (now - at) / 1000) })
      }
      return samples
    })
    const rings = this.#sources.rings
    const ringGauge = (value: (header: Int32Array, buffer: SharedArrayBuffer) => number): Sample[] => {
      const samples: Sample[] = []
      for (let from = 0; from < rings.length; from++) {
        for (let to = 0; to < rings[from].length; to++) {
          const buffer = rings[from][to]
          if (buffer === null) continue
          samples.push({ labels: { from, to }, value: value(new Int32Array(buffer, 0, kHeaderBytes / 4), buffer) })
        }
      }
      return samples
    }
    this.#family('shoal_ring_used_bytes', 'Bytes written to a worker-to-worker ring and not yet read', 'gauge',
      () => ringGauge((header) => ((Atomics.load(header, kWriteField / 4) >>> 0) - (Atomics.load(header, kReadField / 4) >>> 0)) >>> 0))
    this.#family('shoal_ring_capacity_bytes', 'Capacity of a worker-to-worker ring', 'gauge', () => ringGauge((_header, buffer) => buffer.byteLength - kHeaderBytes))
    this.#family('shoal_ring_sender_waiting', '1 while the writer of a ring has messages queued because it is full', 'gauge',
      () => ringGauge((header) => Atomics.load(header, kSenderWaitingField / 4)))
    this.#family('shoal_ring_full_total', 'Times a worker found a ring full and queued its message (back-pressure waits), by writing worker', 'counter',
      () => perWorker((worker) => slabs[worker][kRingFullSlot]))
    this.#family('shoal_recovery_partitions', 'Partitions a worker opens at its start (or restart), to recover them', 'gauge',
      () => perWorker((worker) => slabs[worker][kRecoverySlot]))
    this.#family('shoal_recovery_partitions_recovered', 'Partitions a worker has opened and recovered so far at its start', 'gauge',
      () => perWorker((worker) => slabs[worker][kRecoverySlot + 1]))
    this.#family('shoal_recovery_bytes', 'Log bytes of the partitions a worker has opened so far at its start', 'gauge',
      () => perWorker((worker) => slabs[worker][kRecoverySlot + 2]))
    this.#family('shoal_ready', '1 when /readyz answers 200: recovery done, every worker serving, not shutting down', 'gauge', () => [{ value: this.readiness.ready ? 1 : 0 }])
  }
}
