/** What every handler target implements, and what it answers for one record. */
import type { NormalisedCallback } from './normalise.js'

/** done: handled; retry: try again later; dead: this record will never succeed, dead-letter it. */
export type HandlerOutcome =
  | { outcome: 'done' }
  | { outcome: 'retry', error: string }
  | { outcome: 'dead', error: string }

export const DONE: HandlerOutcome = Object.freeze({ outcome: 'done' })

/** A record whose 'done' a deferring handler took back at flush: the target refused a value in it. */
export interface Refusal {
  record: NormalisedCallback
  error: string
}

export interface Handler {
  /** The target as written on the command line, for logs and dead letters. */
  readonly target: string
  /** Handles one record; a synchronous answer saves an await per record on the fast path. */
  handle (record: NormalisedCallback): HandlerOutcome | Promise<HandlerOutcome>
  /**
   * Set when handle() answers 'done' at once and the record is written later (a database): a
   * record the target then refuses is returned by flush, to be dead-lettered before the checkpoint.
   */
  readonly defersOutcome?: boolean
  /**
   * Makes everything handled so far durable; called before each checkpoint. Throws when it
   * cannot (the checkpoint stays before those records); returns the records refused, if any.
   */
  flush? (): Promise<void | Refusal[]>
  /**
   * For a handler that only buffers records until flush (a file): write nothing more until
   * `done` settles (a commit in flight), so what reaches the target past the checkpoint stays
   * within one batch. A handler without it delivers at once, and commits are then waited for.
   */
  holdOutputUntil? (done: Promise<unknown>): void
  /**
   * The pass failed before its checkpoint: drop what is buffered and not yet delivered, since the
   * next pass hands those records over again.
   */
  discard? (): Promise<void>
  close? (): Promise<void>
}
