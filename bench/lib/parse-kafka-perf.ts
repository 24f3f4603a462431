// Parses the output of Apache Kafka's perf tools (org.apache.kafka.tools.ProducerPerformance and
// ConsumerPerformance, run as bin/kafka-producer-perf-test.sh and bin/kafka-consumer-perf-test.sh).
//
// Producer: a window line every 5 s, then one total line (MB is 1024 * 1024 bytes):
//   549228 records sent, 109538.9 records/sec (10.45 MB/sec), 2754.9 ms avg latency, 2818.0 ms max latency.
//   1000000 records sent, 253485.424588 records/sec (24.17 MB/sec), 1121.36 ms avg latency, 1623.00 ms max latency,
//     1117 ms 50th, 1588 ms 95th, 1615 ms 99th, 1622 ms 99.9th.
// Consumer: a header line, then one comma-separated line (dates as yyyy-MM-dd HH:mm:ss:SSS, MB as above):
//   start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
//     fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//   2024-06-27 09:44:58:834, 2024-06-27 09:45:07:905, 953.6911, 105.1363, 10000176, 1102433.6898, 3411, 5660,
//     168.4967, 1766815.5477
// and, when it gave up waiting, `WARNING: Exiting before consuming the expected number of messages: timeout ...`.

const kMiB = 1024 * 1024
const kNumber = '(-?[\\d.]+(?:[eE][-+]?\\d+)?|NaN|Infinity)'

export interface KafkaProducerWindow {
  records: number
  recordsPerSec: number
  mbPerSec: number
  bytesPerSec: number
  avgLatencyMs: number
  maxLatencyMs: number
}

export interface KafkaProducerResult extends KafkaProducerWindow {
  p50Ms: number
  p95Ms: number
  p99Ms: number
  p999Ms: number
}

const kWindow = new RegExp(`^${kNumber} records sent, ${kNumber} records/sec \\(${kNumber} MB/sec\\), ${kNumber} ms avg latency, ${kNumber} ms max latency`)
const kPercentiles = new RegExp(`, ${kNumber} ms 50th, ${kNumber} ms 95th, ${kNumber} ms 99th, ${kNumber} ms 99\\.9th`)

/** A window or total line of ProducerPerformance; null for any other line. */
export function parseKafkaProducerLine (line: string): KafkaProducerWindow | KafkaProducerResult | null {
  const text = line.trim()
  const window = kWindow.exec(text)
  if (window === null) return null
  const base: KafkaProducerWindow = {
    records: Number(window[1]),
    recordsPerSec: Number(window[2]),
    mbPerSec: Number(window[3]),
    bytesPerSec: Number(window[3]) * kMiB,
    avgLatencyMs: Number(window[4]),
    maxLatencyMs: Number(window[5])
  }
  const percentiles = kPercentiles.exec(text.slice(window[0].length))
  if (percentiles === null) return base
  return { ...base, p50Ms: Number(percentiles[1]), p95Ms: Number(percentiles[2]), p99Ms: Number(percentiles[3]), p999Ms: Number(percentiles[4]) }
}

/** The total line (the last line with percentiles) of a ProducerPerformance run, or null. */
export function parseKafkaProducerOutput (output: string): KafkaProducerResult | null {
  const lines = output.split('\n')
  for (let index = lines.length - 1; index >= 0; index--) {
    const parsed = parseKafkaProducerLine(lines[index])
    if (parsed !== null && 'p50Ms' in parsed) return parsed
  }
  return null
}

export interface KafkaConsumerResult {
  startTime: string
  endTime: string
  mb: number
  mbPerSec: number
  bytesPerSec: number
  records: number
  recordsPerSec: number
  rebalanceMs: number | null
  fetchMs: number | null
  fetchMbPerSec: number | null
  fetchRecordsPerSec: number | null
  /** The tool stopped on its --timeout before consuming what it was asked for. */
  timedOut: boolean
}

const kConsumerColumns = ['start.time', 'end.time', 'data.consumed.in.MB', 'MB.sec', 'data.consumed.in.nMsg', 'nMsg.sec',
  'rebalance.time.ms', 'fetch.time.ms', 'fetch.MB.sec', 'fetch.nMsg.sec']

function splitCsv (line: string): string[] {
  return line.split(',').map((cell) => cell.trim())
}

/**
 * The result line of a ConsumerPerformance run, read by the column names of its header line (the columns of
 * Kafka 2.x-4.x when the header is hidden); null when there is none.
 */
export function parseKafkaConsumerOutput (output: string): KafkaConsumerResult | null {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '')
  let header = kConsumerColumns
  let result: KafkaConsumerResult | null = null
  for (const line of lines) {
    if (line.startsWith('start.time,')) {
      header = splitCsv(line)
      continue
    }
    if (!/^\d{4}-\d\d-\d\d /.test(line)) continue
    const cells = splitCsv(line)
    if (cells.length < 6) continue
    const get = (name: string): number | null => {
      const index = header.indexOf(name)
      if (index < 0 || index >= cells.length) return null
      const value = Number(cells[index])
      return Number.isFinite(value) ? value : null
    }
    const mb = get('data.consumed.in.MB')
    const mbPerSec = get('MB.sec')
    const records = get('data.consumed.in.nMsg')
    const recordsPerSec = get('nMsg.sec')
    if (mb === null || mbPerSec === null || records === null || recordsPerSec === null) continue
    result = {
      startTime: cells[header.indexOf('start.time')] ?? cells[0],
      endTime: cells[header.indexOf('end.time')] ?? cells[1],
      mb,
      mbPerSec,
      bytesPerSec: mbPerSec * kMiB,
      records,
      recordsPerSec,
      rebalanceMs: get('rebalance.time.ms'),
      fetchMs: get('fetch.time.ms'),
      fetchMbPerSec: get('fetch.MB.sec'),
      fetchRecordsPerSec: get('fetch.nMsg.sec'),
      timedOut: false
    }
  }
  if (result !== null && /WARNING: Exiting before consuming the expected number of messages/.test(output)) result.timedOut = true
  return result
}
