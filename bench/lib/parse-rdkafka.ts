// Parses the output of librdkafka's examples/rdkafka_performance.c (built by scripts/build-rdkafka-perf.sh).
//
// With -u it prints a table: a header row every 20 rows, then one row per display interval (-i, 1 s) and a
// last row forced at exit, each cell `| %10s ` wide:
//   producer (-P):  elapsed | msgs | bytes | rtt | dr | dr_m/s | dr_MB/s | dr_err | tx_err | outq | offset
//   consumer (-C, -G):  elapsed | msgs | bytes | rtt | m/s | MB/s | rx_err | offset
//   with -l, both add:  lat_curr | lat_avg | lat_lo | lat_hi   (milliseconds, two decimals)
// elapsed and rtt are in ms; MB/s is bytes per microsecond (10^6 bytes/s). The producer counts msgs when
// handed to librdkafka and dr (delivered) when acknowledged; dr_m/s is delivered messages per second.
// Without -u it prints summary lines instead:
//   % 20000 messages produced (2000000 bytes), 20000 delivered (offset 19999, 0 failed) in 38ms: 526163 msgs/s and
//     52.62 MB/s, 0 produce failures, 0 in queue, no compression
//   % 20000 messages (2000000 bytes) consumed in 9ms: 2105041 msgs/s (210.50 MB/s)[, latency curr/avg/lo/hi
//     1.00/2.00/0.50/3.00ms]
// The last table row (or summary line) is the run's result.

export type RdkafkaMode = 'producer' | 'consumer'

export interface RdkafkaLatency {
  currMs: number
  avgMs: number
  loMs: number
  hiMs: number
}

export interface RdkafkaResult {
  mode: RdkafkaMode
  elapsedMs: number
  /** Producer: messages handed to librdkafka; consumer: messages received. */
  msgs: number
  bytes: number
  /** Producer: messages acknowledged by the broker (dr); consumer: as msgs. */
  delivered: number
  msgsPerSec: number
  /** Payload bytes per second (the tool's MB/s is 10^6 bytes/s). */
  bytesPerSec: number
  /** dr_err (producer) or rx_err (consumer). */
  errors: number
  /** Producer only: produce calls refused (queue full), still in queue at the end. */
  txErrors: number | null
  outq: number | null
  /** Last offset delivered (producer) or consumed (consumer). */
  offset: number | null
  rttMs: number | null
  /** With -l: produce-to-acknowledgement (producer) or produce-to-consume (consumer) latency. */
  latency: RdkafkaLatency | null
}

export interface RdkafkaTable {
  header: string[]
  rows: Record<string, number>[]
}

function cellsOf (line: string): string[] | null {
  const trimmed = line.trim()
  if (!trimmed.startsWith('|')) return null
  return trimmed.slice(1).split('|').map((cell) => cell.trim())
}

/** Every table row of the output, each keyed by the header row that precedes it. */
export function parseRdkafkaTable (output: string): RdkafkaTable {
  let header: string[] = []
  const rows: Record<string, number>[] = []
  for (const line of output.split('\n')) {
    const cells = cellsOf(line)
    if (cells === null || cells.length === 0) continue
    if (cells[0] === 'elapsed') {
      header = cells
      continue
    }
    if (header.length === 0 || cells.length !== header.length) continue
    const row: Record<string, number> = {}
    let numeric = true
    for (let index = 0; index < cells.length; index++) {
      const value = Number(cells[index])
      if (cells[index] === '' || !Number.isFinite(value)) {
        numeric = false
        break
      }
      row[header[index]] = value
    }
    if (numeric) rows.push(row)
  }
  return { header, rows }
}

function latencyOf (row: Record<string, number>): RdkafkaLatency | null {
  if (!('lat_avg' in row)) return null
  return { currMs: row.lat_curr, avgMs: row.lat_avg, loMs: row.lat_lo, hiMs: row.lat_hi }
}

/** The result of one table row: a producer row has `dr`, a consumer row `m/s`. */
export function resultFromRow (row: Record<string, number>): RdkafkaResult | null {
  if ('dr' in row && 'dr_m/s' in row) {
    return {
      mode: 'producer',
      elapsedMs: row.elapsed,
      msgs: row.msgs,
      bytes: row.bytes,
      delivered: row.dr,
      msgsPerSec: row['dr_m/s'],
      bytesPerSec: row['dr_MB/s'] * 1e6,
      errors: row.dr_err,
      txErrors: row.tx_err ?? null,
      outq: row.outq ?? null,
      offset: row.offset ?? null,
      rttMs: row.rtt ?? null,
      latency: latencyOf(row)
    }
  }
  if ('m/s' in row && 'MB/s' in row) {
    return {
      mode: 'consumer',
      elapsedMs: row.elapsed,
      msgs: row.msgs,
      bytes: row.bytes,
      delivered: row.msgs,
      msgsPerSec: row['m/s'],
      bytesPerSec: row['MB/s'] * 1e6,
      errors: row.rx_err,
      txErrors: null,
      outq: null,
      offset: row.offset ?? null,
      rttMs: row.rtt ?? null,
      latency: latencyOf(row)
    }
  }
  return null
}

const kProducerSummary = /^% (\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset (-?\d+), (\d+) failed\) in (\d+)ms: (\d+) msgs\/s and ([\d.]+) MB\/s, (\d+) produce failures, (\d+) in queue/
const kConsumerSummary = /^% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs\/s \(([\d.]+) MB\/s\)(?:, latency curr\/avg\/lo\/hi ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+)ms)?/

/** The result of a summary line (the output without -u), or null when the line is none. */
export function parseRdkafkaSummaryLine (line: string): RdkafkaResult | null {
  const produced = kProducerSummary.exec(line.trim())
  if (produced !== null) {
    return {
      mode: 'producer',
      elapsedMs: Number(produced[6]),
      msgs: Number(produced[1]),
      bytes: Number(produced[2]),
      delivered: Number(produced[3]),
      msgsPerSec: Number(produced[7]),
      bytesPerSec: Number(produced[8]) * 1e6,
      errors: Number(produced[5]),
      txErrors: Number(produced[9]),
      outq: Number(produced[10]),
      offset: Number(produced[4]),
      rttMs: null,
      latency: null
    }
  }
  const consumed = kConsumerSummary.exec(line.trim())
  if (consumed !== null) {
    return {
      mode: 'consumer',
      elapsedMs: Number(consumed[3]),
      msgs: Number(consumed[1]),
      bytes: Number(consumed[2]),
      delivered: Number(consumed[1]),
      msgsPerSec: Number(consumed[4]),
      bytesPerSec: Number(consumed[5]) * 1e6,
      errors: 0,
      txErrors: null,
      outq: null,
      offset: null,
      rttMs: null,
      latency: consumed[6] === undefined
        ? null
        : { currMs: Number(consumed[6]), avgMs: Number(consumed[7]), loMs: Number(consumed[8]), hiMs: Number(consumed[9]) }
    }
  }
  return null
}

/** The run's result: the last table row, else the last summary line; null when the output has neither. */
export function parseRdkafkaPerformance (output: string): RdkafkaResult | null {
  const { rows } = parseRdkafkaTable(output)
  for (let index = rows.length - 1; index >= 0; index--) {
    const result = resultFromRow(rows[index])
    if (result !== null) return result
  }
  const lines = output.split('\n')
  for (let index = lines.length - 1; index >= 0; index--) {
    const result = parseRdkafkaSummaryLine(lines[index])
    if (result !== null) return result
  }
  return null
}

/** Progress of a run still going: messages so far (delivered for a producer) from one line of output, or null. */
export function progressFromLine (line: string, header: string[]): { msgs: number, elapsedMs: number } | null {
  const cells = cellsOf(line)
  if (cells === null || cells[0] === 'elapsed' || cells.length !== header.length) return null
  const row: Record<string, number> = {}
  for (let index = 0; index < cells.length; index++) row[header[index]] = Number(cells[index])
  const result = resultFromRow(row)
  if (result === null || !Number.isFinite(result.delivered)) return null
  return { msgs: result.delivered, elapsedMs: result.elapsedMs }
}

/** The table header of a line, when it is one. */
export function headerFromLine (line: string): string[] | null {
  const cells = cellsOf(line)
  return cells !== null && cells[0] === 'elapsed' ? cells : null
}

/** librdkafka's version from the usage text: `librdkafka version 2.0.2 (0x020002ff)`. */
export function parseLibrdkafkaVersion (output: string): string | null {
  return /librdkafka version (\S+)/.exec(output)?.[1] ?? null
}

/** Per-message latencies written by -A FILE (one integer of microseconds a line), in milliseconds. */
export function parseLatencyFile (text: string): number[] {
  const values: number[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const micros = Number(line)
    if (Number.isFinite(micros)) values.push(micros / 1000)
  }
  return values
}
