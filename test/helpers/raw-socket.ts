/**
 * Raw sockets for tests, for what HTTP clients hide: pipelined requests, torn or hostile bytes,
 * and when the server closes the connection.
 */
import { connect, type Socket } from 'node:net'

export interface RawExchange {
  /** Everything the server sent before it closed the connection. */
  data: Buffer
  /** Milliseconds from connect to close. */
  closedAfterMs: number
  error?: Error
}

/**
 * Writes `bytes` on a raw socket and collects what comes back until the server closes the
 * connection; rejects (and destroys the socket) if it is still open after `untilMs`.
 * Use sendRaw instead when a connection left open is an answer, not a failure.
 */
export function rawExchange (port: number, bytes: Buffer | string, untilMs = 20_000): Promise<RawExchange> {
  return new Promise<RawExchange>((resolve, reject) => {
    const started = Date.now()
    const socket: Socket = connect({ host: '127.0.0.1', port })
    const parts: Buffer[] = []
    let error: Error | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connection still open after ${untilMs} ms`))
    }, untilMs)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (c: Buffer) => parts.push(c))
    socket.on('error', (err) => { error = err })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ data: Buffer.concat(parts), closedAfterMs: Date.now() - started, error })
    })
  })
}

/** Status codes of the HTTP responses found in raw bytes, in order. */
export function statusCodes (data: Buffer): number[] {
  return [...data.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
}

/** Resolves once `socket` has received `count` complete empty-bodied responses. */
export function readResponses (socket: Socket, count: number, timeoutMs = 20_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`got ${statusCodesOf(text).length} of ${count} responses: ${JSON.stringify(text)}`))
    }, timeoutMs)
    const onData = (c: Buffer): void => {
      text += c.toString('latin1')
      if ((text.match(/\r\n\r\n/g) ?? []).length >= count) {
        cleanup()
        resolve(text)
      }
    }
    const onClose = (): void => {
      cleanup()
      reject(new Error(`closed after ${JSON.stringify(text)}`))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
    }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

function statusCodesOf (text: string): number[] {
  return statusCodes(Buffer.from(text, 'latin1'))
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
 * Writes raw bytes (in pieces if given a list), half-closes if `end`, and collects the answer
 * until the server closes the connection or `waitMs` passes; `closed` tells which.
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
