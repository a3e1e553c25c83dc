/**
 * `nats://HOST:PORT[,HOST:PORT...][?stream=NAME&subject=PREFIX]`: publishes each normalised record
 * as JSON to the JetStream stream (CALLBACKS by default), subject `<prefix>.<kind>` (prefix
 * `callbacks`), header `Nats-Msg-Id` = the record's id. The stream is created when missing
 * (src/nats/stream.ts); one that differs is used as it is, with one warning line.
 *
 * handle() publishes at once and answers 'done' (up to MAX_IN_FLIGHT publishes wait for their
 * PubAck; past them it waits for room); flush(), before each checkpoint, waits for every PubAck,
 * publishes again (same Nats-Msg-Id) those that failed, `tries` times with a doubling back-off,
 * and throws if some still failed: the checkpoint then stays before them and the next pass hands
 * them over again. A PubAck answered `duplicate` is a message the stream already holds: delivered.
 * A message the stream refuses for itself (too large) is returned by flush, to be dead-lettered.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { maskUrlCredentials } from '../../mask.js'
import { connectNats } from '../../nats/connection.js'
import { parseNatsTarget, type NatsUrl } from '../../nats/url.js'
import { DEFAULT_STREAM_MAX_AGE_MS, DEFAULT_STREAM_REPLICAS, ensureStream, type StreamSettings } from '../../nats/stream.js'
import { DONE, type Handler, type HandlerOutcome, type Refusal } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'
import type { HandlerOptions } from '../targets.js'

/** Publishes awaiting their PubAck; past this, handle() waits for one to come. */
export const MAX_IN_FLIGHT = 1024

/** err_code of the stream's answers that blame the message itself: message size exceeds maximum allowed. */
const MESSAGE_REFUSED_CODES = new Set([10054])

const SETTLED = Promise.resolve()

interface Publish {
  record: NormalisedCallback
  subject: string
  data: string
  /** Set once the publish settled: undefined (acked) or why it failed. */
  failure?: unknown
  /** Resolves once the publish settled (never rejects). */
  done: Promise<void>
}

export interface NatsTargetSettings {
  url: NatsUrl
  stream: StreamSettings
}

/** The target's URL and the stream's settings from the options. */
export function natsTargetSettings (target: string, options: Pick<HandlerOptions, 'streamMaxAgeMs' | 'streamReplicas'> = {}): NatsTargetSettings {
  const parsed = parseNatsTarget(target)
  return {
    url: parsed.url,
    stream: {
      name: parsed.stream,
      subjectPrefix: parsed.subjectPrefix,
      maxAgeMs: options.streamMaxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS,
      replicas: options.streamReplicas ?? DEFAULT_STREAM_REPLICAS,
    },
  }
}

export class NatsHandler implements Handler {
  /** The URL with password and token masked. */
  readonly target: string
  readonly defersOutcome = true
  private readonly settings: NatsTargetSettings
  private readonly timeoutMs: number
  private readonly tries: number
  private readonly retryDelayMs: number
  private readonly logger: Logger | undefined
  private nc: NatsConnection | undefined
  private js: JetStreamClient | undefined
  /** The connection (and the stream's check) in progress. */
  private connecting: Promise<JetStreamClient> | undefined
  private streamChecked = false
  /** Publishes handed over since the last flush, oldest first. */
  private publishes: Publish[] = []
  private inFlight = 0
  /** handle() calls waiting for room, woken one per publish that settles. */
  private readonly roomWaiters: Array<() => void> = []
  /** Publishes answered `duplicate` since the handler began (the stream already held them). */
  duplicates = 0

  constructor (settings: NatsTargetSettings, options: HandlerOptions) {
    this.settings = settings
    this.target = settings.url.display
    this.timeoutMs = options.timeoutMs
    this.tries = options.tries ?? 3
    this.retryDelayMs = options.retryDelayMs ?? 500
    this.logger = options.logger
  }

  static create (target: string, options: HandlerOptions): NatsHandler {
    return new NatsHandler(natsTargetSettings(target, options), options)
  }

  handle (record: NormalisedCallback): HandlerOutcome | Promise<HandlerOutcome> {
    const p: Publish = { record, subject: `${this.settings.stream.subjectPrefix}.${record.kind}`, data: JSON.stringify(record), done: SETTLED }
    this.publishes.push(p)
    this.start(p)
    return this.inFlight < MAX_IN_FLIGHT ? DONE : this.room()
  }

  private async room (): Promise<HandlerOutcome> {
    while (this.inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => { this.roomWaiters.push(resolve) })
    return DONE
  }

  private start (p: Publish): void {
    p.failure = undefined
    this.inFlight++
    const js = this.js
    const sent = js !== undefined && this.streamChecked && !this.nc!.isClosed() ? this.publish(js, p) : this.client().then((c) => this.publish(c, p))
    p.done = sent.then((ack) => {
      if (ack.duplicate) this.duplicates++
    }, (err: unknown) => {
      p.failure = err
    }).finally(() => {
      this.inFlight--
      this.roomWaiters.shift()?.()
    })
  }

  private async publish (js: JetStreamClient, p: Publish): ReturnType<JetStreamClient['publish']> {
    return await js.publish(p.subject, p.data, { msgID: p.record.id, timeout: this.timeoutMs })
  }

  /** The JetStream client, connected and the stream checked (created when missing). */
  private async client (): Promise<JetStreamClient> {
    if (this.js !== undefined && !this.nc!.isClosed() && this.streamChecked) return this.js
    this.connecting ??= this.connect().finally(() => { this.connecting = undefined })
    return await this.connecting
  }

  private async connect (): Promise<JetStreamClient> {
    if (this.nc === undefined || this.nc.isClosed()) {
      this.js = undefined
      this.nc = await connectNats(this.settings.url, { name: 'callback-spool forwarder', timeoutMs: this.timeoutMs })
    }
    if (!this.streamChecked) {
      const ensured = await ensureStream(this.nc, this.settings.stream, this.timeoutMs)
      if (ensured.created) {
        this.logger?.info({ target: this.target, stream: this.settings.stream.name }, 'JetStream stream created')
      } else if (ensured.differences.length > 0) {
        this.logger?.warn({ target: this.target, stream: this.settings.stream.name, differences: ensured.differences },
          `JetStream stream ${this.settings.stream.name} differs from what callback-spool would create; used as it is: ${ensured.differences.join('; ')}`)
      }
      this.streamChecked = true
    }
    this.js = jetstream(this.nc, { timeout: this.timeoutMs })
    return this.js
  }

  /**
   * Resolves once every record handed over has its PubAck, with those the stream refused for
   * themselves; throws when some could not be published after `tries` tries.
   */
  async flush (): Promise<Refusal[]> {
    const refused: Refusal[] = []
    let batch = this.publishes
    this.publishes = []
    for (let attempt = 1; ; attempt++) {
      await this.settled(batch)
      const failed: Publish[] = []
      for (const p of batch) {
        if (p.failure === undefined) continue
        if (isMessageRefused(p.failure)) refused.push({ record: p.record, error: describe(p.failure) })
        else failed.push(p)
      }
      if (failed.length === 0) return refused
      const error = describe(failed[0]!.failure)
      // No stream answered (deleted under us?): check it again before the next try.
      if (failed.some((p) => isNoStream(p.failure))) this.streamChecked = false
      if (attempt >= this.tries) {
        // What the next pass hands over again is not to be published twice by this one.
        throw new Error(`cannot publish ${failed.length} record(s) to ${this.target}: ${error}`)
      }
      this.logger?.warn({ target: this.target, records: failed.length, attempt }, `publish failed, trying again: ${error}`)
      await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * 2 ** (attempt - 1)))
      for (const p of failed) this.start(p)
      batch = failed
    }
  }

  /** Waits until every publish of the batch settled. */
  private async settled (batch: Publish[]): Promise<void> {
    for (const p of batch) await p.done
  }

  /**
   * A commit is in flight: publishing goes on all the same. What lands in the stream past the
   * checkpoint is published again after a crash with the same Nats-Msg-Id, which the stream
   * answers `duplicate` within its duplicate window; having it lets the commit (the PubAcks, then
   * the checkpoint's fsyncs) run while the next records are published, instead of stalling them.
   */
  holdOutputUntil (_done: Promise<unknown>): void {}

  /** The pass failed: the publishes handed over are forgotten (the next pass hands them over again). */
  async discard (): Promise<void> {
    const batch = this.publishes
    this.publishes = []
    await this.settled(batch)
  }

  async close (): Promise<void> {
    await this.settled(this.publishes)
    const nc = this.nc
    this.nc = undefined
    this.js = undefined
    await nc?.close().catch(() => {})
  }
}

function isMessageRefused (err: unknown): boolean {
  if (err instanceof JetStreamApiError) return MESSAGE_REFUSED_CODES.has(err.code)
  return err instanceof Error && /max_payload/.test(err.message)
}

function isNoStream (err: unknown): boolean {
  return err instanceof Error && /no responders|not enabled/i.test(err.message)
}

/** The error as a dead letter or a log may show it: the client's text, credentials masked. */
function describe (err: unknown): string {
  if (err instanceof JetStreamApiError) return `${err.code}: ${err.message}`
  return maskUrlCredentials(err instanceof Error ? err.message : String(err))
}
