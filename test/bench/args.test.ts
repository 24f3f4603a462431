// The bench's command line and scenario selection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ArgsError, defaultOptions, kUsage, parseArgs, parseHostPort, parseIntegerList } from '../../bench/lib/args.ts'
import { allScenarios, defaultScenarios, fullScenarios, javaShapedScenarios, matchesPattern, recordsFor, scenarioName, selectScenarios } from '../../bench/lib/scenarios.ts'
import { RdkafkaRunner } from '../../bench/lib/loads.ts'

test('no flags: the defaults', () => {
  assert.deepEqual(parseArgs([]), defaultOptions())
  assert.equal(defaultOptions().repeat, 3)
  assert.deepEqual(defaultOptions().tools, ['rdkafka', 'kafka'])
})

test('bench flags, in both --flag value and --flag=value forms', () => {
  const options = parseArgs(['--workers', '1,2,4', '--records=5000', '--duration', '30', '--repeat', '5',
    '--scenarios', 'produce-*-8p, consume', '--tools', 'rdkafka', '--against', 'kafka.local:9092', '--no-ceiling',
    '--linger-ms', '0', '--latency-rate=2000', '--group-timeout', '7', '--out', 'x.json', '--full'])
  assert.deepEqual(options.workers, [1, 2, 4])
  assert.equal(options.records, 5000)
  assert.equal(options.durationSec, 30)
  assert.equal(options.repeat, 5)
  assert.deepEqual(options.scenarios, ['produce-*-8p', 'consume'])
  assert.deepEqual(options.tools, ['rdkafka'])
  assert.equal(options.against, 'kafka.local:9092')
  assert.equal(options.ceiling, false)
  assert.equal(options.lingerMs, 0)
  assert.equal(options.latencyRate, 2000)
  assert.equal(options.groupTimeoutSec, 7)
  assert.equal(options.out, 'x.json')
  assert.equal(options.matrix, 'full')
  assert.equal(options.mode, 'load')
})

test('rate and disk probe flags', () => {
  const defaults = defaultOptions()
  assert.equal(defaults.rateSeconds, 6)
  assert.equal(defaults.rateLingerMs, 1)
  assert.equal(defaults.diskProbe, true)
  assert.equal(defaults.diskProbeSeconds, 3)
  const options = parseArgs(['--rate-seconds', '10', '--rate-linger-ms=0', '--disk-probe-seconds', '5', '--no-disk-probe'])
  assert.equal(options.rateSeconds, 10)
  assert.equal(options.rateLingerMs, 0)
  assert.equal(options.diskProbeSeconds, 5)
  assert.equal(options.diskProbe, false)
  assert.deepEqual(options.brokerArgs, [])
  for (const argv of [['--rate-seconds', '0'], ['--rate-seconds', '1.5'], ['--rate-linger-ms', '-1'], ['--disk-probe-seconds', '0'],
    ['--no-disk-probe=1']]) {
    assert.throws(() => parseArgs(argv), ArgsError, argv.join(' '))
  }
})

test('modes: --micro, --update-baseline (implies --micro), --list, --help', () => {
  assert.equal(parseArgs(['--micro']).mode, 'micro')
  const update = parseArgs(['--update-baseline', '--micro-time', '50', '--micro-filter', 'ring,decode'])
  assert.equal(update.mode, 'micro')
  assert.equal(update.updateBaseline, true)
  assert.equal(update.microTimeMs, 50)
  assert.deepEqual(update.microFilter, ['ring', 'decode'])
  assert.equal(parseArgs(['--list']).mode, 'list')
  assert.equal(parseArgs(['-h']).mode, 'help')
})

test('unknown flags and everything after -- go to the broker', () => {
  const options = parseArgs(['--ring-bytes', '4194304', '--segment-bytes=1048576', '--repeat', '1', '--auto-create-topics', '--', '--log-level', 'debug', '--x'])
  assert.deepEqual(options.brokerArgs, ['--ring-bytes', '4194304', '--segment-bytes=1048576', '--auto-create-topics', '--log-level', 'debug', '--x'])
  assert.equal(options.repeat, 1)
})

test('bad values are refused with a message', () => {
  for (const argv of [['--repeat', '0'], ['--repeat', 'x'], ['--records'], ['--workers', ''], ['--workers', '2-1'],
    ['--tools', 'jmeter'], ['--against', 'nohost'], ['--against', 'h:70000'], ['--micro=yes'], ['stray'],
    ['--', '--workers', '2'], ['--listen', '0.0.0.0:1'], ['--no-shoal', '--no-ceiling'], ['--matrix', 'big']]) {
    assert.throws(() => parseArgs(argv), ArgsError, argv.join(' '))
  }
})

test('integer lists take ranges and drop duplicates; host:port takes bracketed IPv6', () => {
  assert.deepEqual(parseIntegerList('--workers', '1-3,2,8'), [1, 2, 3, 8])
  assert.equal(parseHostPort('--against', '[::1]:9092'), '[::1]:9092')
})

test('scenario names, patterns and selection', () => {
  assert.equal(scenarioName({ kind: 'produce', recordSize: 1024, acks: -1, compression: 'zstd', partitions: 8 }), 'produce-1KiB-acksall-zstd-8p')
  assert.equal(scenarioName({ kind: 'consume', recordSize: 100, acks: 1, compression: 'none', partitions: 1 }), 'consume-100B-1p')
  assert.ok(matchesPattern('produce-100B-acks1-none-8p', 'produce-*-8p'))
  assert.ok(!matchesPattern('produce-100B-acks1-none-1p', 'produce-*-8p'))
  assert.ok(matchesPattern('consume-1KiB-8p', 'consume'))
  const all = defaultScenarios()
  assert.equal(new Set(all.map((scenario) => scenario.name)).size, all.length)
  assert.deepEqual(selectScenarios(all, []), all)
  assert.deepEqual(selectScenarios(all, ['e2e', 'group']).map((scenario) => scenario.kind), ['e2e', 'group'])
  const full = fullScenarios()
  assert.equal(new Set(full.map((scenario) => scenario.name)).size, full.length)
  assert.equal(full.filter((scenario) => scenario.kind === 'produce').length, 24)
})

test('rate scenarios: named like produce, in the default set once and in the full matrix for both sizes', () => {
  assert.equal(scenarioName({ kind: 'rate', recordSize: 100, acks: -1, compression: 'none', partitions: 1 }), 'rate-100B-acksall-none-1p')
  assert.deepEqual(selectScenarios(defaultScenarios(), ['rate']).map((scenario) => scenario.name), ['rate-100B-acksall-none-1p'])
  assert.deepEqual(selectScenarios(fullScenarios(), ['rate-*']).map((scenario) => scenario.name),
    ['rate-100B-acksall-none-1p', 'rate-1KiB-acksall-none-1p'])
  // 'produce' patterns do not pick the rate rows, nor 'rate' the produce rows.
  assert.ok(selectScenarios(defaultScenarios(), ['produce']).every((scenario) => scenario.kind === 'produce'))
  const [rate] = selectScenarios(defaultScenarios(), ['rate'])
  const [produce] = selectScenarios(defaultScenarios(), ['produce-100B-acksall-none-1p'])
  // The flat-out run of a rate row is longer than a produce row's, so one stall does not set its pace.
  assert.equal(recordsFor(rate, null), 1_000_000)
  assert.ok(recordsFor(rate, null) > recordsFor(produce, null))
  assert.equal(recordsFor(rate, 5000), 5000)
})

test('the Java-shaped rows: in both sets once, named by their batch.size, given to each tool as its settings', () => {
  const shaped = javaShapedScenarios()
  assert.deepEqual(shaped.map((scenario) => scenario.name), [
    'produce-1KiB-acksall-none-1p-batch16KiB', 'produce-1KiB-acksall-none-1p-batch256KiB', 'produce-1KiB-acks1-none-1p-batch16KiB',
    'produce-1KiB-acksall-none-8p-batch16KiB', 'produce-100B-acksall-none-1p-batch16KiB', 'consume-1KiB-1p'])
  for (const matrix of ['default', 'full'] as const) {
    const names = allScenarios(matrix).map((scenario) => scenario.name)
    assert.equal(new Set(names).size, names.length, `${matrix}: a row twice`)
    for (const scenario of shaped) assert.ok(names.includes(scenario.name), `${matrix} lacks ${scenario.name}`)
    assert.ok(names.includes('txn-produce-100B-4p'))
  }
  // A pattern naming a plain row does not pick its Java-shaped sibling, a 'batch' pattern picks only them.
  assert.deepEqual(selectScenarios(allScenarios('default'), ['produce-1KiB-acksall-none-1p']).length, 3)
  assert.ok(selectScenarios(allScenarios('default'), ['*batch*']).every((scenario) => scenario.batchBytes !== undefined))
  assert.deepEqual(RdkafkaRunner.shapeArgs(shaped[0]), ['-X', 'batch.size=16384', '-X', 'max.in.flight=5', '-X', 'enable.idempotence=false'])
  assert.deepEqual(RdkafkaRunner.shapeArgs(defaultScenarios()[0]), [])
})

test('records per run: --records wins, otherwise sized by record size and kind', () => {
  const [small] = selectScenarios(defaultScenarios(), ['produce-100B-acks1-none-1p'])
  const [large] = selectScenarios(defaultScenarios(), ['produce-1KiB-acks1-none-1p'])
  const [e2e] = selectScenarios(defaultScenarios(), ['e2e'])
  assert.equal(recordsFor(small, 10), 10)
  assert.ok(recordsFor(small, null) > recordsFor(large, null))
  assert.ok(recordsFor(e2e, null) < recordsFor(large, null))
})

test('bench/README.md documents every flag of the usage text', () => {
  const readme = readFileSync(new URL('../../bench/README.md', import.meta.url), 'utf8')
  const flags = new Set(kUsage.match(/--[a-z][a-z-]*/g))
  assert.ok(flags.size > 20)
  for (const flag of flags) assert.ok(readme.includes(flag), `bench/README.md lacks ${flag}`)
})
