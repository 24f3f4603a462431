// Small files written whole (indexes, snapshots, epochs, cluster metadata): replaced atomically through a
// temporary file renamed over the old one, and, where the caller needs it, durably.
import { closeSync, fsync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Writes `data` to `path` atomically: a temporary file renamed over it (a crash leaves the old or the new). A
 * failed write (ENOSPC) removes the temporary file again, so that it gives back the space it took. Not durable:
 * after a power loss either version may be there, for files that recovery can rebuild or check.
 */
export function writeFileAtomic (path: string, data: Buffer | string): void {
  const temporaryPath = path + '.tmp'
  try {
    writeFileSync(temporaryPath, data)
  } catch (error) {
    removeQuietly(temporaryPath)
    throw error
  }
  renameSync(temporaryPath, path)
}

/**
 * writeFileAtomic made durable: the temporary file is fsynced before the rename and its directory after it, so
 * once this returns `path` holds `data` across a power loss; before, it holds the old contents or the new.
 */
export function writeFileDurable (path: string, data: Buffer | string): void {
  const temporaryPath = path + '.tmp'
  try {
    writeFileSynced(temporaryPath, data)
  } catch (error) {
    removeQuietly(temporaryPath)
    throw error
  }
  renameSync(temporaryPath, path)
  const directoryFd = openSync(dirname(path), 'r')
  try {
    fsyncSync(directoryFd)
  } finally {
    closeSync(directoryFd)
  }
}

/**
 * Writes `data` to `path` (created or truncated) and fsyncs the file, not its directory: for a file that a
 * later rename publishes (the log cleaner's `.cleaned` indexes; writeFileDurable's temporary file).
 */
export function writeFileSynced (path: string, data: Buffer | string): void {
  const fd = openSync(path, 'w')
  try {
    writeFileSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function removeQuietly (path: string): void {
  try {
    unlinkSync(path)
  } catch {}
}

/** An fsync or fdatasync with a callback (fs.fsync, fs.fdatasync; tests pass their own). */
export type SyncFunction = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void

/**
 * writeFileSynced without waiting for the disk on this thread: writes `data` to `path` (created or truncated)
 * here, then fsyncs it on libuv's pool with `sync`; the file is closed before `callback` runs. A failed open or
 * write throws (then no sync was started and `callback` is never called).
 */
export function writeFileThenSync (path: string, data: Buffer | string, callback: (error: Error | null) => void, sync: SyncFunction = fsync): void {
  const fd = openSync(path, 'w')
  try {
    writeFileSync(fd, data)
  } catch (error) {
    closeSync(fd)
    throw error
  }
  sync(fd, (error) => {
    callback(closeAfterSync(fd, error))
  })
}

/**
 * fsyncs `directory` (its entries: renames, creations, deletions) on libuv's pool; `callback` runs once it is
 * done and the directory is closed. A failed open throws (then `callback` is never called).
 */
export function syncDirectoryAsync (directory: string, callback: (error: Error | null) => void, sync: SyncFunction = fsync): void {
  const fd = openSync(directory, 'r')
  sync(fd, (error) => {
    callback(closeAfterSync(fd, error))
  })
}

/** Closes `fd` once its sync is done; the sync's error, else the close's, else null. */
function closeAfterSync (fd: number, syncError: Error | null): Error | null {
  try {
    closeSync(fd)
  } catch (error) {
    return syncError ?? (error as Error)
  }
  return syncError
}
