/**
 * What is left to process after a position: records, bytes, and the age of the oldest one.
 *
 * Counting needs the lines themselves, so a naive count reads the whole backlog. A processor
 * whose handler is down makes a pass every few seconds, each ending with this count: over a
 * backlog of gigabytes that would be gigabytes read each time. A BacklogCounter keeps, for each
 * segment it has read from its start, how far it counted and what it found; segments only grow
 * while a processor holds its lock (purge and replay refuse to run then), so the next count reads
 * only the position's own segment from the position, and what was appended since.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { isParsableDate } from '../record.js'
import { listSegments, type DataLayout } from './layout.js'
import { readLineBatches, segmentBefore, type SpoolPosition } from './reader.js'

export interface Backlog {
  /** Complete records after the position. */
  records: number
  /** Bytes after the position, to the end of the spool (complete lines only). */
  bytes: number
  /** received_at of the oldest unprocessed record, when there is one that decodes. */
  oldestReceivedAt?: string
  /** Age of that record in ms, at `now`. */
  oldestAgeMs?: number
}

interface Counted {
  /** Byte offset just after the last complete line counted. */
  to: number
  records: number
  bytes: number
  /** received_at of the first record that decodes, once found. */
  first?: string
}

export class BacklogCounter {
  private readonly layout: DataLayout
  /** Segments counted from their start. */
  private readonly cache = new Map<string, Counted>()
  /** Bytes read by the counts so far (for tests and curiosity). */
  bytesRead = 0

  constructor (layout: DataLayout) {
    this.layout = layout
  }

  async measure (position: SpoolPosition | undefined, now = Date.now()): Promise<Backlog> {
    const segments = await listSegments(this.layout.spool)
    const names = new Set(segments.map((s) => s.name))
    for (const name of this.cache.keys()) if (!names.has(name)) this.cache.delete(name)
    const backlog: Backlog = { records: 0, bytes: 0 }
    for (const seg of segments) {
      if (position !== undefined && segmentBefore(seg.name, position.segment)) continue
      const from = position !== undefined && seg.name === position.segment ? position.offset : 0
      let counted: Counted
      if (from === 0) {
        const known = await this.cached(seg.name)
        counted = known.counted
        if (!known.unchanged) await this.countOn(seg.name, counted)
        this.cache.set(seg.name, counted)
      } else {
        counted = { to: from, records: 0, bytes: 0 }
        await this.countOn(seg.name, counted)
      }
      backlog.records += counted.records
      backlog.bytes += counted.bytes
      if (backlog.oldestReceivedAt === undefined && counted.first !== undefined) {
        backlog.oldestReceivedAt = counted.first
        backlog.oldestAgeMs = Math.max(0, now - Date.parse(counted.first))
      }
    }
    return backlog
  }

  /**
   * What was counted of a segment from its start (nothing if it is new or has shrunk), and
   * whether the segment is still exactly that long, so that there is nothing to read.
   */
  private async cached (name: string): Promise<{ counted: Counted, unchanged: boolean }> {
    const known = this.cache.get(name)
    if (known === undefined) return { counted: { to: 0, records: 0, bytes: 0 }, unchanged: false }
    const size = await stat(join(this.layout.spool, name)).then((s) => s.size, () => 0)
    if (size < known.to) return { counted: { to: 0, records: 0, bytes: 0 }, unchanged: false }
    return { counted: { ...known }, unchanged: size === known.to }
  }

  /** Counts the complete lines of one segment from `counted.to` to its end, into `counted`. */
  private async countOn (name: string, counted: Counted): Promise<void> {
    for await (const batch of readLineBatches(this.layout, { segment: name, offset: counted.to })) {
      if (batch.segment !== name) break
      for (const line of batch.lines) {
        counted.records++
        counted.bytes += line.nextOffset - line.offset
        this.bytesRead += line.nextOffset - line.offset
        if (counted.first === undefined) counted.first = receivedAt(line.line)
      }
      counted.to = batch.next.segment === name ? batch.next.offset : counted.to
    }
  }
}

/** One-off count (`status`): reads the whole backlog. */
export async function computeBacklog (layout: DataLayout, position: SpoolPosition | undefined, now = Date.now()): Promise<Backlog> {
  return await new BacklogCounter(layout).measure(position, now)
}

function receivedAt (line: string): string | undefined {
  try {
    const value = JSON.parse(line) as { received_at?: unknown }
    if (typeof value.received_at === 'string' && isParsableDate(value.received_at)) return value.received_at
  } catch {}
  return undefined
}
