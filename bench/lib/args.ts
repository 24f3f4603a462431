// Command line of `npm run bench -- [flags] [-- broker flags]`. Pure: unit-tested in test/bench/args.test.ts.
//
// Flags this file does not know are passed to every Shoal broker the bench starts (`--ring-bytes 4194304`,
// `--segment-bytes=...`), as is everything after a lone `--`. An unknown flag takes the next word as its value
// unless that word starts with `-`; write `--flag=value` when in doubt.

export type ToolName = 'rdkafka' | 'kafka'
export const kToolNames: readonly ToolName[] = ['rdkafka', 'kafka']

export interface BenchOptions {
  mode: 'load' | 'micro' | 'help' | 'list'
  /** Worker counts to sweep; null: one broker with the number of cores. */
  workers: number[] | null
  /** Records per run; null: sized per scenario (see recordsFor). */
  records: number | null
  /** Each load generator run is stopped (SIGINT, then SIGKILL) after this many seconds. */
  durationSec: number
  repeat: number
  /** Scenario name patterns (`*` globs, or substrings); empty: all of the matrix. */
  scenarios: string[]
  matrix: 'default' | 'full'
  tools: ToolName[]
  /** Another Kafka-compatible broker to run the same loads against. */
  against: string | null
  /** Run the loads against librdkafka's mock cluster too (the ceiling). */
  ceiling: boolean
  /** Run the loads against Shoal (off only to look at the other targets alone). */
  shoal: boolean
  /** linger.ms given to the producers (rdkafka_performance sets 1000 unless told). */
  lingerMs: number
  /** Messages per second of the e2e producer. */
  latencyRate: number
  /** Rate scenarios: seconds the paced run should last at half the maximum rate (it sends rate x seconds records). */
  rateSeconds: number
  /** Rate scenarios: linger.ms of the paced run (the flat-out run uses lingerMs, as produce does). */
  rateLingerMs: number
  /** Time fdatasync on the brokers' data disk before the loads (load mode only). */
  diskProbe: boolean
  diskProbeSeconds: number
  /** Seconds a group consumer gets to be assigned partitions and finish. */
  groupTimeoutSec: number
  /** restart-1000p: GB (10^9 bytes) of payload to fill its topic with before the restarts. */
  restartGb: number
  /** maintenance: MiB of keyed records per partition of its compacted topic (the clean's size). */
  maintenanceMib: number
  /** Result file; null: bench/results/<date>-<commit>.json. */
  out: string | null
  /** Parent directory of the brokers' data directories; null: the OS temp dir. */
  dataDir: string | null
  brokerArgs: string[]
  kafkaHome: string | null
  rdkafkaPerf: string | null
  /** Micro-benchmarks: rewrite the baseline, which file, and the time budget per case. */
  updateBaseline: boolean
  baseline: string
  microTimeMs: number
  microFilter: string[]
}

export class ArgsError extends Error {}

export function defaultOptions (): BenchOptions {
  return {
    mode: 'load',
    workers: null,
    records: null,
    durationSec: 60,
    repeat: 3,
    scenarios: [],
    matrix: 'default',
    tools: [...kToolNames],
    against: null,
    ceiling: true,
    shoal: true,
    lingerMs: 5,
    latencyRate: 5000,
    rateSeconds: 6,
    rateLingerMs: 1,
    diskProbe: true,
    diskProbeSeconds: 3,
    groupTimeoutSec: 20,
    restartGb: 1,
    maintenanceMib: 24,
    out: null,
    dataDir: null,
    brokerArgs: [],
    kafkaHome: null,
    rdkafkaPerf: null,
    updateBaseline: false,
    baseline: 'bench/baseline/micro.json',
    microTimeMs: 300,
    microFilter: []
  }
}

export const kUsage = `usage: npm run bench -- [flags] [-- broker flags]

Load (default): starts Shoal, creates topics, runs rdkafka_performance and Kafka's perf tools, prints a table
and writes bench/results/<date>-<commit>.json.
  --workers LIST         worker counts to sweep, e.g. 1,2,4 (default: the number of cores)
  --records N            records per run (default: 300000 of 100 B, 60000 of 1 KiB, 20000 end to end;
                         a rate row's flat-out run 1000000 of 100 B, 200000 of 1 KiB)
  --duration S           stop each load generator run after S seconds (default 60)
  --repeat N             runs per scenario; the table shows medians (default 3)
  --scenarios LIST       scenario names or globs, e.g. 'produce-*-8p,consume' (see --list)
  --full                 the full matrix instead of the default set
  --list                 print the scenarios and exit
  --tools LIST           rdkafka,kafka (default both)
  --against HOST:PORT    run the same loads against another Kafka-compatible broker and print the ratio
  --no-ceiling           skip librdkafka's mock cluster (the ceiling)
  --no-shoal             skip Shoal (look at the other targets alone)
  --linger-ms N          producers' linger.ms (default 5)
  --latency-rate N       messages per second of the end-to-end latency producer (default 5000)
  --rate-seconds S       rate scenarios: length of the run paced at half the maximum rate (default 6)
  --rate-linger-ms N     rate scenarios: linger.ms of the paced run (default 1)
  --disk-probe-seconds S time fdatasync of 64 KiB writes on the data disk for S seconds first (default 3)
  --no-disk-probe        skip that probe
  --group-timeout S      seconds a group consumer may wait for its assignment (default 20)
  --restart-gb N         restart-1000p: GB of data to fill 1,000 partitions with before timing the restarts
                         (default 1; restart-1000p-10GB always fills 10); restart-* run only when named or --full
  --maintenance-mib N    maintenance: MiB of keyed records per partition of the topic it compacts (default 24)
  --data-dir DIR         where brokers keep their data (default: a temp dir, removed afterwards)
  --out FILE             result file
  --kafka-home DIR       Apache Kafka installation (default: $KAFKA_HOME, else the PATH)
  --rdkafka-perf PATH    rdkafka_performance binary (default: bench/.build/rdkafka_performance, built on demand)
Micro-benchmarks:
  --micro                frame decode, batch validation, ring hand-off, segment append, codecs
  --micro-filter LIST    only cases whose names contain one of these
  --micro-time MS        time budget per case (default 300)
  --baseline FILE        baseline to compare with (default bench/baseline/micro.json)
  --update-baseline      rewrite the baseline with this run
Any other flag (and everything after a lone --) is passed to the Shoal brokers.`

function parsePositiveInteger (flag: string, value: string, min = 1): number {
  if (!/^\d+$/.test(value)) throw new ArgsError(`${flag} wants an integer, got '${value}'`)
  const number = Number(value)
  if (number < min) throw new ArgsError(`${flag} must be >= ${min}, got ${value}`)
  return number
}

/** A number above 0, decimals allowed (`0.5`, `10`). */
function parsePositiveNumber (flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || !(Number(value) > 0)) throw new ArgsError(`${flag} wants a number above 0, got '${value}'`)
  return Number(value)
}

/** `1,2,4` -> [1, 2, 4]; ranges `1-4` -> [1, 2, 3, 4]; duplicates removed, order kept. */
export function parseIntegerList (flag: string, value: string): number[] {
  const result: number[] = []
  for (const part of value.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    const range = /^(\d+)-(\d+)$/.exec(part)
    if (range !== null) {
      const from = parsePositiveInteger(flag, range[1])
      const to = parsePositiveInteger(flag, range[2])
      if (to < from) throw new ArgsError(`${flag}: empty range ${part}`)
      for (let number = from; number <= to; number++) result.push(number)
    } else {
      result.push(parsePositiveInteger(flag, part))
    }
  }
  if (result.length === 0) throw new ArgsError(`${flag} wants a list of integers`)
  return [...new Set(result)]
}

function parseList (value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

/** HOST:PORT with a port in 1..65535 (IPv6 hosts in brackets). */
export function parseHostPort (flag: string, value: string): string {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(value)
  if (match === null) throw new ArgsError(`${flag} wants HOST:PORT, got '${value}'`)
  const port = Number(match[2])
  if (port < 1 || port > 65535) throw new ArgsError(`${flag}: port out of range in '${value}'`)
  return value
}

const kBooleanFlags = new Set(['--micro', '--update-baseline', '--no-ceiling', '--no-shoal', '--no-disk-probe', '--list',
  '--help', '-h', '--full'])
const kValueFlags = new Set(['--workers', '--records', '--duration', '--repeat', '--scenarios', '--tools', '--against',
  '--linger-ms', '--latency-rate', '--rate-seconds', '--rate-linger-ms', '--disk-probe-seconds', '--group-timeout', '--restart-gb', '--maintenance-mib',
  '--data-dir', '--out', '--kafka-home', '--rdkafka-perf', '--baseline', '--micro-time', '--micro-filter', '--matrix'])

export function parseArgs (argv: readonly string[]): BenchOptions {
  const options = defaultOptions()
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]
    if (arg === '--') {
      options.brokerArgs.push(...argv.slice(index + 1))
      break
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    if (kBooleanFlags.has(flag)) {
      if (eq > 0) throw new ArgsError(`${flag} takes no value`)
      switch (flag) {
        case '--micro': options.mode = 'micro'; break
        case '--update-baseline': options.updateBaseline = true; options.mode = 'micro'; break
        case '--no-ceiling': options.ceiling = false; break
        case '--no-shoal': options.shoal = false; break
        case '--no-disk-probe': options.diskProbe = false; break
        case '--list': options.mode = 'list'; break
        case '--full': options.matrix = 'full'; break
        default: options.mode = 'help'
      }
      continue
    }
    if (kValueFlags.has(flag)) {
      let value: string
      if (eq > 0) {
        value = arg.slice(eq + 1)
      } else {
        if (index + 1 >= argv.length) throw new ArgsError(`${flag} wants a value`)
        value = argv[++index]
      }
      switch (flag) {
        case '--workers': options.workers = parseIntegerList(flag, value); break
        case '--records': options.records = parsePositiveInteger(flag, value); break
        case '--duration': options.durationSec = parsePositiveInteger(flag, value); break
        case '--repeat': options.repeat = parsePositiveInteger(flag, value); break
        case '--scenarios': options.scenarios = parseList(value); break
        case '--matrix':
          if (value !== 'default' && value !== 'full') throw new ArgsError(`--matrix is default or full, got '${value}'`)
          options.matrix = value
          break
        case '--tools': {
          const tools = parseList(value)
          for (const tool of tools) {
            if (!(kToolNames as readonly string[]).includes(tool)) throw new ArgsError(`--tools: unknown tool '${tool}' (${kToolNames.join(', ')})`)
          }
          if (tools.length === 0) throw new ArgsError('--tools wants at least one tool')
          options.tools = [...new Set(tools)] as ToolName[]
          break
        }
        case '--against': options.against = parseHostPort(flag, value); break
        case '--linger-ms': options.lingerMs = parsePositiveInteger(flag, value, 0); break
        case '--latency-rate': options.latencyRate = parsePositiveInteger(flag, value); break
        case '--rate-seconds': options.rateSeconds = parsePositiveInteger(flag, value); break
        case '--rate-linger-ms': options.rateLingerMs = parsePositiveInteger(flag, value, 0); break
        case '--disk-probe-seconds': options.diskProbeSeconds = parsePositiveInteger(flag, value); break
        case '--group-timeout': options.groupTimeoutSec = parsePositiveInteger(flag, value); break
        case '--restart-gb': options.restartGb = parsePositiveNumber(flag, value); break
        case '--maintenance-mib': options.maintenanceMib = parsePositiveInteger(flag, value); break
        case '--data-dir': options.dataDir = value; break
        case '--out': options.out = value; break
        case '--kafka-home': options.kafkaHome = value; break
        case '--rdkafka-perf': options.rdkafkaPerf = value; break
        case '--baseline': options.baseline = value; break
        case '--micro-time': options.microTimeMs = parsePositiveInteger(flag, value); break
        case '--micro-filter': options.microFilter = parseList(value); break
      }
      continue
    }
    if (arg.startsWith('-')) {
      // A broker flag: with its value when the next word is not a flag.
      options.brokerArgs.push(arg)
      if (eq < 0 && index + 1 < argv.length && !argv[index + 1].startsWith('-')) options.brokerArgs.push(argv[++index])
      continue
    }
    throw new ArgsError(`unexpected argument '${arg}'`)
  }
  for (const arg of options.brokerArgs) {
    if (arg === '--workers' || arg.startsWith('--workers=')) throw new ArgsError('give --workers to the bench (it sweeps them), not after --')
    if (arg === '--listen' || arg.startsWith('--listen=') || arg === '--data-dir' || arg.startsWith('--data-dir=')) {
      throw new ArgsError(`${arg.split('=')[0]} is set by the bench`)
    }
  }
  if (!options.shoal && !options.ceiling && options.against === null && options.mode === 'load') {
    throw new ArgsError('nothing to measure: --no-shoal and --no-ceiling without --against')
  }
  return options
}
