// What a result was measured on: cores, CPU model, memory, OS, Node, and the commit of the code measured.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, cpus, release, totalmem, type as osType } from 'node:os'

export interface MachineInfo {
  /** os.availableParallelism(): what the broker's --workers defaults to. */
  cores: number
  logicalCpus: number
  cpuModel: string | null
  totalMemoryBytes: number
  os: string
  arch: string
  node: string
  /** /proc/loadavg at the start: a busy machine makes timings noisy. */
  loadAverage: number[] | null
}

export interface GitInfo {
  commit: string | null
  /** Uncommitted changes to tracked files when measured. */
  dirty: boolean | null
}

export function machineInfo (): MachineInfo {
  const list = cpus()
  let loadAverage: number[] | null = null
  try {
    loadAverage = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number)
  } catch {}
  return {
    cores: availableParallelism(),
    logicalCpus: list.length,
    cpuModel: list[0]?.model?.trim() ?? null,
    totalMemoryBytes: totalmem(),
    os: `${osType()} ${release()}`,
    arch: process.arch,
    node: process.version,
    loadAverage
  }
}

export function gitInfo (cwd: string): GitInfo {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return null
    }
  }
  const commit = git(['rev-parse', 'HEAD'])
  const status = git(['status', '--porcelain', '--untracked-files=no'])
  return { commit, dirty: status === null ? null : status !== '' }
}
