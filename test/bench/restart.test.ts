// The restart scenarios' selection, disk check, ratios and table (bench/lib/restart.ts); the runs themselves need
// a broker and rdkafka_performance and are the bench's (npm run bench -- --scenarios restart-1000p).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ArgsError, parseArgs } from '../../bench/lib/args.ts'
import {
  diskShortfall, kCleanRestartTargetSec, kKillRestartTargetSec, renderRestartTable, restartGigabytes, restartScenarios,
  selectRestartScenarios, targetRatio, type RestartResult
} from '../../bench/lib/restart.ts'

test('restart scenarios run only when named or with --full, and a full name picks that one alone', () => {
  assert.deepEqual(selectRestartScenarios([], 'default'), [])
  assert.deepEqual(selectRestartScenarios([], 'full').map((scenario) => scenario.name), ['restart-1000p'])
  assert.deepEqual(selectRestartScenarios(['restart-1000p'], 'default').map((scenario) => scenario.name), ['restart-1000p'])
  assert.deepEqual(selectRestartScenarios(['restart-1000p-10GB'], 'default').map((scenario) => scenario.name), ['restart-1000p-10GB'])
  assert.deepEqual(selectRestartScenarios(['restart'], 'default').map((scenario) => scenario.name), ['restart-1000p', 'restart-1000p-10GB'])
  assert.deepEqual(selectRestartScenarios(['produce', 'consume'], 'default'), [])
  assert.ok(restartScenarios().every((scenario) => scenario.partitions === 1000))
})

test('--restart-gb sizes restart-1000p (default 1 GB, decimals allowed); the 10 GB scenario keeps its size', () => {
  const [small, large] = restartScenarios()
  assert.equal(restartGigabytes(small, parseArgs([])), 1)
  assert.equal(restartGigabytes(small, parseArgs(['--restart-gb', '0.5'])), 0.5)
  assert.equal(restartGigabytes(large, parseArgs(['--restart-gb=3'])), 10)
  assert.throws(() => parseArgs(['--restart-gb', '0']), ArgsError)
  assert.throws(() => parseArgs(['--restart-gb', 'ten']), ArgsError)
})

test('the fill is refused when the disk has less than 1.2 x its size free, saying how much', () => {
  assert.equal(diskShortfall('/data', 10e9, 12e9), null)
  const refusal = diskShortfall('/data', 10e9, 11.9e9)
  assert.match(refusal ?? '', /not enough free disk space in \/data: 11\.9 GB free, the fill needs 12\.0 GB \(1\.2 x 10\.0 GB\)/)
})

test('ratios are the target over the time to serving: 1.00x or more meets it', () => {
  assert.equal(targetRatio(5, 2.5), 2)
  assert.equal(targetRatio(30, 60), 0.5)
  assert.equal(targetRatio(5, null), null)
  const timing = (servingSec: number, targetSec: number) => ({
    listeningSec: servingSec - 0.1, servingSec, ratio: targetRatio(targetSec, servingSec), targetSec, offsetsMatch: true, brokerSaid: ''
  })
  const result: RestartResult = {
    target: 'shoal w=2', workers: 2, scenario: 'restart-1000p', partitions: 1000, gigabytes: 1, status: 'ok', reason: null,
    fill: { payloadBytes: 1e9, records: 61036, seconds: 3, mibPerSec: 318 }, dataBytes: 1.001e9, recordsPerPartition: { min: 40, max: 81 }, cleanStopSec: 1.5, cleanStopExit: 0,
    clean: timing(2, kCleanRestartTargetSec), topUpRecords: 1000, kill: timing(40, kKillRestartTargetSec), commands: []
  }
  const table = renderRestartTable([result])
  assert.match(table, /shoal w=2 +restart-1000p +1\.0 GB, 1000p \(40-81 records each\)/)
  assert.match(table, /1\.90 \/ 2\.00 +2\.50x met/)
  assert.match(table, /39\.90 \/ 40\.00 +0\.75x NOT met/)
})
