// The parser of bench/rdkafka/txn-perf.c's output (bench/lib/parse-txn-perf.ts), on lines in the tool's format.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTxnPerfOutput, parseTxnPerfResultLine } from '../../bench/lib/parse-txn-perf.ts'

const kResult = 'result mode=transactional records=300000 bytes=30000000 seconds=2.5 records_per_sec=120000 mb_per_sec=12.00 transactions=300 failed=0 commit_seconds=1.25 init_seconds=0.01 complete=1'

test('a result line gives every field, bytes per second from bytes and seconds', () => {
  assert.deepEqual(parseTxnPerfResultLine(kResult), {
    mode: 'transactional', records: 300000, bytes: 30000000, seconds: 2.5, recordsPerSec: 120000, bytesPerSec: 12_000_000,
    transactions: 300, failed: 0, commitSeconds: 1.25, initSeconds: 0.01, complete: true
  })
})

test('lines that are not whole result lines are not results', () => {
  assert.equal(parseTxnPerfResultLine('progress sent=34816 delivered=34000 transactions=34 elapsed_ms=1000'), null)
  assert.equal(parseTxnPerfResultLine(kResult.replace('mode=transactional', 'mode=other')), null)
  assert.equal(parseTxnPerfResultLine(kResult.replace(' failed=0', '')), null)
  assert.equal(parseTxnPerfResultLine(kResult.replace('seconds=2.5', 'seconds=abc')), null)
})

test('the output\'s last result line wins; a stopped run is not complete', () => {
  const stopped = kResult.replace('complete=1', 'complete=0').replace('mode=transactional', 'mode=idempotent')
  const parsed = parseTxnPerfOutput(`progress sent=1 delivered=1 transactions=0 elapsed_ms=10\n${kResult}\n${stopped}\n`)
  assert.equal(parsed?.mode, 'idempotent')
  assert.equal(parsed?.complete, false)
  assert.equal(parseTxnPerfOutput('nothing here\n'), null)
})
