/**
 * The durable pull consumer the processors of a pool share: `?stream=NAME&consumer=NAME` on a
 * NATS URL, created when missing (explicit acks, the ack wait given, redelivered without limit:
 * the processor counts deliveries itself and dead-letters after --max-attempts), and its figures.
 */
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, JetStreamApiError, jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream'
import { ConfigError } from '../errors.js'
import { checkStreamName, DEFAULT_STREAM } from './stream.js'
import { parseNatsUrl, type NatsUrl } from './connection.js'

export const DEFAULT_CONSUMER = 'callback-spool'
/** Messages delivered and not yet acked, for the whole pool: enough for a few processors' fetches and commits. */
export const CONSUMER_MAX_ACK_PENDING = 20_000

export interface ConsumerUrl {
  url: NatsUrl
  stream: string
  consumer: string
}

/** `nats://HOST:PORT[,...]?stream=CALLBACKS&consumer=callback-spool`, checked (nothing connected). */
export function parseConsumerUrl (text: string, option = '--source'): ConsumerUrl {
  const url = parseNatsUrl(text, ['stream', 'consumer'])
  const stream = checkStreamName(url.params.get('stream') ?? DEFAULT_STREAM, `\`${option}\``)
  const consumer = url.params.get('consumer') ?? DEFAULT_CONSUMER
  // The server's rule for durable names: no whitespace, `.`, `*`, `>`.
  if (!/^[^\s.*>/\\]{1,255}$/.test(consumer)) {
    throw new ConfigError(`Expected the consumer name in \`${option}\` to have no spaces, dots, *, >, / or \\ (got \`${consumer}\`)`)
  }
  return { url, stream, consumer }
}

/** The consumer's info, or undefined when there is none (or no such stream). */
export async function consumerInfo (nc: NatsConnection, stream: string, consumer: string, timeoutMs: number): Promise<ConsumerInfo | undefined> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  try {
    return await jsm.consumers.info(stream, consumer)
  } catch (err) {
    // 10014: consumer not found; 10059: stream not found.
    if (err instanceof JetStreamApiError && (err.code === 10014 || err.code === 10059)) return undefined
    throw err
  }
}

export class NoStreamError extends Error {}

/** Creates the durable consumer when missing (several processors may race: the same config is accepted twice); returns its info. */
export async function ensureConsumer (nc: NatsConnection, where: ConsumerUrl, ackWaitMs: number, timeoutMs: number): Promise<{ created: boolean, info: ConsumerInfo }> {
  const existing = await consumerInfo(nc, where.stream, where.consumer, timeoutMs)
  if (existing !== undefined) return { created: false, info: existing }
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  try {
    const info = await jsm.consumers.add(where.stream, {
      durable_name: where.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_deliver: -1,
      max_ack_pending: CONSUMER_MAX_ACK_PENDING,
      deliver_policy: DeliverPolicy.All,
    })
    return { created: true, info }
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10059) {
      throw new NoStreamError(`no stream ${where.stream} on ${where.url.display} (a forwarder creates it: process --on '*=nats://...')`, { cause: err })
    }
    // Another processor created it meanwhile, with other settings.
    const now = await consumerInfo(nc, where.stream, where.consumer, timeoutMs)
    if (now === undefined) throw err
    return { created: false, info: now }
  }
}
