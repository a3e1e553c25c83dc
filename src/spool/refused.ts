/**
 * Where a segment's acknowledged lines end when refused ones follow them.
 *
 * The writer cuts a refused batch (its write or sync failed, its lines were answered 503) off the
 * segment. When even that cut fails, the lines stay, and this file says where they begin:
 * `spool/.refused`, one `<segment> <offset>` line per such segment, appended and fsync'ed (on that
 * failure path only) before the 503 goes out. The reader never reads a segment past its offset.
 */
import { constants } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FILE_MODE, fsyncDir } from '../fs/durable.js'

export const REFUSED_FILE = '.refused'

export async function recordRefused (spoolDir: string, segment: string, offset: number): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW
  const fh = await open(join(spoolDir, REFUSED_FILE), flags, FILE_MODE)
  try {
    await fh.write(`${segment} ${offset}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await fsyncDir(spoolDir)
}

/** Each segment's end of acknowledged lines, for the segments that have one. */
export async function readRefused (spoolDir: string): Promise<Map<string, number>> {
  const ends = new Map<string, number>()
  let text: string
  try {
    text = await readFile(join(spoolDir, REFUSED_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ends
    throw err
  }
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\d+)$/.exec(line)
    if (m === null) continue
    const offset = Number(m[2])
    ends.set(m[1]!, Math.min(offset, ends.get(m[1]!) ?? offset))
  }
  return ends
}
