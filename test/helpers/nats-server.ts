/**
 * The real nats-server (JetStream) for tests: reach it or skip (with one line saying how to point
 * at one; with CI=true a missing server fails), give each test a stream of its own, deleted when
 * the test ends, and a TCP proxy in front of the server that can withhold its answers.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream'

const ENV = 'CALLBACK_SPOOL_TEST_NATS'
const FALLBACK = '127.0.0.1:4222'

export interface NatsServer {
  /** `host:port` of the server. */
  address: string
  nc: NatsConnection
  jsm: JetStreamManager
}

/** Reaches the server; undefined (after printing one line) when it is not there and CI is not set. */
export async function reachNats (env: NodeJS.ProcessEnv = process.env): Promise<NatsServer | undefined> {
  const address = env[ENV] ?? FALLBACK
  try {
    const nc = await connect({ servers: address, timeout: 3000, maxReconnectAttempts: -1 })
    const jsm = await jetstreamManager(nc, { timeout: 5000 })
    await jsm.getAccountInfo()
    return { address, nc, jsm }
  } catch (err) {
    const line = `no nats-server with JetStream at ${address} (${(err as Error).message}); set ${ENV}=HOST:PORT to run these tests`
    if (env.CI === 'true') throw new Error(`${line}; CI=true: a missing server fails the run`)
    process.stderr.write(`skipping the NATS tests: ${line}\n`)
    return undefined
  }
}

export interface StoredMessage {
  seq: number
  subject: string
  headers: Record<string, string[]>
  data: string
}

export interface TestStream {
  /** The stream's name and subject prefix, both of this test alone. */
  name: string
  prefix: string
  /** The target for `--on`: `nats://ADDRESS?stream=NAME&subject=PREFIX`, at `address` (a proxy) if given. */
  url: (address?: string) => string
  info: () => Promise<StreamInfo>
  /** Every message in the stream, oldest first. */
  messages: () => Promise<StoredMessage[]>
}

/**
 * A stream name and subject prefix for this test; the stream is created only if `config` is
 * given (else the target creates it), and deleted when the test ends.
 */
export async function testStream (t: TestContext, server: NatsServer, config?: Partial<StreamConfig>): Promise<TestStream> {
  const tag = randomBytes(6).toString('hex')
  const name = `CS_TEST_${tag}`
  const prefix = `cstest${tag}`
  if (config !== undefined) await server.jsm.streams.add({ name, subjects: [`${prefix}.>`], ...config })
  t.after(async () => { await server.jsm.streams.delete(name).catch(() => {}) })
  const info = (): Promise<StreamInfo> => server.jsm.streams.info(name)
  return {
    name,
    prefix,
    url: (address = server.address) => `nats://${address}?stream=${name}&subject=${prefix}`,
    info,
    messages: async () => {
      const { state } = await info()
      const out: StoredMessage[] = []
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const m = await server.jsm.streams.getMessage(name, { seq })
        if (m === null) continue
        const headers: Record<string, string[]> = {}
        if (m.header !== undefined) for (const [k, v] of m.header) headers[k] = v
        out.push({ seq: m.seq, subject: m.subject, headers, data: m.string() })
      }
      return out
    },
  }
}

export interface NatsProxy {
  /** `127.0.0.1:PORT`. */
  address: string
  /** From now on, whatever the server sends is dropped (the client's bytes still reach it). */
  withhold: () => void
  /** Withhold once a client publishes to a subject starting with this. */
  withholdAfterPublishTo: (prefix: string) => void
  close: () => Promise<void>
}

/** A TCP proxy to the server, on `port` (0: any free one); closed when the test ends. */
export async function natsProxy (t: TestContext, server: NatsServer, port = 0): Promise<NatsProxy> {
  const [host, serverPort] = server.address.split(':') as [string, string]
  let withholding = false
  let trigger: string | undefined
  const sockets = new Set<Socket>()
  const proxy: Server = createServer((client) => {
    const upstream = tcpConnect(Number(serverPort), host)
    sockets.add(client)
    sockets.add(upstream)
    let seen = ''
    client.on('data', (chunk: Buffer) => {
      if (trigger !== undefined && !withholding) {
        seen = (seen + chunk.toString('latin1')).slice(-4096)
        if (seen.includes(`PUB ${trigger}`)) withholding = true
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => { if (!withholding) client.write(chunk) })
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  proxy.listen(port, '127.0.0.1')
  await once(proxy, 'listening')
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    if (proxy.listening) await new Promise<void>((resolve) => proxy.close(() => resolve()))
  }
  t.after(close)
  return {
    address: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    withhold: () => { withholding = true },
    withholdAfterPublishTo: (prefix) => { trigger = prefix },
    close,
  }
}

/** A port nothing listens on (free a moment ago). */
export async function closedPort (): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}
