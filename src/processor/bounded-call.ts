/**
 * One handler call, bounded: whatever `handle` does (throws, returns an outcome, a promise, any
 * thenable, or something that is no outcome at all), the answer is an outcome, within the
 * timeout. Each handler also stops its own work at the timeout (kills the command, closes the
 * connection, stops the module's thread); this is the guarantee for all of them.
 */
import type { Handler, HandlerOutcome } from './handler.js'
import type { NormalisedCallback } from './normalise.js'

function retryFrom (err: unknown): HandlerOutcome {
  return { outcome: 'retry', error: err instanceof Error ? err.message : String(err) }
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

function checked (value: unknown): HandlerOutcome {
  const o = value as Partial<{ outcome: unknown, error: unknown }> | null | undefined
  if (o?.outcome === 'done') return value as HandlerOutcome
  if ((o?.outcome === 'retry' || o?.outcome === 'dead') && typeof o.error === 'string') return value as HandlerOutcome
  return { outcome: 'retry', error: 'the handler gave no outcome' }
}

/** Synchronous while the handler answers synchronously (the file handler): no await, no timer. */
export function callBounded (handler: Handler, record: NormalisedCallback, timeoutMs: number): HandlerOutcome | Promise<HandlerOutcome> {
  let answer: unknown
  try {
    answer = handler.handle(record)
  } catch (err) {
    return retryFrom(err)
  }
  if (!isThenable(answer)) return checked(answer)
  return new Promise((resolve) => {
    // Created after the handler's own timer, with the same delay: the handler's fires first.
    const timer = setTimeout(() => resolve({ outcome: 'retry', error: `timed out after ${timeoutMs} ms` }), timeoutMs)
    Promise.resolve(answer).then(
      (value) => { clearTimeout(timer); resolve(checked(value)) },
      (err: unknown) => { clearTimeout(timer); resolve(retryFrom(err)) })
  })
}
