/**
 * How far the newest segment is acknowledged: published by the writer, trusted by the reader.
 *
 * The writer answers 200 for a line only once it is durable, and the processor must act on
 * nothing else. So after each commit, before it answers, the writer overwrites one small file,
 * `spool/.durable-length`, with the segment's name, the length that is durable, and its own pid:
 * one positional write into the page cache, never synced (a busy receiver commits thousands of
 * batches a second, and the record need not survive a crash: see `acknowledgedLength`).
 * A checksum covers the record, so a read that races the write is seen as such.
 *
 * Lines the writer refused (their write or sync failed, they were answered 503) are cut off the
 * segment before the answer goes out, and never published.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs'
import { readFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { zlib } from '../lazy-builtin.js'
import { FILE_MODE } from '../fs/durable.js'
import type { DataLayout } from './layout.js'
import { isLockHeld } from './lock.js'

export const DURABLE_LENGTH_FILE = '.durable-length'

export interface DurableLength {
  segment: string
  /** Bytes of the segment that are durable (and so acknowledged): always a line boundary. */
  length: number
  /** The writer's process. */
  pid: number
}

const RECORD_RE = /^(\S+) (\d{15}) (\d{10}) ([0-9a-f]{8})\n/

/** One fixed-width line (segment names have a fixed width), so each write covers the last. */
function encode (d: DurableLength): Buffer {
  const body = `${d.segment} ${String(d.length).padStart(15, '0')} ${String(d.pid).padStart(10, '0')}`
  return Buffer.from(`${body} ${zlib().crc32(body).toString(16).padStart(8, '0')}\n`)
}

function decode (text: string): DurableLength | undefined {
  const m = RECORD_RE.exec(text)
  if (m === null) return undefined
  const body = `${m[1]!} ${m[2]!} ${m[3]!}`
  if (zlib().crc32(body).toString(16).padStart(8, '0') !== m[4]) return undefined
  return { segment: m[1]!, length: Number(m[2]), pid: Number(m[3]) }
}

/** The writer's side: publishes synchronously, on the thread that commits, before it answers. */
export class DurableLengthPublisher {
  private constructor (private readonly fd: number) {}

  static open (spoolDir: string): DurableLengthPublisher {
    // Truncated at start, so a previous run's record is gone before the first is written; never
    // through a link, which would have the receiver overwrite whatever it points to.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW
    return new DurableLengthPublisher(openSync(join(spoolDir, DURABLE_LENGTH_FILE), flags, FILE_MODE))
  }

  publish (segment: string, length: number): void {
    const record = encode({ segment, length, pid: process.pid })
    writeSync(this.fd, record, 0, record.length, 0)
  }

  close (): void {
    closeSync(this.fd)
  }
}

/**
 * The published record; 'none' when nothing was ever published (no file, or an empty one: a
 * receiver that does not publish, or one that has not yet opened a segment); 'unreadable' when
 * no whole record could be read.
 */
export async function readDurableLength (spoolDir: string): Promise<DurableLength | 'none' | 'unreadable'> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let text: string
    try {
      text = await readFile(join(spoolDir, DURABLE_LENGTH_FILE), 'latin1')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
      throw err
    }
    if (text === '') return 'none'
    const record = decode(text)
    if (record !== undefined) return record
  }
  return 'unreadable'
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function processExists (pid: number): boolean {
  // 0 and negative numbers name process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Newest segments (by path) whose writer was found gone: gone for good, since no receiver appends
 * to a segment again, so the lock is not probed for them again. A few at most: one per receiver
 * death seen by this process.
 */
const orphaned = new Set<string>()

/**
 * How far the reader may read `segment`, the newest segment (open as `fh`):
 * - while its writer lives, what the writer published for it (0 before its first publication);
 * - once its writer is gone (killed, crashed, the machine restarted), the whole file, after an
 *   fdatasync: what is on disk then is what survived, and no receiver appends to it again.
 * The writer counts as alive while the pid it published exists (a pid reused after it died only
 * delays: the segment is read whole once a receiver starts again and seals it), and otherwise
 * while any receiver holds the data dir's lock.
 * With nothing ever published, no writer says how far: the whole file, after an fdatasync, as
 * before writers published (a receiver publishes before its first segment exists).
 */
export async function acknowledgedLength (layout: DataLayout, segment: string, fh: FileHandle): Promise<number> {
  const published = await readDurableLength(layout.spool)
  const record = typeof published === 'object' ? published : undefined
  const known = record?.segment === segment ? record.length : 0
  const { size } = await fh.stat()
  if (size <= known) return known
  const path = join(layout.spool, segment)
  if (published !== 'none' && !orphaned.has(path)) {
    if (record !== undefined && processExists(record.pid)) return known
    if (await isLockHeld(layout, 'receiver')) return known
    if (orphaned.size >= 64) orphaned.clear()
    orphaned.add(path)
  }
  try {
    await fh.datasync()
  } catch {
    return known
  }
  return size
}
