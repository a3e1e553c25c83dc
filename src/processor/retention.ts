/**
 * Retention: after a pass, delete the segments that are fully processed and older than
 * `--retain`. A segment's age is taken from its mtime (its last write, so every record in it
 * is at least that old), not from the creation time in its name. Never the newest segment, never
 * the checkpoint's segment or any after it (they hold, or may hold, unprocessed records).
 * `--retain 0` keeps every segment for ever.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncDir, unlinkIfExists } from '../spool/fsutil.js'
import { listSegments } from '../spool/layout.js'
import { segmentBefore, type SpoolPosition } from '../spool/reader.js'

export async function deleteOldSegments (spoolDir: string, checkpoint: SpoolPosition | undefined, retainMs: number, now = Date.now()): Promise<string[]> {
  if (checkpoint === undefined || retainMs === 0) return []
  const segments = await listSegments(spoolDir)
  const deleted: string[] = []
  for (const seg of segments.slice(0, -1)) {
    if (!segmentBefore(seg.name, checkpoint.segment)) break
    const path = join(spoolDir, seg.name)
    let mtimeMs: number
    try {
      mtimeMs = (await stat(path)).mtimeMs
    } catch {
      continue
    }
    if (now - mtimeMs < retainMs) continue
    await unlinkIfExists(path)
    deleted.push(seg.name)
  }
  if (deleted.length > 0) await fsyncDir(spoolDir)
  return deleted
}
