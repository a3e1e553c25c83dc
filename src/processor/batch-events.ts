/**
 * The events of a batched request (Infobip `results[]`, ...), kept beside the one record that
 * stands for the request, so that the pass normalises each spool line once.
 */
import type { NormalisedCallback } from './normalise.js'

const batches = new WeakMap<NormalisedCallback, NormalisedCallback[]>()

export function rememberBatch (whole: NormalisedCallback, events: NormalisedCallback[]): void {
  batches.set(whole, events)
}

/** The events of a request that carries several, each its own record; undefined for any other. */
export function batchEventsOf (normalised: NormalisedCallback): NormalisedCallback[] | undefined {
  return batches.get(normalised)
}
