/**
 * `nats://HOST:PORT[,...]?stream=CALLBACKS&consumer=callback-spool`: the consumer a processor's
 * `--source` (or `status --source`) names. Checked without loading the client.
 */
import { ConfigError } from '../errors.js'
import { checkStreamName, DEFAULT_STREAM, parseNatsUrl, type NatsUrl } from './url.js'

export const DEFAULT_CONSUMER = 'callback-spool'

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
