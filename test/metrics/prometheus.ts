// Reading Prometheus' text format in tests: each sample line `name{a="x",b="y"} value`.

export interface PromSample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

export function parsePrometheus (text: string): PromSample[] {
  const samples: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c)
    samples.push({ name: match[1], labels, value: match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]) })
  }
  return samples
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function sampleSum (samples: readonly PromSample[], name: string, labels: Record<string, string | number> = {}): number {
  let total = 0
  for (const sample of samples) {
    if (sample.name !== name) continue
    if (Object.entries(labels).every(([key, value]) => sample.labels[key] === String(value))) total += sample.value
  }
  return total
}

/** Whether any sample named `name` has `labels`. */
export function hasSample (samples: readonly PromSample[], name: string, labels: Record<string, string | number> = {}): boolean {
  return samples.some((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === String(value)))
}
