/**
 * Where the records of a pass come from and how they are acknowledged. The pass (pass.ts) is the
 * same for every source: the settler (settle.ts) takes each line to its end, the in-flight window
 * (window.ts) keeps the order per key, and the committer (commit.ts) makes the handlers' output
 * and the dead letters durable before it calls the source's acknowledgement. What differs is here:
 * how a line is read into a record, how failed attempts are counted, and what "acknowledged"
 * means: the local spool moves its checkpoint (spool-source.ts); a JetStream consumer acks its
 * messages (jetstream-source.ts).
 */
import type { Logger } from 'pino'
import type { SpoolPosition } from '../spool/reader.js'
import type { AttemptEntry } from './attempts.js'
import type { Committer } from './commit.js'
import type { Dispatcher } from './dispatch.js'
import type { ProcessorOptions } from './defaults.js'
import type { PassFigures } from './metrics.js'
import type { NormalisedCallback } from './normalise.js'
import type { RecordSettler } from './settle.js'
import type { InFlightWindow, WindowHooks } from './window.js'

/** One record as its source hands it over: its text, and whatever the source needs to find it again. */
export interface SourceLine {
  line: string
}

/** Where a line is, for logs and for the dead letter of a line that is not a valid record. */
export interface LinePlace {
  segment?: string
  offset?: number
  stream_seq?: number
}

/** How a source's lines are read. */
export interface LineFormat<L extends SourceLine> {
  /** The line's record, normalised (a batched request: its first event, the others remembered); a string: why it is not a valid record. */
  read (line: L): NormalisedCallback | string
  /** The record as its dead letter keeps it. */
  deadRecord (line: L): unknown
  where (line: L): LinePlace
  /** Logged when a record that keeps failing is handed back to be retried later. */
  leftMessage (line: L): string
}

/** Failed attempts per record: the spool counts failed passes in a file; JetStream counts deliveries. */
export interface AttemptBook<L extends SourceLine> {
  /** Failed attempts counted before this one. */
  of (line: L, id: string): number
  /** One more failed attempt; returns its entry (attempts, and since when it fails, for --dead-after). */
  countFailure (line: L, id: string, error: string, now: Date): Readonly<AttemptEntry>
  /** Done or dead-lettered: nothing more to count. */
  forget (line: L, id: string): void
}

/** What a commit calls once the output and the dead letters are durable. */
export type Acknowledgement = () => Promise<void>

/** What the pass gives its source. */
export interface PassContext<L extends SourceLine> {
  options: ProcessorOptions
  logger: Logger
  figures: PassFigures
  dispatcher: Dispatcher
  settler: RecordSettler<L>
  committer: Committer
  stopping: () => boolean
  /** A window for the records of this pass (from a spool position); a stop requested halts it. */
  newWindow: (from?: SpoolPosition, hooks?: WindowHooks<L>) => InFlightWindow<L>
}

export interface RecordSource<L extends SourceLine> {
  /** For the logs: the spool's directory, or the stream and consumer. */
  readonly description: string
  readonly format: LineFormat<L>
  /** Before a pass: where it starts, and its attempt counts. */
  begin (): Promise<AttemptBook<L>>
  /** The pass's read loop: each line to the window, a commit now and then; its outcome. Throws when it fails. */
  run (pass: PassContext<L>): Promise<PassFigures['outcome']>
  /** The pass failed (the commit in flight is over, the buffered output dropped): what was not acknowledged is handed over again. */
  failed (): void
  /** After the pass: retention and the figures of what is left. */
  finish (figures: PassFigures, logger: Logger): Promise<void>
  /** A stop was requested: stop waiting for records. */
  wake? (): void
  close (): Promise<void>
}
