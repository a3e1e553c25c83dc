/**
 * `http://` / `https://URL`: POSTs the normalised record as JSON. 2xx: done; 4xx other than
 * 408 and 429: dead-letter; anything else (5xx, 408, 429, network error, timeout): retry.
 */
import type { Handler, HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

export class HttpHandler implements Handler {
  readonly target: string
  readonly url: string
  private readonly timeoutMs: number

  constructor (url: string, timeoutMs: number) {
    this.target = url
    this.url = url
    this.timeoutMs = timeoutMs
  }

  async handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    let response: Response
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': record.id, 'x-callback-kind': record.kind },
        body: JSON.stringify(record),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      })
    } catch (err) {
      const e = err as Error
      const reason = e.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`
      return { outcome: 'retry', error: reason }
    }
    // Read the body to the end so the connection can be reused.
    const body = await response.text().catch(() => '')
    const status = response.status
    if (status >= 200 && status < 300) return { outcome: 'done' }
    const error = `HTTP ${status}${body === '' ? '' : `: ${body.slice(0, 200)}`}`
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { outcome: 'dead', error }
    return { outcome: 'retry', error }
  }
}
