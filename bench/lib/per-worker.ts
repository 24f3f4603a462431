// What the broker-only scenarios (maintenance, quota, s3) share: their input, and running one scenario once per
// --workers value with a progress step each.
import type { BenchOptions } from './args.ts'
import type { Progress } from './progress.ts'
import type { RdkafkaTool, ToolMissing } from './tools.ts'

export interface ShoalScenarioInput {
  options: BenchOptions
  workers: number[]
  rdkafka: RdkafkaTool | ToolMissing
  node: string
  mainPath: string
  /** Where the scenario may make data directories (the scenarios that need none ignore it). */
  workDir?: string
  progress: Progress
}

/** Runs `run` for each worker count in turn, the progress line naming `scenario`; the results in that order. */
export async function forEachWorkerCount<R> (input: ShoalScenarioInput, scenario: string, run: (workers: number) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (const workers of input.workers) {
    input.progress.step(`shoal w=${workers} ${scenario}`)
    results.push(await run(workers))
  }
  input.progress.clear()
  return results
}
