/** An HTTP client for tests: one request per connection (no keep-alive), with node:http. */
import { request, type IncomingHttpHeaders } from 'node:http'

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
  /** Address to connect to. @default '127.0.0.1' */
  host?: string
}

/** One request on its own connection; rejects on a network error or after timeoutMs. */
export function send (port: number, options: SendOptions = {}): Promise<HttpResult> {
  const { method = 'POST', path = '/', headers = {}, body, chunks, timeoutMs = 20_000, host = '127.0.0.1' } = options
  return new Promise<HttpResult>((resolve, reject) => {
    const req = request({ host, port, method, path, headers, agent: false, timeout: timeoutMs }, (res) => {
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
