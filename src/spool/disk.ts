/** Disk figures for readiness, metrics and `status`: free space and the spool's size. */
import { statfs, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listSegments } from './layout.js'

/** Bytes an unprivileged writer may still use on the filesystem holding `path`. */
export async function freeBytes (path: string): Promise<number> {
  const s = await statfs(path)
  return s.bavail * s.bsize
}

export interface SpoolSize {
  segments: number
  bytes: number
}

/**
 * The segments of a spool directory in write order (those `keep` accepts), with their sizes; a
 * segment deleted meanwhile is left out.
 */
export async function segmentSizes (spoolDir: string, keep: (name: string) => boolean = () => true): Promise<Array<{ name: string, size: number }>> {
  const out: Array<{ name: string, size: number }> = []
  for (const seg of await listSegments(spoolDir)) {
    if (!keep(seg.name)) continue
    try {
      out.push({ name: seg.name, size: (await stat(join(spoolDir, seg.name))).size })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return out
}

/** Count and total size of the segments in a spool directory. */
export async function spoolSize (spoolDir: string): Promise<SpoolSize> {
  const sizes = await segmentSizes(spoolDir)
  return { segments: sizes.length, bytes: sizes.reduce((total, s) => total + s.size, 0) }
}
