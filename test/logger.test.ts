import { test, mock } from 'node:test'
import assert from 'node:assert/strict'
import { Logger } from '../src/logger.ts'
import { startBroker, waitFor } from './helpers/broker.ts'
import { KafkaClient } from './helpers/kafka-client.ts'

function capture (): { lines: string[], write: (line: string) => void } {
  const lines: string[] = []
  return { lines, write: (line) => lines.push(line) }
}

test('the text format stays `time LEVEL [thread] message`, one line per entry', () => {
  const out = capture()
  const logger = new Logger('debug', 'worker-3', { write: out.write })
  logger.info('hello', { ignored: 1 })
  logger.debug('details')
  logger.error('bad')
  assert.equal(out.lines.length, 3)
  assert.match(out.lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[worker-3\] hello\n$/)
  assert.match(out.lines[1], /^\S+ DEBUG \[worker-3\] details\n$/)
  assert.match(out.lines[2], /^\S+ ERROR \[worker-3\] bad\n$/)
})

test('the json format writes one pino object per line with level, time, thread, msg and the fields given', () => {
  const out = capture()
  const logger = new Logger('debug', 'main', { format: 'json', write: out.write })
  const before = Date.now()
  logger.info('ApiVersions v3: 1 ms', { api: 'ApiVersions', apiVersion: 3, clientId: null, latencyMs: 1.25 })
  logger.warn('100% full, %s %d untouched')
  logger.debug('multi\nline "quoted"')
  logger.error('failed')
  assert.equal(out.lines.length, 4)
  for (const line of out.lines) {
    assert.ok(line.endsWith('\n') && line.indexOf('\n') === line.length - 1, `one line: ${JSON.stringify(line)}`)
  }
  const [info, warn, debug, error] = out.lines.map((line) => JSON.parse(line))
  assert.equal(info.level, 30)
  assert.ok(typeof info.time === 'number' && info.time >= before && info.time <= Date.now() + 1)
  assert.equal(info.thread, 'main')
  assert.equal(info.pid, process.pid)
  assert.equal(typeof info.hostname, 'string')
  assert.equal(info.msg, 'ApiVersions v3: 1 ms')
  assert.equal(info.api, 'ApiVersions')
  assert.equal(info.apiVersion, 3)
  assert.equal(info.clientId, null)
  assert.equal(info.latencyMs, 1.25)
  // pino's printf-style interpolation needs arguments: a message is taken as it is.
  assert.equal(warn.level, 40)
  assert.equal(warn.msg, '100% full, %s %d untouched')
  assert.equal(debug.level, 20)
  assert.equal(debug.msg, 'multi\nline "quoted"')
  assert.equal(error.level, 50)
})

test('levels filter in both formats, and setLevel and debugEnabled follow the level', () => {
  for (const format of ['text', 'json'] as const) {
    const out = capture()
    const logger = new Logger('warn', 'main', { format, write: out.write })
    assert.equal(logger.debugEnabled, false)
    assert.equal(logger.enabled('warn'), true)
    assert.equal(logger.enabled('info'), false)
    logger.debug('no')
    logger.info('no')
    logger.limited('k', 'info', 'no')
    logger.warn('yes')
    logger.error('yes')
    assert.equal(out.lines.length, 2, format)
    logger.setLevel('debug')
    assert.equal(logger.debugEnabled, true)
    logger.debug('now')
    assert.equal(out.lines.length, 3, format)
    logger.setLevel('error')
    logger.warn('no')
    assert.equal(out.lines.length, 3, format)
  }
})

test('limited keeps at most 10 lines a second per key, and the next second says how many were left out', (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  t.after(() => mock.timers.reset())
  for (const format of ['text', 'json'] as const) {
    const out = capture()
    const logger = new Logger('info', 'main', { format, write: out.write })
    for (let i = 0; i < 25; i++) logger.limited('refused', 'warn', `refused ${i}`, { attempt: i })
    logger.limited('other', 'warn', 'another key')
    assert.equal(out.lines.length, 11, format)
    mock.timers.tick(1000)
    logger.limited('refused', 'warn', 'refused again', { attempt: 25 })
    assert.equal(out.lines.length, 12, format)
    const last = out.lines[11]
    if (format === 'text') {
      assert.match(last, /WARN {2}\[main\] refused again \(15 more like it left out\)\n$/)
    } else {
      const entry = JSON.parse(last)
      assert.equal(entry.msg, 'refused again (15 more like it left out)')
      assert.equal(entry.suppressed, 15)
      assert.equal(entry.attempt, 25)
      assert.equal(JSON.parse(out.lines[0]).attempt, 0)
    }
  }
})

test('a broker with --log-format json --log-level debug logs only JSON lines, one per request answered', async () => {
  const broker = await startBroker({ workers: 2, args: ['--log-format', 'json', '--log-level', 'debug'] })
  let stopped = false
  try {
    const client = await KafkaClient.to(broker.bootstrap, 'log-format-test')
    try {
      await client.request(18, 3, { clientSoftwareName: 'shoal-test', clientSoftwareVersion: '1' })
      // A version the broker does not know: answered in v0 with UNSUPPORTED_VERSION (35).
      const unsupported = await client.request(18, 99, Buffer.alloc(0), { responseVersion: 0 })
      assert.equal(unsupported.errorCode, 35)
    } finally {
      client.close()
    }
    const requestLines = (): any[] => entries(broker.output()).filter((e) => e.api === 'ApiVersions' && e.clientId === 'log-format-test')
    await waitFor(() => requestLines().length === 2, 20_000, `two ApiVersions request lines:\n${broker.output()}`)
    const [ok, refused] = requestLines().sort((a, b) => a.correlationId - b.correlationId)
    assert.equal(ok.level, 20)
    assert.match(ok.thread, /^worker-[01]$/)
    assert.equal(ok.apiVersion, 3)
    assert.equal(ok.correlationId, 1)
    assert.equal(ok.errorCode, 0)
    assert.ok(typeof ok.latencyMs === 'number' && ok.latencyMs >= 0)
    assert.match(ok.remote, /^127\.0\.0\.1:\d+$/)
    assert.match(ok.msg, /^ApiVersions v3 from client "log-format-test" \(127\.0\.0\.1:\d+\), correlation id 1: [\d.]+ ms$/)
    assert.equal(refused.apiVersion, 99)
    assert.equal(refused.correlationId, 2)
    assert.equal(refused.errorCode, 35)
    assert.match(refused.msg, /: UNSUPPORTED_VERSION \(35\)$/)
    await broker.stop()
    stopped = true
    assert.equal(broker.process.exitCode, 0, broker.output())
    // Everything but the stdout lines scripts wait for is JSON, the shutdown lines included.
    const all = entries(broker.output())
    assert.ok(all.some((e) => e.thread === 'main' && e.level === 30 && /shut down cleanly/.test(e.msg)), broker.output())
  } finally {
    if (!stopped) await broker.stop()
  }
})

/** Every line of a broker's output parsed as JSON, but for its `listening on` line (which must be there). */
function entries (output: string): any[] {
  const lines = output.split('\n').filter((line) => line !== '')
  assert.ok(lines.some((line) => /^listening on \S+:\d+$/.test(line)), output)
  return lines.filter((line) => !/^(listening|metrics) on \S+:\d+$/.test(line)).map((line) => {
    try {
      return JSON.parse(line)
    } catch {
      assert.fail(`not a JSON line: ${line}`)
    }
  })
}
