/**
 * The local spool as a pass's source: the re-queue files first, then the spool from the
 * checkpoint to its end. A line is acknowledged by the checkpoint moving past it (with the attempt
 * counts saved first); a record that keeps failing stops the pass before it, and the next pass
 * starts there again.
 *
 * Lines of a chunk are handled synchronously while the handlers answer synchronously (the file
 * handler), so the fast path pays no await per record.
 */
import type { Logger } from 'pino'
import { decodeRecord } from '../record.js'
import { BacklogCounter } from '../spool/backlog.js'
import { loadCheckpoint, saveCheckpoint } from '../spool/checkpoint.js'
import { deleteOldDeliveryLogs } from '../spool/delivery-log.js'
import { segmentSizes } from '../spool/size.js'
import type { DataLayout } from '../spool/layout.js'
import { quarantineFragment } from '../spool/quarantine.js'
import { readLineBatches, segmentBefore, type SpoolLine, type SpoolPosition, type TornFragment } from '../spool/reader.js'
import type { ReadOptions } from '../providers/index.js'
import { AttemptCounts, saveAttemptsText } from './attempts.js'
import type { ProcessorOptions } from './defaults.js'
import type { PassFigures } from './metrics.js'
import { normaliseCallback, type NormalisedCallback } from './normalise.js'
import { ProgressBar } from './progress.js'
import type { ZonedTimeReader } from './provider-time.js'
import { dispatchRequeueFiles, listRequeueFiles } from './requeue.js'
import { deleteOldSegments } from './retention.js'
import type { Acknowledgement, AttemptBook, LineFormat, LinePlace, PassContext, RecordSource } from './source.js'

/** Spool lines: spool records v1, normalised by their provider's profile. */
export class SpoolLineFormat implements LineFormat<SpoolLine> {
  private readonly time: ZonedTimeReader
  private readonly reading: ReadOptions | undefined
  leftMessage (): string {
    return 'handler still failing: pass stopped before this record; retry later'
  }

  constructor (time: ZonedTimeReader, reading?: ReadOptions) {
    this.time = time
    this.reading = reading
  }

  read (line: SpoolLine): NormalisedCallback | string {
    const decoded = decodeRecord(line.line)
    if (!decoded.ok) return decoded.reason
    return normaliseCallback(decoded.record, this.time, this.reading)
  }

  deadRecord (line: SpoolLine): unknown {
    const decoded = decodeRecord(line.line)
    return decoded.ok ? decoded.record : line.line
  }

  where (line: SpoolLine): LinePlace {
    return { segment: line.segment, offset: line.offset }
  }
}

export class SpoolSource implements RecordSource<SpoolLine> {
  readonly format: SpoolLineFormat
  readonly description: string
  private readonly options: ProcessorOptions
  private readonly layout: DataLayout
  /** Counts the lag after each pass; remembers what it read, for the passes that follow. */
  private readonly backlog: BacklogCounter
  /** When the delivery log's old files were last looked for (its files are per day: once an hour is enough). */
  private deliveryLogRetentionAt = -Infinity

  // State of the pass in progress.
  private attempts!: AttemptCounts
  private position: SpoolPosition | undefined
  /** The checkpoint on disk. */
  private saved: SpoolPosition | undefined
  private pass!: PassContext<SpoolLine>

  constructor (options: ProcessorOptions, layout: DataLayout, format: SpoolLineFormat) {
    this.options = options
    this.format = format
    this.layout = layout
    this.description = layout.spool
    this.backlog = new BacklogCounter(layout)
  }

  async begin (): Promise<AttemptBook<SpoolLine>> {
    const [attempts, checkpoint] = await Promise.all([AttemptCounts.load(this.layout), loadCheckpoint(this.layout)])
    this.attempts = attempts
    this.position = this.saved = checkpoint === undefined ? undefined : { segment: checkpoint.segment, offset: checkpoint.offset }
    return {
      of: (_line, id) => attempts.of(id),
      countFailure: (_line, id, error, now) => attempts.countFailure(id, error, now),
      forget: (_line, id) => attempts.forget(id),
    }
  }

  async run (pass: PassContext<SpoolLine>): Promise<PassFigures['outcome']> {
    this.pass = pass
    const outcome = await dispatchRequeueFiles(await listRequeueFiles(this.layout), pass, this.acknowledgement(this.position, false))
    return outcome === 'done' ? await this.processSpool() : outcome
  }

  failed (): void {
    this.position = this.saved
  }

  async finish (figures: PassFigures, logger: Logger): Promise<void> {
    try {
      figures.segments_deleted = (await deleteOldSegments(this.layout.spool, this.position, this.options.retainMs)).length
      if (Date.now() - this.deliveryLogRetentionAt >= 3_600_000) {
        this.deliveryLogRetentionAt = Date.now()
        await deleteOldDeliveryLogs(this.layout, this.options.retainMs)
      }
    } catch (err) {
      logger.error({ err }, 'retention failed')
    }
    const lag = await this.backlog.measure(this.position)
    figures.lag_records = lag.records
    figures.lag_bytes = lag.bytes
    figures.lag_oldest_age_seconds = lag.oldestAgeMs === undefined ? null : Math.round(lag.oldestAgeMs / 1000)
    figures.checkpoint = this.position === undefined ? null : { ...this.position }
  }

  async close (): Promise<void> {}

  /** What a commit acknowledges: the attempt counts as they are now, then (with `checkpoint`) the position. */
  private acknowledgement (position: SpoolPosition | undefined, checkpoint: boolean): () => Acknowledgement {
    return () => {
      const attemptsText = this.attempts.takeText()
      return async () => {
        if (attemptsText !== undefined) await saveAttemptsText(this.layout, attemptsText)
        const saved = this.saved
        if (checkpoint && position !== undefined && (saved === undefined || position.segment !== saved.segment || position.offset !== saved.offset)) {
          await saveCheckpoint(this.layout, position)
          this.saved = position
        }
      }
    }
  }

  private async processSpool (): Promise<PassFigures['outcome']> {
    const { pass } = this
    const { batchSize, checkpointIntervalMs } = this.options
    // Sizing the backlog stats every segment: only worth it when a bar can be drawn at all.
    const progress = this.options.progress && process.stderr.isTTY === true ? ProgressBar.maybe(await this.bytesAfter(this.position)) : undefined
    const committer = pass.committer
    const holdsOutput = pass.dispatcher.holdsOutput
    const window = pass.newWindow(this.position)
    const figures = pass.figures
    let committedAt = 0
    let lastCommit = Date.now()
    let readBytes = 0
    let halted = false
    try {
      const batches = readLineBatches(this.layout, this.position, { onTorn: (torn) => this.quarantine(torn) })
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
            if (holdsOutput) await committer.commitInBackground(this.acknowledgement(window.position(), true))
            else await committer.commit(this.acknowledgement(window.position(), true))
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
    await committer.commit(this.acknowledgement(this.position, true))
    // A stop that comes once everything is read and settled does not undo a pass that is done.
    if (!halted && window.idle) return 'done'
    return pass.stopping() ? 'stopped' : 'retry_later'
  }

  private async quarantine (torn: TornFragment): Promise<void> {
    const { path, created } = await quarantineFragment(this.layout.quarantine, torn.segment, { offset: torn.offset, fragment: torn.fragment })
    this.pass.figures.quarantined++
    if (created) {
      this.pass.logger.warn({ segment: torn.segment, offset: torn.offset, bytes: torn.fragment.length, quarantine: path },
        'torn line at the end of a sealed segment: fragment quarantined (it was never acknowledged)')
    }
  }

  private async bytesAfter (position: SpoolPosition | undefined): Promise<number> {
    const sizes = await segmentSizes(this.layout.spool, (name) => position === undefined || !segmentBefore(name, position.segment))
    const total = sizes.reduce((sum, s) => sum + s.size, 0)
    return Math.max(0, total - (position?.offset ?? 0))
  }
}
