/**
 * `http://` / `https://URL`: POSTs the normalised record as JSON. 2xx: done; 4xx other than
 * 408 and 429: dead-letter; anything else (5xx, 408, 429, network error, timeout): retry.
 *
 * The answer's status decides: at most BODY_KEEP bytes of its body are read (for the error
 * message), and the whole exchange is bounded by the timeout. `user:password@` in the URL is
 * sent as Basic authentication and shown masked wherever the target is named.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { urlToHttpOptions } from 'node:url'
import { https as loadHttps } from '../../lazy-builtin.js'
import { maskUrlCredentials } from '../../mask.js'
import type { Handler, HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

/** Bytes of an answer's body that are read; past them the connection is closed, not drained. */
const BODY_KEEP = 4096
/** Characters of the answer's body quoted in the error. */
const ERROR_BODY_CHARS = 200
/** Connections kept open to one target: as many as the records the processor may have in flight. */
const MAX_SOCKETS = 32

/** The kept-alive connection was closed by the server as we reused it: the request never reached it. */
const STALE_CONNECTION = Symbol('stale connection')

export class HttpHandler implements Handler {
  /** The URL with its password masked: this is what logs and dead letters show. */
  readonly target: string
  /** Where and how every request goes, worked out once (not from the URL for each record). */
  private readonly options: RequestOptions
  /** The headers every request carries (Host, Basic authentication), as name, value pairs. */
  private readonly fixedHeaders: string[]
  private readonly timeoutMs: number
  private readonly agent: HttpAgent
  private readonly request: (options: RequestOptions) => ClientRequest

  constructor (url: string, timeoutMs: number) {
    const parsed = new URL(url)
    this.target = maskUrlCredentials(parsed.href)
    // Host as node:http would send it (the port unless the default, an IPv6 address in brackets).
    this.fixedHeaders = ['host', parsed.host]
    if (parsed.username !== '' || parsed.password !== '') {
      const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
      this.fixedHeaders.push('authorization', `Basic ${Buffer.from(credentials).toString('base64')}`)
      parsed.username = ''
      parsed.password = ''
    }
    this.timeoutMs = timeoutMs
    const https = parsed.protocol === 'https:'
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS }
    if (https) {
      // node:https (and node:tls) only for an https:// target: an http one does not compile them.
      const { Agent: HttpsAgent, request: httpsRequest } = loadHttps()
      this.agent = new HttpsAgent(agentOptions)
      this.request = httpsRequest
    } else {
      this.agent = new HttpAgent(agentOptions)
      this.request = httpRequest
    }
    const { protocol, hostname, port, path } = urlToHttpOptions(parsed)
    this.options = { protocol, hostname, port, path, method: 'POST', agent: this.agent }
  }

  async handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    // A string: node:http sends it in one write with the head.
    const body = JSON.stringify(record)
    const deadline = Date.now() + this.timeoutMs
    const first = await this.exchange(record, body, deadline)
    if (first !== STALE_CONNECTION) return first
    // Safe to send again: nothing was answered, and the record's id is its idempotency key.
    const second = await this.exchange(record, body, deadline)
    return second === STALE_CONNECTION ? { outcome: 'retry', error: 'the connection was reset' } : second
  }

  private exchange (record: NormalisedCallback, body: string, deadline: number): Promise<HandlerOutcome | typeof STALE_CONNECTION> {
    return new Promise((resolve) => {
      let settled = false
      let response: IncomingMessage | undefined
      const kept: Buffer[] = []
      let bytes = 0
      const finish = (outcome: HandlerOutcome | typeof STALE_CONNECTION): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(outcome)
      }
      const answered = (): void => finish(outcomeOf(response!.statusCode ?? 0, Buffer.concat(kept).toString('utf8')))
      // Name, value pairs: node:http writes them as they are, without a header map per request.
      const headers = [...this.fixedHeaders,
        'content-type', 'application/json',
        'content-length', String(Buffer.byteLength(body)),
        'idempotency-key', record.id,
        'x-callback-kind', record.kind]
      const req = this.request({ ...this.options, headers })
      const timer = setTimeout(() => {
        req.destroy()
        // Cut short in the body: the status has been given, and decides.
        if (response !== undefined) answered()
        else finish({ outcome: 'retry', error: `timed out after ${this.timeoutMs} ms` })
      }, Math.max(0, deadline - Date.now()))
      req.on('response', (res) => {
        response = res
        res.on('data', (chunk: Buffer) => {
          if (bytes < BODY_KEEP) kept.push(chunk.subarray(0, BODY_KEEP - bytes))
          bytes += chunk.length
          if (bytes > BODY_KEEP) {
            // The rest is not read (it may never end): the connection goes, with what it holds.
            res.destroy()
            answered()
          }
        })
        res.on('end', answered)
        res.on('error', answered)
        res.on('close', answered)
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (response !== undefined) return answered()
        if (req.reusedSocket && err.code === 'ECONNRESET') return finish(STALE_CONNECTION)
        finish({ outcome: 'retry', error: err.message })
      })
      req.end(body)
    })
  }

  async close (): Promise<void> {
    this.agent.destroy()
  }
}

function outcomeOf (status: number, body: string): HandlerOutcome {
  if (status >= 200 && status < 300) return { outcome: 'done' }
  const error = `HTTP ${status}${body === '' ? '' : `: ${body.slice(0, ERROR_BODY_CHARS)}`}`
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { outcome: 'dead', error }
  return { outcome: 'retry', error }
}
