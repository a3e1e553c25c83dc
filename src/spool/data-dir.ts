/** The data dir as a whole: that it is there (only the receiver creates one), and that no entry of it is a link. */
import { readdir, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LinkRefusedError, NoInputError } from '../errors.js'
import { isPermissionDenied, permissionError } from '../permission.js'
import type { DataLayout } from './layout.js'

/**
 * The data dir's absolute path. It must exist and be a directory (empty is fine: the receiver
 * fills it); NoInputError (exit 66) otherwise, rather than creating it: a mistyped --data-dir
 * must not look like an empty spool. Only the receiver creates a data dir.
 */
export async function existingDataDir (layout: DataLayout): Promise<string> {
  const root = layout.root
  let isDir: boolean
  try {
    isDir = (await stat(root)).isDirectory()
  } catch (err) {
    if (isPermissionDenied(err)) throw permissionError(err, root)
    throw new NoInputError('SPOOL_ERR_NO_DATA_DIR', `no data directory at ${root}: check --data-dir (or CALLBACK_SPOOL_DATA_DIR); \`callback-spool receive\` creates it`)
  }
  if (!isDir) throw new NoInputError('SPOOL_ERR_NOT_DATA_DIR', `${root} is not a directory, so not a data directory: check --data-dir (or CALLBACK_SPOOL_DATA_DIR)`)
  return root
}

/**
 * Refuses (LinkRefusedError) a symbolic link among the data dir's own entries (its directories,
 * the lock files) and inside those directories: callback-spool never writes or reads through
 * one. The data dir itself may be a link (e.g. /var/lib/callback-spool to another disk).
 */
export async function refuseLinksInDataDir (layout: DataLayout): Promise<void> {
  const dirs = [layout.spool, layout.state, layout.quarantine, layout.dead, layout.out, layout.requeue]
  const refuse = async (path: string): Promise<never> => {
    throw new LinkRefusedError(path, await readlink(path).catch(() => undefined))
  }
  for (const entry of await readdir(layout.root, { withFileTypes: true })) {
    const path = join(layout.root, entry.name)
    if (entry.isSymbolicLink() && (dirs.includes(path) || entry.name.endsWith('.lock'))) await refuse(path)
  }
  // Read side by side, checked in order: the first link of the list is the one reported.
  const listed = await Promise.all(dirs.map(async (dir) => await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })))
  for (const [i, entries] of listed.entries()) {
    for (const entry of entries) if (entry.isSymbolicLink()) await refuse(join(dirs[i]!, entry.name))
  }
}
