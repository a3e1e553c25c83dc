/**
 * Provider signature schemes. Each verifier sees the request as the provider sent it (the full
 * URL it called, its headers, the body's bytes and what the receiver reads in them) and says
 * whether the signature holds. A signature holds only when it covers the whole body: whatever
 * the record will take from the body must be what was signed.
 * They live with the provider profiles (each profile names its own), and only the receiver runs them.
 */
import { crypto } from '../../lazy-builtin.js'
import type { IncomingHttpHeaders } from 'node:http'
import type { Params } from '../../record.js'

/** The body as the receiver parsed it once, for the verifier and the record (the receiver's ParsedBody). */
export type SignedBody = { bytes: Buffer } & (
  | { kind: 'empty' | 'form', fields: Params }
  | { kind: 'json', fields: Record<string, unknown> }
)

export interface SignedRequest {
  method: string
  /** The absolute URL the provider called, query string included, as it saw it. */
  url: string
  headers: IncomingHttpHeaders
  /** The body as the record will read it (parseBody): one reading for both. */
  body: SignedBody
}

export interface SignatureVerifier {
  /** The name of the profile whose requests it checks (`twilio`), for logs too. */
  readonly scheme: string
  /** True when the request carries a valid signature of this scheme. Never throws. */
  verify (request: SignedRequest): boolean
}

/** What a verifier may need beyond its secret. */
export interface VerifierOptions {
  /** The clock, in milliseconds since the epoch, for schemes that sign a time. @default Date.now */
  now?: () => number
  /** The algorithm, for schemes whose provider lets the operator choose it (Vonage's signature method). */
  method?: string
}

/** A header's value; a repeated one (a list) gives its first value; empty is absent. */
export function headerValue (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined || first === '' ? undefined : first
}

/**
 * Constant-time equality of two strings of any length: both are hashed first, so neither the
 * length nor the first differing byte shows in the timing.
 */
export function constantTimeEqual (a: string | Buffer, b: string | Buffer): boolean {
  return crypto().timingSafeEqual(sha256(a), sha256(b))
}

/** A configured secret, hashed once: checking a request against it hashes only what the request sent. */
export class Secret {
  private readonly hash: Buffer

  constructor (value: string | Buffer) {
    this.hash = sha256(value)
  }

  /** Constant-time, as constantTimeEqual. */
  matches (given: string | Buffer): boolean {
    return crypto().timingSafeEqual(sha256(given), this.hash)
  }
}

function sha256 (value: string | Buffer): Buffer {
  return crypto().createHash('sha256').update(value).digest()
}
