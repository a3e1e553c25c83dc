/**
 * A real receiver on 127.0.0.1:0 spooling into a temp data dir, for the security tests, with
 * helpers to send raw bytes and to read back what was spooled.
 */
import { once } from 'node:events'
import { request } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { pino, type Logger } from 'pino'
import { decodeRecord, type SpoolRecord } from '../../src/record.js'
import { createAccessControl, type AccessOptions } from '../../src/receiver/access.js'
import { createReceiver, type Receiver, type ReceiverOptions } from '../../src/receiver/server.js'
import { SpoolWriter } from '../../src/spool/writer.js'

export interface LiveReceiver {
  server: Receiver
  writer: SpoolWriter
  dataDir: string
  port: number
  /** Every record spooled so far, in order. */
  records (): Promise<SpoolRecord[]>
}

export interface LiveOptions extends Partial<Omit<ReceiverOptions, 'spool' | 'logger' | 'access'>> {
  access?: AccessOptions
  logger?: Logger
  /** Address to listen on. @default '127.0.0.1' */
  host?: string
}

export async function startLiveReceiver (t: TestContext, options: LiveOptions = {}): Promise<LiveReceiver> {
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-'))
  const logger = options.logger ?? pino({ level: 'silent' })
  const writer = await SpoolWriter.open({ dataDir, logger })
  const { access, host, ...rest } = options
  const server = createReceiver({ ...rest, spool: writer, logger, access: access === undefined ? undefined : createAccessControl(access) })
  server.listen(0, host ?? '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await writer.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  const port = (server.address() as AddressInfo).port
  return {
    server,
    writer,
    dataDir,
    port,
    async records () {
      const dir = join(dataDir, 'spool')
      const out: SpoolRecord[] = []
      for (const name of (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort()) {
        const text = await readFile(join(dir, name), 'utf8')
        for (const line of text.split('\n')) {
          if (line === '') continue
          const decoded = decodeRecord(line)
          if (!decoded.ok) throw new Error(`bad spool line: ${decoded.reason}`)
          out.push(decoded.record)
        }
      }
      return out
    },
  }
}

export interface SimpleResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request with node:http (no keep-alive). */
export function send (port: number, method: string, path: string, body: string | Buffer = '', headers: Record<string, string> = {}, host = '127.0.0.1'): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers: { ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A normal Octopush-style callback; resolves with its status. */
export async function sendNormalCallback (port: number, path = '/', marker = 'ok'): Promise<number> {
  const body = JSON.stringify({ message_id: 'm-1', number: '+33600112233', status: 'DELIVERED', delivery_date: '2026-11-27 12:00:00', marker })
  const res = await send(port, 'POST', path, body, { 'Content-Type': 'application/json' })
  return res.status
}

export function openSocket (port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket))
    socket.once('error', reject)
  })
}

export interface RawResult {
  /** Everything the server sent before it closed (or until the wait ran out). */
  response: string
  /** The status code of the first response, 0 when none. */
  status: number
  /** Whether the server closed the connection. */
  closed: boolean
}

/**
 * Writes raw bytes, half-closes unless told not to, and collects the answer until the server
 * closes the connection or `waitMs` passes.
 */
export async function sendRaw (port: number, data: string | Buffer | Array<string | Buffer>, options: { waitMs?: number, end?: boolean } = {}): Promise<RawResult> {
  const socket = await openSocket(port)
  const chunks: Buffer[] = []
  let closed = false
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  const done = new Promise<void>((resolve) => socket.once('close', () => { closed = true; resolve() }))
  for (const part of Array.isArray(data) ? data : [data]) socket.write(part)
  if (options.end === true) socket.end()
  await Promise.race([done, new Promise<void>((resolve) => setTimeout(resolve, options.waitMs ?? 3000))])
  socket.destroy()
  const response = Buffer.concat(chunks).toString('latin1')
  const m = /^HTTP\/1\.1 (\d{3})/.exec(response)
  return { response, status: m === null ? 0 : Number(m[1]), closed }
}
