/** Disk figures for readiness, metrics and `status`: free space and the spool's size. */
import { statfs, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listSegments } from './fsutil.js'

/** Bytes an unprivileged writer may still use on the filesystem holding `path`. */
export async function freeBytes (path: string): Promise<number> {
  const s = await statfs(path)
  return s.bavail * s.bsize
}

export interface SpoolSize {
  segments: number
  bytes: number
}

/** Count and total size of the segments in a spool directory (a segment deleted meanwhile is skipped). */
export async function spoolSize (spoolDir: string): Promise<SpoolSize> {
  const segments = await listSegments(spoolDir)
  let bytes = 0
  let count = 0
  for (const seg of segments) {
    try {
      bytes += (await stat(join(spoolDir, seg.name))).size
      count++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return { segments: count, bytes }
}
