/**
 * The spool writer: appends lines to the newest segment with group commit.
 *
 * A line is acknowledged (its promise resolves) only once it is written (`os`) or written and
 * fdatasync'ed (`fsync`). While one write+sync is in flight, the lines that arrive wait in the
 * next batch; when it returns they all go out in one write and one sync. A lone line never waits
 * for a timer: with nothing in flight it is flushed at once (LESSONS.md: 36.8k req/s vs 17.4k).
 *
 * One refinement, PostgreSQL's commit_delay with commit_siblings: when the disk is slow (the last
 * sync took at least `minSyncMs`) and the batch just answered was large (at least `siblings`
 * lines), the next batch waits up to `maxWaitMs` for as many lines as were just answered, since
 * those clients are about to send their next callback. Without it the batches settle at half the
 * clients (one half syncs while the other waits); with it they take nearly all of them, for one
 * sync instead of two. A lone client, or any client on a fast disk, still never waits.
 *
 * After a failed write or sync the segment is abandoned, never retried (PostgreSQL's
 * "fsyncgate"): a new one is opened for the next batch, so the writer recovers by itself once
 * the disk has room again. The one exception is an empty segment whose first write found the
 * disk full: it holds nothing and no sync failed on it, so it is kept for the next batch.
 */
import { fdatasyncSync, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { SpoolClosedError, SpoolWriteError } from '../errors.js'
import { dataLayout, segmentName, type DataLayout } from './layout.js'
import { ensureDir, FILE_MODE, fsyncDir, listSegments } from './fsutil.js'
import { findTornTail, quarantineFragment } from './quarantine.js'
import { DEFAULT_DURABILITY, DEFAULT_ROTATE_AGE_MS, DEFAULT_ROTATE_BYTES, type Durability } from './writer-defaults.js'

export type { Durability }

export interface SpoolWriterOptions {
  dataDir: string
  /** @default 'fsync' */
  durability?: Durability
  /** Seal the segment when a batch would take it past this size. @default 64 MiB */
  rotateBytes?: number
  /** Seal the segment once it is this old. @default 1 h */
  rotateAgeMs?: number
  logger: Logger
  /** When the next batch waits for the clients just answered (see above). */
  commitDelay?: Partial<CommitDelay>
}

export interface CommitDelay {
  /** Only after a sync at least this slow. @default 2 */
  minSyncMs: number
  /** Only after a batch of at least this many lines. @default 5 */
  siblings: number
  /** The longest wait. @default 1 */
  maxWaitMs: number
}

export const DEFAULT_COMMIT_DELAY: CommitDelay = { minSyncMs: 2, siblings: 5, maxWaitMs: 1 }

/** Figures for metrics and tests. */
export interface SpoolWriterStats {
  batches: number
  records: number
  bytes: number
  writeErrors: number
  segmentsOpened: number
  /** Lines committed on the main thread, alone (see `append`). */
  inlineCommits: number
  /** Called after each durable batch. */
  onBatch?: (records: number, bytes: number, syncSeconds: number) => void
}

interface PendingLine {
  /** A string line is encoded with the rest of its batch, in one allocation. */
  data: string | Buffer
  resolve: () => void
  reject: (err: Error) => void
}

interface OpenSegment {
  name: string
  fh: FileHandle
  size: number
  openedAt: number
}

/** The batch's bytes: one buffer, encoded in one go when the lines are strings (the receiver's case). */
function encodeBatch (batch: PendingLine[]): Buffer {
  if (batch.length === 1) {
    const only = batch[0]!.data
    return typeof only === 'string' ? Buffer.from(only, 'utf8') : only
  }
  // Plain loops: this runs once per commit, too rarely for V8 to optimise callbacks given to
  // every/map, and it showed in profiles of the loaded receiver.
  let text = ''
  for (let i = 0; i < batch.length; i++) {
    const data = batch[i]!.data
    if (typeof data !== 'string') return Buffer.concat(batch.map((p) => typeof p.data === 'string' ? Buffer.from(p.data, 'utf8') : p.data))
    text += data
  }
  return Buffer.from(text, 'utf8')
}

function writeAll (fd: number, data: Buffer): void {
  let written = 0
  while (written < data.length) written += writeSync(fd, data, written, data.length - written)
}

function isOutOfSpace (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export class SpoolWriter {
  readonly layout: DataLayout
  readonly stats: SpoolWriterStats = { batches: 0, records: 0, bytes: 0, writeErrors: 0, segmentsOpened: 0, inlineCommits: 0 }
  private readonly durability: Durability
  private readonly rotateBytes: number
  private readonly rotateAgeMs: number
  private readonly logger: Logger
  private segment: OpenSegment | undefined
  private lastSeq: number
  private pending: PendingLine[] = []
  private flushing: Promise<void> | undefined
  private closed = false
  private ageTimer: NodeJS.Timeout | undefined
  private readonly commitDelay: CommitDelay
  private lastSyncMs = 0
  /** While the next batch waits: the number of pending lines that ends the wait, and how to end it. */
  private gathering: { target: number, done: () => void } | undefined

  private constructor (options: SpoolWriterOptions, lastSeq: number) {
    this.layout = dataLayout(options.dataDir)
    this.durability = options.durability ?? DEFAULT_DURABILITY
    this.rotateBytes = options.rotateBytes ?? DEFAULT_ROTATE_BYTES
    this.rotateAgeMs = options.rotateAgeMs ?? DEFAULT_ROTATE_AGE_MS
    this.logger = options.logger
    this.lastSeq = lastSeq
    this.commitDelay = { ...DEFAULT_COMMIT_DELAY, ...options.commitDelay }
  }

  /**
   * Opens the spool for appending: seals what a previous run left (quarantining a torn last
   * line), then begins a new segment. The caller holds the receiver lock.
   */
  static async open (options: SpoolWriterOptions): Promise<SpoolWriter> {
    const layout = dataLayout(options.dataDir)
    await ensureDir(layout.root)
    await ensureDir(layout.spool)
    const segments = await listSegments(layout.spool)
    for (const seg of segments) {
      const tail = await findTornTail(join(layout.spool, seg.name))
      if (tail === undefined) continue
      let quarantined: { path: string, created: boolean }
      try {
        quarantined = await quarantineFragment(layout.quarantine, seg.name, tail)
      } catch (err) {
        // A full disk must not keep the receiver down. The fragment stays in its sealed segment,
        // which is never appended to, and the next start tries again.
        options.logger.error({ err, segment: seg.name, offset: tail.offset, bytes: tail.fragment.length },
          'torn last line found at start but it could not be quarantined; the segment stays sealed')
        continue
      }
      if (quarantined.created) {
        options.logger.warn({ segment: seg.name, offset: tail.offset, bytes: tail.fragment.length, quarantine: quarantined.path },
          'torn last line found at start: segment sealed, fragment quarantined (it was never acknowledged)')
      }
    }
    const writer = new SpoolWriter(options, segments.at(-1)?.seq ?? 0)
    try {
      if (!await writer.resumeEmptySegment(segments.at(-1)?.name)) await writer.openSegment()
    } catch (err) {
      // A full disk at start must not keep the receiver down: it answers 503 until there is room.
      writer.logger.error({ err }, 'cannot open a new spool segment; will retry on the next request')
    }
    const interval = Math.max(50, Math.min(writer.rotateAgeMs / 4, 60_000))
    writer.ageTimer = setInterval(() => writer.sealIfOld(), interval).unref()
    return writer
  }

  /**
   * Appends to the last segment when it is empty (a previous start that spooled nothing), so
   * that restarts in a row leave one empty file, not one each, and its mtime stays that of its
   * creation rather than of the last restart.
   */
  private async resumeEmptySegment (name: string | undefined): Promise<boolean> {
    if (name === undefined) return false
    const fh = await open(join(this.layout.spool, name), 'a')
    try {
      if ((await fh.stat()).size !== 0) {
        await fh.close()
        return false
      }
      // The run that created it may have died before its directory entry was synced.
      await fsyncDir(this.layout.spool)
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
    this.segment = { name, fh, size: 0, openedAt: Date.now() }
    this.logger.debug({ segment: name }, 'empty segment resumed')
    return true
  }

  /** Name of the segment being appended to, if one is open. */
  get currentSegment (): string | undefined {
    return this.segment?.name
  }

  /**
   * Appends one complete line (ending in `\n`); resolves once it is durable.
   *
   * `alone`, a hint: no other client could send a line meanwhile (the receiver has one connection
   * open, and this is its request), so no batch would form behind the sync. On a fast disk the
   * line is then written and fdatasync'ed on the main thread, which saves the two hand-offs to and
   * from libuv's thread pool (about 0.4 ms a request on this VM, where waking a sleeping thread is
   * slow). Durability is the same either way; everything else goes through group commit.
   */
  append (line: string | Buffer, alone = false): Promise<void> {
    if (this.closed) return Promise.reject(new SpoolClosedError())
    if (alone && typeof line === 'string') {
      const inline = this.commitInline(line)
      if (inline !== undefined) return inline
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data: line, resolve, reject })
      if (this.flushing === undefined) this.flushing = this.flushLoop()
      else if (this.gathering !== undefined && this.pending.length >= this.gathering.target) this.gathering.done()
    })
  }

  /** Stops taking lines, commits what is pending, closes the segment. */
  async close (): Promise<void> {
    this.closed = true
    this.gathering?.done()
    if (this.ageTimer !== undefined) clearInterval(this.ageTimer)
    while (this.flushing !== undefined) await this.flushing
    await this.sealSegment()
  }

  private async flushLoop (): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending
        this.pending = []
        try {
          await this.commit(batch)
          for (const p of batch) p.resolve()
        } catch (err) {
          for (const p of batch) p.reject(err as Error)
          continue
        }
        if (this.shouldDelay(batch.length)) await this.gather(this.pending.length + batch.length)
      }
    } finally {
      this.flushing = undefined
    }
  }

  /** Whether syncs are slow enough (the last took `minSyncMs` or more) to change how lines are committed. */
  private get slowDisk (): boolean {
    return this.durability === 'fsync' && this.lastSyncMs >= this.commitDelay.minSyncMs
  }

  private shouldDelay (answered: number): boolean {
    return this.slowDisk && !this.closed && answered >= this.commitDelay.siblings
  }

  /** Waits until `target` lines are pending, or `maxWaitMs`, whichever comes first. */
  private gather (target: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let deadline = 0
      let timer: NodeJS.Timeout | undefined
      // libuv measures timers from the start of the loop turn, which can be long past when the
      // turn answered a whole batch: re-arm until the wait has really lasted maxWaitMs.
      const arm = (): void => {
        const left = deadline - performance.now()
        if (left <= 0) { done(); return }
        timer = setTimeout(arm, Math.max(1, Math.ceil(left)))
      }
      const done = (): void => {
        clearImmediate(start)
        clearTimeout(timer)
        this.gathering = undefined
        resolve()
      }
      this.gathering = { target, done }
      // The clock starts once this turn has answered the batch just synced: writing those answers
      // can itself take a millisecond, and no client can come back before it has its answer.
      const start = setImmediate(() => {
        deadline = performance.now() + this.commitDelay.maxWaitMs
        arm()
      })
    })
  }

  private async commit (batch: PendingLine[]): Promise<void> {
    const data = encodeBatch(batch)
    if (this.segment !== undefined && this.mustRotate(this.segment, data.length)) {
      await this.sealSegment()
    }
    if (this.segment === undefined) {
      try {
        await this.openSegment()
      } catch (err) {
        this.stats.writeErrors++
        throw new SpoolWriteError(`cannot open a spool segment: ${(err as Error).message}`, { cause: err })
      }
    }
    const seg = this.segment!
    const started = process.hrtime.bigint()
    try {
      // A synchronous write: it only copies the batch into the page cache, in microseconds. On the
      // thread pool it would put an event-loop turn between the write and the sync, and the main
      // thread, busy answering the previous batch and reading the next, would start every sync late.
      writeAll(seg.fh.fd, data)
    } catch (err) {
      return await this.writeFailed(seg, err)
    }
    if (this.durability === 'fsync') {
      try {
        await seg.fh.datasync()
      } catch (err) {
        return await this.syncFailed(err)
      }
    }
    this.committed(seg, batch.length, data.length, started)
  }

  /**
   * A lone line committed on the main thread: written and fdatasync'ed before this returns.
   * Only when nothing is in flight or pending, the segment is open and needs no rotation, and
   * the disk is fast (see `append`); undefined when the line must go the usual way.
   */
  private commitInline (line: string): Promise<void> | undefined {
    const seg = this.segment
    if (seg === undefined || this.flushing !== undefined || this.pending.length > 0 || this.slowDisk) return undefined
    const data = Buffer.from(line, 'utf8')
    if (this.mustRotate(seg, data.length)) return undefined
    const started = process.hrtime.bigint()
    try {
      writeAll(seg.fh.fd, data)
    } catch (err) {
      return this.writeFailed(seg, err)
    }
    if (this.durability === 'fsync') {
      try {
        fdatasyncSync(seg.fh.fd)
      } catch (err) {
        return this.syncFailed(err)
      }
    }
    this.stats.inlineCommits++
    this.committed(seg, 1, data.length, started)
    return Promise.resolve()
  }

  /** Whether `bytes` more must go to a new segment. An empty segment takes any batch, however large. */
  private mustRotate (seg: OpenSegment, bytes: number): boolean {
    return seg.size > 0 && (seg.size + bytes > this.rotateBytes || this.isOld(seg))
  }

  private isOld (seg: OpenSegment): boolean {
    return Date.now() - seg.openedAt >= this.rotateAgeMs
  }

  private committed (seg: OpenSegment, records: number, bytes: number, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (this.durability === 'fsync') this.lastSyncMs = seconds * 1000
    seg.size += bytes
    this.stats.batches++
    this.stats.records += records
    this.stats.bytes += bytes
    this.stats.onBatch?.(records, bytes, seconds)
  }

  private async writeFailed (seg: OpenSegment, err: unknown): Promise<never> {
    this.stats.writeErrors++
    // Best effort: cut the partial batch off so no line of a refused request stays behind.
    const cut = await seg.fh.truncate(seg.size).then(() => true, () => false)
    // A segment whose first write found the disk full holds nothing, and no sync failed on it:
    // it is kept for the next batch, or a long full-disk spell would leave one empty segment
    // per refused request. Any other failure abandons the segment.
    if (!(cut && seg.size === 0 && isOutOfSpace(err))) await this.abandonSegment(err)
    throw new SpoolWriteError(`cannot write to the spool: ${(err as Error).message}`, { cause: err })
  }

  private async syncFailed (err: unknown): Promise<never> {
    this.stats.writeErrors++
    await this.abandonSegment(err)
    throw new SpoolWriteError(`cannot sync the spool: ${(err as Error).message}`, { cause: err })
  }

  private async openSegment (): Promise<void> {
    const now = new Date()
    const name = segmentName(this.lastSeq + 1, now)
    const path = join(this.layout.spool, name)
    // 'ax': O_CREAT|O_EXCL|O_APPEND: never reuse an existing file.
    const fh = await open(path, 'ax', FILE_MODE)
    this.lastSeq++
    try {
      await fh.chmod(FILE_MODE)
      await fsyncDir(this.layout.spool)
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
    this.segment = { name, fh, size: 0, openedAt: now.getTime() }
    this.stats.segmentsOpened++
    this.logger.debug({ segment: name }, 'segment opened')
  }

  private async sealSegment (): Promise<void> {
    const seg = this.segment
    if (seg === undefined) return
    this.segment = undefined
    await seg.fh.close()
    this.logger.info({ segment: seg.name, bytes: seg.size }, 'segment sealed')
  }

  private async abandonSegment (cause: unknown): Promise<void> {
    const seg = this.segment
    if (seg === undefined) return
    this.segment = undefined
    await seg.fh.close().catch(() => {})
    this.logger.error({ err: cause, segment: seg.name }, 'spool write failed: segment abandoned, the next batch opens a new one')
  }

  private sealIfOld (): void {
    const seg = this.segment
    if (seg === undefined || seg.size === 0 || this.flushing !== undefined || !this.isOld(seg)) return
    // Run as a flush so no commit can interleave with the close.
    this.flushing = this.sealSegment()
      .catch((err: unknown) => this.logger.error({ err }, 'sealing an old segment failed'))
      .finally(() => {
        this.flushing = undefined
        if (this.pending.length > 0) this.flushing = this.flushLoop()
      })
  }
}
