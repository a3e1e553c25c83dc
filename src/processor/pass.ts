/**
 * One pass of the processor, its read loop: the re-queue files first, then the spool from the
 * checkpoint to its end, each line handed to the settler (settle.ts), and a commit (commit.ts)
 * after every batch.
 *
 * Lines of a chunk are handled synchronously while the handlers answer synchronously (the file
 * handler), so the fast path pays no await per record.
 */
import type { Logger } from 'pino'
import { BacklogCounter } from '../spool/backlog.js'
import { segmentSizes } from '../spool/size.js'
import { loadCheckpoint } from '../spool/checkpoint.js'
import { ensureDir, unlinkIfExists, writeFileDurably } from '../fs/durable.js'
import { deleteOldDeliveryLogs, DeliveryLogWriter } from '../spool/delivery-log.js'
import { dataLayout, type DataLayout } from '../spool/layout.js'
import { quarantineFragment } from '../spool/quarantine.js'
import { readFileLineBatches, readLineBatches, segmentBefore, type SpoolPosition, type TornFragment } from '../spool/reader.js'
import { AttemptCounts } from './attempts.js'
import { Committer } from './commit.js'
import { DeadLetterWriter } from './dead-letters.js'
import type { ProcessorOptions } from './defaults.js'
import { Dispatcher } from './dispatch.js'
import { emptyFigures, writeMetricsFile, type PassFigures } from './metrics.js'
import { PassWatch } from './pass-watch.js'
import { ProgressBar } from './progress.js'
import { ZonedTimeReader } from './provider-time.js'
import { KeywordLists } from '../providers/keywords.js'
import { PathBindings } from '../providers/bindings.js'
import { listRequeueFiles } from './requeue.js'
import { carryOutRetryRequests } from './retry-dead.js'
import { RecordSettler } from './settle.js'
import { WakeableSleep } from './wakeable-sleep.js'
import { deleteOldSegments } from './retention.js'
import { InFlightWindow } from './window.js'

// Where the options were defined before they had a module of their own.
export { PROCESS_DEFAULTS, type ProcessorOptions } from './defaults.js'

export class Processor {
  readonly options: ProcessorOptions
  readonly layout: DataLayout
  private readonly logger: Logger
  private readonly dispatcher: Dispatcher
  private readonly time: ZonedTimeReader
  private stopRequested = false
  /** The back-off between tries, cut short by requestStop. */
  private readonly backOff = new WakeableSleep()
  private passesStarted = 0
  /** When the delivery log's old files were last looked for (its files are per day: once an hour is enough). */
  private deliveryLogRetentionAt = -Infinity
  /** Counts the lag after each pass; remembers what it read, for the passes that follow. */
  private readonly backlog: BacklogCounter

  // State of the pass in progress.
  private figures = emptyFigures(new Date())
  private settler!: RecordSettler
  private committer!: Committer
  private position: SpoolPosition | undefined
  /** The records in flight: a stop lets them end and starts no other. */
  private window: InFlightWindow | undefined

  private constructor (options: ProcessorOptions, logger: Logger, dispatcher: Dispatcher, time: ZonedTimeReader) {
    this.options = options
    this.layout = dataLayout(options.dataDir)
    this.logger = logger
    this.dispatcher = dispatcher
    this.time = time
    this.backlog = new BacklogCounter(options.dataDir)
  }

  /** Checks the options and builds the handlers (loads module handlers); starts nothing. */
  static async create (options: ProcessorOptions, logger: Logger): Promise<Processor> {
    const time = new ZonedTimeReader(options.providerTz)
    const dispatcher = await Dispatcher.create(options.routes, options.dataDir, {
      timeoutMs: options.handlerTimeoutMs,
      tries: options.tries,
      retryDelayMs: options.retryDelayMs,
    })
    return new Processor(options, logger, dispatcher, time)
  }

  /** SIGTERM: finish the records in hand, start no other, checkpoint, and end the pass. */
  requestStop (): void {
    this.stopRequested = true
    this.window?.halt()
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
    this.dispatcher.activity.stuck = undefined
    const watch = new PassWatch(this.options.dataDir, this.dispatcher.activity, figures, this.logger, this.options.watchIntervalMs, this.passesStarted++ === 0)
    try {
      return await this.runPassWatched(started, figures)
    } finally {
      await watch.stop()
    }
  }

  private async runPassWatched (started: Date, figures: PassFigures): Promise<PassFigures> {
    const { dataDir, tries, retryDelayMs, maxAttempts, deadAfterMs } = this.options
    // Before this pass writes any dead letter: `dead retry` rewrites their files.
    await carryOutRetryRequests(dataDir, this.logger)
    const deadLetters = new DeadLetterWriter(dataDir)
    const attempts = await AttemptCounts.load(dataDir)
    const checkpoint = await loadCheckpoint(dataDir)
    this.position = checkpoint === undefined ? undefined : { segment: checkpoint.segment, offset: checkpoint.offset }
    const deliveries = new DeliveryLogWriter(dataDir)
    const settler = this.settler = new RecordSettler({
      options: { tries, retryDelayMs, maxAttempts, deadAfterMs },
      logger: this.logger,
      dispatcher: this.dispatcher,
      time: this.time,
      reading: {
        keywords: new KeywordLists(this.options.optoutKeywords, this.options.optinKeywords),
        bindings: new PathBindings(this.options.providerPaths),
      },
      figures,
      attempts,
      deadLetters,
      deliveries,
      backOff: this.backOff,
      stopping: () => this.stopRequested,
    })
    this.committer = new Committer(dataDir, this.dispatcher, deadLetters, attempts, this.position, (refused) => settler.refused(refused), deliveries)

    let outcome: PassFigures['outcome']
    try {
      outcome = await this.processRequeue()
      if (outcome === 'done') outcome = await this.processSpool()
    } catch (err) {
      // An output that cannot be written (disk full, I/O error) or a spool that cannot be read:
      // the checkpoint stayed before what was not made durable; try again later.
      await this.committer.abandon()
      // Output held behind a failed commit or still buffered is not written: the next pass hands it over again.
      await this.dispatcher.discard()
      this.logger.error({ err }, 'pass failed: the checkpoint stays before the records not made durable; retry later')
      this.position = this.committer.saved
      outcome = 'retry_later'
    }
    figures.outcome = outcome

    try {
      figures.segments_deleted = (await deleteOldSegments(this.layout.spool, this.position, this.options.retainMs)).length
      if (Date.now() - this.deliveryLogRetentionAt >= 3_600_000) {
        this.deliveryLogRetentionAt = Date.now()
        await deleteOldDeliveryLogs(dataDir, this.options.retainMs)
      }
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
      JSON.stringify({ when: figures.finished_at, outcome: figures.outcome, figures, stuck: this.dispatcher.activity.stuck ?? null }) + '\n')
    if (this.options.metricsFile !== undefined) await writeMetricsFile(this.options.metricsFile, figures)
  }

  private newWindow (from: SpoolPosition | undefined): InFlightWindow {
    this.window = new InFlightWindow(this.settler, this.options, from)
    if (this.stopRequested) this.window.halt()
    return this.window
  }

  private async processRequeue (): Promise<PassFigures['outcome']> {
    for (const path of await listRequeueFiles(this.options.dataDir)) {
      const window = this.newWindow(undefined)
      let complete = true
      try {
        for await (const lines of readFileLineBatches(path)) {
          for (const line of lines) {
            if (window.halted) break
            this.figures.requeued_read++
            window.add(line)
            if (!window.hasRoom) await window.room()
          }
          if (window.halted) {
            complete = false
            break
          }
        }
      } catch (err) {
        window.halt()
        await window.drain().catch(() => {})
        throw err
      }
      await window.drain()
      await this.committer.commit(this.position, false)
      // Stopped before its end: the whole file is dispatched again by the next pass.
      if (!complete || !window.idle) return this.stopRequested ? 'stopped' : 'retry_later'
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
    const committer = this.committer
    const window = this.newWindow(this.position)
    const figures = this.figures
    let committedAt = 0
    let lastCommit = Date.now()
    let readBytes = 0
    let halted = false
    try {
      const batches = readLineBatches(this.layout.spool, this.position, { onTorn: (torn) => this.quarantine(torn) })
      for await (const batch of batches) {
        const lines = batch.lines
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i]!
          window.add(line)
          readBytes += line.nextOffset - line.offset
          let slow = !window.idle
          if (!window.hasRoom) {
            await window.room()
            slow = true
          }
          if (window.halted) {
            halted = true
            break
          }
          const settled = window.settledCount
          // Fast handlers: commit by count (the clock is read now and then); slow ones: also by time.
          if (settled - committedAt >= batchSize || ((slow || (settled & 255) === 0) && Date.now() - lastCommit >= checkpointIntervalMs)) {
            figures.records_read = settled
            if (this.dispatcher.holdsOutput) await committer.commitInBackground(window.position())
            else await committer.commit(window.position(), true)
            committedAt = settled
            lastCommit = Date.now()
            progress?.update(readBytes, settled)
          }
        }
        if (halted) break
        window.reached(batch.next)
      }
    } catch (err) {
      // What is in flight ends before the pass fails (the next pass must not run beside it).
      window.halt()
      await window.drain().catch(() => {})
      throw err
    } finally {
      progress?.end()
    }
    // The end of the spool, a stop, or a record to retry later: what is in flight ends first.
    await window.drain()
    this.position = window.position()
    figures.records_read = window.settledCount
    await committer.commit(this.position, true)
    // A stop that comes once everything is read and settled does not undo a pass that is done.
    if (!halted && window.idle) return 'done'
    return this.stopRequested ? 'stopped' : 'retry_later'
  }

  private async quarantine (torn: TornFragment): Promise<void> {
    const { path, created } = await quarantineFragment(this.layout.quarantine, torn.segment, { offset: torn.offset, fragment: torn.fragment })
    this.figures.quarantined++
    if (created) {
      this.logger.warn({ segment: torn.segment, offset: torn.offset, bytes: torn.fragment.length, quarantine: path },
        'torn line at the end of a sealed segment: fragment quarantined (it was never acknowledged)')
    }
  }

  private async bytesAfter (position: SpoolPosition | undefined): Promise<number> {
    const sizes = await segmentSizes(this.layout.spool, (name) => position === undefined || !segmentBefore(name, position.segment))
    const total = sizes.reduce((sum, s) => sum + s.size, 0)
    return Math.max(0, total - (position?.offset ?? 0))
  }
}
