// The maintenance scenario's pure parts (bench/lib/maintenance.ts): reading the broker's cleaner and retention
// lines, the overlap with the measured run, the throughput, the p99 verdict and the rounds' medians, the selection
// and its flag. The run itself needs a broker and rdkafka_performance and is the bench's
// (npm run bench -- --scenarios maintenance).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ArgsError, parseArgs } from '../../bench/lib/args.ts'
import {
  combineRounds, kMaintenanceP99Bound, maintenanceLines, maintenanceOverlap, maintenanceShortfall, maxLoopDelayMs, p99Verdict, parseBrokerLogLine,
  parseCleanLine, parseRetentionLine, renderMaintenanceTable, selectMaintenance, summarizeCleans, summarizeRetention, type CleanEntry,
  type MaintenanceResult, type MaintenanceRound
} from '../../bench/lib/maintenance.ts'
import type { RunMetrics } from '../../bench/lib/loads.ts'

const kCleanText = '2026-12-04T01:50:29.681Z INFO  [worker-0] log cleaner: cleaned /tmp/shoal-bench-maintenance-x/compacted-1 up to offset 97000: ' +
  'read 202125218 bytes, wrote 10424167, removed 87000 records in 19893 ms'
const kRetentionText = '2026-12-04T01:50:10.000Z INFO  [worker-1] retention: deleted 14 segment(s), 14680064 bytes, from 1 partition(s); rolled 0 segment(s) past segment.ms'

test('reads a text log line and a json one alike, and nothing else', () => {
  assert.deepEqual(parseBrokerLogLine('2026-12-04T01:50:29.681Z INFO  [worker-0] hello there'),
    { timeMs: Date.parse('2026-12-04T01:50:29.681Z'), thread: 'worker-0', message: 'hello there' })
  assert.deepEqual(parseBrokerLogLine('{"level":30,"time":1764813029681,"pid":7,"hostname":"h","thread":"worker-1","bytesRead":5,"msg":"hi"}'),
    { timeMs: 1764813029681, thread: 'worker-1', message: 'hi' })
  assert.equal(parseBrokerLogLine('listening on 127.0.0.1:9092'), null)
  assert.equal(parseBrokerLogLine('{not json'), null)
  assert.equal(parseBrokerLogLine('{"msg":"no time"}'), null)
})

test('a cleaner line gives the clean\'s bytes, records and interval (it ended at the line\'s time)', () => {
  const clean = parseCleanLine(parseBrokerLogLine(kCleanText)!)
  const end = Date.parse('2026-12-04T01:50:29.681Z')
  assert.deepEqual(clean, {
    thread: 'worker-0', partition: 'compacted-1', endOffset: 97000, bytesRead: 202125218, bytesWritten: 10424167, recordsRemoved: 87000,
    durationMs: 19893, startMs: end - 19893, endMs: end
  })
  assert.equal(parseCleanLine(parseBrokerLogLine(kRetentionText)!), null)
})

test('a retention line gives the segments and bytes its pass deleted', () => {
  assert.deepEqual(parseRetentionLine(parseBrokerLogLine(kRetentionText)!),
    { thread: 'worker-1', timeMs: Date.parse('2026-12-04T01:50:10.000Z'), segmentsDeleted: 14, bytesDeleted: 14680064, partitions: 1 })
  assert.equal(parseRetentionLine(parseBrokerLogLine(kCleanText)!), null)
})

test('maintenanceLines keeps the topic\'s cleans and every retention pass from a time on', () => {
  const other = kCleanText.replace('compacted-1', 'compacted-other-0')
  const early = '2026-12-04T01:40:00.000Z INFO  [worker-0] retention: deleted 1 segment(s), 10 bytes, from 1 partition(s); rolled 0 segment(s) past segment.ms'
  const output = ['listening on 127.0.0.1:1', early, kRetentionText, kCleanText, other, 'noise'].join('\n')
  const lines = maintenanceLines(output, 'compacted', Date.parse('2026-12-04T01:45:00.000Z'))
  assert.deepEqual(lines.cleans.map((clean) => clean.partition), ['compacted-1'])
  assert.deepEqual(lines.retention.map((pass) => pass.segmentsDeleted), [14])
})

function clean (startMs: number, endMs: number, bytesRead: number, partition = 'compacted-0'): CleanEntry {
  return { thread: 'worker-0', partition, endOffset: 1, bytesRead, bytesWritten: bytesRead / 10, recordsRemoved: 3, durationMs: endMs - startMs, startMs, endMs }
}

test('compaction throughput is the bytes read over the first start to the last end, in 10^6 bytes/s', () => {
  assert.equal(summarizeCleans([]), null)
  const summary = summarizeCleans([clean(1000, 3000, 10e6), clean(2000, 5000, 30e6, 'compacted-1')])!
  assert.equal(summary.cleans, 2)
  assert.equal(summary.bytesRead, 40e6)
  assert.equal(summary.bytesWritten, 4e6)
  assert.equal(summary.recordsRemoved, 6)
  assert.equal(summary.wallMs, 4000)
  assert.equal(summary.mbPerSec, 10)
  assert.equal(summarizeCleans([clean(1000, 1000, 5)])!.mbPerSec, null)
})

test('the overlap counts the run\'s time with a clean going on once, and the retention passes inside the run', () => {
  const retention = [
    { thread: 'worker-0', timeMs: 10_200, segmentsDeleted: 14, bytesDeleted: 1, partitions: 1 },
    { thread: 'worker-1', timeMs: 25_000, segmentsDeleted: 2, bytesDeleted: 1, partitions: 1 }
  ]
  // Run 10 s..20 s; cleans 9-13 s and 11-16 s (overlapping each other): 10-16 s inside the run.
  const overlap = maintenanceOverlap(10_000, 20_000, [clean(9000, 13_000, 1), clean(11_000, 16_000, 1, 'compacted-1')], retention)
  assert.equal(overlap.runMs, 10_000)
  assert.equal(overlap.cleanFromMs, -1000)
  assert.equal(overlap.cleanToMs, 6000)
  assert.equal(overlap.overlapMs, 6000)
  assert.equal(overlap.cleanInsideRun, 6000 / 7000)
  assert.deepEqual(overlap.retentionAtMs, [200, 15_000])
  assert.equal(overlap.segmentsDeletedInRun, 14)
  const outside = maintenanceOverlap(10_000, 20_000, [clean(21_000, 22_000, 1)], [])
  assert.equal(outside.overlapMs, 0)
  assert.equal(outside.cleanInsideRun, 0)
  assert.equal(maintenanceOverlap(0, 1, [], []).cleanInsideRun, null)
})

test('the p99 verdict: maintenance / baseline, met up to 1.2x', () => {
  assert.equal(kMaintenanceP99Bound, 1.2)
  assert.deepEqual(p99Verdict(10, 12), { ratio: 1.2, verdict: 'met' })
  assert.deepEqual(p99Verdict(10, 5), { ratio: 0.5, verdict: 'met' })
  assert.deepEqual(p99Verdict(10, 12.5), { ratio: 1.25, verdict: 'NOT met' })
  assert.deepEqual(p99Verdict(null, 12), { ratio: null, verdict: null })
  assert.deepEqual(p99Verdict(0, 12), { ratio: null, verdict: null })
})

test('a run is partial when a partition was not cleaned, retention deleted nothing, or neither overlapped the run', () => {
  const overlap = maintenanceOverlap(0, 10_000, [clean(100, 5000, 1)], [{ thread: 'w', timeMs: 200, segmentsDeleted: 3, bytesDeleted: 1, partitions: 1 }])
  const retention = { passes: 1, segmentsDeleted: 3, bytesDeleted: 1 }
  assert.equal(maintenanceShortfall({ cleans: [clean(100, 5000, 1)], retention, overlap }, 1), null)
  assert.match(maintenanceShortfall({ cleans: [clean(100, 5000, 1)], retention, overlap }, 2) ?? '', /1 of 2 compacted partitions cleaned/)
  assert.match(maintenanceShortfall({ cleans: [clean(100, 5000, 1)], retention: { passes: 0, segmentsDeleted: 0, bytesDeleted: 0 }, overlap }, 1) ?? '',
    /retention deleted nothing/)
  const late = maintenanceOverlap(0, 10_000, [clean(11_000, 12_000, 1)], [{ thread: 'w', timeMs: 11_000, segmentsDeleted: 3, bytesDeleted: 1, partitions: 1 }])
  assert.equal(maintenanceShortfall({ cleans: [clean(11_000, 12_000, 1)], retention, overlap: late }, 1),
    'no clean overlapped the measured run; retention deleted nothing during the measured run')
})

test('the longest event-loop delay of a /metrics scrape is its largest stat="max" sample, in ms', () => {
  const scrape = [
    '# TYPE shoal_worker_event_loop_delay_seconds gauge',
    'shoal_worker_event_loop_delay_seconds{worker="0",stat="p99"} 0.5',
    'shoal_worker_event_loop_delay_seconds{worker="0",stat="max"} 0.012',
    'shoal_worker_event_loop_delay_seconds{worker="1",stat="max"} 0.0305',
    'shoal_worker_event_loop_utilisation{worker="1"} 0.9'
  ].join('\n')
  assert.equal(maxLoopDelayMs(scrape), 30.5)
  assert.equal(maxLoopDelayMs('shoal_worker_up{worker="0"} 1'), null)
})

test('maintenance runs with --full and when a --scenarios pattern matches it, not in the plain default set', () => {
  assert.equal(selectMaintenance([], 'default'), false)
  assert.equal(selectMaintenance([], 'full'), true)
  assert.equal(selectMaintenance(['maintenance'], 'default'), true)
  assert.equal(selectMaintenance(['main*'], 'default'), true)
  assert.equal(selectMaintenance(['produce', 'restart-1000p'], 'full'), false)
})

test('--maintenance-mib sizes the compacted topic (default 24 MiB a partition)', () => {
  assert.equal(parseArgs([]).maintenanceMib, 24)
  assert.equal(parseArgs(['--maintenance-mib', '48']).maintenanceMib, 48)
  assert.equal(parseArgs(['--maintenance-mib=8']).maintenanceMib, 8)
  assert.throws(() => parseArgs(['--maintenance-mib', '0']), ArgsError)
  assert.throws(() => parseArgs(['--maintenance-mib', '1.5']), ArgsError)
})

const metrics = (p99: number): RunMetrics => ({
  msgsPerSec: 9900, bytesPerSec: 990_000, records: 100_000, elapsedMs: 10_100,
  latAvgMs: 1, latP50Ms: 0.9, latP95Ms: 1.5, latP99Ms: p99, latP999Ms: p99 * 2, latMaxMs: p99 * 3
})

function round (number: number, baselineP99: number, maintenanceP99: number, cleans: CleanEntry[]): MaintenanceRound {
  const retentionPasses = [{ thread: 'worker-0', timeMs: 200, segmentsDeleted: 14, bytesDeleted: 14 * 1048576, partitions: 1 }]
  return {
    round: number, first: number % 2 === 1 ? 'baseline' : 'maintenance', baseline: metrics(baselineP99), maintenance: metrics(maintenanceP99),
    loopDelayMaxMs: { baseline: 12, maintenance: 50 }, p99Ratio: p99Verdict(baselineP99, maintenanceP99).ratio,
    compaction: summarizeCleans(cleans), retention: summarizeRetention(retentionPasses), overlap: maintenanceOverlap(0, 10_000, cleans, retentionPasses),
    cleans, retentionPasses, shortfall: null
  }
}

test('rounds combine into median p99s, the median of their ratios, and the cleans and deletions of all of them', () => {
  const rounds = [round(1, 4, 6, [clean(100, 5100, 50e6)]), round(2, 5, 4, [clean(0, 3000, 25e6)]), round(3, 10, 30, [clean(0, 2000, 5e6)])]
  const totals = combineRounds(rounds)
  assert.equal(totals.baselineP99Ms, 5)
  assert.equal(totals.maintenanceP99Ms, 6)
  assert.equal(totals.p99Ratio, 1.5)
  assert.equal(totals.verdict, 'NOT met')
  assert.equal(totals.compaction?.cleans, 3)
  assert.equal(totals.compaction?.bytesRead, 80e6)
  assert.equal(totals.compaction?.wallMs, 10_000)
  assert.equal(totals.compaction?.mbPerSec, 8)
  assert.deepEqual(totals.retention, { passes: 3, segmentsDeleted: 42, bytesDeleted: 42 * 1048576 })
  assert.equal(combineRounds([round(1, 10, 11, [])]).verdict, 'met')
  assert.deepEqual(combineRounds([]), {
    baselineP99Ms: null, maintenanceP99Ms: null, p99Ratio: null, verdict: null, compaction: null, retention: { passes: 0, segmentsDeleted: 0, bytesDeleted: 0 }
  })
})

test('the table gives both p99s, the verdict, each round\'s ratio, the throughput, what retention deleted and the overlap', () => {
  const rounds = [round(1, 4, 6, [clean(100, 5100, 50e6)]), round(2, 4, 4.4, [clean(0, 4000, 50e6)])]
  const result: MaintenanceResult = {
    target: 'shoal w=1', workers: 1, scenario: 'maintenance', status: 'ok', reason: null,
    setup: {
      pacedRate: 10_000, runSeconds: 10, recordBytes: 100, compactedPartitions: 1, compactedBytesPerPartition: 24 << 20, keysPerPartition: 2000,
      retainedBytesPerPartition: 16 << 20, retainedKeepBytes: 2 << 20, segmentBytes: 1 << 20, fillSeconds: 1
    },
    ...combineRounds(rounds), rounds, brokerSaid: '', commands: []
  }
  const table = renderMaintenanceTable([result])
  assert.match(table, /shoal w=1 +maintenance +4\.00 +5\.20 +1\.30x NOT met +1\.50x, 1\.10x +11\.1 +95\.4 \/ 9\.5 +28 segments, 28\.0 MiB +>= 4\.0 of 10\.0 +ok/)
  assert.match(table, /round 1 \(baseline first\): run 10\.0 s; cleans from 0\.1 to 5\.1 s after its start \(100% of it inside the run\); retention passes at 0\.2 s \(14 of 14 segments deleted during the run\)/)
  assert.match(table, /round 2 \(maintenance first\) maintenance: 9,900 msg\/s; latency ms p50 0\.90, p95 1\.50, p99 4\.40, p99\.9 8\.80, max 13\.20; longest worker event-loop delay 50\.0 ms/)
})
