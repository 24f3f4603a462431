// `npm run fuzz -- [--frames N] [--seed S] [--connections C] [--broker HOST:PORT] [--out DIR] [--replay FILE]`
//
// Generates requests for every API and version from the project's own message definitions, well-formed and
// damaged, sends them over several connections at once to a broker (our own 2-worker process by default), checks
// liveness on a fresh connection every few thousand frames, and records the broker's RSS and open fds. Exits 1 on
// any crash, hang or slow liveness check (and, with --max-rss-growth, on RSS not back near its start once the
// fuzz topics are deleted). scripts/fuzz/*.ts holds the generator, mutator, runner and replay.
//
// Flags (defaults in brackets):
//   --frames N [100000]  --seed S [1]  --connections C [4]  --window W [16] frames in flight per connection
//   --broker HOST:PORT   fuzz a running broker instead of starting one   --workers N [2] of the broker we start
//   --out DIR [fuzz-out] where failure files go    --keep K [64] frames kept per connection for them
//   --hang-ms MS [10000]  --liveness-every N [2000]  --liveness-ms MS [1000]
//   --mutate-rate R [0.3]  --loose-rate R [0.15]  --budget BYTES [16384]
//   --apis K,K,...       only these API keys      --keep-going  restart the broker after a crash and go on
//   --max-rss-growth F   fail unless RSS after deleting the topics is within F (0.2 = 20%) of its start
//   --replay FILE [--only C:F]  send a failure file's frames again (one frame with --only) and report
//   --json               print the result as JSON too   --broker-log FILE  append the broker's output to FILE
import { parseArgs } from 'node:util'
import { kDefaultOptions, Runner, summaryLine, type RunOptions } from './fuzz/runner.ts'
import { replay } from './fuzz/replay.ts'
import { brokerLog, externalBroker, startOwnBroker } from './fuzz/broker.ts'

const { values } = parseArgs({
  options: {
    frames: { type: 'string' },
    seed: { type: 'string' },
    connections: { type: 'string' },
    window: { type: 'string' },
    broker: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'string' },
    'hang-ms': { type: 'string' },
    'liveness-every': { type: 'string' },
    'liveness-ms': { type: 'string' },
    'mutate-rate': { type: 'string' },
    'loose-rate': { type: 'string' },
    budget: { type: 'string' },
    apis: { type: 'string' },
    'keep-going': { type: 'boolean' },
    'max-rss-growth': { type: 'string' },
    replay: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'boolean' },
    'broker-log': { type: 'string' }
  }
})

function number (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) {
    process.stderr.write(`fuzz: --${name} must be a number, not ${value}\n`)
    process.exit(2)
  }
  return parsed
}

const log = (line: string): void => { process.stderr.write(line + '\n') }
brokerLog.file = values['broker-log'] ?? null
const workers = number('workers', values.workers, kDefaultOptions.workers)

if (values.replay !== undefined) {
  const target = values.broker !== undefined ? externalBroker(values.broker) : await startOwnBroker(workers)
  const result = await replay(values.replay, target, { only: values.only, quietMs: number('hang-ms', values['hang-ms'], 300), log })
  await target.stop()
  log(`replay: ${result.outcome}: ${result.detail}`)
  process.exit(result.outcome === 'ok' ? 0 : 1)
}

const options: RunOptions = {
  frames: number('frames', values.frames, kDefaultOptions.frames),
  seed: number('seed', values.seed, kDefaultOptions.seed),
  connections: number('connections', values.connections, kDefaultOptions.connections),
  window: number('window', values.window, kDefaultOptions.window),
  hangMs: number('hang-ms', values['hang-ms'], kDefaultOptions.hangMs),
  livenessEvery: number('liveness-every', values['liveness-every'], kDefaultOptions.livenessEvery),
  livenessMs: number('liveness-ms', values['liveness-ms'], kDefaultOptions.livenessMs),
  mutateRate: number('mutate-rate', values['mutate-rate'], kDefaultOptions.mutateRate),
  looseRate: number('loose-rate', values['loose-rate'], kDefaultOptions.looseRate),
  budget: number('budget', values.budget, kDefaultOptions.budget),
  keep: number('keep', values.keep, kDefaultOptions.keep),
  out: values.out ?? kDefaultOptions.out,
  apis: values.apis === undefined ? null : new Set(values.apis.split(',').map(Number)),
  broker: values.broker ?? null,
  workers,
  keepGoing: values['keep-going'] === true,
  log
}
const result = await new Runner(options).run()
process.stdout.write(summaryLine(result) + '\n')
for (const failure of result.failures) process.stdout.write(`  ${failure.kind} at frame ${failure.atFrame}: ${failure.detail.split('\n')[0]}${failure.file === null ? '' : ` -> ${failure.file}`}\n`)
for (const [kind, n] of result.brokerErrorKinds) process.stdout.write(`  broker error x${n}: ${kind}\n`)
for (const example of result.badResponseExamples) process.stdout.write(`  undecodable answer: ${example}\n`)
if (values.json === true) process.stdout.write(JSON.stringify(result) + '\n')
let failed = result.crashes + result.hangs + result.slowLiveness > 0
const growth = values['max-rss-growth']
if (growth !== undefined && result.rss.start > 0) {
  const limit = result.rss.start * (1 + Number(growth))
  if (result.rss.afterDelete > limit) {
    process.stdout.write(`  rss after deleting the topics ${result.rss.afterDelete} MiB is more than ${Math.round(limit)} MiB (start ${result.rss.start} MiB + ${Number(growth) * 100}%)\n`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
