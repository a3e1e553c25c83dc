/**
 * The last callback actually spooled: the last line of the newest segment that has one (a
 * restart opens an empty segment, whose mtime says nothing about callbacks). Only the segment's
 * tail is read.
 */
import { join } from 'node:path'
import { decodeRecord } from '../record.js'
import { listSegments } from './layout.js'
import { openNoFollow } from './fsutil.js'

export interface LastSpooled {
  segment: string
  id: string
  received_at: string
}

const TAIL_BYTES = 64 * 1024

/** The last complete line of the file, reading its tail (more of it while no line fits). */
async function lastLine (path: string): Promise<string | undefined> {
  const fh = await openNoFollow(path)
  try {
    const size = (await fh.stat()).size
    for (let want = TAIL_BYTES; ; want *= 4) {
      const start = Math.max(0, size - want)
      const buf = Buffer.alloc(size - start)
      await fh.read(buf, 0, buf.length, start)
      // A torn tail (no final newline) is not a callback that was spooled.
      const end = buf.lastIndexOf(0x0a)
      if (end === -1) {
        if (start === 0) return undefined
        continue
      }
      const before = buf.lastIndexOf(0x0a, end - 1)
      if (before !== -1 || start === 0) return buf.subarray(before + 1, end).toString('utf8')
    }
  } finally {
    await fh.close()
  }
}

export async function findLastSpooled (spoolDir: string): Promise<LastSpooled | undefined> {
  const segments = await listSegments(spoolDir)
  for (let i = segments.length - 1; i >= 0; i--) {
    const name = segments[i]!.name
    let line: string | undefined
    try {
      line = await lastLine(join(spoolDir, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    if (line === undefined) continue
    const decoded = decodeRecord(line)
    if (decoded.ok) return { segment: name, id: decoded.record.id, received_at: decoded.record.received_at }
  }
  return undefined
}
