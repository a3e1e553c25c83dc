/**
 * The in-flight window: up to `concurrency` records handled at once, in spool order per key (two
 * records with the same key are never in flight together; the second starts when the first is
 * settled), and the low-water mark: the position just past the last record before which every
 * record is settled, which is where the checkpoint may go.
 *
 * While nothing is in flight, a record that its handlers settle synchronously (the file target)
 * costs no entry and no await: the window only remembers its line.
 */
import type { SpoolLine, SpoolPosition } from '../spool/reader.js'
import type { NormalisedCallback } from './normalise.js'
import type { LineResult, RecordSettler } from './settle.js'
import type { SourceLine } from './source.js'

/** What orders the records: two with the same value are handled one after the other. */
export type OrderKey = 'number' | 'message_id' | 'none'
export const ORDER_KEYS: readonly OrderKey[] = ['number', 'message_id', 'none']

/** How far the reader may run ahead of the oldest record not settled, in records per slot. */
export const WINDOW_SPAN_PER_SLOT = 4

const WAITING = 0
const RUNNING = 1
const SETTLED = 2
/** Not settled: to be handed over again by the next pass. */
const LEFT = 3

/**
 * For a source that acknowledges each record on its own (JetStream): told of each line settled,
 * and of each line left to be handed over again, which it takes back itself.
 */
export interface WindowHooks<L extends SourceLine> {
  /** A line settled: done, dead-lettered, skipped or invalid. */
  settled (line: L): void
  /** A line left (its handler keeps failing, or a stop): the window goes on without halting. */
  left (line: L): void
}

interface Entry<L extends SourceLine> {
  /** Where the checkpoint may go once this entry and all before it are settled (spool lines only). */
  end: L | SpoolPosition
  record: NormalisedCallback | undefined
  key: string | undefined
  state: number
}

export class InFlightWindow<L extends SourceLine = SpoolLine> {
  private readonly settler: RecordSettler<L>
  private readonly concurrency: number
  private readonly span: number
  private readonly keyOf: (record: NormalisedCallback) => string | undefined
  /** Lines handed over and not yet past the low-water mark, oldest first (from `head`). */
  private entries: Array<Entry<L>> = []
  private head = 0
  private running = 0
  /** Per key, its entries not yet settled: the first runs, the others wait their turn. */
  private readonly byKey = new Map<string, Array<Entry<L>>>()
  /** The last line or position before which everything is settled; turned into `low` on demand. */
  private last: L | SpoolPosition | undefined
  private low: SpoolPosition | undefined
  private wakeReader: (() => void) | undefined
  private failure: { error: unknown } | undefined
  private readonly hooks: WindowHooks<L> | undefined
  /** Lines settled (done, dead-lettered, skipped or invalid). */
  settledCount = 0
  /** Lines left to be handed over again, with hooks (without, the window halts at the first). */
  leftCount = 0
  /** A record must be handed over again (its tries ran out, or a stop), or a failure: no new record starts. */
  halted = false

  constructor (settler: RecordSettler<L>, options: { concurrency: number, orderKey: OrderKey }, from: SpoolPosition | undefined, hooks?: WindowHooks<L>) {
    this.settler = settler
    this.hooks = hooks
    this.concurrency = options.concurrency
    this.span = options.concurrency * WINDOW_SPAN_PER_SLOT
    this.keyOf = keyFunction(options.orderKey)
    this.low = from
  }

  /** Nothing in flight and nothing waiting. */
  get idle (): boolean {
    return this.head === this.entries.length
  }

  /** Whether one more line may be handed over now. */
  get hasRoom (): boolean {
    return this.running < this.concurrency && this.entries.length - this.head < this.span
  }

  /** The low-water mark: just before the oldest record not settled (spool lines). */
  position (): SpoolPosition | undefined {
    const last = this.last as SpoolLine | SpoolPosition | undefined
    if (last !== undefined) {
      this.low = 'nextOffset' in last ? { segment: last.segment, offset: last.nextOffset } : last
      this.last = undefined
    }
    return this.low
  }

  /** Hands a line over: settled at once, started, or left waiting for the record before it with the same key. */
  add (line: L): void {
    const record = this.settler.prepare(line)
    if (this.head === this.entries.length) {
      // Nothing in flight: a record settled synchronously needs no entry.
      if (record === undefined) return this.settledAtOnce(line)
      const result = this.settler.run(line, record)
      if (result === 'next') return this.settledAtOnce(line)
      const entry: Entry<L> = { end: line, record, key: this.keyOf(record), state: RUNNING }
      this.entries.push(entry)
      if (entry.key !== undefined) this.byKey.set(entry.key, [entry])
      this.running++
      this.follow(entry, result)
      return
    }
    const entry: Entry<L> = { end: line, record, key: record === undefined ? undefined : this.keyOf(record), state: WAITING }
    this.entries.push(entry)
    if (record === undefined) {
      entry.state = SETTLED
      this.settledCount++
      this.hooks?.settled(line)
      return
    }
    if (entry.key !== undefined) {
      const queue = this.byKey.get(entry.key)
      if (queue !== undefined) {
        queue.push(entry)
        return
      }
      this.byKey.set(entry.key, [entry])
    }
    this.start(entry)
  }

  /** The reader reached `next` (the end of a chunk, another segment): the checkpoint may go there once all before it is settled. */
  reached (next: SpoolPosition): void {
    if (this.head === this.entries.length) this.last = next
    else this.entries.push({ end: next, record: undefined, key: undefined, state: SETTLED })
  }

  /** No new record starts; those in flight go on to their end. */
  halt (): void {
    this.halted = true
    this.wake()
  }

  /** Resolves when one more line may be handed over, or the window halted; throws what failed. */
  async room (): Promise<void> {
    while (!this.hasRoom && !this.halted) await new Promise<void>((resolve) => { this.wakeReader = resolve })
    this.throwFailure()
  }

  /** Resolves when nothing is in flight any more; throws what failed. */
  async drain (): Promise<void> {
    while (this.running > 0) await new Promise<void>((resolve) => { this.wakeReader = resolve })
    this.throwFailure()
  }

  private throwFailure (): void {
    if (this.failure !== undefined) throw this.failure.error
  }

  private settledAtOnce (line: L): void {
    this.last = line
    this.settledCount++
    this.hooks?.settled(line)
  }

  private start (entry: Entry<L>): void {
    entry.state = RUNNING
    this.running++
    let result: LineResult | Promise<LineResult>
    try {
      result = this.settler.run(entry.end as L, entry.record!)
    } catch (error) {
      result = Promise.reject(error)
    }
    this.follow(entry, result)
  }

  private follow (entry: Entry<L>, result: LineResult | Promise<LineResult>): void {
    if (result instanceof Promise) {
      result.then((r) => this.finish(entry, r), (error: unknown) => {
        this.failure ??= { error }
        this.finish(entry, 'stop')
      })
    } else {
      this.finish(entry, result)
    }
  }

  private finish (entry: Entry<L>, result: LineResult): void {
    this.running--
    if (result === 'next') {
      entry.state = SETTLED
      this.settledCount++
      this.hooks?.settled(entry.end as L)
    } else if (this.hooks !== undefined && this.failure === undefined) {
      // The source takes it back (a nak): the records behind it go on.
      entry.state = SETTLED
      this.leftCount++
      this.hooks.left(entry.end as L)
    } else {
      entry.state = LEFT
      this.halted = true
    }
    if (entry.key !== undefined) {
      const queue = this.byKey.get(entry.key)!
      queue.shift()
      if (queue.length === 0) this.byKey.delete(entry.key)
      else if (!this.halted) this.start(queue[0]!)
    }
    this.advance()
    this.wake()
  }

  private wake (): void {
    const wake = this.wakeReader
    this.wakeReader = undefined
    wake?.()
  }

  /** Moves the low-water mark past the settled entries at the head. */
  private advance (): void {
    const entries = this.entries
    let head = this.head
    while (head < entries.length && entries[head]!.state === SETTLED) this.last = entries[head++]!.end
    if (head === entries.length) {
      this.entries = []
      this.head = 0
    } else if (head >= 1024 && head * 2 >= entries.length) {
      this.entries = entries.slice(head)
      this.head = 0
    } else {
      this.head = head
    }
  }
}

function keyFunction (orderKey: OrderKey): (record: NormalisedCallback) => string | undefined {
  // Records without the field have nothing in common to keep in order.
  if (orderKey === 'number') return (r) => r.number ?? undefined
  if (orderKey === 'message_id') return (r) => r.message_id ?? undefined
  return () => undefined
}
