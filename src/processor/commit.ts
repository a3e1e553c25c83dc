/**
 * The commit: the handlers' output and the dead letters made durable (with those of the records a
 * handler refused at flush), then the de-duplication keys saved, then the source's acknowledgement (the spool: the attempt counts and
 * the checkpoint saved; JetStream: the messages acked), never before (fluent-bit #2846). A commit
 * takes what it acknowledges at once, so the pass may go on while it is written.
 */
import type { DeliveryLogWriter } from '../spool/delivery-log.js'
import type { DataLayout } from '../spool/layout.js'
import type { DeadLetterWriter } from './dead-letters.js'
import { DedupeWindow } from './dedupe.js'
import type { Dispatcher, TargetRefusal } from './dispatch.js'
import type { Acknowledgement } from './source.js'

/** Called synchronously when a commit starts: takes what this commit acknowledges. */
export type TakeAcknowledgement = () => Acknowledgement | undefined

export class Committer {
  private readonly dispatcher: Dispatcher
  private readonly deadLetters: DeadLetterWriter
  /** Dead-letters the records a handler refused at flush (the settler's bookkeeping). */
  private readonly onRefused: (refused: TargetRefusal[]) => void
  /** A commit started by commitInBackground and not waited for yet. */
  private inFlight: Promise<void> | undefined
  private readonly deliveries: DeliveryLogWriter | undefined
  private readonly dedupe: { window: DedupeWindow, layout: DataLayout } | undefined

  constructor (dispatcher: Dispatcher, deadLetters: DeadLetterWriter, onRefused: (refused: TargetRefusal[]) => void, deliveries?: DeliveryLogWriter,
    dedupe?: { window: DedupeWindow, layout: DataLayout }) {
    this.deliveries = deliveries
    this.dedupe = dedupe
    this.onRefused = onRefused
    this.dispatcher = dispatcher
    this.deadLetters = deadLetters
  }

  /** Flushes the handlers' output and the dead letters, then acknowledges what `take` takes. */
  async commit (take: TakeAcknowledgement): Promise<void> {
    await this.settleInFlight()
    await this.start(take)
  }

  /**
   * A commit left to run while the next batch is dispatched, for handlers that only buffer
   * (files): their writes are held until it is done, so the output of one batch at most is on
   * disk past the checkpoint (redeliveries after a crash stay bounded by one batch), while the
   * fdatasyncs and the checkpoint's fsyncs no longer stall the pass. At most one is in flight:
   * the next commit, which every way out of a pass goes through, waits for it and throws its error.
   */
  async commitInBackground (take: TakeAcknowledgement): Promise<void> {
    await this.settleInFlight()
    const commit = this.start(take)
    commit.catch(() => {})
    this.inFlight = commit
    this.dispatcher.holdOutputUntil(commit)
  }

  /** A pass that fails: let a commit still in flight end (it may yet acknowledge), ignoring its error. */
  async abandon (): Promise<void> {
    await this.inFlight?.catch(() => {})
    this.inFlight = undefined
  }

  /** Waits for the commit left in flight, if any, and throws its error. */
  private async settleInFlight (): Promise<void> {
    const inFlight = this.inFlight
    this.inFlight = undefined
    await inFlight
  }

  /** Takes the content now, synchronously, then writes it. */
  private start (take: TakeAcknowledgement): Promise<void> {
    const acknowledge = take()
    // The keys of the records done so far, whose output this commit's flush makes durable.
    const dedupeWrite = this.dedupe?.window.take()
    const flushed = Promise.all([this.dispatcher.flush(), this.deadLetters.flush(), this.deliveries?.flush()])
    return (async () => {
      const [refused] = await flushed
      // Refused at flush: their dead letters are made durable before the acknowledgement passes them.
      if (refused.length > 0) {
        this.onRefused(refused)
        await this.deadLetters.flush()
      }
      if (dedupeWrite !== undefined) await DedupeWindow.write(this.dedupe!.layout, dedupeWrite)
      await acknowledge?.()
    })()
  }
}
