/**
 * The part of JSON Web Tokens (RFC 7519) that signed webhooks use: a compact token signed with an
 * HMAC (HS256, HS384, HS512) and a shared secret. Only the algorithms the caller names are
 * accepted, so `none` and public-key algorithms never are.
 */
import { crypto } from '../../lazy-builtin.js'
import { constantTimeEqual } from './verifier.js'

const HASH_OF: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

function decodeJsonObject (part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** The claims of `token` when its signature holds with `secret` and an allowed algorithm; undefined otherwise. */
export function verifyHmacJwt (token: string, secret: string, allowed: readonly HmacAlgorithm[]): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string]
  const header = decodeJsonObject(headerPart)
  const alg = header?.alg
  if (typeof alg !== 'string' || !(allowed as readonly string[]).includes(alg)) return undefined
  const expected = crypto().createHmac(HASH_OF[alg]!, secret).update(`${headerPart}.${claimsPart}`).digest('base64url')
  if (!constantTimeEqual(expected, signaturePart)) return undefined
  return decodeJsonObject(claimsPart)
}

/** Hex SHA-256, as the `payload_hash` and `url_hash` claims carry it. */
export function sha256Hex (data: string | Buffer): string {
  return crypto().createHash('sha256').update(data).digest('hex')
}

/** A numeric claim (seconds since the epoch); undefined when absent or not a number. */
export function numericClaim (claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name]
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken (authorization: string | undefined): string | undefined {
  const m = authorization === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(authorization)
  return m === null ? undefined : m[1]
}
