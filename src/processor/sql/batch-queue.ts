/**
 * Group commit for the SQL targets: the records handed over while a transaction is in flight (or
 * within the same turn of the event loop) are written together as the next one, and each
 * record's promise settles when its batch commits. A batch the database refuses for a value in
 * it is written again one record at a time, so only the record at fault is dead-lettered.
 */
import type { HandlerOutcome } from '../handler.js'
import { DONE } from '../handler.js'

export interface BatchWriter<T> {
  /** Writes the items in one transaction; throws if it did not commit. */
  write (items: T[]): Promise<void>
  /** Whether the error blames a value (too long, bad encoding), not the server or the network. */
  isDataError (err: unknown): boolean
  /** The error as a dead letter or a log may show it: no message text or phone number in it. */
  describe (err: unknown): string
  /** Rough size of an item in bytes, to keep a batch well under the server's packet limits. */
  sizeOf (item: T): number
}

interface Pending<T> {
  item: T
  resolve: (outcome: HandlerOutcome) => void
}

export interface BatchLimits {
  /** @default 1000 */
  maxItems: number
  /** @default 4 MiB */
  maxBytes: number
}

const DEFAULT_LIMITS: BatchLimits = { maxItems: 1000, maxBytes: 4 * 1024 * 1024 }

export class BatchQueue<T> {
  private readonly writer: BatchWriter<T>
  private readonly limits: BatchLimits
  private pending: Array<Pending<T>> = []
  private running = false
  private idleWaiters: Array<() => void> = []

  constructor (writer: BatchWriter<T>, limits: Partial<BatchLimits> = {}) {
    this.writer = writer
    this.limits = { ...DEFAULT_LIMITS, ...limits }
  }

  /** Resolves when the item's batch has committed (done), or failed (retry, or dead for this item alone). */
  add (item: T): Promise<HandlerOutcome> {
    return new Promise((resolve) => {
      this.pending.push({ item, resolve })
      if (!this.running) {
        this.running = true
        // The next turn of the event loop: the records handed over meanwhile join this batch.
        setImmediate(() => { this.drain().catch(() => {}) })
      }
    })
  }

  /** Resolves once nothing is pending or in flight. */
  idle (): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async drain (): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.takeBatch()
      let outcomes: HandlerOutcome[]
      try {
        outcomes = await this.writeIsolating(batch.map((p) => p.item))
      } catch (err) {
        // Only a bug in a writer's describe or isDataError gets here: the batch is tried again.
        outcomes = batch.map(() => ({ outcome: 'retry', error: (err as Error).message }))
      }
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outcomes[i]!)
    }
    this.running = false
    for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private takeBatch (): Array<Pending<T>> {
    let bytes = 0
    let n = 0
    while (n < this.pending.length && n < this.limits.maxItems) {
      bytes += this.writer.sizeOf(this.pending[n]!.item)
      if (n > 0 && bytes > this.limits.maxBytes) break
      n++
    }
    return this.pending.splice(0, n)
  }

  private async writeIsolating (items: T[]): Promise<HandlerOutcome[]> {
    try {
      await this.writer.write(items)
      return items.map(() => DONE)
    } catch (err) {
      const error = this.writer.describe(err)
      if (!this.writer.isDataError(err)) return items.map(() => ({ outcome: 'retry', error }))
      if (items.length === 1) return [{ outcome: 'dead', error }]
      const outcomes: HandlerOutcome[] = []
      for (const item of items) outcomes.push(...await this.writeIsolating([item]))
      return outcomes
    }
  }
}

/**
 * The database's message with the values it quotes left out, except names of columns and types:
 * a refused value may be a phone number or a piece of message text.
 */
export function withoutQuotedValues (message: string): string {
  return message.replace(/(["'`])((?:(?!\1).)*)\1/g, (whole, _q: string, inner: string) => /^[A-Za-z_][A-Za-z0-9_.]{0,63}$/.test(inner) ? whole : '…')
}
