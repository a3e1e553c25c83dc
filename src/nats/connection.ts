/** Opens the connection a NATS URL (url.ts) describes. */
import { readFile } from 'node:fs/promises'
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node'
import { ConfigError } from '../errors.js'
import { maskUrlCredentials } from '../mask.js'
import type { NatsUrl } from './url.js'

export { parseNatsUrl, isNatsUrl, type NatsUrl } from './url.js'

export interface ConnectOptions {
  /** The client's name, as the server's monitoring shows it. */
  name: string
  /** Timeout of the first connection and of each request, in ms. */
  timeoutMs: number
}

/**
 * Connects to the first server that answers. Once connected the client reconnects by itself for
 * ever (what is published meanwhile is buffered, its PubAck awaited by the caller's timeout).
 */
export async function connectNats (url: NatsUrl, options: ConnectOptions): Promise<NatsConnection> {
  const opts: NodeConnectionOptions = {
    servers: url.servers,
    name: options.name,
    timeout: options.timeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // No Error (and its stack) built for every request in case it fails: a third of the CPU a publish cost.
    noAsyncTraces: true,
    // Publishes are never handed to a buffer that a failed connection would drop silently:
    // each waits for its PubAck.
  }
  if (url.user !== undefined) {
    opts.user = url.user
    opts.pass = url.password
  }
  if (url.token !== undefined) opts.token = url.token
  if (url.credsFile !== undefined) {
    let creds: Uint8Array
    try {
      creds = await readFile(url.credsFile)
    } catch (err) {
      throw new ConfigError(`cannot read the credentials file of ${url.display}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
    }
    opts.authenticator = credsAuthenticator(creds)
  }
  if (url.tls) {
    opts.tls = {}
    if (url.caFile !== undefined) opts.tls.caFile = url.caFile
    if (url.certFile !== undefined) opts.tls.certFile = url.certFile
    if (url.keyFile !== undefined) opts.tls.keyFile = url.keyFile
  }
  try {
    return await connect(opts)
  } catch (err) {
    // The client's message may quote the server list, never the credentials; masked anyway.
    throw new Error(`cannot connect to ${url.display}: ${maskUrlCredentials((err as Error).message)}`, { cause: err })
  }
}
