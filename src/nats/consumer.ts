/**
 * The durable pull consumer the processors of a pool share: `?stream=NAME&consumer=NAME` on a
 * NATS URL, created when missing (explicit acks, the ack wait given, redelivered without limit:
 * the processor counts deliveries itself and dead-letters after --max-attempts), and its figures.
 */
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, JetStreamApiError, jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream'
import type { ConsumerUrl } from './consumer-url.js'

export { DEFAULT_CONSUMER, parseConsumerUrl, type ConsumerUrl } from './consumer-url.js'

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

/** Messages delivered and not yet acked, for the whole pool: enough for a few processors' fetches and commits. */
export const CONSUMER_MAX_ACK_PENDING = 20_000

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
