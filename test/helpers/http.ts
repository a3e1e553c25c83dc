/** Small HTTP clients for tests: one request per connection, and raw sockets for what clients hide. */
import { request, type IncomingHttpHeaders } from 'node:http'
import { connect, type Socket } from 'node:net'

export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface SendOptions {
  method?: string
  path?: string
  headers?: Record<string, string | number>
  body?: string | Buffer
  /** Write the body in these pieces, without a Content-Length (chunked). */
  chunks?: Array<string | Buffer>
  timeoutMs?: number
}

/** One request on its own connection; rejects on a network error or after timeoutMs. */
export function send (port: number, options: SendOptions = {}): Promise<HttpResult> {
  const { method = 'POST', path = '/', headers = {}, body, chunks, timeoutMs = 20_000 } = options
  return new Promise<HttpResult>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    if (chunks !== undefined) {
      for (const c of chunks) req.write(c)
      req.end()
    } else {
      req.end(body)
    }
  })
}

export interface RawExchange {
  /** Everything the server sent before it closed the connection. */
  data: Buffer
  /** Milliseconds from connect to close. */
  closedAfterMs: number
  error?: Error
}

/**
 * Writes `bytes` on a raw socket and collects what comes back until the server closes the
 * connection (or `untilMs` passes, then the socket is destroyed and `timedOut` thrown).
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
