/**
 * `status --source nats://...?stream=NAME&consumer=NAME`: the stream's and the consumer's figures
 * as the server has them (what a pool of processors shares, which no data dir shows).
 */
import { ServerUnavailableError } from '../errors.js'
import { connectNats } from '../nats/connection.js'
import { consumerInfo } from '../nats/consumer.js'
import { parseConsumerUrl } from '../nats/consumer-url.js'
import { streamInfo } from '../nats/stream.js'
import { formatBytes } from '../units.js'

export interface SourceStatus {
  source: string
  generated_at: string
  stream: { name: string, messages: number, bytes: number, first_seq: number, last_seq: number, consumers: number, replicas: number, max_age_seconds: number } | null
  consumer: {
    name: string
    /** In the stream and not yet delivered to any processor. */
    pending: number
    /** Delivered and not yet acked (in a processor's hands, or waiting for a redelivery after a nak). */
    ack_pending: number
    /** Delivered more than once and not yet acked. */
    redelivered: number
    /** Every message up to this stream sequence is acked. */
    ack_floor_stream_seq: number
    /** The last message delivered. */
    delivered_stream_seq: number
    /** Pull requests waiting: roughly, the processors following the stream. */
    waiting: number
    ack_wait_seconds: number
    max_deliver: number
  } | null
}

const TIMEOUT_MS = 5000

export async function collectSourceStatus (text: string): Promise<SourceStatus> {
  const where = parseConsumerUrl(text)
  let nc
  try {
    nc = await connectNats(where.url, { name: 'callback-spool status', timeoutMs: TIMEOUT_MS })
  } catch (err) {
    throw new ServerUnavailableError((err as Error).message, { cause: err })
  }
  try {
    const s = await streamInfo(nc, where.stream, TIMEOUT_MS)
    const c = s === undefined ? undefined : await consumerInfo(nc, where.stream, where.consumer, TIMEOUT_MS)
    return {
      source: where.url.display,
      generated_at: new Date().toISOString(),
      stream: s === undefined
        ? null
        : {
            name: where.stream,
            messages: s.state.messages,
            bytes: s.state.bytes,
            first_seq: s.state.first_seq,
            last_seq: s.state.last_seq,
            consumers: s.state.consumer_count,
            replicas: s.config.num_replicas,
            max_age_seconds: s.config.max_age / 1e9,
          },
      consumer: c === undefined
        ? null
        : {
            name: where.consumer,
            pending: c.num_pending,
            ack_pending: c.num_ack_pending,
            redelivered: c.num_redelivered,
            ack_floor_stream_seq: c.ack_floor.stream_seq,
            delivered_stream_seq: c.delivered.stream_seq,
            waiting: c.num_waiting,
            ack_wait_seconds: (c.config.ack_wait ?? 0) / 1e9,
            max_deliver: c.config.max_deliver ?? -1,
          },
    }
  } finally {
    await nc.close()
  }
}

export function formatSourceStatus (r: SourceStatus): string {
  const s = r.stream
  const c = r.consumer
  const rows: Array<[string, string]> = [['source', r.source]]
  rows.push(['stream', s === null
    ? 'none yet (a forwarder creates it)'
    : `${s.name}: ${s.messages} message(s), ${formatBytes(s.bytes)}, sequences ${s.first_seq}..${s.last_seq}, ${s.consumers} consumer(s), ${s.replicas} replica(s)`])
  rows.push(['consumer', c === null
    ? 'none yet (the first processor creates it)'
    : `${c.name}: ${c.pending} pending, ${c.ack_pending} delivered and not acked (${c.redelivered} redelivered), ack floor ${c.ack_floor_stream_seq}, last delivered ${c.delivered_stream_seq}, ack wait ${c.ack_wait_seconds}s`])
  return rows.map(([k, v]) => `${k.padEnd(13)}${v}\n`).join('')
}
