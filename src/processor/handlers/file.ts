/**
 * `file:PATH`: appends the normalised record as one NDJSON line. Lines are encoded straight into
 * large reusable buffers (no string per batch, no copy at write time) and written as each fills,
 * then made durable with one fdatasync per batch (flush), before the checkpoint moves past them.
 */
import { type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ensureDir, openForAppend, writeFully } from '../../fs/durable.js'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

/** Bytes per write: large enough that syscalls are rare, small enough to stay in the CPU cache. */
const BUFFER_BYTES = 256 * 1024
/** UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3

export class FileHandler implements Handler {
  readonly target: string
  readonly path: string
  private buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES)
  private used = 0
  /** Buffers whose write has finished, ready to be filled again (bounded by the writes of one batch). */
  private readonly spare: Buffer[] = []
  private fh: FileHandle | undefined
  /** The file's length after the last complete write. */
  private size = 0
  /** Writes in flight, chained so they land in order. */
  private writing: Promise<void> = Promise.resolve()
  private writeError: unknown
  /** A commit failed while writes were held behind it: they are dropped. */
  private dropping = false
  /** Bytes written since the last fdatasync began: an idle flush (a pass that found nothing) syncs nothing. */
  private unsynced = false
  /** A regular file; a device (`file:/dev/null`) or a FIFO keeps nothing to sync, and fdatasync(2) refuses it (EINVAL). */
  private regular = true

  constructor (target: string, path: string) {
    this.target = target
    this.path = resolve(path)
  }

  handle (record: NormalisedCallback): HandlerOutcome {
    const line = JSON.stringify(record)
    const worst = line.length * MAX_BYTES_PER_UNIT + 1
    if (this.used + worst > this.buffer.length) {
      this.startWrite()
      // A line longer than a whole buffer gets a buffer of its own.
      if (worst > this.buffer.length) this.buffer = Buffer.allocUnsafe(worst)
    }
    this.used += this.buffer.write(line, this.used)
    this.buffer[this.used++] = 0x0a
    return DONE
  }

  private startWrite (): void {
    if (this.used === 0) return
    const full = this.buffer
    const length = this.used
    this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES)
    this.used = 0
    this.writing = this.writing.then(async () => {
      if (this.writeError !== undefined || this.dropping) return
      try {
        if (this.fh === undefined) {
          await ensureDir(dirname(this.path))
          this.fh = await openForAppend(this.path)
          const st = await this.fh.stat()
          this.size = st.size
          this.regular = st.isFile()
        }
        await this.append(this.fh, full, length)
        this.unsynced = true
        if (full.length === BUFFER_BYTES) this.spare.push(full)
      } catch (err) {
        this.writeError = err
      }
    })
  }

  /** A write cut short (a full disk) is cut back, so that the next one does not glue a record to half a line. */
  private async append (fh: FileHandle, data: Buffer, length: number): Promise<void> {
    try {
      await writeFully(fh, data, length)
      this.size += length
    } catch (err) {
      await fh.truncate(this.size).catch(() => {})
      throw err
    }
  }

  /** Writes queued from now on wait for `done`; if it fails, they are dropped (the pass fails, and hands them over again). */
  holdOutputUntil (done: Promise<unknown>): void {
    this.writing = this.writing.then(() => done.then(() => {}, () => { this.dropping = true }))
  }

  /** The pass failed: what is buffered or held is dropped, not written by the next pass (which dispatches it again). */
  async discard (): Promise<void> {
    this.dropping = true
    await this.writing
    this.used = 0
    this.dropping = false
    this.writeError = undefined
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => {})
  }

  /**
   * Writes what is left and fdatasyncs. Throws when any line of the batch could not be written:
   * the caller then does not checkpoint past them, and they are dispatched again.
   */
  async flush (): Promise<void> {
    this.startWrite()
    await this.writing
    try {
      if (this.writeError !== undefined) throw this.writeError
      if (!this.unsynced) return
      // Cleared first: a write that lands while the sync runs is synced by the next flush.
      this.unsynced = false
      if (this.regular) await this.fh?.datasync()
    } catch (err) {
      this.writeError = undefined
      // Closed (to be opened again by the next write) without waiting for the writes queued
      // since the call: they may be held until the very commit that waits for this flush.
      const fh = this.fh
      this.fh = undefined
      await fh?.close().catch(() => {})
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    await this.writing
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => {})
  }
}
