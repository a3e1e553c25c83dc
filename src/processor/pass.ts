/**
 * One pass of the processor: the re-queue files first, then the spool from the checkpoint to its
 * end; each record decoded, classified, normalised and dispatched; the output made durable and
 * the checkpoint saved after every batch, never before (fluent-bit #2846).
 *
 * Lines of a chunk are handled synchronously while the handlers answer synchronously (the file
 * handler), so the fast path pays no await per record.
 */
import type { Logger } from 'pino'
import { decodeRecord } from '../record.js'
import { BacklogCounter } from '../spool/backlog.js'
import { segmentSizes } from '../spool/disk.js'
import { loadCheckpoint, saveCheckpoint } from '../spool/checkpoint.js'
import { ensureDir, unlinkIfExists, writeFileDurably } from '../spool/fsutil.js'
import { DEFAULT_DATA_DIR, dataLayout, type DataLayout } from '../spool/layout.js'
import { quarantineFragment } from '../spool/quarantine.js'
import { readFileLineBatches, readLineBatches, segmentBefore, type SpoolLine, type SpoolPosition, type TornFragment } from '../spool/reader.js'
import { attemptsFileText, loadAttempts, saveAttemptsText, type Attempts } from './attempts.js'
import { DeadLetterWriter } from './dead-letters.js'
import { Dispatcher, type DispatchResult, type Route } from './dispatch.js'
import { emptyFigures, writeMetricsFile, type PassFigures } from './metrics.js'
import { normaliseCallback, type NormalisedCallback } from './normalise.js'
import { ProgressBar } from './progress.js'
import { ZonedTimeReader } from './provider-time.js'
import { listRequeueFiles } from './requeue.js'
import { WakeableSleep } from './wakeable-sleep.js'
import { deleteOldSegments } from './retention.js'

export interface ProcessorOptions {
  dataDir: string
  /** `--on` routes; empty: every kind to `<data-dir>/out/<kind>.ndjson`. */
  routes: Route[]
  /** @default 'Europe/Paris' */
  providerTz: string
  /** Failed passes before a record is dead-lettered. @default 5 */
  maxAttempts: number
  /** Tries of one record within a pass. @default 3 */
  tries: number
  /** First back-off between tries, doubled each time. @default 500 ms */
  retryDelayMs: number
  /** Timeout of one exec or http call. @default 30 s */
  handlerTimeoutMs: number
  /** Records between checkpoints (at most: redeliveries after a crash are bounded by one batch). @default 10000 */
  batchSize: number
  /** Checkpoint at least this often when handlers are slow. @default 1 s */
  checkpointIntervalMs: number
  /** Fully processed segments older than this are deleted after a pass. @default 7 d */
  retainMs: number
  metricsFile?: string
  /** Show a progress bar on a terminal. @default true */
  progress: boolean
}

export const PROCESS_DEFAULTS: ProcessorOptions = {
  dataDir: DEFAULT_DATA_DIR,
  routes: [],
  providerTz: 'Europe/Paris',
  maxAttempts: 5,
  tries: 3,
  retryDelayMs: 500,
  handlerTimeoutMs: 30_000,
  batchSize: 10_000,
  checkpointIntervalMs: 1000,
  retainMs: 7 * 86_400_000,
  progress: true,
}

type LineResult = 'next' | 'stop'

export class Processor {
  readonly options: ProcessorOptions
  readonly layout: DataLayout
  private readonly logger: Logger
  private readonly dispatcher: Dispatcher
  private readonly time: ZonedTimeReader
  private stopRequested = false
  /** The back-off between tries, cut short by requestStop. */
  private readonly backOff = new WakeableSleep()

  // State of the pass in progress.
  private figures = emptyFigures(new Date())
  private attempts: Attempts = Object.create(null) as Attempts
  private attemptsDirty = false
  private anyAttempts = false
  private deadLetters: DeadLetterWriter
  /** Counts the lag after each pass; remembers what it read, for the passes that follow. */
  private readonly backlog: BacklogCounter
  private position: SpoolPosition | undefined
  private savedPosition: SpoolPosition | undefined
  /** A commit started by commitInBackground and not waited for yet. */
  private commitInFlight: Promise<void> | undefined

  private constructor (options: ProcessorOptions, logger: Logger, dispatcher: Dispatcher, time: ZonedTimeReader) {
    this.options = options
    this.layout = dataLayout(options.dataDir)
    this.logger = logger
    this.dispatcher = dispatcher
    this.time = time
    this.deadLetters = new DeadLetterWriter(options.dataDir)
    this.backlog = new BacklogCounter(options.dataDir)
  }

  /** Checks the options and builds the handlers (loads module handlers); starts nothing. */
  static async create (options: ProcessorOptions, logger: Logger): Promise<Processor> {
    const time = new ZonedTimeReader(options.providerTz)
    const dispatcher = await Dispatcher.create(options.routes, options.dataDir, { timeoutMs: options.handlerTimeoutMs })
    return new Processor(options, logger, dispatcher, time)
  }

  /** SIGTERM: finish the record in hand, checkpoint, and end the pass. */
  requestStop (): void {
    this.stopRequested = true
    this.backOff.wake()
  }

  get stopping (): boolean {
    return this.stopRequested
  }

  async close (): Promise<void> {
    await this.dispatcher.close()
  }

  /** One pass. The caller holds the processor lock. Throws CheckpointError on a bad checkpoint. */
  async runPass (): Promise<PassFigures> {
    const started = new Date()
    const figures = this.figures = emptyFigures(started)
    this.deadLetters = new DeadLetterWriter(this.options.dataDir)
    this.attempts = await loadAttempts(this.options.dataDir)
    this.anyAttempts = Object.keys(this.attempts).length > 0
    this.attemptsDirty = false
    const checkpoint = await loadCheckpoint(this.options.dataDir)
    this.position = checkpoint === undefined ? undefined : { segment: checkpoint.segment, offset: checkpoint.offset }
    this.savedPosition = this.position

    let outcome: PassFigures['outcome']
    try {
      outcome = await this.processRequeue()
      if (outcome === 'done') outcome = await this.processSpool()
    } catch (err) {
      // An output that cannot be written (disk full, I/O error) or a spool that cannot be read:
      // the checkpoint stayed before what was not made durable; try again later.
      // A commit still in flight may yet save a checkpoint: let it end first.
      await this.commitInFlight?.catch(() => {})
      this.commitInFlight = undefined
      this.logger.error({ err }, 'pass failed: the checkpoint stays before the records not made durable; retry later')
      this.position = this.savedPosition
      outcome = 'retry_later'
    }
    figures.outcome = outcome

    try {
      figures.segments_deleted = (await deleteOldSegments(this.layout.spool, this.position, this.options.retainMs)).length
    } catch (err) {
      this.logger.error({ err }, 'retention failed')
    }
    const lag = await this.backlog.measure(this.position)
    figures.lag_records = lag.records
    figures.lag_bytes = lag.bytes
    figures.lag_oldest_age_seconds = lag.oldestAgeMs === undefined ? null : Math.round(lag.oldestAgeMs / 1000)
    figures.checkpoint = this.position === undefined ? null : { ...this.position }
    const finished = new Date()
    figures.finished_at = finished.toISOString()
    figures.duration_ms = finished.getTime() - started.getTime()
    return figures
  }

  /** last-pass.json for `status`, and the metrics file. */
  async recordPass (figures: PassFigures): Promise<void> {
    await ensureDir(this.layout.state)
    await writeFileDurably(this.layout.lastPass,
      JSON.stringify({ when: figures.finished_at, outcome: figures.outcome, figures }) + '\n')
    if (this.options.metricsFile !== undefined) await writeMetricsFile(this.options.metricsFile, figures)
  }

  private async processRequeue (): Promise<PassFigures['outcome']> {
    for (const path of await listRequeueFiles(this.options.dataDir)) {
      for await (const lines of readFileLineBatches(path)) {
        for (const line of lines) {
          this.figures.requeued_read++
          let result = this.handleLine(line)
          if (result instanceof Promise) result = await result
          if (result === 'stop') {
            await this.commit(false)
            return this.stopRequested ? 'stopped' : 'retry_later'
          }
        }
        await this.commit(false)
      }
      await unlinkIfExists(path)
      this.logger.info({ file: path }, 're-queued records dispatched')
      if (this.stopRequested) return 'stopped'
    }
    return 'done'
  }

  private async processSpool (): Promise<PassFigures['outcome']> {
    const { batchSize, checkpointIntervalMs } = this.options
    // Sizing the backlog stats every segment: only worth it when a bar can be drawn at all.
    const progress = this.options.progress && process.stderr.isTTY === true ? ProgressBar.maybe(await this.bytesAfter(this.position)) : undefined
    let sinceCommit = 0
    let lastCommit = Date.now()
    let doneBytes = 0
    try {
      const batches = readLineBatches(this.layout.spool, this.position, { onTorn: (torn) => this.quarantine(torn) })
      for await (const batch of batches) {
        const lines = batch.lines
        // The last line settled: the position is built from it only when a commit needs it.
        let settled: SpoolLine | undefined
        const keepPosition = (): void => {
          if (settled !== undefined) this.position = { segment: settled.segment, offset: settled.nextOffset }
          settled = undefined
        }
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i]!
          let result = this.handleLine(line)
          let slow = false
          if (result instanceof Promise) {
            result = await result
            slow = true
          }
          if (result === 'stop') {
            keepPosition()
            await this.commit(true)
            return this.stopRequested ? 'stopped' : 'retry_later'
          }
          settled = line
          doneBytes += line.nextOffset - line.offset
          this.figures.records_read++
          ++sinceCommit
          // Fast handlers: commit by count (the clock is read now and then); slow ones: also by time.
          if (sinceCommit >= batchSize || ((slow || (sinceCommit & 255) === 0) && Date.now() - lastCommit >= checkpointIntervalMs)) {
            keepPosition()
            if (this.dispatcher.holdsOutput) await this.commitInBackground()
            else await this.commit(true)
            sinceCommit = 0
            lastCommit = Date.now()
            progress?.update(doneBytes, this.figures.records_read)
          }
          if (this.stopRequested) {
            keepPosition()
            await this.commit(true)
            return 'stopped'
          }
        }
        this.position = batch.next
      }
      await this.commit(true)
      return 'done'
    } finally {
      progress?.end()
    }
  }

  /** Flushes the handlers' output and the dead letters, then saves attempts and the checkpoint. */
  private async commit (checkpoint: boolean): Promise<void> {
    await this.settleCommitInFlight()
    await this.startCommit(checkpoint)
  }

  /** Waits for the commit left in flight, if any, and throws its error. */
  private async settleCommitInFlight (): Promise<void> {
    const inFlight = this.commitInFlight
    this.commitInFlight = undefined
    await inFlight
  }

  /**
   * A commit whose content (position, attempts, buffered output, dead letters) is taken now,
   * synchronously, so that the next batch may be worked on while it is written.
   */
  private startCommit (checkpoint: boolean): Promise<void> {
    const position = this.position
    const attemptsText = this.attemptsDirty ? attemptsFileText(this.attempts) : undefined
    this.attemptsDirty = false
    const flushed = Promise.all([this.dispatcher.flush(), this.deadLetters.flush()])
    return (async () => {
      await flushed
      if (attemptsText !== undefined) await saveAttemptsText(this.options.dataDir, attemptsText)
      const saved = this.savedPosition
      if (checkpoint && position !== undefined && (saved === undefined || position.segment !== saved.segment || position.offset !== saved.offset)) {
        await saveCheckpoint(this.options.dataDir, position)
        this.savedPosition = position
      }
    })()
  }

  /**
   * A commit left to run while the next batch is dispatched, for handlers that only buffer
   * (files): their writes are held until it is done, so the output of one batch at most is on
   * disk past the checkpoint (redeliveries after a crash stay bounded by one batch), while the
   * fdatasyncs and the checkpoint's fsyncs no longer stall the pass. At most one is in flight:
   * the next commit, which every way out of a pass goes through, waits for it and throws its error.
   */
  private async commitInBackground (): Promise<void> {
    await this.settleCommitInFlight()
    const commit = this.startCommit(true)
    commit.catch(() => {})
    this.commitInFlight = commit
    this.dispatcher.holdOutputUntil(commit)
  }

  private async quarantine (torn: TornFragment): Promise<void> {
    const { path, created } = await quarantineFragment(this.layout.quarantine, torn.segment, { offset: torn.offset, fragment: torn.fragment })
    this.figures.quarantined++
    if (created) {
      this.logger.warn({ segment: torn.segment, offset: torn.offset, bytes: torn.fragment.length, quarantine: path },
        'torn line at the end of a sealed segment: fragment quarantined (it was never acknowledged)')
    }
  }

  /** One line: 'next' when it is settled (done or dead-lettered), 'stop' when the pass must stop before it. */
  private handleLine (line: SpoolLine): LineResult | Promise<LineResult> {
    const decoded = decodeRecord(line.line)
    if (!decoded.ok) {
      this.figures.invalid++
      this.figures.dead_lettered++
      this.deadLetters.add({
        record: line.line,
        kind: null,
        target: null,
        error: decoded.reason,
        attempts: 0,
        failed_at: new Date().toISOString(),
        segment: line.segment,
        offset: line.offset,
      })
      this.logger.warn({ segment: line.segment, offset: line.offset, reason: decoded.reason }, 'invalid spool line dead-lettered')
      return 'next'
    }
    const record = decoded.record
    const normalised = normaliseCallback(record, this.time)
    if (this.dispatcher.targetsFor(normalised.kind).length === 0) {
      this.figures.by_kind[normalised.kind].skipped++
      return 'next'
    }
    const result = this.dispatcher.dispatch(normalised)
    if (result instanceof Promise) return result.then((r) => this.settle(line, record, r, normalised))
    return this.settle(line, record, result, normalised)
  }

  private settle (line: SpoolLine, record: unknown, result: DispatchResult, normalised: NormalisedCallback): LineResult | Promise<LineResult> {
    if (result.outcome === 'done') {
      this.figures.by_kind[normalised.kind].done++
      this.forgetAttempts(normalised.id)
      return 'next'
    }
    if (result.outcome === 'dead') {
      this.deadLetter(record, normalised, result.target ?? null, result.error, (this.attempts[normalised.id]?.attempts ?? 0) + 1)
      return 'next'
    }
    return this.retry(line, record, result, normalised)
  }

  private async retry (line: SpoolLine, record: unknown, first: DispatchResult, normalised: NormalisedCallback): Promise<LineResult> {
    let result = first
    for (let attempt = 2; attempt <= this.options.tries && result.outcome === 'retry'; attempt++) {
      this.logger.debug({ id: normalised.id, target: result.target, error: result.error, attempt }, 'handler failed; retrying')
      await this.backOff.sleep(this.options.retryDelayMs * 2 ** (attempt - 2))
      // Stopping: leave the record for the next run, without counting an attempt.
      if (this.stopRequested) return 'stop'
      result = await this.dispatcher.dispatch(normalised)
    }
    if (result.outcome !== 'retry') return await this.settle(line, record, result, normalised)
    const entry = this.attempts[normalised.id] ?? { attempts: 0, last_error: '', last_failed_at: '' }
    entry.attempts++
    entry.last_error = `${result.target ?? ''}: ${result.error}`
    entry.last_failed_at = new Date().toISOString()
    this.attempts[normalised.id] = entry
    this.attemptsDirty = true
    this.anyAttempts = true
    if (entry.attempts >= this.options.maxAttempts) {
      this.deadLetter(record, normalised, result.target ?? null, result.error, entry.attempts)
      return 'next'
    }
    this.logger.warn({ id: normalised.id, kind: normalised.kind, target: result.target, error: result.error, attempts: entry.attempts, max_attempts: this.options.maxAttempts, segment: line.segment, offset: line.offset },
      'handler still failing: pass stopped before this record; retry later')
    return 'stop'
  }

  private deadLetter (record: unknown, { id, kind }: NormalisedCallback, target: string | null, error: string, attempts: number): void {
    this.figures.by_kind[kind].dead++
    this.figures.dead_lettered++
    this.deadLetters.add({ record, kind, target, error, attempts, failed_at: new Date().toISOString() })
    this.forgetAttempts(id)
    this.logger.warn({ id, kind, target, error, attempts }, 'record dead-lettered')
  }

  /** A record that is done or dead-lettered has no more attempts to count. */
  private forgetAttempts (id: string): void {
    // Most passes have no failing record: skip the lookup by id then.
    if (this.anyAttempts && this.attempts[id] !== undefined) {
      delete this.attempts[id]
      this.attemptsDirty = true
    }
  }

  private async bytesAfter (position: SpoolPosition | undefined): Promise<number> {
    const sizes = await segmentSizes(this.layout.spool, (name) => position === undefined || !segmentBefore(name, position.segment))
    const total = sizes.reduce((sum, s) => sum + s.size, 0)
    return Math.max(0, total - (position?.offset ?? 0))
  }
}
