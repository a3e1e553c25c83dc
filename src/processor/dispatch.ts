/**
 * Routing: `--on KIND=TARGET` (repeatable; KIND is delivery, reply, optout, optin, unknown or *) to
 * handler instances, built by the registry (targets.ts), and the dispatch of one record to every
 * target of its kind.
 */
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { maskUrlCredentials } from '../mask.js'
import type { DataLayout } from '../spool/layout.js'
import { callBounded } from './bounded-call.js'
import { KINDS, type CallbackKind } from './classify.js'
import { DONE, type Handler, type HandlerOutcome, type Refusal } from './handler.js'
import type { NormalisedCallback } from './normalise.js'
import { PassActivity } from './pass-activity.js'
import { targetTypeOf, targetUsages, type HandlerOptions } from './targets.js'

export interface Route {
  kind: CallbackKind | '*'
  target: string
}

/** `delivery=file:/var/x.ndjson` -> { kind, target }. */
export function parseRoute (spec: string): Route {
  const eq = spec.indexOf('=')
  const kind = eq === -1 ? '' : spec.slice(0, eq).trim()
  const target = eq === -1 ? '' : spec.slice(eq + 1).trim()
  if (kind !== '*' && !(KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError(`Expected \`--on\` to be KIND=TARGET with KIND one of ${KINDS.join(', ')} or *, got \`${maskUrlCredentials(spec)}\``)
  }
  const type = targetTypeOf(target)
  if (type === undefined) {
    throw new ConfigError(`Expected the target of \`--on ${maskUrlCredentials(spec)}\` to be ${targetUsages()}`)
  }
  const wrong = type.check?.(target)
  if (wrong !== undefined) throw new ConfigError(`Expected the target of \`--on ${maskUrlCredentials(spec)}\` to be ${wrong}`)
  return { kind: kind as Route['kind'], target }
}

/** The failing target and why, when a record is not done. */
export type DispatchResult = HandlerOutcome & { target?: string }

/** A record refused at flush, and by which target. */
export type TargetRefusal = Refusal & { target: string }

export class Dispatcher {
  readonly handlers: Handler[]
  /** The handler calls in progress (those that answer asynchronously). */
  readonly activity = new PassActivity()
  private readonly byKind: Map<CallbackKind, Handler[]>
  private readonly timeoutMs: number

  private constructor (handlers: Handler[], byKind: Map<CallbackKind, Handler[]>, timeoutMs: number) {
    this.handlers = handlers
    this.byKind = byKind
    this.timeoutMs = timeoutMs
  }

  /** Builds the handlers. With no route at all, every kind goes to `<data-dir>/out/<kind>.ndjson`. */
  static async create (routes: Route[], layout: DataLayout, options: HandlerOptions): Promise<Dispatcher> {
    const effective = routes.length > 0
      ? routes
      : KINDS.map((kind) => ({ kind, target: `file:${join(layout.out, `${kind}.ndjson`)}` }))
    // One instance per distinct target, so a file shared by several kinds has one writer.
    const instances = new Map<string, Handler>()
    const byKind = new Map<CallbackKind, Handler[]>(KINDS.map((k) => [k, []]))
    for (const route of effective) {
      let handler = instances.get(route.target)
      if (handler === undefined) {
        const type = targetTypeOf(route.target)
        if (type === undefined) throw new ConfigError(`Expected the target \`${route.target}\` to be ${targetUsages()}`)
        handler = await type.create(route.target, options)
        instances.set(route.target, handler)
      }
      for (const kind of route.kind === '*' ? KINDS : [route.kind]) {
        const list = byKind.get(kind)!
        if (!list.includes(handler)) list.push(handler)
      }
    }
    return new Dispatcher([...instances.values()], byKind, options.timeoutMs)
  }

  /** Whether every handler can hold its output back while a commit is in flight (all files). */
  get holdsOutput (): boolean {
    return this.handlers.every((h) => h.holdOutputUntil !== undefined)
  }

  holdOutputUntil (done: Promise<unknown>): void {
    for (const handler of this.handlers) handler.holdOutputUntil?.(done)
  }

  /** Whether a handler may take back a 'done' at flush (defersOutcome). */
  get defersOutcomes (): boolean {
    return this.handlers.some((h) => h.defersOutcome === true)
  }

  targetsFor (kind: CallbackKind): Handler[] {
    return this.byKind.get(kind)!
  }

  /**
   * Hands the record to each target of its kind in turn; every one must succeed. Stays
   * synchronous while the handlers answer synchronously (the file handler), so the fast path
   * costs no await per record.
   */
  dispatch (record: NormalisedCallback): DispatchResult | Promise<DispatchResult> {
    return runFrom(this.targetsFor(record.kind), 0, record, this.timeoutMs, this.activity)
  }

  /** Makes the output of every handler durable; throws if one cannot; returns the records refused. */
  async flush (): Promise<TargetRefusal[]> {
    // Different files: their fdatasyncs may run side by side.
    const results = await Promise.allSettled(this.handlers.map((h) => h.flush?.()))
    const refused: TargetRefusal[] = []
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!
      if (r.status === 'rejected') throw r.reason
      if (r.value !== undefined) for (const refusal of r.value) refused.push({ ...refusal, target: this.handlers[i]!.target })
    }
    return refused
  }

  /** The pass failed: what the handlers buffered is dropped, to be dispatched again. */
  async discard (): Promise<void> {
    await Promise.all(this.handlers.map((h) => h.discard?.()))
  }

  async close (): Promise<void> {
    for (const handler of this.handlers) await handler.close?.()
  }
}

function runFrom (handlers: Handler[], start: number, record: NormalisedCallback, timeoutMs: number, activity: PassActivity): DispatchResult | Promise<DispatchResult> {
  for (let i = start; i < handlers.length; i++) {
    const handler = handlers[i]!
    const outcome = callBounded(handler, record, timeoutMs)
    if (outcome instanceof Promise) {
      const call = activity.begin(record.id, record.kind, handler.target)
      return outcome.then(
        (o) => { activity.end(call); return o.outcome === 'done' ? runFrom(handlers, i + 1, record, timeoutMs, activity) : { ...o, target: handler.target } },
        (err: unknown) => { activity.end(call); return { outcome: 'retry', error: (err as Error).message, target: handler.target } })
    }
    if (outcome.outcome !== 'done') return { ...outcome, target: handler.target }
  }
  return DONE
}
