/**
 * One record from its spool line to its end in this pass: decoded, normalised, dispatched, and
 * settled: done, dead-lettered, or retried `--tries` times with a doubling back-off, after which one
 * failed attempt is counted for it (dead-lettered at `--max-attempts`) and the pass must stop
 * before it.
 */
import type { Logger } from 'pino'
import { decodeRecord } from '../record.js'
import type { SpoolLine } from '../spool/reader.js'
import type { AttemptCounts } from './attempts.js'
import type { DeadLetterWriter } from './dead-letters.js'
import type { Dispatcher, DispatchResult, TargetRefusal } from './dispatch.js'
import type { PassFigures } from './metrics.js'
import { normaliseCallback, type NormalisedCallback } from './normalise.js'
import type { ZonedTimeReader } from './provider-time.js'
import type { WakeableSleep } from './wakeable-sleep.js'

/** 'next' when the record is settled (done or dead-lettered), 'stop' when the pass must stop before it. */
export type LineResult = 'next' | 'stop'

export interface SettlerContext {
  options: { tries: number, retryDelayMs: number, maxAttempts: number }
  logger: Logger
  dispatcher: Dispatcher
  time: ZonedTimeReader
  figures: PassFigures
  attempts: AttemptCounts
  deadLetters: DeadLetterWriter
  /** The back-off between tries, cut short when the pass is asked to stop. */
  backOff: WakeableSleep
  stopping: () => boolean
}

export class RecordSettler {
  private readonly c: SettlerContext
  /**
   * With a handler that may take back a 'done' at flush (defersOutcome): the line and past
   * attempts of each record done, for its dead letter. Weak: gone with the record.
   */
  private readonly deferred: WeakMap<NormalisedCallback, { line: SpoolLine, attempts: number }> | undefined

  constructor (context: SettlerContext) {
    this.c = context
    if (context.dispatcher.defersOutcomes) this.deferred = new WeakMap()
  }

  /** Records a handler refused at flush, counted done so far: dead-lettered now, before the checkpoint passes them. */
  refused (refusals: TargetRefusal[]): void {
    for (const { record, target, error } of refusals) {
      const known = this.deferred?.get(record)
      this.c.figures.by_kind[record.kind].done--
      if (known === undefined) {
        // Not handed over by this pass (cannot happen): the record as the handler saw it.
        this.c.figures.by_kind[record.kind].dead++
        this.c.figures.dead_lettered++
        this.c.deadLetters.add({ record, kind: record.kind, target, error, attempts: 1, failed_at: new Date().toISOString() })
        continue
      }
      this.deadLetter(known.line, record, target, error, known.attempts + 1)
    }
  }

  /**
   * Decodes and normalises a line. Undefined when it is settled at once: invalid (dead-lettered)
   * or of a kind with no target (skipped).
   */
  prepare (line: SpoolLine): NormalisedCallback | undefined {
    const { figures, dispatcher } = this.c
    const decoded = decodeRecord(line.line)
    if (!decoded.ok) {
      figures.invalid++
      figures.dead_lettered++
      this.c.deadLetters.add({
        record: line.line,
        kind: null,
        target: null,
        error: decoded.reason,
        attempts: 0,
        failed_at: new Date().toISOString(),
        segment: line.segment,
        offset: line.offset,
      })
      this.c.logger.warn({ segment: line.segment, offset: line.offset, reason: decoded.reason }, 'invalid spool line dead-lettered')
      return undefined
    }
    const normalised = normaliseCallback(decoded.record, this.c.time)
    if (dispatcher.targetsFor(normalised.kind).length === 0) {
      figures.by_kind[normalised.kind].skipped++
      return undefined
    }
    return normalised
  }

  /** Dispatches a prepared record, synchronously while the handlers answer synchronously (no await per record on the fast path). */
  run (line: SpoolLine, normalised: NormalisedCallback): LineResult | Promise<LineResult> {
    const result = this.c.dispatcher.dispatch(normalised)
    if (result instanceof Promise) return result.then((r) => this.settle(line, r, normalised))
    return this.settle(line, result, normalised)
  }

  private settle (line: SpoolLine, result: DispatchResult, normalised: NormalisedCallback): LineResult | Promise<LineResult> {
    if (result.outcome === 'done') {
      this.c.figures.by_kind[normalised.kind].done++
      this.deferred?.set(normalised, { line, attempts: this.c.attempts.of(normalised.id) })
      this.c.attempts.forget(normalised.id)
      return 'next'
    }
    if (result.outcome === 'dead') {
      this.deadLetter(line, normalised, result.target ?? null, result.error, this.c.attempts.of(normalised.id) + 1)
      return 'next'
    }
    return this.retry(line, result, normalised)
  }

  private async retry (line: SpoolLine, first: DispatchResult, normalised: NormalisedCallback): Promise<LineResult> {
    const { options, logger } = this.c
    let result = first
    for (let attempt = 2; attempt <= options.tries && result.outcome === 'retry'; attempt++) {
      logger.debug({ id: normalised.id, target: result.target, error: result.error, attempt }, 'handler failed; retrying')
      await this.c.backOff.sleep(options.retryDelayMs * 2 ** (attempt - 2))
      // Stopping: leave the record for the next run, without counting an attempt.
      if (this.c.stopping()) return 'stop'
      result = await this.c.dispatcher.dispatch(normalised)
    }
    if (result.outcome !== 'retry') return await this.settle(line, result, normalised)
    const attempts = this.c.attempts.countFailure(normalised.id, `${result.target ?? ''}: ${result.error}`)
    if (attempts >= options.maxAttempts) {
      this.deadLetter(line, normalised, result.target ?? null, result.error, attempts)
      return 'next'
    }
    logger.warn({ id: normalised.id, kind: normalised.kind, target: result.target, error: result.error, attempts, max_attempts: options.maxAttempts, segment: line.segment, offset: line.offset },
      'handler still failing: pass stopped before this record; retry later')
    return 'stop'
  }

  private deadLetter (line: SpoolLine, { id, kind }: NormalisedCallback, target: string | null, error: string, attempts: number): void {
    this.c.figures.by_kind[kind].dead++
    this.c.figures.dead_lettered++
    // Decoded again rather than kept beside every record in flight: dead letters are rare.
    const decoded = decodeRecord(line.line)
    const record = decoded.ok ? decoded.record : line.line
    this.c.deadLetters.add({ record, kind, target, error, attempts, failed_at: new Date().toISOString() })
    this.c.attempts.forget(id)
    this.c.logger.warn({ id, kind, target, error, attempts }, 'record dead-lettered')
  }
}
