/**
 * What the SQL targets share: the records handed over are queued for transactions written in the
 * background (batch-queue.ts), and checked at the commit (flush), which gets the refused ones.
 */
import type { Refusal } from '../handler.js'
import type { BatchQueue } from './batch-queue.js'

export abstract class QueuedSqlHandler<Row> {
  /** The target as written, its password masked. */
  abstract readonly target: string
  readonly defersOutcome = true
  protected abstract readonly queue: BatchQueue<Row>

  /** Ends the driver's pool; called once nothing is being written. */
  protected abstract endPool (): Promise<void>

  /** Resolves once every record handed over is committed, with those refused; throws if a batch could not be written. */
  async flush (): Promise<Refusal[]> {
    try {
      return await this.queue.flush()
    } catch (err) {
      throw new Error(`cannot write to ${this.target}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** What is handed over from now on is written once `done` (a commit in flight) settles, so that one batch at most is past the checkpoint. */
  holdOutputUntil (done: Promise<unknown>): void {
    this.queue.holdUntil(done)
  }

  async discard (): Promise<void> {
    await this.queue.discard()
  }

  async close (): Promise<void> {
    await this.queue.idle()
    await this.endPool()
  }
}
