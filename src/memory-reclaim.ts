// Giving memory back once a burst is over.
//
// After a burst (a backlog fetched, a storm of large requests, a fuzzer), a thread keeps what it used at the
// peak: V8 keeps its heap grown until a full collection shrinks it, our read-arena pool keeps its idle arenas,
// and glibc's malloc keeps freed memory in its per-thread arenas (it only returns the top of an arena on its own;
// free pages in the middle stay resident until malloc_trim(3) hands them back). A broker that served one bad
// minute would hold its peak resident set for the rest of its life.
//
// So each thread watches its own event-loop utilisation. On a tick where the thread was quiet (below
// kQuietUtilisation) after having worked since its last reclaim (kWorkUtilisation), it reclaims: workers drop their idle arenas and
// run a full collection, then tell the main thread, which collects its own heap and calls malloc_trim(0) once
// for the whole process (glibc's arenas are process-wide). A thread under steady load is never quiet, so this
// never costs a busy broker a full collection; an idle one reclaims once and then stays idle.
//
// Both tools are optional: a full collection needs `gc`, exposed at run time below; malloc_trim is reached
// through node:ffi and exists only with glibc. Without them reclaiming does less, never fails.
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** A tick below this event-loop utilisation is quiet. */
const kQuietUtilisation = 0.05
/**
 * A tick at or above this counts as work since the last reclaim (the heartbeats and long polls of idle clients
 * stay below it), and so does one in which the resident set grew by kWorkGrowthBytes (a short burst in a long
 * tick). A thread between the two thresholds reclaims on every tick: a full collection per tick at under 5% load.
 */
const kWorkUtilisation = 0.02
const kWorkGrowthBytes = 64 * 1024 * 1024

/** The `gc` that --expose-gc gives: with options, V8's gc extension picks the kind of collection. */
type GcFunction = (options?: { type: 'major', execution: 'sync', flavor: 'regular' | 'last-resort' }) => void
let gcFunction: GcFunction | null | undefined
/**
 * V8's "last resort" flavour (Heap::CollectAllAvailableGarbage): repeated full, compacting collections in
 * memory-reducing mode, which also give back the pages V8 keeps pooled for reuse and flush code that has not run
 * lately (the codecs of every API version a client touched once). A plain full collection keeps those, and a
 * worker's heap then stays at twice its start after a hostile burst. Slower (tens of ms), so it is only used
 * once a thread has gone quiet.
 */
const kReduceMemory = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const

/**
 * Sets V8's `--expose-gc`, which exposes `gc` to contexts created afterwards. V8 flags are per process and
 * meant to be set before isolates start: the main thread calls this before it spawns its workers, so that no
 * flag changes under a running worker (collectGarbage setting it again is a no-op).
 */
export function exposeGarbageCollection (): void {
  try {
    setFlagsFromString('--expose-gc')
  } catch {}
}

/**
 * Runs a full, synchronous garbage collection of this thread's heap, which also shrinks the heap V8 grew,
 * through the `gc` of a new context. Returns false where that is not possible.
 */
export function collectGarbage (): boolean {
  if (gcFunction === undefined) {
    try {
      exposeGarbageCollection()
      const found: unknown = runInNewContext('typeof gc === "function" ? gc : null')
      gcFunction = typeof found === 'function' ? found as GcFunction : null
    } catch {
      gcFunction = null
    }
  }
  if (gcFunction === null) return false
  gcFunction(kReduceMemory)
  return true
}

type TrimFunction = (pad: bigint) => number
let trimFunction: TrimFunction | null | undefined

/**
 * glibc's malloc_trim(0): returns the free pages of every malloc arena of the process to the kernel. Returns
 * false where there is no such function (not glibc, no node:ffi); true when it ran.
 */
export function releaseFreeHeapPages (): boolean {
  if (trimFunction === undefined) trimFunction = loadMallocTrim()
  if (trimFunction === null) return false
  trimFunction(0n)
  return true
}

/** glibc's mallopt parameter M_MMAP_THRESHOLD (malloc.h). */
const kMallocMmapThreshold = -3
/** Allocations from this size up get pages of their own (mmap), given back to the kernel when freed. */
export const kMmapThresholdBytes = 256 * 1024

/**
 * Fixes glibc's mmap threshold at kMmapThresholdBytes (mallopt M_MMAP_THRESHOLD). By default glibc raises the
 * threshold to the size of each mmapped block that is freed (up to 32 MiB), so after a burst of large buffers (a
 * fuzz run's big frames, big fetch answers) later ones of that size come from the arenas instead, where a few
 * long-lived small blocks keep their pages resident for good: a long hostile run left RSS 40% above its start
 * after every topic was deleted. A fixed threshold also stops the dynamic trim threshold. Call once, before the
 * workers start; false where it cannot be done (not glibc, no node:ffi).
 */
export function fixMallocMmapThreshold (): boolean {
  const mallopt = libcFunction<(parameter: number, value: number) => number>('mallopt', ['i32', 'i32'], 'i32')
  return mallopt !== null && mallopt(kMallocMmapThreshold, kMmapThresholdBytes) === 1
}

/** Whether releaseFreeHeapPages can do anything here (tests, the startup log). */
export function canReleaseFreeHeapPages (): boolean {
  if (trimFunction === undefined) trimFunction = loadMallocTrim()
  return trimFunction !== null
}

function loadMallocTrim (): TrimFunction | null {
  return libcFunction<TrimFunction>('malloc_trim', ['u64'], 'i32')
}

/** One function of the process's libc through node:ffi; null where there is none (not Linux, no node:ffi). */
function libcFunction<F> (name: string, parameters: string[], result: string): F | null {
  if (process.platform !== 'linux') return null
  // node:ffi is experimental and says so with a process warning when it loads; this use (libc symbols of fixed,
  // documented signatures) is what it is for, so that warning is kept off the broker's output.
  const emitWarning = process.emitWarning
  try {
    process.emitWarning = () => {}
    const ffi = process.getBuiltinModule('node:ffi') as typeof import('node:ffi') | undefined
    if (ffi === undefined) return null
    const { functions } = ffi.dlopen(null, { [name]: { arguments: parameters, return: result } } as never)
    return (functions as Record<string, unknown>)[name] as F
  } catch {
    return null
  } finally {
    process.emitWarning = emitWarning
  }
}

/**
 * Calls `reclaim` on a tick (every `intervalMs`) where this thread was quiet after having worked since the last
 * reclaim. Returns a function that stops the ticks. The timer does not keep the thread alive.
 */
export function reclaimWhenQuiet (intervalMs: number, reclaim: () => void): () => void {
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  let lastRss = process.memoryUsage.rss()
  let worked = false
  /** The tick after a reclaim only takes new baselines: the reclaim's own work may run into it (see below). */
  let settling = false
  const timer = setInterval(() => {
    if (settling) {
      // A reclaim may finish after it returns (a worker's second collection, half a second later): counted as
      // work, it would make every quiet tick reclaim again, a full collection per tick on an idle broker.
      settling = false
      last = performance.eventLoopUtilization()
      lastRss = process.memoryUsage.rss()
      return
    }
    const now = performance.eventLoopUtilization()
    const utilisation = performance.eventLoopUtilization(now, last).utilization
    last = now
    const rss = process.memoryUsage.rss()
    if (utilisation >= kWorkUtilisation || rss - lastRss >= kWorkGrowthBytes) worked = true
    lastRss = rss
    if (!worked || utilisation >= kQuietUtilisation) return
    worked = false
    settling = true
    reclaim()
    // The reclaim's own work is not work since the reclaim.
    last = performance.eventLoopUtilization()
    lastRss = process.memoryUsage.rss()
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}

/** What one worker gave back in a reclaim. */
export interface ThreadReclaim {
  readonly arenaBytes: number
  readonly heapBytes: number
}

export interface ProcessReclaimSummary {
  readonly rssBefore: number
  readonly rssAfter: number
  /** Idle read arenas the workers dropped, and heap their collections shrank (summed). */
  readonly arenaBytes: number
  readonly heapBytes: number
  /** Whether malloc_trim ran. */
  readonly trimmed: boolean
}

/**
 * The main thread's part: the workers' reports of one quiet stretch (they arrive within a tick of each other)
 * are coalesced into one collection of the main thread's heap and one malloc_trim for the process.
 */
export class ProcessReclaim {
  readonly #done: (summary: ProcessReclaimSummary) => void
  #timer: NodeJS.Timeout | null = null
  #arenaBytes = 0
  #heapBytes = 0

  constructor (done: (summary: ProcessReclaimSummary) => void) {
    this.#done = done
  }

  report (reclaim: ThreadReclaim): void {
    this.#arenaBytes += reclaim.arenaBytes
    this.#heapBytes += reclaim.heapBytes
    if (this.#timer !== null) return
    this.#timer = setTimeout(() => this.#run(), 250)
    this.#timer.unref()
  }

  close (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #run (): void {
    this.#timer = null
    const rssBefore = process.memoryUsage.rss()
    collectGarbage()
    const trimmed = releaseFreeHeapPages()
    const summary = { rssBefore, rssAfter: process.memoryUsage.rss(), arenaBytes: this.#arenaBytes, heapBytes: this.#heapBytes, trimmed }
    this.#arenaBytes = 0
    this.#heapBytes = 0
    this.#done(summary)
  }
}
