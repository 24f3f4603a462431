// Parses the output of bench/rdkafka/txn-perf.c (built by scripts/build-rdkafka-perf.sh): key=value lines,
//   progress sent=34816 delivered=34000 transactions=34 elapsed_ms=1000
//   result mode=transactional records=300000 bytes=30000000 seconds=0.412345 records_per_sec=727545 mb_per_sec=72.75
//     transactions=300 failed=0 commit_seconds=0.120000 init_seconds=0.010000 complete=1
// records: acknowledged; seconds: first produce call to the last acknowledgement (transactional: to the return of
// the last commit); mb_per_sec: 10^6 payload bytes per second; complete=0 when it was stopped before COUNT.

export type TxnPerfMode = 'idempotent' | 'transactional'

export interface TxnPerfResult {
  mode: TxnPerfMode
  records: number
  bytes: number
  seconds: number
  recordsPerSec: number
  /** Payload bytes per second (bytes / seconds: more digits than the line's mb_per_sec). */
  bytesPerSec: number
  transactions: number
  failed: number
  /** Time spent in rd_kafka_commit_transaction (it flushes the transaction's records, then ends it). */
  commitSeconds: number
  initSeconds: number
  complete: boolean
}

function fieldsOf (line: string, prefix: string): Map<string, string> | null {
  const trimmed = line.trim()
  if (!trimmed.startsWith(`${prefix} `)) return null
  const fields = new Map<string, string>()
  for (const part of trimmed.slice(prefix.length + 1).split(/\s+/)) {
    const eq = part.indexOf('=')
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1))
  }
  return fields
}

function numberOf (fields: Map<string, string>, key: string): number | null {
  const text = fields.get(key)
  if (text === undefined || text === '') return null
  const value = Number(text)
  return Number.isFinite(value) ? value : null
}

/** The result line of one line of output, or null when it is none (or lacks a field). */
export function parseTxnPerfResultLine (line: string): TxnPerfResult | null {
  const fields = fieldsOf(line, 'result')
  if (fields === null) return null
  const mode = fields.get('mode')
  if (mode !== 'idempotent' && mode !== 'transactional') return null
  const keys = ['records', 'bytes', 'seconds', 'records_per_sec', 'mb_per_sec', 'transactions', 'failed', 'commit_seconds', 'init_seconds', 'complete']
  const values = keys.map((key) => numberOf(fields, key))
  if (values.some((value) => value === null)) return null
  const [records, bytes, seconds, recordsPerSec, mbPerSec, transactions, failed, commitSeconds, initSeconds, complete] = values as number[]
  return { mode, records, bytes, seconds, recordsPerSec, bytesPerSec: seconds > 0 ? bytes / seconds : mbPerSec * 1e6, transactions, failed, commitSeconds, initSeconds, complete: complete === 1 }
}

/** The run's result: the last result line of the output, or null. */
export function parseTxnPerfOutput (output: string): TxnPerfResult | null {
  const lines = output.split('\n')
  for (let index = lines.length - 1; index >= 0; index--) {
    const result = parseTxnPerfResultLine(lines[index])
    if (result !== null) return result
  }
  return null
}

/** A progress line: records acknowledged so far and the time since the first produce call. */
export function parseTxnPerfProgressLine (line: string): { delivered: number, transactions: number, elapsedMs: number } | null {
  const fields = fieldsOf(line, 'progress')
  if (fields === null) return null
  const delivered = numberOf(fields, 'delivered')
  const transactions = numberOf(fields, 'transactions')
  const elapsedMs = numberOf(fields, 'elapsed_ms')
  if (delivered === null || transactions === null || elapsedMs === null) return null
  return { delivered, transactions, elapsedMs }
}
