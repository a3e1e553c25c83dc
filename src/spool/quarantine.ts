/**
 * Torn lines: a segment that does not end in `\n` holds a write that was cut short (a crash, a
 * full disk). It was never acknowledged, so nothing acknowledged is lost; but it is never dropped
 * silently nor appended to: the fragment is copied to `<data-dir>/quarantine/`, named after its
 * segment and offset, so both the receiver and the processor may report it without a duplicate.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { quarantineName } from './layout.js'
import { ensureDir, openNoFollow, writeFileDurably } from '../fs/durable.js'

export interface TornTail {
  /** Byte offset of the fragment's first byte in the segment. */
  offset: number
  fragment: Buffer
}

const CHUNK = 64 * 1024

/** The unterminated tail of a file, or undefined when it is empty or ends in `\n`. */
export async function findTornTail (path: string): Promise<TornTail | undefined> {
  const fh = await openNoFollow(path)
  try {
    const { size } = await fh.stat()
    if (size === 0) return undefined
    const last = Buffer.alloc(1)
    await fh.read(last, 0, 1, size - 1)
    if (last[0] === 0x0a) return undefined
    // Walk back chunk by chunk to the last newline; the fragment starts just after it.
    let end = size
    let start = 0
    while (end > 0) {
      const from = Math.max(0, end - CHUNK)
      const buf = Buffer.alloc(end - from)
      await fh.read(buf, 0, buf.length, from)
      const nl = buf.lastIndexOf(0x0a)
      if (nl !== -1) {
        start = from + nl + 1
        break
      }
      end = from
    }
    const fragment = Buffer.alloc(size - start)
    await fh.read(fragment, 0, fragment.length, start)
    return { offset: start, fragment }
  } finally {
    await fh.close()
  }
}

/** Copies a fragment to the quarantine; returns its path and whether it was new. */
export async function quarantineFragment (quarantineDir: string, segment: string, tail: TornTail): Promise<{ path: string, created: boolean }> {
  await ensureDir(quarantineDir)
  const path = join(quarantineDir, quarantineName(segment, tail.offset))
  try {
    await access(path)
    return { path, created: false }
  } catch {
    await writeFileDurably(path, tail.fragment)
    return { path, created: true }
  }
}
