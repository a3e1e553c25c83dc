/**
 * One record from its spool line to its end in this pass: decoded, normalised, dispatched, and
 * settled: done, dead-lettered, or retried `--tries` times with a doubling back-off, after which one
 * failed attempt is counted for it and the pass must stop before it. It is dead-lettered once it
 * has failed in `--max-attempts` passes and for `--dead-after` since its first failure: a time
 * budget, which passes run more often (new records waking `--follow`) do not shorten.
 */
import type { Logger } from 'pino'
import type { DeliveryLogWriter } from '../spool/delivery-log.js'
import type { SpoolLine } from '../spool/reader.js'
import type { DeadLetterWriter } from './dead-letters.js'
import type { DedupeWindow } from './dedupe.js'
import type { Dispatcher, DispatchResult, TargetRefusal } from './dispatch.js'
import { providerFigures, type PassFigures } from './metrics.js'
import { batchEventsOf } from './batch-events.js'
import type { NormalisedCallback } from './normalise.js'
import { maskErrorText } from './pass-activity.js'
import type { AttemptBook, LineFormat, SourceLine } from './source.js'
import type { WakeableSleep } from './wakeable-sleep.js'
import { parseTimeMs } from '../record.js'

/** 'next' when the record is settled (done or dead-lettered), 'stop' when the pass must stop before it. */
export type LineResult = 'next' | 'stop'

export interface SettlerContext<L extends SourceLine = SpoolLine> {
  options: { tries: number, retryDelayMs: number, maxAttempts: number, deadAfterMs: number }
  logger: Logger
  dispatcher: Dispatcher
  /** How the source's lines are read into records. */
  format: LineFormat<L>
  figures: PassFigures
  attempts: AttemptBook<L>
  deadLetters: DeadLetterWriter
  /** Where each settled record went, for `trace`. */
  deliveries: DeliveryLogWriter
  /** The back-off between tries, cut short when the pass is asked to stop. */
  backOff: WakeableSleep
  /** `--dedupe-window`: the keys handed over; undefined when off. */
  dedupe?: DedupeWindow
  stopping: () => boolean
}

/** The events of one batched request (Infobip `results[]`, ...) and how many are done in this pass. */
interface Batch {
  events: NormalisedCallback[]
  done: number
  /** Events not handed over: re-sends of events already handed over. */
  duplicates?: Set<NormalisedCallback>
}

export class RecordSettler<L extends SourceLine = SpoolLine> {
  /** Batched requests in hand, by the record that stands for them in the window (their first event). */
  private readonly batches = new WeakMap<NormalisedCallback, Batch>()
  private readonly c: SettlerContext<L>
  private readonly names = new Map<NormalisedCallback['kind'], string[]>()
  /**
   * With a handler that may take back a 'done' at flush (defersOutcome): the line and past
   * attempts of each record done, for its dead letter. Weak: gone with the record.
   */
  private readonly deferred: WeakMap<NormalisedCallback, { line: L, attempts: number }> | undefined

  constructor (context: SettlerContext<L>) {
    this.c = context
    if (context.dispatcher.defersOutcomes) this.deferred = new WeakMap()
  }

  /** Records a handler refused at flush, counted done so far: dead-lettered now, before the checkpoint passes them. */
  refused (refusals: TargetRefusal[]): void {
    for (const { record, target, error } of refusals) {
      const known = this.deferred?.get(record)
      this.c.figures.by_kind[record.kind].done--
      providerFigures(this.c.figures, record.provider).done--
      if (known === undefined) {
        // Not handed over by this pass (cannot happen): the record as the handler saw it.
        this.c.figures.by_kind[record.kind].dead++
        this.c.figures.dead_lettered++
        providerFigures(this.c.figures, record.provider).dead++
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
  prepare (line: L): NormalisedCallback | undefined {
    const { figures, dispatcher, format } = this.c
    const normalised = format.read(line)
    if (typeof normalised === 'string') {
      figures.invalid++
      figures.dead_lettered++
      const where = format.where(line)
      this.c.deadLetters.add({
        record: line.line,
        kind: null,
        target: null,
        error: normalised,
        attempts: 0,
        failed_at: new Date().toISOString(),
        ...where,
      })
      this.c.logger.warn({ ...where, reason: normalised }, 'invalid spool line dead-lettered')
      return undefined
    }
    const events = batchEventsOf(normalised)
    if (events !== undefined) return this.prepareBatch(events)
    if (dispatcher.targetsFor(normalised.kind).length === 0) {
      figures.by_kind[normalised.kind].skipped++
      providerFigures(figures, normalised.provider).skipped++
      return undefined
    }
    return normalised
  }

  /** A batch's events, each its own record: those of a kind with no target are skipped. */
  private prepareBatch (all: NormalisedCallback[]): NormalisedCallback | undefined {
    const events = all.filter((event) => {
      if (this.c.dispatcher.targetsFor(event.kind).length > 0) return true
      this.c.figures.by_kind[event.kind].skipped++
      providerFigures(this.c.figures, event.provider).skipped++
      return false
    })
    if (events.length === 0) return undefined
    this.batches.set(events[0]!, { events, done: 0 })
    return events[0]
  }

  /** One record to the handlers; a batch's events one after the other, from the first not yet done (the first failure answers for the batch). */
  private dispatch (normalised: NormalisedCallback): DispatchResult | Promise<DispatchResult> {
    const batch = this.batches.get(normalised)
    if (batch === undefined) return this.c.dispatcher.dispatch(normalised)
    while (batch.done < batch.events.length) {
      const event = batch.events[batch.done]!
      if (this.duplicate(event)) {
        (batch.duplicates ??= new Set()).add(event)
        batch.done++
        continue
      }
      const result = this.c.dispatcher.dispatch(event)
      if (result instanceof Promise) {
        return result.then((r) => {
          if (r.outcome !== 'done') return r
          batch.done++
          return this.dispatch(normalised)
        })
      }
      if (result.outcome !== 'done') return result
      batch.done++
    }
    return { outcome: 'done' }
  }

  /** Dispatches a prepared record, synchronously while the handlers answer synchronously (no await per record on the fast path). */
  run (line: L, normalised: NormalisedCallback): LineResult | Promise<LineResult> {
    if (!this.batches.has(normalised) && this.duplicate(normalised)) {
      this.countDuplicate(normalised)
      this.c.attempts.forget(line, normalised.id)
      return 'next'
    }
    const result = this.dispatch(normalised)
    if (result instanceof Promise) return result.then((r) => this.settle(line, r, normalised))
    return this.settle(line, result, normalised)
  }

  private settle (line: L, result: DispatchResult, normalised: NormalisedCallback): LineResult | Promise<LineResult> {
    if (result.outcome === 'done') {
      const batch = this.batches.get(normalised)
      for (const event of batch?.events ?? [normalised]) {
        if (batch?.duplicates?.has(event) === true) {
          this.countDuplicate(event)
          continue
        }
        this.c.figures.by_kind[event.kind].done++
        providerFigures(this.c.figures, event.provider).done++
        this.remember(event)
      }
      this.deferred?.set(normalised, { line, attempts: this.c.attempts.of(line, normalised.id) })
      this.c.attempts.forget(line, normalised.id)
      const { id, kind, message_id: messageId, number } = normalised
      this.c.deliveries.add({ id, kind, outcome: 'done', targets: this.targetNames(kind), message_id: messageId, number })
      return 'next'
    }
    if (result.outcome === 'dead') {
      this.deadLetter(line, normalised, result.target ?? null, result.error, this.c.attempts.of(line, normalised.id) + 1)
      return 'next'
    }
    return this.retry(line, result, normalised)
  }

  /** Whether the event's key was handed over within `--dedupe-window` from another record (a re-send; not the same record again). */
  private duplicate (event: NormalisedCallback): boolean {
    const key = event.dedupe_key
    return this.c.dedupe !== undefined && typeof key === 'string' && this.c.dedupe.seen(key, parseTimeMs(event.received_at), event.id)
  }

  private remember (event: NormalisedCallback): void {
    const key = event.dedupe_key
    if (this.c.dedupe !== undefined && typeof key === 'string') this.c.dedupe.remember(key, parseTimeMs(event.received_at), event.id)
  }

  private countDuplicate (event: NormalisedCallback): void {
    this.c.figures.duplicates++
    providerFigures(this.c.figures, event.provider).duplicate++
  }

  /** The targets of a kind, by name: the same array for every record of the kind (the delivery log only serialises it). */
  private targetNames (kind: NormalisedCallback['kind']): string[] {
    let names = this.names.get(kind)
    if (names === undefined) this.names.set(kind, names = this.c.dispatcher.targetsFor(kind).map((h) => h.target))
    return names
  }

  private async retry (line: L, first: DispatchResult, normalised: NormalisedCallback): Promise<LineResult> {
    const { options, logger } = this.c
    let result = first
    for (let attempt = 2; attempt <= options.tries && result.outcome === 'retry'; attempt++) {
      const delayMs = options.retryDelayMs * 2 ** (attempt - 2)
      // Every failed try is said (a timeout included), not only the last: a hung target is seen as it happens.
      logger.warn({ id: normalised.id, kind: normalised.kind, target: result.target, error: maskErrorText(result.error), try: attempt - 1, tries: options.tries, retry_in_ms: delayMs },
        `handler failed (try ${attempt - 1} of ${options.tries}); retrying`)
      await this.c.backOff.sleep(delayMs)
      // Stopping: leave the record for the next run, without counting an attempt.
      if (this.c.stopping()) return 'stop'
      result = await this.dispatch(normalised)
    }
    if (result.outcome !== 'retry') return await this.settle(line, result, normalised)
    const now = new Date()
    const entry = this.c.attempts.countFailure(line, normalised.id, `${result.target ?? ''}: ${result.error}`, now)
    const failingSince = entry.first_failed_at ?? entry.last_failed_at
    this.c.dispatcher.activity.stuck = {
      id: normalised.id,
      kind: normalised.kind,
      target: result.target ?? null,
      error: maskErrorText(result.error),
      attempts: entry.attempts,
      max_attempts: options.maxAttempts,
      failing_since: failingSince,
      dead_after: new Date(Date.parse(failingSince) + options.deadAfterMs).toISOString(),
    }
    if (entry.attempts >= options.maxAttempts && now.getTime() - Date.parse(failingSince) >= options.deadAfterMs) {
      this.deadLetter(line, normalised, result.target ?? null, result.error, entry.attempts)
      return 'next'
    }
    logger.warn({ id: normalised.id, kind: normalised.kind, target: result.target, error: maskErrorText(result.error), attempts: entry.attempts, max_attempts: options.maxAttempts, failing_since: failingSince, dead_after_ms: options.deadAfterMs, ...this.c.format.where(line) },
      this.c.format.leftMessage(line))
    return 'stop'
  }

  private deadLetter (line: L, { id, kind, provider, message_id: messageId, number }: NormalisedCallback, target: string | null, error: string, attempts: number): void {
    this.c.deliveries.add({ id, kind, outcome: 'dead', targets: target === null ? [] : [target], message_id: messageId, number })
    this.c.figures.by_kind[kind].dead++
    this.c.figures.dead_lettered++
    providerFigures(this.c.figures, provider).dead++
    // Decoded again rather than kept beside every record in flight: dead letters are rare.
    const record = this.c.format.deadRecord(line)
    this.c.deadLetters.add({ record, kind, target, error, attempts, failed_at: new Date().toISOString() })
    this.c.attempts.forget(line, id)
    if (this.c.dispatcher.activity.stuck?.id === id) this.c.dispatcher.activity.stuck = undefined
    this.c.logger.warn({ id, kind, target, error: maskErrorText(error), attempts }, 'record dead-lettered')
  }
}
