// Settings for the memory allocators linked into native addons, applied before any addon loads (src/main.ts
// imports this module first; the environment is the process's, so the worker threads' addons see it too).
//
// @napi-rs/snappy (and @node-rs/crc32) carry their own mimalloc (1.x). By default it keeps every page it ever
// used committed once freed: a burst of large snappy batches (a client's, or a fuzzer's compression bombs within
// --max-decompressed-batch-bytes) left 50-60 MiB resident for good after a hostile run, and a lone process that
// inflated 40 MiB five times kept 460 MiB. With free pages reset at once, and reset meaning decommit, that
// memory goes back to the kernel when it is freed (460 → 95 MiB there; snappy's throughput unchanged, 16 KiB
// and 1 MiB blocks, measured in the same way). mimalloc reads its options from the environment when it loads.
// An operator's own MIMALLOC_* settings are kept.

/** mimalloc 1.x options (environment names) and the values the broker runs with unless told otherwise. */
export const kMimallocDefaults: Readonly<Record<string, string>> = {
  MIMALLOC_PAGE_RESET: '1',
  MIMALLOC_RESET_DECOMMITS: '1',
  MIMALLOC_RESET_DELAY: '0'
}

/** Sets each of kMimallocDefaults in `env` that is not set already; returns the names it set. */
export function applyNativeAllocatorDefaults (env: NodeJS.ProcessEnv = process.env): string[] {
  const applied: string[] = []
  for (const [name, value] of Object.entries(kMimallocDefaults)) {
    if (env[name] !== undefined) continue
    env[name] = value
    applied.push(name)
  }
  return applied
}

applyNativeAllocatorDefaults()
