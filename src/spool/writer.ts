/**
 * The spool writer: appends lines to the newest segment with group commit.
 *
 * A line is acknowledged (its promise resolves) only once it is written (`os`) or written and
 * fdatasync'ed (`fsync`). While one write+sync is in flight, the lines that arrive wait in the
 * next batch; when it returns they all go out in one write and one sync. A lone line never waits
 * for a timer: with nothing in flight it is flushed at once (a batch timer only adds its wait to
 * every request; bench/NOTES.md has the figures).
 *
 * One refinement, PostgreSQL's commit_delay with commit_siblings: when the disk is slow (the last
 * sync took at least `minSyncMs`) and the batch just answered was large (at least `siblings`
 * lines), the next batch waits up to `maxWaitMs` for as many lines as were just answered, since
 * those clients are about to send their next callback. Without it the batches settle at half the
 * clients (one half syncs while the other waits); with it they take nearly all of them, for one
 * sync instead of two. A lone client, or any client on a fast disk, still never waits.
 *
 * After each commit, before answering, the writer publishes the segment's durable length (see
 * durable-length.ts): the reader hands the processor nothing past it, so nothing unacknowledged.
 *
 * After a failed write or sync the batch is cut off the segment (its lines are answered 503 and
 * must not reach the processor), and the segment is abandoned, never synced again (PostgreSQL's
 * "fsyncgate"): a new one is opened for the next batch, so the writer recovers by itself once the
 * disk is sound again. The one exception is a segment left empty by the cut: it holds nothing that
 * a failed sync could have lost, so it is kept for the next batch, and a disk that keeps failing
 * does not leave a new segment per refused batch.
 */
import { fdatasyncSync, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { SpoolClosedError, SpoolWriteError } from '../errors.js'
import { type DataLayout, listSegments, segmentName } from './layout.js'
import { ensureDir, FILE_MODE, fsyncDir } from '../fs/durable.js'
import { DurableLengthPublisher } from './durable-length.js'
import { recordRefused } from './refused.js'
import { findTornTail, quarantineFragment } from './quarantine.js'
import { DEFAULT_DURABILITY, DEFAULT_ROTATE_AGE_MS, DEFAULT_ROTATE_BYTES, type Durability } from './writer-defaults.js'

export type { Durability }

export interface SpoolWriterOptions {
  layout: DataLayout
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
  // every/map.
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
  private publisher: DurableLengthPublisher | undefined
  /** Whether the last publication failed (logged once per spell). */
  private publishFailing = false
  /** Segments abandoned since the last commit that succeeded (see `abandonSegment`). */
  private abandonedInARow = 0
  /** No new segment before this time (ms since the epoch). */
  private reopenAt = 0

  private constructor (options: SpoolWriterOptions, lastSeq: number) {
    this.layout = options.layout
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
    const layout = options.layout
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
    const last = segments.at(-1)
    // What the last run wrote and never synced is read once this segment is sealed: make it
    // durable first, so that nothing is handed over that a power cut could still take back.
    if (last !== undefined) await syncSegment(join(layout.spool, last.name), options.logger)
    const writer = new SpoolWriter(options, last?.seq ?? 0)
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
   * from libuv's thread pool (waking a sleeping thread costs more than a fast disk's sync).
   * Durability is the same either way; everything else goes through group commit.
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
    this.publisher?.close()
    this.publisher = undefined
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
      if (Date.now() < this.reopenAt) {
        this.stats.writeErrors++
        throw new SpoolWriteError('the spool keeps failing: no new segment before the back-off ends')
      }
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
        return await this.syncFailed(seg, err)
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
      return this.asFlush(this.writeFailed(seg, err))
    }
    if (this.durability === 'fsync') {
      try {
        fdatasyncSync(seg.fh.fd)
      } catch (err) {
        return this.asFlush(this.syncFailed(seg, err))
      }
    }
    this.stats.inlineCommits++
    this.committed(seg, 1, data.length, started)
    return Promise.resolve()
  }

  /**
   * Runs an inline commit's failure handling as a flush: no other commit may write to the segment
   * while the refused line is cut off it (the cut would take the other line with it).
   */
  private asFlush (failure: Promise<never>): Promise<never> {
    this.flushing = failure.then(() => {}, () => {}).finally(() => {
      this.flushing = undefined
      if (this.pending.length > 0) this.flushing = this.flushLoop()
    })
    return failure
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
    this.abandonedInARow = 0
    this.publish(seg)
    this.stats.onBatch?.(records, bytes, seconds)
  }

  /**
   * Tells readers how far `seg` is durable. A failure does not refuse the batch (its lines are
   * durable): the processor only sees them later, after a later publication or once the segment
   * is sealed.
   */
  private publish (seg: OpenSegment): void {
    try {
      if (this.publisher === undefined) this.publisher = DurableLengthPublisher.open(this.layout.spool)
      this.publisher.publish(seg.name, seg.size)
      if (this.publishFailing) this.logger.info({ segment: seg.name }, 'durable length published again')
      this.publishFailing = false
    } catch (err) {
      if (!this.publishFailing) {
        this.logger.error({ err, segment: seg.name }, 'cannot publish the durable length: the processor sees the new lines only later')
      }
      this.publishFailing = true
    }
  }

  private async writeFailed (seg: OpenSegment, err: unknown): Promise<never> {
    this.stats.writeErrors++
    await this.refuseBatch(seg, err)
    throw new SpoolWriteError(`cannot write to the spool: ${(err as Error).message}`, { cause: err })
  }

  private async syncFailed (seg: OpenSegment, err: unknown): Promise<never> {
    this.stats.writeErrors++
    await this.refuseBatch(seg, err)
    throw new SpoolWriteError(`cannot sync the spool: ${(err as Error).message}`, { cause: err })
  }

  /**
   * Cuts a refused batch off the segment: its lines are answered 503, the provider sends them
   * again, and they must not reach the processor meanwhile. The cut is synced (metadata only;
   * best effort) so that a power cut does not bring them back.
   *
   * A segment left empty holds nothing a failed sync could have lost (its pages are gone with the
   * cut): it is kept for the next batch, or a disk that keeps failing would leave one segment per
   * refused batch. Any other segment is abandoned: the durable lines before the batch may share a
   * page with it, and after a failed sync nothing says what of that page reached the disk.
   */
  private async refuseBatch (seg: OpenSegment, err: unknown): Promise<void> {
    const cut = await seg.fh.truncate(seg.size).then(() => true, () => false)
    if (cut) {
      await seg.fh.sync().catch(() => {})
    } else {
      // The segment is abandoned below, so its refused lines are all after this offset.
      await recordRefused(this.layout.spool, seg.name, seg.size).then(
        () => this.logger.error({ segment: seg.name, offset: seg.size }, 'cannot cut a refused batch off its segment: recorded as refused from this offset'),
        (recordErr: unknown) => this.logger.error({ err: recordErr, segment: seg.name, offset: seg.size },
          'cannot cut a refused batch off its segment nor record it: the processor may dispatch its lines'))
    }
    if (!(cut && seg.size === 0)) await this.abandonSegment(err)
  }

  private async openSegment (): Promise<void> {
    // Opened before the first segment, so that a reader never finds a live writer's segment
    // without a record to go by (the file is created once; later opens only truncate it).
    if (this.publisher === undefined) this.publisher = DurableLengthPublisher.open(this.layout.spool)
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
    this.publish(this.segment)
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

  /**
   * Closes a segment that failed. The next batch opens a new one at once; if that one fails too
   * (and could not be cut back to empty), the next waits 0.1 s, then twice as long each time up to
   * 5 s (its batches are refused meanwhile): a disk that keeps failing gets a few segments, not one
   * per refused batch.
   */
  private async abandonSegment (cause: unknown): Promise<void> {
    const seg = this.segment
    if (seg === undefined) return
    this.segment = undefined
    this.abandonedInARow++
    if (this.abandonedInARow >= 2) this.reopenAt = Date.now() + Math.min(5000, 100 * 2 ** (this.abandonedInARow - 2))
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

/** fdatasync of a segment a previous run left, best effort (logged). */
async function syncSegment (path: string, logger: Logger): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(path, 'r')
    await fh.datasync()
  } catch (err) {
    logger.error({ err, segment: path }, 'cannot sync the segment a previous run left')
  } finally {
    await fh?.close().catch(() => {})
  }
}
