// Small numeric helpers of the bench: medians of repeated runs, latency percentiles, ratios, formatting.
// Pure functions only (unit-tested in test/bench/stats.test.ts).

/** The median of the finite values (the mean of the middle two for an even count); null when there are none. */
export function median (values: readonly (number | null | undefined)[]): number | null {
  const finite = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value))
  if (finite.length === 0) return null
  finite.sort((a, b) => a - b)
  const middle = finite.length >> 1
  return finite.length % 2 === 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2
}

/**
 * Nearest-rank percentile (`p` in 0..100) of values already sorted ascending: the smallest value with at least
 * p% of the values at or below it, as Kafka's ProducerPerformance reports them. Null for an empty list.
 */
export function percentileSorted (sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  if (p <= 0) return sorted[0]
  // The epsilon keeps 99.9 % of 1000 at rank 999 despite floating point (0.999 * 1000 = 999.0000000000001).
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100 - 1e-9))
  return sorted[Math.min(sorted.length, rank) - 1]
}

export interface LatencySummary {
  count: number
  avg: number
  min: number
  max: number
  p50: number
  p95: number
  p99: number
  p999: number
}

/** Summary of latency samples (any unit; the result is in the same unit). Null for no samples. */
export function summarizeLatencies (samples: readonly number[]): LatencySummary | null {
  const sorted = samples.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count: sorted.length,
    avg: sum / sorted.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p50: percentileSorted(sorted, 50)!,
    p95: percentileSorted(sorted, 95)!,
    p99: percentileSorted(sorted, 99)!,
    p999: percentileSorted(sorted, 99.9)!
  }
}

/** `value / reference`, or null when either is missing or the reference is not positive. */
export function ratio (value: number | null | undefined, reference: number | null | undefined): number | null {
  if (typeof value !== 'number' || typeof reference !== 'number') return null
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return null
  return value / reference
}

/**
 * Per-key median over runs of flat metric records: `{ a: 1, b: 2 }, { a: 3, b: null }` -> `{ a: 2, b: 2 }`.
 * A key that no run has a number for is null.
 */
export function medianRecord<K extends string> (runs: readonly Partial<Record<K, number | null>>[]): Record<K, number | null> {
  const keys = new Set<K>()
  for (const run of runs) for (const key of Object.keys(run) as K[]) keys.add(key)
  const result = {} as Record<K, number | null>
  for (const key of keys) result[key] = median(runs.map((run) => run[key]))
  return result
}

/** 1234567.8 -> '1,234,568'; null -> '-'. */
export function formatInteger (value: number | null | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-'
  return Math.round(value).toLocaleString('en-US')
}

/** Fixed decimals, '-' for null. */
export function formatFixed (value: number | null | undefined, decimals = 2): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-'
  return value.toFixed(decimals)
}

/** A ratio as '0.42x', '-' for null. */
export function formatRatio (value: number | null | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-'
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`
}

/** Bytes as MiB with one decimal, '-' for null. */
export function formatMiB (bytes: number | null | undefined): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '-'
  return (bytes / (1024 * 1024)).toFixed(1)
}

/** Nanoseconds in a readable unit: 812 ns, 12.3 us, 4.56 ms, 1.20 s. */
export function formatDuration (ns: number | null | undefined): string {
  if (typeof ns !== 'number' || !Number.isFinite(ns)) return '-'
  if (ns < 1e3) return `${ns.toFixed(0)} ns`
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} us`
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`
  return `${(ns / 1e9).toFixed(2)} s`
}

/** Renders rows as an aligned plain-text table; `right` holds the indexes of right-aligned columns. */
export function renderTable (header: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => (row[index] ?? '').length)))
  const line = (cells: readonly string[]): string => cells
    .map((cell, index) => right.has(index) ? cell.padStart(widths[index]) : cell.padEnd(widths[index]))
    .join('  ')
    .trimEnd()
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map((row) => line(row))].join('\n')
}
