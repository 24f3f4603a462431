// `npm test` runs this first (package.json "pretest"): the interop tests drive real clients, and without them a
// fresh clone fails twenty-odd tests one by one. This looks for each of them up front and, when any is missing,
// stops the run with one message that names what is missing and the command that installs it.
//
// What the tests need (grep test/ for kcat, python3, confluent_kafka):
//   kcat                     test/interop/kcat*.test.ts, kafkajs-transactions, issues/librdkafka-lz4-*  (KCAT overrides)
//   /usr/bin/python3 with    test/interop/confluent-*.test.ts, idempotent-retry, kip848: Debian's python3-confluent-kafka,
//     confluent_kafka        never the `python3` on PATH (a virtualenv's has no librdkafka binding)
//   kafkajs, @platformatic/kafka   node_modules (devDependencies)
// librdkafka-dev (headers) and gcc build rdkafka_performance for `npm run bench` (scripts/build-rdkafka-perf.sh);
// no test builds or runs those binaries (test/bench/ parses captured output), so they are not checked here.
// `npm run setup` installs the Debian packages, the same ones .ci/run installs.
//
//   node scripts/check-test-prerequisites.ts     exit 0 (silent) when all is there, else exit 1 with the message
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const kRepoRoot = fileURLToPath(new URL('..', import.meta.url))

/** One thing the tests need, and how to get it. */
export interface Prerequisite {
  /** What the message names: `kcat (on PATH)`. */
  readonly what: string
  /** Where it comes from: a Debian package (apt-get) or the project's npm install. */
  readonly from: { readonly apt: string } | { readonly npm: true }
  /** Whether it is there. */
  present (): boolean
}

/** Whether `command` runs: an absolute path that is executable, or a name found on `path`. */
export function findExecutable (command: string, path: string | undefined): boolean {
  const candidates = isAbsolute(command) ? [command] : (path ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, command))
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      // next
    }
  }
  return false
}

export function defaultPrerequisites (env: NodeJS.ProcessEnv = process.env, root = kRepoRoot): Prerequisite[] {
  const kcat = env.KCAT ?? 'kcat'
  const python = '/usr/bin/python3'
  return [
    { what: `${kcat} (on PATH)`, from: { apt: 'kcat' }, present: () => findExecutable(kcat, env.PATH) },
    // test/net/tls-certificates.ts makes the TLS tests' CA and certificates with it.
    { what: 'openssl (on PATH)', from: { apt: 'openssl' }, present: () => findExecutable('openssl', env.PATH) },
    {
      what: `${python} with confluent_kafka`,
      from: { apt: 'python3-confluent-kafka' },
      present: () => existsSync(python) && spawnSync(python, ['-c', 'import confluent_kafka'], { stdio: 'ignore', timeout: 30_000 }).status === 0
    },
    ...['kafkajs', '@platformatic/kafka'].map((name): Prerequisite => ({
      what: `node_modules/${name}`,
      from: { npm: true },
      present: () => existsSync(join(root, 'node_modules', name, 'package.json'))
    }))
  ]
}

/** The Debian packages .ci/run installs; `npm run setup` installs the same. */
export const kAptPackages = 'kcat librdkafka-dev python3-confluent-kafka openssl'

/** null when everything is there, else the one message for the whole run. */
export function checkPrerequisites (prerequisites: readonly Prerequisite[]): string | null {
  const missing = prerequisites.filter((prerequisite) => !prerequisite.present())
  if (missing.length === 0) return null
  const apt = missing.some((m) => 'apt' in m.from)
  const npm = missing.some((m) => 'npm' in m.from)
  const commands: string[] = []
  if (npm) commands.push('npm install')
  if (apt) commands.push('npm run setup')
  const lines = [
    `npm test: the tests need ${missing.map((m) => m.what + ('apt' in m.from ? ` (Debian package ${m.from.apt})` : '')).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} missing.`,
    `Install ${missing.length === 1 ? 'it' : 'them'} with: ${commands.join(' && ')}`
  ]
  if (apt) lines.push(`(npm run setup runs: sudo apt-get update && sudo apt-get install -y ${kAptPackages}, as .ci/run does)`)
  return lines.join('\n')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const message = checkPrerequisites(defaultPrerequisites())
  if (message !== null) {
    process.stderr.write(message + '\n')
    process.exit(1)
  }
}
