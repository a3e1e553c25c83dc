/**
 * A JetStream stream as a pass's source (`process --source nats://...`): a durable pull consumer
 * shared by every processor of a pool. Each message is one normalised record (JSON), as the NATS
 * target publishes it. A message is acked once the commit made its output and dead letter
 * durable (every target done); a record whose handler keeps failing after --tries is handed back
 * with a nak and a back-off, and the records behind it go on; after --max-attempts deliveries
 * (the message's own delivery count) it is dead-lettered into this processor's dead/ and acked.
 *
 * A pass fetches what the consumer has, a fetch at a time (each waits at most 1 s for its
 * messages, then its records are committed and acked), and ends once nothing is pending;
 * --follow starts the next at once. The messages in hand are kept alive
 * with `working()` while they wait, so the ack wait only runs out for a processor that is gone:
 * its messages then go to the others.
 *
 * The re-queue files (`dead retry` of this processor's dead letters: normalised records, as the
 * messages are) are dispatched first, as a spool processor does, their failed attempts counted in
 * the data dir's attempts file; one that keeps failing stops only the re-queue, not the stream.
 */
import type { Logger } from 'pino'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { connectNats } from '../nats/connection.js'
import { ensureConsumer, type ConsumerUrl } from '../nats/consumer.js'
import { KINDS } from './classify.js'
import type { DataLayout } from '../spool/layout.js'
import type { ProcessorOptions } from './defaults.js'
import type { PassFigures } from './metrics.js'
import { AttemptCounts, saveAttemptsText } from './attempts.js'
import { dispatchRequeueFiles, listRequeueFiles } from './requeue.js'
import type { SpoolLine } from '../spool/reader.js'
import type { NormalisedCallback } from './normalise.js'
import type { AttemptBook, LineFormat, LinePlace, PassContext, RecordSource, SourceLine } from './source.js'
import { WINDOW_SPAN_PER_SLOT, type InFlightWindow } from './window.js'

export interface MessageLine extends SourceLine {
  msg: JsMsg
  /** The message's delivery count (1 the first time). */
  deliveries: number
}

/** A message of the stream, or a line of a re-queue file (`dead retry`). */
export type StreamLine = MessageLine | SpoolLine

const isMessage = (line: StreamLine): line is MessageLine => 'msg' in line

export interface JetStreamSourceOptions {
  where: ConsumerUrl
  /** The consumer's ack wait when this processor creates it. @default 30 s */
  ackWaitMs: number
  /** The first back-off of a nak, doubled with each delivery (at most 2 min). @default 5 s */
  retryPauseMs: number
  /** --follow (passes end the same way: the next starts at once). */
  follow: boolean
  /** Timeout of a request to the server. @default 10 s */
  requestTimeoutMs?: number
}

/** The nak delay after the n-th failed delivery: doubled each time, at most 2 min (or the first, if longer). */
export function nakDelay (firstMs: number, deliveries: number): number {
  return Math.min(firstMs * 2 ** Math.min(Math.max(deliveries, 1) - 1, 20), Math.max(firstMs, 120_000))
}

const KIND_SET = new Set<string>(KINDS)

/** Messages: normalised records, one JSON object each. */
export class MessageLineFormat implements LineFormat<StreamLine> {
  leftMessage (line: StreamLine): string {
    return isMessage(line)
      ? 'handler still failing: message handed back to the stream (nak), delivered again after its back-off'
      : 'handler still failing: re-queued record kept for the next pass (the stream goes on)'
  }

  read (line: StreamLine): NormalisedCallback | string {
    let value: unknown
    try {
      value = JSON.parse(line.line)
    } catch {
      return 'not JSON'
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object'
    const r = value as Partial<NormalisedCallback>
    if (typeof r.id !== 'string' || r.id === '') return 'no id'
    if (typeof r.kind !== 'string' || !KIND_SET.has(r.kind)) return 'no known kind'
    if (r.fields === null || typeof r.fields !== 'object') return 'no fields'
    return value as NormalisedCallback
  }

  deadRecord (line: StreamLine): unknown {
    try {
      return JSON.parse(line.line)
    } catch {
      return line.line
    }
  }

  where (line: StreamLine): LinePlace {
    return isMessage(line) ? { stream_seq: line.msg.seq } : { segment: line.segment, offset: line.offset }
  }
}

export class JetStreamSource implements RecordSource<StreamLine> {
  readonly format = new MessageLineFormat()
  readonly description: string
  private readonly options: ProcessorOptions
  private readonly layout: DataLayout
  private readonly js: JetStreamSourceOptions
  private readonly timeoutMs: number
  private nc: NatsConnection | undefined
  private consumer: Consumer | undefined
  private ackWaitMs = 30_000
  private closed = false
  /** The re-queued records' failed attempts (the data dir's attempts file), loaded before they are dispatched. */
  private requeueAttempts: AttemptCounts | undefined

  // State of the pass in progress.
  private pass!: PassContext<StreamLine>
  /** Fetched and neither acked nor naked yet: kept alive with working(). */
  private readonly inHand = new Set<JsMsg>()
  /** Settled since the last commit took them: acked by the next commit. */
  private settled: JsMsg[] = []
  private fetching: ConsumerMessages | undefined
  private keepAlive: NodeJS.Timeout | undefined

  constructor (options: ProcessorOptions, layout: DataLayout, js: JetStreamSourceOptions) {
    this.options = options
    this.layout = layout
    this.js = js
    this.timeoutMs = js.requestTimeoutMs ?? 10_000
    this.description = `${js.where.url.display} stream ${js.where.stream} consumer ${js.where.consumer}`
  }

  async begin (): Promise<AttemptBook<StreamLine>> {
    return this.attempts
  }

  /** A message's attempts are its deliveries: the server counts them, across processors and restarts. */
  private readonly attempts: AttemptBook<StreamLine> = {
    of: (line, id) => isMessage(line) ? line.deliveries - 1 : this.requeueAttempts!.of(id),
    countFailure: (line, id, error, now) => isMessage(line)
      ? {
          attempts: line.deliveries,
          last_error: error,
          // Since when it fails is not known across the pool: at most since it entered the stream.
          first_failed_at: line.msg.time.toISOString(),
          last_failed_at: now.toISOString(),
        }
      : this.requeueAttempts!.countFailure(id, error, now),
    forget: (line, id) => { if (!isMessage(line)) this.requeueAttempts!.forget(id) },
  }

  /** Connects and finds (or creates) the consumer, once; the client reconnects by itself after that. */
  private async ready (logger: Logger): Promise<Consumer> {
    if (this.consumer !== undefined) return this.consumer
    const { where } = this.js
    // A connection the client gave up on (it reconnects by itself otherwise) is opened again.
    if (this.nc?.isClosed() === true) this.nc = undefined
    this.nc ??= await connectNats(where.url, { name: `callback-spool process ${where.consumer}`, timeoutMs: this.timeoutMs })
    const { created, info } = await ensureConsumer(this.nc, where, this.js.ackWaitMs, this.timeoutMs)
    this.ackWaitMs = Math.max(1, Math.round((info.config.ack_wait ?? 30e9) / 1e6))
    if (created) logger.info({ stream: where.stream, consumer: where.consumer, ack_wait_ms: this.ackWaitMs }, 'durable consumer created')
    else if (this.ackWaitMs !== this.js.ackWaitMs) logger.warn({ stream: where.stream, consumer: where.consumer, ack_wait_ms: this.ackWaitMs }, 'the consumer exists with another ack wait than --ack-wait: its own is used')
    this.consumer = await jetstream(this.nc, { timeout: this.timeoutMs }).consumers.get(where.stream, where.consumer)
    return this.consumer
  }

  async run (pass: PassContext<StreamLine>): Promise<PassFigures['outcome']> {
    this.pass = pass
    this.settled = []
    const consumer = await this.ready(pass.logger)
    const requeue = await this.dispatchRequeue(pass)
    if (requeue === 'stopped') return 'stopped'
    // This window takes only messages.
    const window = pass.newWindow(undefined, {
      settled: (line) => { if (isMessage(line)) this.settled.push(line.msg) },
      left: (line) => { if (isMessage(line)) this.handBack(line.msg, line.deliveries) },
    })
    this.keepAlive = setInterval(() => { for (const msg of this.inHand) msg.working() }, Math.max(100, Math.floor(this.ackWaitMs / 3)))
    this.keepAlive.unref()
    try {
      await this.fetchAll(consumer, window)
      // The end of what is pending, or a stop: what is in flight ends first.
      await window.drain()
    } catch (err) {
      // What is in flight ends before the pass fails (the next pass must not run beside it).
      window.halt()
      await window.drain().catch(() => {})
      throw err
    } finally {
      pass.figures.records_read = window.settledCount
    }
    await pass.committer.commit(this.acknowledgement)
    // Records still waiting behind one with the same key when a stop came: to the others at once.
    this.handBackAll()
    if (pass.stopping()) return 'stopped'
    return window.leftCount > 0 || requeue === 'retry_later' ? 'retry_later' : 'done'
  }

  /** The re-queue files, before the stream (once connected: a pass that cannot reach the server dispatches nothing). */
  private async dispatchRequeue (pass: PassContext<StreamLine>): Promise<PassFigures['outcome']> {
    const files = await listRequeueFiles(this.layout)
    if (files.length === 0) return 'done'
    const attempts = this.requeueAttempts = await AttemptCounts.load(this.layout)
    return await dispatchRequeueFiles(files, pass, () => {
      const text = attempts.takeText()
      return text === undefined ? undefined : async () => { await saveAttemptsText(this.layout, text) }
    })
  }

  private async fetchAll (consumer: Consumer, window: InFlightWindow<StreamLine>): Promise<void> {
    const { pass } = this
    const { committer, dispatcher, figures } = pass
    const { batchSize, checkpointIntervalMs, concurrency } = this.options
    const holdsOutput = dispatcher.holdsOutput
    // A fetch is taken into the window as it has room: what waits in the client has no working()
    // yet, so slow handlers fetch little at a time; buffering ones (files) settle at once.
    const fetchSize = Math.min(batchSize, 1000, holdsOutput ? 1000 : Math.max(64, concurrency * WINDOW_SPAN_PER_SLOT * 2))
    let lastCommit = Date.now()
    while (!window.halted && !pass.stopping()) {
      const messages = this.fetching = await consumer.fetch({ max_messages: fetchSize, expires: 1000 })
      let got = 0
      try {
        for await (const msg of messages) {
          if (window.halted || pass.stopping()) {
            // Stopping: what was fetched and not started goes back at once.
            msg.nak()
            continue
          }
          got++
          this.inHand.add(msg)
          window.add({ line: msg.string(), msg, deliveries: msg.info.deliveryCount })
          let slow = false
          if (!window.hasRoom) {
            await window.room()
            slow = true
          }
          if (slow && this.settled.length > 0 && Date.now() - lastCommit >= checkpointIntervalMs) {
            figures.records_read = window.settledCount
            await committer.commit(this.acknowledgement)
            lastCommit = Date.now()
          }
        }
      } finally {
        this.fetching = undefined
      }
      figures.records_read = window.settledCount
      if (this.settled.length > 0) {
        if (holdsOutput) await committer.commitInBackground(this.acknowledgement)
        else await committer.commit(this.acknowledgement)
        lastCommit = Date.now()
      }
      // A fetch that came back short: the pass ends once nothing more is pending.
      if (got < fetchSize && (await consumer.info(false)).num_pending === 0) break
    }
  }

  /** Taken when a commit starts: acks what was settled before, once the commit made it durable. */
  private readonly acknowledgement = (): (() => Promise<void>) | undefined => {
    const batch = this.settled
    if (batch.length === 0) return undefined
    this.settled = []
    return async () => {
      for (const msg of batch) {
        msg.ack()
        this.inHand.delete(msg)
      }
      // The acks are on their way once the server answered a ping after them.
      await this.nc!.flush()
    }
  }

  /** A record left: delivered again after its back-off (at once to another processor when stopping). */
  private handBack (msg: JsMsg, deliveries: number): void {
    if (!this.inHand.delete(msg)) return
    if (this.pass.stopping()) msg.nak()
    else msg.nak(nakDelay(this.js.retryPauseMs, deliveries))
  }

  private handBackAll (): void {
    for (const msg of this.inHand) msg.nak()
    this.inHand.clear()
  }

  failed (): void {
    // Not acknowledged: delivered again, here or to another processor.
    this.settled = []
    this.handBackAll()
    // A connection that failed is opened again by the next pass.
    this.consumer = undefined
  }

  async finish (figures: PassFigures, logger: Logger): Promise<void> {
    clearInterval(this.keepAlive)
    this.keepAlive = undefined
    figures.checkpoint = null
    try {
      const info = await this.consumer?.info(false)
      if (info !== undefined) figures.lag_records = info.num_pending + info.num_ack_pending
    } catch (err) {
      logger.warn({ err }, 'cannot read the consumer\'s figures')
    }
  }

  wake (): void {
    this.fetching?.stop()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.keepAlive)
    const nc = this.nc
    this.nc = undefined
    if (nc !== undefined) await nc.drain().catch(() => nc.close())
  }
}
