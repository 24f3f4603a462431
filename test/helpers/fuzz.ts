// Runs scripts/fuzz.ts as its own process (so that the test runner's event loop slows neither it nor the broker)
// and returns its JSON result with the output for assertion messages.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const kScript = fileURLToPath(new URL('../../scripts/fuzz.ts', import.meta.url))

export interface FuzzRun {
  /** The fuzzer's `--json` line, parsed (frames, answered, crashes, hangs, ...); null when it printed none. */
  readonly result: { frames: number, answered: number, crashes: number, hangs: number } | null
  /** Its stdout without the JSON line (the summary). */
  readonly summary: string
  /** The last 20,000 characters of its stderr. */
  readonly stderr: string
}

export async function runFuzzer (args: readonly string[]): Promise<FuzzRun> {
  const child = spawn(process.execPath, [kScript, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-20_000) })
  await new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const lines = stdout.split('\n')
  const json = lines.find((line) => line.startsWith('{'))
  return { result: json === undefined ? null : JSON.parse(json), summary: lines.filter((line) => !line.startsWith('{')).join('\n'), stderr }
}
