/**
 * Group commit for the SQL targets, behind handlers that answer at once: the records handed over
 * are buffered, and written in the background as transactions of up to `maxItems` rows, one at a
 * time, so that each takes what arrived while the one before it committed. flush(), which the
 * commit awaits before the checkpoint, waits until every record handed over is committed.
 *
 * A batch refused for a value in it is split in halves until the rows at fault are alone: those
 * are returned by flush, to be dead-lettered, and the others written. Any other failure
 * (connection refused, a server restart, a deadlock, a serialisation failure) is tried again
 * `tries` times with a doubling back-off; then flush throws and the pass fails before the
 * checkpoint: the next pass hands the records over again, and those already written stay as they are.
 */
import type { Refusal } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

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
  record: NormalisedCallback
}

export interface BatchLimits {
  /** @default 2000 */
  maxItems: number
  /** @default 4 MiB */
  maxBytes: number
  /** Tries of a transaction that failed for another reason than a value. @default 3 */
  tries: number
  /** First back-off between tries, doubled each time. @default 500 ms */
  retryDelayMs: number
}

const DEFAULT_LIMITS: BatchLimits = { maxItems: 2000, maxBytes: 4 * 1024 * 1024, tries: 3, retryDelayMs: 500 }

export class BatchQueue<T> {
  private readonly writer: BatchWriter<T>
  private readonly limits: BatchLimits
  private pending: Array<Pending<T>> = []
  /** Records added, and records written or refused (or dropped), since the queue began. */
  private added = 0
  private settled = 0
  /** The background writer, while it runs. */
  private running: Promise<void> | undefined
  /** While a commit is in flight (holdUntil): how many of the pending records may be written before it ends. */
  private writable = Infinity
  /** The hold in force, if any. */
  private hold: object | undefined
  private refused: Refusal[] = []
  /** Why a batch could not be written: thrown by the next flush; nothing more is written until a discard. */
  private failure: Error | undefined
  private dropping = false
  /** Flushes waiting for `settled` to reach their mark. */
  private waiters: Array<{ mark: number, wake: () => void }> = []

  constructor (writer: BatchWriter<T>, limits: Partial<BatchLimits> = {}) {
    this.writer = writer
    this.limits = { ...DEFAULT_LIMITS, ...limits }
  }

  /** Buffers the item; it is written by the next transaction. */
  add (item: T, record: NormalisedCallback): void {
    if (this.failure !== undefined) return
    this.pending.push({ item, record })
    this.added++
    this.kick()
  }

  /**
   * Resolves once every record added so far is committed, with the records refused; throws if a
   * batch could not be written (those records are then dropped: the next pass hands them over again).
   */
  async flush (): Promise<Refusal[]> {
    const mark = this.added
    while (this.settled < mark && this.failure === undefined) await new Promise<void>((resolve) => this.waiters.push({ mark, wake: resolve }))
    if (this.failure !== undefined) throw this.failure
    return this.refused.splice(0)
  }

  /** The records added from now on are written once `done` settles (a commit in flight); dropped if it fails. */
  holdUntil (done: Promise<unknown>): void {
    this.writable = this.pending.length
    const hold = this.hold = {}
    // A later hold replaces this one: what it holds stays held.
    const release = (): void => {
      if (this.hold !== hold) return
      this.hold = undefined
      this.writable = Infinity
      this.kick()
    }
    done.then(release, () => {
      // The pass fails and hands these records over again: drop what was held.
      if (this.hold === hold) this.drop(this.pending.splice(this.writable).length)
      release()
    })
  }

  /** The pass failed: what is buffered is dropped, and the failure forgotten. */
  async discard (): Promise<void> {
    this.dropping = true
    this.drop(this.pending.length)
    this.pending = []
    await this.running
    this.drop(this.pending.length)
    this.pending = []
    this.refused = []
    this.failure = undefined
    this.dropping = false
    this.writable = Infinity
    this.hold = undefined
  }

  /** Resolves once nothing is in flight. */
  async idle (): Promise<void> {
    await this.running
  }

  private kick (): void {
    if (this.running !== undefined || this.pending.length === 0 || this.writable === 0 || this.failure !== undefined) return
    // The next turn of the event loop: the records handed over meanwhile join this batch.
    this.running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain())
  }

  private drop (count: number): void {
    this.settled += count
    this.wakeWaiters()
  }

  private wakeWaiters (): void {
    if (this.waiters.length === 0) return
    const waiting = this.waiters
    this.waiters = []
    for (const w of waiting) {
      if (this.settled >= w.mark || this.failure !== undefined) w.wake()
      else this.waiters.push(w)
    }
  }

  private async drain (): Promise<void> {
    try {
      while (this.pending.length > 0 && this.writable > 0 && this.failure === undefined && !this.dropping) {
        const batch = this.takeBatch()
        try {
          this.refused.push(...await this.writeIsolating(batch))
          this.settled += batch.length
        } catch (err) {
          this.failure = new Error(this.writer.describe(err), { cause: err })
          this.settled += batch.length + this.pending.length
          this.pending = []
        }
        this.wakeWaiters()
      }
    } finally {
      this.running = undefined
    }
  }

  private takeBatch (): Array<Pending<T>> {
    let bytes = 0
    let n = 0
    const most = Math.min(this.pending.length, this.limits.maxItems, this.writable)
    while (n < most) {
      bytes += this.writer.sizeOf(this.pending[n]!.item)
      if (n > 0 && bytes > this.limits.maxBytes) break
      n++
    }
    if (this.writable !== Infinity) this.writable -= n
    return this.pending.splice(0, n)
  }

  /** Writes the batch; a value refused: each half again, down to the rows at fault, which are returned. */
  private async writeIsolating (batch: Array<Pending<T>>): Promise<Refusal[]> {
    try {
      await this.writeRetrying(batch.map((p) => p.item))
      return []
    } catch (err) {
      if (!this.writer.isDataError(err)) throw err
      if (batch.length === 1) return [{ record: batch[0]!.record, error: this.writer.describe(err) }]
      const half = Math.ceil(batch.length / 2)
      return [...await this.writeIsolating(batch.slice(0, half)), ...await this.writeIsolating(batch.slice(half))]
    }
  }

  private async writeRetrying (items: T[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writer.write(items)
        return
      } catch (err) {
        if (this.writer.isDataError(err) || attempt >= this.limits.tries || this.dropping) throw err
        await new Promise((resolve) => setTimeout(resolve, this.limits.retryDelayMs * 2 ** (attempt - 1)))
      }
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
