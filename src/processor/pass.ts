/**
 * One pass of the processor over its source (source.ts): the local spool from its checkpoint
 * (spool-source.ts), each line handed to the settler (settle.ts) through the in-flight window
 * (window.ts), and a commit (commit.ts) after every batch, which acknowledges what it made durable.
 */
import type { Logger } from 'pino'
import { ensureDir, writeFileDurably } from '../fs/durable.js'
import { DeliveryLogWriter } from '../spool/delivery-log.js'
import type { DataLayout } from '../spool/layout.js'
import type { SpoolPosition } from '../spool/reader.js'
import { Committer } from './commit.js'
import { DedupeWindow } from './dedupe.js'
import { DeadLetterWriter } from './dead-letters.js'
import type { ProcessorOptions } from './defaults.js'
import { Dispatcher } from './dispatch.js'
import { emptyFigures, writeMetricsFile, type PassFigures } from './metrics.js'
import { PassWatch } from './pass-watch.js'
import { KeywordLists } from '../providers/keywords.js'
import { PathBindings } from '../providers/bindings.js'
import { ProviderTimes } from '../providers/times.js'
import { carryOutRetryRequests } from './retry-dead.js'
import { RecordSettler } from './settle.js'
import type { PassContext, RecordSource, SourceLine } from './source.js'
import { SpoolLineFormat, SpoolSource } from './spool-source.js'
import { WakeableSleep } from './wakeable-sleep.js'
import { InFlightWindow, type WindowHooks } from './window.js'

// Where the options were defined before they had a module of their own.
export { PROCESS_DEFAULTS, type ProcessorOptions } from './defaults.js'

/** Builds the source of a processor, once its handlers are built. */
export type SourceFactory = (options: ProcessorOptions, layout: DataLayout, times: ProviderTimes, logger: Logger) => Promise<RecordSource<SourceLine>>

/** The local spool and its checkpoint. */
export const spoolSource: SourceFactory = async (options, layout, times) => new SpoolSource(options, layout, new SpoolLineFormat(times.fallback, {
  keywords: new KeywordLists(options.optoutKeywords, options.optinKeywords),
  bindings: new PathBindings(options.providerPaths),
  times,
}))

export class Processor {
  readonly options: ProcessorOptions
  readonly layout: DataLayout
  readonly source: RecordSource<SourceLine>
  private readonly logger: Logger
  private readonly dispatcher: Dispatcher
  /** `--dedupe-window`: kept from pass to pass; loaded again from its file after a pass that failed. */
  private dedupe: DedupeWindow | undefined
  private stopRequested = false
  /** The back-off between tries, cut short by requestStop. */
  private readonly backOff = new WakeableSleep()
  private passesStarted = 0
  /** The last pass failed (its output not made durable, or its source unreachable). */
  lastPassFailed = false

  // State of the pass in progress.
  /** The records in flight: a stop lets them end and starts no other. */
  private window: InFlightWindow<SourceLine> | undefined

  private constructor (options: ProcessorOptions, layout: DataLayout, logger: Logger, dispatcher: Dispatcher, source: RecordSource<SourceLine>) {
    this.options = options
    this.layout = layout
    this.logger = logger
    this.dispatcher = dispatcher
    this.source = source
  }

  /** Checks the options and builds the handlers (loads module handlers) and the source; starts nothing. */
  static async create (options: ProcessorOptions, layout: DataLayout, logger: Logger, source: SourceFactory = spoolSource): Promise<Processor> {
    const times = new ProviderTimes({ default: options.providerTz, byProvider: options.providerZones ?? {} })
    const dispatcher = await Dispatcher.create(options.routes, layout, {
      timeoutMs: options.handlerTimeoutMs,
      tries: options.tries,
      retryDelayMs: options.retryDelayMs,
      logger,
      streamMaxAgeMs: options.streamMaxAgeMs,
      streamReplicas: options.streamReplicas,
    })
    try {
      return new Processor(options, layout, logger, dispatcher, await source(options, layout, times, logger))
    } catch (err) {
      await dispatcher.close()
      throw err
    }
  }

  /** SIGTERM: finish the records in hand, start no other, checkpoint, and end the pass. */
  requestStop (): void {
    this.stopRequested = true
    this.window?.halt()
    this.backOff.wake()
    this.source.wake?.()
  }

  get stopping (): boolean {
    return this.stopRequested
  }

  async close (): Promise<void> {
    try {
      await this.dispatcher.close()
    } finally {
      await this.source.close()
    }
  }

  /** One pass. The caller holds the processor lock. Throws CheckpointError on a bad checkpoint. */
  async runPass (): Promise<PassFigures> {
    const started = new Date()
    const figures = emptyFigures(started)
    this.dispatcher.activity.stuck = undefined
    const watch = new PassWatch(this.layout, this.dispatcher.activity, figures, this.logger, this.options.watchIntervalMs, this.passesStarted++ === 0)
    try {
      return await this.runPassWatched(started, figures)
    } finally {
      await watch.stop()
    }
  }

  private async runPassWatched (started: Date, figures: PassFigures): Promise<PassFigures> {
    const { tries, retryDelayMs, maxAttempts, deadAfterMs } = this.options
    const { layout, source } = this
    // Before this pass writes any dead letter: `dead retry` rewrites their files (and adds to the
    // re-queue, which the source reads once it runs). The state files are read meanwhile.
    // carryOutRetryRequests reports its own failures: it is waited for, whatever the reads do.
    const retried = carryOutRetryRequests(layout, this.logger)
    const [attempts, window] = await Promise.all([
      source.begin(),
      this.dedupe === undefined && this.options.dedupeWindowMs > 0 ? DedupeWindow.load(layout, this.options.dedupeWindowMs) : this.dedupe,
    ]).finally(async () => { await retried })
    this.dedupe = window
    const deadLetters = new DeadLetterWriter(layout)
    const dedupe = this.dedupe
    const deliveries = new DeliveryLogWriter(layout)
    const settler = new RecordSettler<SourceLine>({
      options: { tries, retryDelayMs, maxAttempts, deadAfterMs },
      logger: this.logger,
      dispatcher: this.dispatcher,
      format: source.format,
      dedupe,
      figures,
      attempts,
      deadLetters,
      deliveries,
      backOff: this.backOff,
      stopping: () => this.stopRequested,
    })
    const committer = new Committer(this.dispatcher, deadLetters, (refused) => settler.refused(refused), deliveries,
      dedupe === undefined ? undefined : { window: dedupe, layout })
    const pass: PassContext<SourceLine> = {
      options: this.options,
      logger: this.logger,
      figures,
      dispatcher: this.dispatcher,
      settler,
      committer,
      stopping: () => this.stopRequested,
      newWindow: (from?: SpoolPosition, hooks?: WindowHooks<SourceLine>) => {
        this.window = new InFlightWindow(settler, this.options, from, hooks)
        if (this.stopRequested) this.window.halt()
        return this.window
      },
    }

    let outcome: PassFigures['outcome']
    this.lastPassFailed = false
    try {
      outcome = await source.run(pass)
    } catch (err) {
      // An output that cannot be written (disk full, I/O error) or a source that cannot be read:
      // the checkpoint stayed before what was not made durable; try again later.
      await committer.abandon()
      // Output held behind a failed commit or still buffered is not written: the next pass hands it over again.
      await this.dispatcher.discard()
      this.logger.error({ err }, 'pass failed: the checkpoint stays before the records not made durable; retry later')
      source.failed()
      this.lastPassFailed = true
      // Keys of records whose output was not made durable: the file has what the last commit covers.
      this.dedupe = undefined
      outcome = 'retry_later'
    }
    figures.outcome = outcome
    await source.finish(figures, this.logger)
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
}
