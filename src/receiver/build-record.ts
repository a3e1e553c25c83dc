/** Turns one HTTP request into the version-1 spool line. */
import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import { encodeRecord, newRecordId, RECORD_VERSION, type Params, type SpoolRecord } from '../record.js'
import { mergeFields, parseBody, parseParams, type ParsedBody } from './params.js'

/**
 * Request headers kept in the record: what says how to read the body, who sent it, and the
 * headers providers sign with. Never `authorization` or `cookie`.
 */
export const RECORDED_HEADERS: readonly string[] = [
  'content-type',
  'content-length',
  'transfer-encoding',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-real-ip',
  'x-twilio-signature',
  'x-plivo-signature-v2',
  'x-plivo-signature-v2-nonce',
  'x-plivo-signature-v3',
  'x-plivo-signature-v3-nonce',
  'x-plivo-signature-ma-v2',
  'x-plivo-signature-ma-v3',
  'x-sinch-webhook-signature',
  'x-sinch-webhook-signature-timestamp',
  'x-sinch-webhook-signature-nonce',
  'x-sinch-webhook-signature-algorithm',
  'telnyx-signature-ed25519',
  'telnyx-timestamp',
  'messagebird-signature-jwt',
  'messagebird-signature',
  'messagebird-request-timestamp',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]

export interface RequestParts {
  method: string
  /** The request target as sent: path and query string. */
  url: string
  remoteAddr: string
  headers: IncomingMessage['headers']
  body: Buffer
  /** `body` as parseBody read it, when the caller has already read it (for a signature). */
  parsed?: ParsedBody
  /** The query string's parameters, when the caller has already read them. */
  query?: Params
}

export function splitTarget (url: string): { path: string, search: string } {
  const q = url.indexOf('?')
  if (q === -1) return { path: url, search: '' }
  return { path: url.slice(0, q), search: url.slice(q + 1) }
}

let isoMs = Number.NaN
let isoText = ''

/** `received_at`: toISOString costs half a microsecond, and under load many requests share a millisecond. */
function isoTime (ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString()
    isoMs = ms
  }
  return isoText
}

export function buildRecord (req: RequestParts, now = new Date()): SpoolRecord {
  const { path, search } = splitTarget(req.url)
  const query = req.query ?? parseParams(search)
  const headers: Record<string, string> = {}
  for (const name of RECORDED_HEADERS) {
    const value = req.headers[name]
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  // Invalid UTF-8 still parses (with U+FFFD), while body_base64 keeps the exact bytes.
  const parsed = req.parsed ?? parseBody(req.body)
  const text = parsed.text
  const record: SpoolRecord = {
    v: RECORD_VERSION,
    id: newRecordId(now.getTime()),
    received_at: isoTime(now.getTime()),
    method: req.method,
    path,
    query,
    remote_addr: req.remoteAddr,
    headers,
    fields: mergeFields(query, parsed.fields),
  }
  if (isUtf8(req.body)) record.body = text
  else record.body_base64 = req.body.toString('base64')
  return record
}

/**
 * The spool line for a request. Recording never depends on parsing: if the parsed fields cannot
 * be encoded (a JSON nesting bomb overflows JSON.stringify's stack), the line keeps the raw body
 * and the query fields only.
 */
export function encodeRequest (req: RequestParts, now = new Date()): string {
  const record = buildRecord(req, now)
  try {
    return encodeRecord(record)
  } catch {
    record.fields = { ...record.query }
    return encodeRecord(record)
  }
}
