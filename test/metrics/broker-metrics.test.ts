import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BrokerMetrics, counterMetricName, type MetricsSources } from '../../src/metrics/broker-metrics.ts'
import { Readiness } from '../../src/metrics/readiness.ts'
import { createMetricsSlab, kConnectionsAcceptedSlot, kHeartbeatSlot, kLoopDelaySlot, kRingFullSlot, recordErrorInto, recordRequestInto } from '../../src/metrics/layout.ts'
import type { WorkerSnapshot } from '../../src/metrics/worker-metrics.ts'
import { createRingBuffer, kReadField, kWriteField } from '../../src/shard/ring.ts'
import { count } from '../../src/counters.ts'
import { hasSample, parsePrometheus, sampleSum } from './prometheus.ts'

/** Two fake workers answering scrapes with whatever `snapshots` holds for them (none: they never answer). */
function fixture () {
  const slabs = [createMetricsSlab(), createMetricsSlab()]
  const rings = [[null, createRingBuffer(4096)], [createRingBuffer(4096), null]]
  const up = [true, true]
  const snapshots: Array<WorkerSnapshot | null> = [null, null]
  const posted: Array<{ worker: number, message: { type: string, id: number } }> = []
  let metrics: BrokerMetrics | null = null
  const sources: MetricsSources = {
    slabs,
    rings,
    isUp: (worker) => up[worker],
    connections: (worker) => 10 + worker,
    post: (worker, message) => {
      posted.push({ worker, message: message as { type: string, id: number } })
      const snapshot = snapshots[worker]
      const id = (message as { id: number }).id
      if (snapshot !== null) queueMicrotask(() => metrics?.snapshotArrived(worker, id, snapshot))
    }
  }
  const readiness = new Readiness(2)
  metrics = new BrokerMetrics(sources, readiness, { processMetrics: false })
  return { metrics, slabs: slabs.map((buffer) => new Float64Array(buffer)), rings, up, snapshots, posted, readiness }
}

function snapshot (counters: Record<string, number>, partitions: WorkerSnapshot['partitions'], groups: WorkerSnapshot['groups'] = []): WorkerSnapshot {
  return { counters, partitions, groups }
}

test('request counts, latencies and errors are summed over every worker\'s slab', async () => {
  const { metrics, slabs, snapshots } = fixture()
  snapshots[0] = snapshot({}, [])
  snapshots[1] = snapshot({}, [])
  recordRequestInto(slabs[0], 0, 9, 0.001)
  recordRequestInto(slabs[1], 0, 9, 0.003)
  recordRequestInto(slabs[1], 3, 12, 0.0001)
  recordErrorInto(slabs[0], 1, 1)
  recordErrorInto(slabs[1], 1, 1)
  recordErrorInto(slabs[1], 0, -1)
  const samples = parsePrometheus(await metrics.render())
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_requests_total', { request: 'Produce', version: 9 }), 2)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_requests_total', { request: 'Metadata', version: 12 }), 1)
  assert.equal(hasSample(samples, 'kafka_network_requestmetrics_requests_total', { request: 'Fetch' }), false)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_totaltime_seconds_count', { request: 'Produce' }), 2)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_totaltime_seconds_bucket', { request: 'Produce', le: '0.001' }), 1)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_totaltime_seconds_bucket', { request: 'Produce', le: '+Inf' }), 2)
  assert.ok(Math.abs(sampleSum(samples, 'kafka_network_requestmetrics_totaltime_seconds_sum', { request: 'Produce' }) - 0.004) < 1e-9)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_errors_total', { request: 'Fetch', error: 'OFFSET_OUT_OF_RANGE' }), 2)
  assert.equal(sampleSum(samples, 'kafka_network_requestmetrics_errors_total', { request: 'Produce', error: 'UNKNOWN_SERVER_ERROR' }), 1)
})

test('topic traffic and partition offsets come from the workers\' snapshots; group lag joins coordinator and owner', async () => {
  const { metrics, snapshots } = fixture()
  // [topic, partition, logStart, logEnd, size, segments, bytesIn, recordsIn, bytesOut, recordsOut]
  snapshots[0] = snapshot({}, [['orders', 0, 0, 100, 5000, 1, 4000, 90, 1000, 20]],
    [{ group: 'billing', type: 'classic', state: 'Stable', members: 2, offsets: [['orders', 0, 40], ['orders', 1, 10]] }])
  snapshots[1] = snapshot({}, [['orders', 1, 5, 30, 800, 2, 700, 25, 0, 0]])
  const samples = parsePrometheus(await metrics.render())
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: 'orders' }), 4700)
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_messagesin_total', { topic: 'orders' }), 115)
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesout_total', { topic: 'orders' }), 1000)
  assert.equal(sampleSum(samples, 'shoal_brokertopicmetrics_messagesout_total', { topic: 'orders' }), 20)
  assert.equal(sampleSum(samples, 'kafka_log_log_logendoffset', { topic: 'orders', partition: 1 }), 30)
  assert.equal(sampleSum(samples, 'kafka_log_log_logstartoffset', { topic: 'orders', partition: 1 }), 5)
  assert.equal(sampleSum(samples, 'kafka_log_log_size', { topic: 'orders' }), 5800)
  assert.equal(sampleSum(samples, 'kafka_log_log_numlogsegments', { topic: 'orders', partition: 1 }), 2)
  assert.equal(sampleSum(samples, 'kafka_consumergroup_lag', { consumergroup: 'billing', topic: 'orders', partition: 0 }), 60)
  assert.equal(sampleSum(samples, 'kafka_consumergroup_lag', { consumergroup: 'billing', topic: 'orders', partition: 1 }), 20)
  assert.equal(sampleSum(samples, 'kafka_consumergroup_current_offset', { consumergroup: 'billing', partition: 1 }), 10)
  assert.equal(sampleSum(samples, 'kafka_consumergroup_members', { consumergroup: 'billing', state: 'Stable' }), 2)
})

test('named counters of every thread are summed, and a dead worker\'s last counts are kept for its successor to add to', async () => {
  const { metrics, snapshots, up } = fixture()
  count('test-metrics-main-counter', 3)
  snapshots[0] = snapshot({ 'connections-closed-idle': 2, 'request-handler-errors': 1 }, [['t', 0, 0, 1, 1, 1, 100, 1, 0, 0]])
  snapshots[1] = snapshot({ 'connections-closed-idle': 5 }, [['t', 1, 0, 1, 1, 1, 50, 1, 0, 0]])
  let samples = parsePrometheus(await metrics.render())
  assert.equal(counterMetricName('connections-closed-idle'), 'shoal_connections_closed_idle_total')
  assert.equal(sampleSum(samples, 'shoal_connections_closed_idle_total'), 7)
  assert.equal(sampleSum(samples, 'shoal_request_handler_errors_total'), 1)
  assert.equal(sampleSum(samples, 'shoal_test_metrics_main_counter_total'), 3)
  assert.equal(sampleSum(samples, 'shoal_connections_closed_by_reason_total', { reason: 'idle' }), 7)
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: 't' }), 150)

  // Worker 1 dies: while it is down it is not asked, and nothing it counted goes away.
  up[1] = false
  metrics.workerDied(1)
  samples = parsePrometheus(await metrics.render())
  assert.equal(sampleSum(samples, 'shoal_connections_closed_idle_total'), 7)
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: 't' }), 150)
  assert.equal(hasSample(samples, 'kafka_log_log_logendoffset', { topic: 't', partition: 1 }), false)
  assert.equal(sampleSum(samples, 'shoal_worker_up', { worker: 1 }), 0)

  // Its successor counts from zero; the sums go on from where they were.
  up[1] = true
  snapshots[1] = snapshot({ 'connections-closed-idle': 1 }, [['t', 1, 0, 2, 1, 1, 10, 1, 0, 0]])
  samples = parsePrometheus(await metrics.render())
  assert.equal(sampleSum(samples, 'shoal_connections_closed_idle_total'), 8)
  assert.equal(sampleSum(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic: 't' }), 160)
})

test('a scrape does not wait for ever on a worker that does not answer: it keeps that worker\'s last snapshot', async () => {
  const { metrics, snapshots, posted } = fixture()
  snapshots[0] = snapshot({ 'stuck-test': 1 }, [])
  snapshots[1] = snapshot({ 'stuck-test': 2 }, [])
  assert.equal(sampleSum(parsePrometheus(await metrics.render()), 'shoal_stuck_test_total'), 3)
  snapshots[1] = null
  posted.length = 0
  assert.equal(sampleSum(parsePrometheus(await metrics.render()), 'shoal_stuck_test_total'), 3)
  assert.deepEqual(posted.map((p) => [p.worker, p.message.type]), [[0, 'metrics-scrape'], [1, 'metrics-scrape']])
})

test('worker gauges come from the slabs and the ring headers, connection counts from the acceptor', async () => {
  const { metrics, slabs, rings, snapshots } = fixture()
  snapshots[0] = snapshot({}, [])
  snapshots[1] = snapshot({}, [])
  slabs[1][kHeartbeatSlot] = Date.now()
  slabs[1][kLoopDelaySlot + 5] = 0.25
  slabs[0][kRingFullSlot] = 4
  slabs[1][kConnectionsAcceptedSlot] = 12
  const header = new Int32Array(rings[0][1] as SharedArrayBuffer, 0, 16)
  header[kWriteField / 4] = 100
  header[kReadField / 4] = 40
  const samples = parsePrometheus(await metrics.render())
  assert.equal(sampleSum(samples, 'shoal_worker_event_loop_delay_seconds', { worker: 1, stat: 'max' }), 0.25)
  assert.equal(hasSample(samples, 'shoal_worker_event_loop_delay_seconds', { worker: 0 }), false)
  assert.equal(sampleSum(samples, 'shoal_ring_used_bytes', { from: 0, to: 1 }), 60)
  assert.equal(sampleSum(samples, 'shoal_ring_used_bytes', { from: 1, to: 0 }), 0)
  assert.equal(sampleSum(samples, 'shoal_ring_capacity_bytes', { from: 0, to: 1 }), 4096)
  assert.equal(sampleSum(samples, 'shoal_ring_full_total', { worker: 0 }), 4)
  assert.equal(sampleSum(samples, 'kafka_server_socket_server_metrics_connection_count'), 21)
  assert.equal(sampleSum(samples, 'kafka_server_socket_server_metrics_connection_creation_total', { worker: 1 }), 12)
  assert.equal(sampleSum(samples, 'shoal_ready'), 0)
})
