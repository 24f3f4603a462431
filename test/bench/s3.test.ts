// The s3 scenario's pure parts (bench/lib/s3.ts): reading /metrics scrapes, rates, the verdicts, the outage
// summary, the selection and the table. The run itself needs s3rver, brokers and rdkafka_performance and is the
// bench's (npm run bench -- --scenarios s3).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  counterIncrease, kRssGrowthBound, kThroughputRatioBound, latencyBoundMs, latencyVerdict, metricValue, perSecond, renderS3Table, rssVerdict,
  s3Figures, selectS3, summarizeOutage, throughputVerdict, type S3Result
} from '../../bench/lib/s3.ts'

// The shape src/metrics/broker-metrics.ts writes (HELP and TYPE lines, per-worker labels), shortened.
const kScrape = [
  '# HELP shoal_s3_backlog_bytes Bytes appended to a worker\'s partitions and not yet in S3',
  '# TYPE shoal_s3_backlog_bytes gauge',
  'shoal_s3_backlog_bytes{worker="0"} 1048576',
  'shoal_s3_backlog_bytes{worker="1"} 524288',
  '# TYPE shoal_s3_put_latency_seconds gauge',
  'shoal_s3_put_latency_seconds{quantile="0.5"} 0.012',
  'shoal_s3_put_latency_seconds{quantile="0.99"} 0.0405',
  '# TYPE shoal_s3_upload_bytes_total counter',
  'shoal_s3_upload_bytes_total 73400320',
  'shoal_s3_upload_bytes_total_extra 5',
  'shoal_s3_uploads_total 42',
  'shoal_s3_put_requests_total 44',
  ''
].join('\n')

test('metricValue sums the samples of one metric whose labels match, and is null without any', () => {
  assert.equal(metricValue(kScrape, 'shoal_s3_backlog_bytes'), 1048576 + 524288)
  assert.equal(metricValue(kScrape, 'shoal_s3_backlog_bytes', { worker: '1' }), 524288)
  assert.equal(metricValue(kScrape, 'shoal_s3_put_latency_seconds', { quantile: '0.99' }), 0.0405)
  // A longer name with the same start is another metric.
  assert.equal(metricValue(kScrape, 'shoal_s3_upload_bytes_total'), 73400320)
  assert.equal(metricValue(kScrape, 'shoal_s3_merges_total'), null)
  assert.equal(metricValue(kScrape, 'shoal_s3_backlog_bytes', { worker: '7' }), null)
})

test('s3Figures reads the scenario\'s figures, latencies in ms; a counter not yet counted is 0, all null without the S3 gauges', () => {
  assert.deepEqual(s3Figures(kScrape), {
    uploadBytes: 73400320, uploads: 42, uploadErrors: 0, putRequests: 44, backlogBytes: 1572864, putP50Ms: 12, putP99Ms: 40.5
  })
  assert.deepEqual(s3Figures(''), { uploadBytes: null, uploads: null, uploadErrors: null, putRequests: null, backlogBytes: null, putP50Ms: null, putP99Ms: null })
})

test('a counter absent before counts from 0; absent after measures nothing', () => {
  assert.equal(counterIncrease(10, 25), 15)
  assert.equal(counterIncrease(null, 25), 25)
  assert.equal(counterIncrease(10, null), null)
  assert.equal(perSecond(10_000, 2000), 5000)
  assert.equal(perSecond(10_000, 0), null)
  assert.equal(perSecond(null, 2000), null)
})

test('the verdicts: throughput ratio at or above its bound, p99 within flush interval + 2 x PUT p99, RSS growth at most its share', () => {
  assert.equal(throughputVerdict(kThroughputRatioBound), 'met')
  assert.equal(throughputVerdict(0.79), 'NOT met')
  assert.equal(throughputVerdict(null), '-')
  assert.equal(latencyBoundMs(100, 40), 180)
  assert.equal(latencyBoundMs(100, null), null)
  assert.equal(latencyVerdict(180, 180), 'met')
  assert.equal(latencyVerdict(181, 180), 'NOT met')
  assert.equal(latencyVerdict(null, 180), '-')
  assert.equal(rssVerdict(kRssGrowthBound), 'met')
  assert.equal(rssVerdict(0.3), 'NOT met')
  assert.equal(rssVerdict(null), '-')
})

test('the outage summary: RSS from the first sample to the peak, against the largest backlog', () => {
  const mib = 1024 * 1024
  const summary = summarizeOutage([
    { atMs: 0, rssBytes: 200 * mib, backlogBytes: 1 * mib },
    { atMs: 1000, rssBytes: null, backlogBytes: 50 * mib },
    { atMs: 2000, rssBytes: 220 * mib, backlogBytes: 200 * mib },
    { atMs: 3000, rssBytes: 210 * mib, backlogBytes: null }
  ])
  assert.deepEqual(summary, {
    rssStartBytes: 200 * mib, rssMinBytes: 200 * mib, rssMaxBytes: 220 * mib, rssEndBytes: 210 * mib, backlogMaxBytes: 200 * mib, rssGrowthBytes: 20 * mib, growthFraction: 0.1
  })
  // No backlog (S3 never went down, or the gauge is missing): no fraction.
  assert.equal(summarizeOutage([{ atMs: 0, rssBytes: mib, backlogBytes: 0 }]).growthFraction, null)
  assert.equal(summarizeOutage([]).rssStartBytes, null)
})

test('selected when named, or with --full when no pattern is given', () => {
  assert.equal(selectS3([], 'default'), false)
  assert.equal(selectS3([], 'full'), true)
  assert.equal(selectS3(['s3'], 'default'), true)
  assert.equal(selectS3(['quota'], 'full'), false)
})

test('the table shows the upload rows, the checks and the reason of a partial run', () => {
  const result: S3Result = {
    target: 'shoal w=2', workers: 2, scenario: 's3', status: 'partial', reason: 'acks=-1 s3 / local throughput under 0.8',
    setup: {
      recordBytes: 1024, partitions: 16, runSeconds: 8, flushIntervalMs: 100, flusherCounts: [1], throughputRatioBound: 0.8, rssGrowthBound: 0.25,
      outageRate: 20000, outageSeconds: 15, outageBacklogMaxBytes: 8 * 1024 ** 3
    },
    uploads: [{
      flushers: 1, produceBytesPerSec: 50 * 1048576, uploadBytesPerSec: 45 * 1048576, uploadBytes: 360 * 1048576, uploads: 80, uploadErrors: 0,
      putRequests: 82, putP50Ms: 12, putP99Ms: 40, backlogEndBytes: 1048576, elapsedMs: 8000, quietUploadBytesPerSec: 90 * 1048576
    }],
    acksAll: {
      local: { durability: 'local', bytesPerSec: 40 * 1048576, msgsPerSec: 40960, delivered: 327680, errors: 0, elapsedMs: 8000, latP50Ms: 5, latP99Ms: 20, latMaxMs: 30 },
      s3: { durability: 's3', bytesPerSec: 30 * 1048576, msgsPerSec: 30720, delivered: 245760, errors: 0, elapsedMs: 8000, latP50Ms: 50, latP99Ms: 90, latMaxMs: 120 }
    },
    throughputRatio: 0.75,
    throughputVerdict: 'NOT met',
    latency: {
      requestedMsgsPerSec: 15360, achievedMsgsPerSec: 15000, latP50Ms: 40, latP99Ms: 150, latMaxMs: 200, putP99Ms: 40, flushIntervalMs: 100, boundMs: 180, verdict: 'met'
    },
    outage: {
      rssStartBytes: 200 * 1048576, rssMinBytes: 190 * 1048576, rssMaxBytes: 220 * 1048576, rssEndBytes: 210 * 1048576, backlogMaxBytes: 280 * 1048576, rssGrowthBytes: 20 * 1048576,
      growthFraction: 20 / 280, rate: 20000, downSeconds: 15, produceMsgsPerSec: 19000,
      samples: [{ atMs: 0, rssBytes: 200 * 1048576, backlogBytes: 0 }], verdict: 'met', drainMs: 6500, uploadErrors: 3
    },
    commands: [],
    brokerSaid: ''
  }
  const table = renderS3Table([result])
  assert.match(table, /shoal w=2 +1 +50\.0 +45\.0 +90\.0 +80 +82 +12\.0 \/ 40\.0 +1\.0 +0/)
  assert.match(table, /acks=-1 s3 \/ local MiB\/s +30\.0 \/ 40\.0 = 0\.75x +>= 0\.80x +NOT met/)
  assert.match(table, /s3 p99 ms \(paced\) +150\.0 at 15,000 msg\/s +180\.0 = 100 \+ 2 x 40\.0 +met/)
  assert.match(table, /RSS growth, S3 down 15 s +20\.0 MiB \(200\.0 -> peak 220\.0, range 190\.0-220\.0\) for 280\.0 MiB backlog = 0\.071 +<= 0\.25 x backlog +met/)
  assert.match(table, /backlog drain +6\.5 s \(3 uploads failed while down\)/)
  assert.match(table, /shoal w=2 s3: PARTIAL: acks=-1 s3 \/ local throughput under 0\.8/)
})
