// Readers for the deployment files, so that tests start the broker exactly as they do (test/deploy.test.ts):
// the subset of Dockerfile syntax and of systemd unit syntax that Dockerfile and deploy/systemd/shoal.service
// use. Anything outside that subset throws, rather than being read differently from Docker or systemd: a
// shell-form ENTRYPOINT (which would run /bin/sh as PID 1, and it does not pass SIGTERM on), an unknown unit
// specifier, an unterminated quote.
import { hostname } from 'node:os'

// ---- Dockerfile ----

export interface DockerImage {
  /** The final stage's ENV, in order (later settings of a name replace earlier ones). */
  readonly env: ReadonlyMap<string, string>
  readonly workdir: string
  /** Exec form (JSON arrays) only. */
  readonly entrypoint: readonly string[]
  readonly cmd: readonly string[]
  readonly healthcheck: { readonly options: ReadonlyMap<string, string>, readonly command: readonly string[] } | null
  readonly stopSignal: string | null
  readonly user: string | null
  readonly expose: readonly string[]
  readonly volumes: readonly string[]
  /** Every stage's COPY instructions: sources (context paths unless `from` is set) and destination. */
  readonly copies: ReadonlyArray<{ readonly from: string | null, readonly sources: readonly string[], readonly destination: string }>
}

/** Instructions one per logical line: `\` continuations joined, comment and blank lines dropped. */
function dockerInstructions (text: string): Array<{ instruction: string, args: string }> {
  const instructions: Array<{ instruction: string, args: string }> = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    const whole = (pending + line).trim()
    pending = ''
    if (whole === '') continue
    const match = /^(\S+)\s*(.*)$/.exec(whole)!
    instructions.push({ instruction: match[1].toUpperCase(), args: match[2].trim() })
  }
  if (pending !== '') throw new Error('Dockerfile ends inside a continued line')
  return instructions
}

function execForm (instruction: string, args: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(args)
  } catch {
    throw new Error(`${instruction} ${args}: only the exec form (a JSON array) is supported`)
  }
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`${instruction} ${args}: expected a JSON array of strings`)
  return parsed
}

/** ENV KEY=VALUE [KEY=VALUE...]; values may be double-quoted (no variable expansion: none is used). */
function envPairs (args: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)\s*/y
  let at = 0
  while (at < args.length) {
    pattern.lastIndex = at
    const match = pattern.exec(args)
    if (match === null) throw new Error(`ENV ${args}: only KEY=VALUE pairs are supported`)
    const value = match[2].startsWith('"') ? JSON.parse(match[2]) as string : match[2]
    if (value.includes('$')) throw new Error(`ENV ${args}: variable expansion is not supported`)
    pairs.push([match[1], value])
    at = pattern.lastIndex
  }
  return pairs
}

export function parseDockerfile (text: string): DockerImage {
  let env = new Map<string, string>()
  let workdir = '/'
  let entrypoint: string[] = []
  let cmd: string[] = []
  let healthcheck: DockerImage['healthcheck'] = null
  let stopSignal: string | null = null
  let user: string | null = null
  let expose: string[] = []
  let volumes: string[] = []
  const copies: Array<DockerImage['copies'][number]> = []
  for (const { instruction, args } of dockerInstructions(text)) {
    switch (instruction) {
      case 'FROM':
        // A new stage: only the last one is the image (the base image's own settings are not modelled).
        env = new Map(); workdir = '/'; entrypoint = []; cmd = []; healthcheck = null; stopSignal = null; user = null; expose = []; volumes = []
        break
      case 'ENV':
        for (const [key, value] of envPairs(args)) env.set(key, value)
        break
      case 'WORKDIR':
        workdir = args.startsWith('/') ? args : `${workdir.replace(/\/$/, '')}/${args}`
        break
      case 'ENTRYPOINT':
        entrypoint = execForm(instruction, args)
        cmd = [] // Docker resets CMD when ENTRYPOINT is set
        break
      case 'CMD':
        cmd = execForm(instruction, args)
        break
      case 'HEALTHCHECK': {
        if (args === 'NONE') { healthcheck = null; break }
        const match = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/.exec(args)
        if (match === null) throw new Error(`HEALTHCHECK ${args}: expected [--option=value...] CMD [...]`)
        const options = new Map(match[1].trim().split(/\s+/).filter((part) => part !== '').map((part) => {
          const eq = part.indexOf('=')
          return [part.slice(2, eq), part.slice(eq + 1)] as [string, string]
        }))
        healthcheck = { options, command: execForm('HEALTHCHECK CMD', match[2]) }
        break
      }
      case 'STOPSIGNAL':
        stopSignal = args
        break
      case 'USER':
        user = args
        break
      case 'EXPOSE':
        expose.push(...args.split(/\s+/))
        break
      case 'VOLUME':
        volumes.push(...(args.startsWith('[') ? execForm(instruction, args) : args.split(/\s+/)))
        break
      case 'COPY': {
        const words = args.split(/\s+/)
        let from: string | null = null
        while (words[0]?.startsWith('--')) {
          const option = words.shift()!
          if (option.startsWith('--from=')) from = option.slice('--from='.length)
        }
        if (words.length < 2) throw new Error(`COPY ${args}: expected sources and a destination`)
        copies.push({ from, sources: words.slice(0, -1), destination: words[words.length - 1] })
        break
      }
      default:
        // RUN, LABEL, ARG and the rest do not change how the broker is started.
        break
    }
  }
  return { env, workdir, entrypoint, cmd, healthcheck, stopSignal, user, expose, volumes, copies }
}

// ---- systemd unit ----

export interface SystemdUnit {
  /** Every `Key=Value` of `section`, in order (a key may repeat: Environment=). */
  all (section: string, key: string): string[]
  /** The last value of `key` in `section` (what systemd uses for single-valued settings), or null. */
  get (section: string, key: string): string | null
  /** Environment= assignments, in order, specifiers expanded. */
  environment (): Map<string, string>
  /** ExecStart='s command line as words, specifiers expanded, without its `-@:+!` prefixes. */
  execStart (): string[]
}

/** systemd's specifiers that the unit uses; any other is an error here (systemd.unit(5), Specifiers). */
function expandSpecifiers (value: string): string {
  return value.replace(/%(.)/g, (_, letter: string) => {
    switch (letter) {
      case '%': return '%'
      case 'H': return hostname()
      case 'S': return '/var/lib' // a system unit's state directory root
      default: throw new Error(`unit specifier %${letter} is not supported by test/helpers/deploy-files.ts`)
    }
  })
}

/** Words separated by whitespace, with "double" or 'single' quoted parts (systemd's quoting, without escapes). */
function unitWords (value: string): string[] {
  const words: string[] = []
  const pattern = /\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))/y
  let at = 0
  for (;;) {
    if (/^\s*$/.test(value.slice(at))) break
    pattern.lastIndex = at
    const match = pattern.exec(value)
    if (match === null) throw new Error(`cannot split "${value}" into words (unterminated quote?)`)
    words.push(match[1] ?? match[2] ?? match[3])
    at = pattern.lastIndex
  }
  return words
}

export function parseSystemdUnit (text: string): SystemdUnit {
  const entries: Array<{ section: string, key: string, value: string }> = []
  let section = ''
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (pending === '' && (line === '' || line.startsWith('#') || line.startsWith(';'))) continue
    if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue }
    const whole = pending + line
    pending = ''
    const header = /^\[(.+)\]$/.exec(whole)
    if (header !== null) { section = header[1]; continue }
    const eq = whole.indexOf('=')
    if (eq <= 0) throw new Error(`unit line "${whole}": expected Key=Value`)
    entries.push({ section, key: whole.slice(0, eq).trim(), value: whole.slice(eq + 1).trim() })
  }
  const all = (inSection: string, key: string): string[] => entries.filter((entry) => entry.section === inSection && entry.key === key).map((entry) => entry.value)
  return {
    all,
    get: (inSection, key) => all(inSection, key).at(-1) ?? null,
    environment: () => {
      const env = new Map<string, string>()
      for (const value of all('Service', 'Environment')) {
        for (const word of unitWords(value)) {
          const eq = word.indexOf('=')
          if (eq <= 0) throw new Error(`Environment=${value}: "${word}" is not NAME=VALUE`)
          env.set(word.slice(0, eq), expandSpecifiers(word.slice(eq + 1)))
        }
      }
      return env
    },
    execStart: () => {
      const lines = all('Service', 'ExecStart')
      if (lines.length !== 1) throw new Error(`expected one ExecStart=, got ${lines.length}`)
      return unitWords(lines[0].replace(/^[-@:+!]+/, '')).map(expandSpecifiers)
    }
  }
}

/** A systemd time span as milliseconds: `45`, `45s`, `1min 30s`, `500ms`, `infinity` (systemd.time(7), the units used). */
export function parseTimeSpanMs (value: string): number {
  if (value === 'infinity') return Infinity
  const units: Record<string, number> = { '': 1000, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 }
  let total = 0
  for (const part of value.trim().split(/\s+/)) {
    const match = /^(\d+)([a-z]*)$/.exec(part)
    if (match === null || units[match[2]] === undefined) throw new Error(`time span "${value}": unsupported`)
    total += Number(match[1]) * units[match[2]]
  }
  return total
}
