/**
 * The re-queue input: `<data-dir>/requeue/*.ndjson`, each line a spool record v1 (`dead retry`
 * writes there). Each pass dispatches these files first, oldest name first, and deletes a file
 * once all of it is done (a file cut short by a failure is read again in full next time: the
 * handlers are idempotent by id).
 */
import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { dataLayout } from '../spool/layout.js'

export function requeueDir (dataDir: string): string {
  return join(dataLayout(dataDir).root, 'requeue')
}

export async function listRequeueFiles (dataDir: string): Promise<string[]> {
  const dir = requeueDir(dataDir)
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.ndjson') && !n.startsWith('.')).sort().map((n) => join(dir, n))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

export async function removeRequeueFile (path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}
