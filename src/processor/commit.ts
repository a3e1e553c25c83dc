/**
 * The commit: the handlers' output and the dead letters made durable (with those of the records a
 * handler refused at flush), then the attempt counts, the de-duplication keys and the checkpoint saved, never before (fluent-bit #2846). A commit takes what it saves at once, so
 * the pass may go on while it is written.
 */
import { saveCheckpoint } from '../spool/checkpoint.js'
import type { DeliveryLogWriter } from '../spool/delivery-log.js'
import type { SpoolPosition } from '../spool/reader.js'
import { saveAttemptsText, type AttemptCounts } from './attempts.js'
import type { DeadLetterWriter } from './dead-letters.js'
import { DedupeWindow } from './dedupe.js'
import type { Dispatcher, TargetRefusal } from './dispatch.js'

export class Committer {
  private readonly dataDir: string
  private readonly dispatcher: Dispatcher
  private readonly deadLetters: DeadLetterWriter
  private readonly attempts: AttemptCounts
  /** Dead-letters the records a handler refused at flush (the settler's bookkeeping). */
  private readonly onRefused: (refused: TargetRefusal[]) => void
  /** The checkpoint on disk. */
  saved: SpoolPosition | undefined
  /** A commit started by commitInBackground and not waited for yet. */
  private inFlight: Promise<void> | undefined
  private readonly deliveries: DeliveryLogWriter | undefined
  private readonly dedupe: DedupeWindow | undefined

  constructor (dataDir: string, dispatcher: Dispatcher, deadLetters: DeadLetterWriter, attempts: AttemptCounts, saved: SpoolPosition | undefined,
    onRefused: (refused: TargetRefusal[]) => void, deliveries?: DeliveryLogWriter, dedupe?: DedupeWindow) {
    this.deliveries = deliveries
    this.dedupe = dedupe
    this.dataDir = dataDir
    this.onRefused = onRefused
    this.dispatcher = dispatcher
    this.deadLetters = deadLetters
    this.attempts = attempts
    this.saved = saved
  }

  /** Flushes the handlers' output and the dead letters, then saves the attempts and (with `checkpoint`) the position. */
  async commit (position: SpoolPosition | undefined, checkpoint: boolean): Promise<void> {
    await this.settleInFlight()
    await this.start(position, checkpoint)
  }

  /**
   * A commit left to run while the next batch is dispatched, for handlers that only buffer
   * (files): their writes are held until it is done, so the output of one batch at most is on
   * disk past the checkpoint (redeliveries after a crash stay bounded by one batch), while the
   * fdatasyncs and the checkpoint's fsyncs no longer stall the pass. At most one is in flight:
   * the next commit, which every way out of a pass goes through, waits for it and throws its error.
   */
  async commitInBackground (position: SpoolPosition | undefined): Promise<void> {
    await this.settleInFlight()
    const commit = this.start(position, true)
    commit.catch(() => {})
    this.inFlight = commit
    this.dispatcher.holdOutputUntil(commit)
  }

  /** A pass that fails: let a commit still in flight end (it may yet save a checkpoint), ignoring its error. */
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
  private start (position: SpoolPosition | undefined, checkpoint: boolean): Promise<void> {
    const attemptsText = this.attempts.takeText()
    // The keys of the records done so far, whose output this commit's flush makes durable.
    const dedupeWrite = this.dedupe?.take()
    const flushed = Promise.all([this.dispatcher.flush(), this.deadLetters.flush(), this.deliveries?.flush()])
    return (async () => {
      const [refused] = await flushed
      // Refused at flush: their dead letters are made durable before the checkpoint passes them.
      if (refused.length > 0) {
        this.onRefused(refused)
        await this.deadLetters.flush()
      }
      if (attemptsText !== undefined) await saveAttemptsText(this.dataDir, attemptsText)
      if (dedupeWrite !== undefined) await DedupeWindow.write(this.dataDir, dedupeWrite)
      const saved = this.saved
      if (checkpoint && position !== undefined && (saved === undefined || position.segment !== saved.segment || position.offset !== saved.offset)) {
        await saveCheckpoint(this.dataDir, position)
        this.saved = position
      }
    })()
  }
}
