/**
 * Reading the spool from a position (segment name + byte offset), complete lines only.
 *
 * A hand-written splitter over fixed-size fs reads, not a stream of strings: the checkpoint
 * needs the exact byte offset of every line, and the processor needs whole chunks of lines at a
 * time so it does not pay an `await` per record. Memory stays bounded by the chunk size (plus the
 * longest single line): two reusable buffers per reader.
 *
 * - In the newest segment, only what the receiver acknowledged is read: what its writer published
 *   as durable while it lives, everything on disk once it is gone (see durable-length.ts). A
 *   last line without its `\n` is still being written: it is not read.
 * - No segment is read past the offset where refused lines the writer could not cut off begin
 *   (see refused.ts).
 * - In a sealed segment (any segment with a newer one after it), an unterminated tail is a torn
 *   write: it is reported through `onTorn` (the caller quarantines it) and reading moves on.
 */
import { type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { listSegments, parseSegmentName, type DataLayout, type SegmentName } from './layout.js'
import { openNoFollow } from '../fs/durable.js'
import { acknowledgedLength } from './durable-length.js'
import { readRefused } from './refused.js'

export interface SpoolPosition {
  segment: string
  /** Byte offset of the next unread line. */
  offset: number
}

export interface SpoolLine {
  segment: string
  /** Byte offset of the line's first byte. */
  offset: number
  /** Byte offset just after its `\n`: where the checkpoint goes once this line is done. */
  nextOffset: number
  /** The line without its `\n`. */
  line: string
}

export interface TornFragment {
  segment: string
  offset: number
  fragment: Buffer
}

export interface ReadOptions {
  /**
   * Bytes per read: fewer reads cost less CPU per record than 64 KiB, while 1 MiB raises peak RSS
   * (bench/NOTES.md has the figures). @default 256 KiB
   */
  chunkBytes?: number
  /** Called (and awaited) for the unterminated tail of a sealed segment. */
  onTorn?: (torn: TornFragment) => Promise<void> | void
}

/** A run of consecutive complete lines from one segment, and where reading stands after them. */
export interface LineBatch {
  segment: string
  lines: SpoolLine[]
  /** Where reading continues after this batch (may name the next segment, offset 0). */
  next: SpoolPosition
}

const DEFAULT_CHUNK = 256 * 1024

/** Whether segment `a` comes before segment `b` in write order. */
export function segmentBefore (a: string, b: string): boolean {
  const pa = parseSegmentName(a)
  const pb = parseSegmentName(b)
  if (pa !== undefined && pb !== undefined) return pa.seq < pb.seq
  return a < b
}

/**
 * Splits `buf[0, end)` into complete lines. Returns the offset (within buf) of the first byte
 * not consumed: the start of an unterminated tail, or `end`.
 */
function splitLines (buf: Buffer, end: number, segment: string, base: number, out: SpoolLine[]): number {
  let start = 0
  while (start < end) {
    const nl = buf.indexOf(0x0a, start)
    if (nl === -1 || nl >= end) break
    out.push({ segment, offset: base + start, nextOffset: base + nl + 1, line: buf.toString('utf8', start, nl) })
    start = nl + 1
  }
  return start
}

/**
 * Batches of complete lines from `from` to the end of the spool, in write order.
 * Segments are listed again at the end of the newest one, so a segment sealed meanwhile is
 * read to its true end. A `from` naming a segment that is gone starts at the first segment after it.
 */
export async function * readLineBatches (layout: DataLayout, from: SpoolPosition | undefined, options: ReadOptions = {}): AsyncGenerator<LineBatch> {
  const spoolDir = layout.spool
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK
  let segments = await listSegments(spoolDir)
  let index: number
  let offset: number
  if (from === undefined) {
    index = 0
    offset = 0
  } else {
    index = segments.findIndex((s) => s.name === from.segment)
    offset = from.offset
    if (index === -1) {
      index = segments.findIndex((s) => segmentBefore(from.segment, s.name))
      offset = 0
      if (index === -1) return
    }
  }
  // Lines are decoded into strings as soon as they are split, so the buffers can be reused at once.
  let current = Buffer.allocUnsafe(2 * chunkBytes)
  let other = Buffer.allocUnsafe(2 * chunkBytes)
  while (index < segments.length) {
    const seg = segments[index]!
    const path = join(spoolDir, seg.name)
    let fh: FileHandle
    try {
      fh = await openNoFollow(path)
    } catch (err) {
      // Deleted under us (retention by another tool): move on.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      index++
      offset = 0
      continue
    }
    let sealed = index < segments.length - 1
    // Where reading this segment stops for now: its end once sealed, else what is acknowledged;
    // never past refused lines.
    const readableEnd = async (): Promise<number> => {
      const refusedAt = (await readRefused(spoolDir)).get(seg.name) ?? Infinity
      return sealed ? refusedAt : Math.min(refusedAt, await acknowledgedLength(layout, seg.name, fh))
    }
    let limit: number
    try {
      limit = await readableEnd()
    } catch (err) {
      await fh.close()
      throw err
    }
    // The next chunk is read while the lines of this one are handled (the read goes to the
    // thread pool): reading and parsing overlap. Two buffers take turns, so reading allocates
    // nothing per chunk: the bytes of a line not yet complete (the carry) are copied to the
    // front of the other buffer, and the next chunk is read in after them.
    let readPos = offset
    let carryLen = 0
    const readInto = (buffer: Buffer, at: number, pos: number): Promise<{ bytesRead: number }> => {
      const length = Math.min(chunkBytes, limit - pos)
      return length > 0 ? fh.read(buffer, at, length, pos) : Promise.resolve({ bytesRead: 0 })
    }
    let inFlight: Promise<{ bytesRead: number }> | undefined = readInto(current, 0, readPos)
    try {
      for (;;) {
        const { bytesRead } = await inFlight!
        inFlight = undefined
        if (bytesRead === 0) {
          if (!sealed) {
            // At the end of what was the newest segment: has a newer one appeared since?
            const fresh = await listSegments(spoolDir)
            if (fresh.length > 0 && segmentBefore(seg.name, fresh.at(-1)!.name)) {
              segments = mergeListing(segments, fresh)
              index = segments.findIndex((s) => s.name === seg.name)
              sealed = true
              limit = await readableEnd()
              // The writer seals a segment before creating the next: read again to its true end.
              inFlight = readInto(current, carryLen, readPos)
              continue
            }
            // More acknowledged since? (Only a limit that moves on: a file shorter than its limit ends here.)
            const acknowledged = await readableEnd()
            if (acknowledged > limit) {
              limit = acknowledged
              inFlight = readInto(current, carryLen, readPos)
              continue
            }
            return
          }
          if (carryLen > 0) {
            await options.onTorn?.({ segment: seg.name, offset, fragment: Buffer.from(current.subarray(0, carryLen)) })
          }
          break
        }
        readPos += bytesRead
        const end = carryLen + bytesRead
        const lines: SpoolLine[] = []
        const used = splitLines(current, end, seg.name, offset, lines)
        carryLen = end - used
        // A line longer than a buffer: grow the other one (memory stays bounded by the longest line).
        if (other.length < carryLen + chunkBytes) other = Buffer.allocUnsafe(Math.max(2 * other.length, carryLen + chunkBytes))
        current.copy(other, 0, used, end)
        const filled = current
        current = other
        other = filled
        inFlight = readInto(current, carryLen, readPos)
        if (used > 0) {
          offset += used
          yield { segment: seg.name, lines, next: { segment: seg.name, offset } }
        }
      }
    } finally {
      // Never close the file under a read still in flight.
      await inFlight?.catch(() => {})
      await fh.close()
    }
    // Sealed segment done: continue at the start of the next one.
    index++
    offset = 0
    if (index < segments.length) {
      yield { segment: segments[index]!.name, lines: [], next: { segment: segments[index]!.name, offset: 0 } }
    }
  }
}

function mergeListing (old: SegmentName[], fresh: SegmentName[]): SegmentName[] {
  const names = new Set(old.map((s) => s.name))
  return [...old, ...fresh.filter((s) => !names.has(s.name))].sort((a, b) => a.seq - b.seq)
}

/** The shared contract: complete lines one by one (an adapter over readLineBatches). */
export async function * readLines (layout: DataLayout, from: SpoolPosition | undefined, options: ReadOptions = {}): AsyncGenerator<SpoolLine> {
  for await (const batch of readLineBatches(layout, from, options)) yield * batch.lines
}

/**
 * The lines of one whole file (a re-queue file), in batches. Such a file is complete when it
 * arrives (written, then renamed into place), so a last line without its `\n` is a line too: the
 * file is deleted once read, and dropping the tail would lose a record.
 */
export async function * readFileLineBatches (path: string, chunkBytes = DEFAULT_CHUNK): AsyncGenerator<SpoolLine[]> {
  const fh = await openNoFollow(path)
  try {
    let buf = Buffer.allocUnsafe(chunkBytes)
    let offset = 0
    let filled = 0
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2)
        buf.copy(bigger, 0, 0, filled)
        buf = bigger
      }
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, offset + filled)
      if (bytesRead === 0) {
        if (filled > 0) yield [{ segment: path, offset, nextOffset: offset + filled, line: buf.toString('utf8', 0, filled) }]
        return
      }
      const end = filled + bytesRead
      const lines: SpoolLine[] = []
      const used = splitLines(buf, end, path, offset, lines)
      offset += used
      buf.copy(buf, 0, used, end)
      filled = end - used
      if (lines.length > 0) yield lines
    }
  } finally {
    await fh.close()
  }
}
