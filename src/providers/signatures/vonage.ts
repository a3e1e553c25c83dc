/**
 * Vonage's two signatures, both keyed with the account's
 * signature secret (API settings in the dashboard; not the API secret):
 *
 * - SMS API: a `sig` parameter beside the others. For every other parameter, sorted by name,
 *   `&name=value` with `&` and `=` in the value replaced by `_`; then `md5hash`: hex MD5 of that
 *   string followed by the secret, or hex HMAC (MD5, SHA-1, SHA-256, SHA-512) of it, as chosen in
 *   the dashboard (`--vonage-signature-method`). Compared without regard to case, as vonage-node-sdk
 *   does. The parameters signed are the query's and the body's, so every field the record gets
 *   is covered; a repeated or nested one cannot be, and is refused.
 * - Messages API: `Authorization: Bearer <JWT>`, HS256, whose `payload_hash` claim is the hex
 *   SHA-256 of the body. A body must match it; a token without it covers no body.
 *
 * Neither carries a time the SDKs check: a signed request replayed later still verifies.
 */
import { crypto } from '../../lazy-builtin.js'
import { bearerToken, numericClaim, sha256Hex, verifyHmacJwt } from './jwt.js'
import { DEFAULT_VONAGE_SIGNATURE_METHOD, VONAGE_SIGNATURE_METHODS, type VonageSignatureMethod } from '../signature-options.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest, type VerifierOptions } from './verifier.js'

/** The string Vonage signs; undefined when a parameter is not one plain value. */
export function vonageSigningString (params: Record<string, unknown>): string | undefined {
  let data = ''
  for (const name of Object.keys(params).sort()) {
    if (name === 'sig') continue
    const value = params[name]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined
    data += `&${name}=${String(value).replace(/[&=]/g, '_')}`
  }
  return data
}

export function vonageSignature (secret: string, method: VonageSignatureMethod, params: Record<string, unknown>): string | undefined {
  const data = vonageSigningString(params)
  if (data === undefined) return undefined
  if (method === 'md5hash') return crypto().createHash('md5').update(data + secret, 'utf8').digest('hex')
  return crypto().createHmac(method, secret).update(data, 'utf8').digest('hex')
}

/**
 * The parameters as Vonage sent them: the query of the URL it called (a `?token=` included, which
 * the record does not keep), then the body's over them, as the record merges them.
 */
function vonageFields (request: SignedRequest): Record<string, unknown> {
  const fields = Object.create(null) as Record<string, unknown>
  const q = request.url.indexOf('?')
  if (q !== -1) {
    for (const [name, value] of new URLSearchParams(request.url.slice(q + 1).split('#')[0])) {
      const prev = fields[name]
      // A repeated parameter cannot be signed as one value: kept as a list, it is refused.
      fields[name] = prev === undefined ? value : [prev, value]
    }
  }
  for (const name of Object.keys(request.body.fields)) fields[name] = request.body.fields[name]
  return fields
}

export function createVonageSmsVerifier (secret: string, options: VerifierOptions = {}): SignatureVerifier {
  const method = (options.method ?? DEFAULT_VONAGE_SIGNATURE_METHOD) as VonageSignatureMethod
  if (!(VONAGE_SIGNATURE_METHODS as readonly string[]).includes(method)) throw new TypeError(`unknown Vonage signature method ${method}`)
  return {
    scheme: 'vonage',
    verify (request: SignedRequest): boolean {
      const fields = vonageFields(request)
      const given = fields.sig
      if (typeof given !== 'string' || given === '') return false
      const expected = vonageSignature(secret, method, fields)
      return expected !== undefined && constantTimeEqual(expected.toLowerCase(), given.toLowerCase())
    },
  }
}

export function createVonageMessagesVerifier (secret: string, options: VerifierOptions = {}): SignatureVerifier {
  const now = options.now ?? Date.now
  return {
    scheme: 'vonage-messages',
    verify (request: SignedRequest): boolean {
      const token = bearerToken(headerValue(request.headers, 'authorization'))
      if (token === undefined) return false
      const claims = verifyHmacJwt(token, secret, ['HS256'])
      if (claims === undefined) return false
      const seconds = now() / 1000
      const exp = numericClaim(claims, 'exp')
      const nbf = numericClaim(claims, 'nbf')
      if ((exp !== undefined && seconds > exp + 1) || (nbf !== undefined && seconds < nbf - 1)) return false
      const hash = claims.payload_hash
      if (request.body.bytes.length === 0) return hash === undefined || hash === sha256Hex(request.body.bytes)
      return typeof hash === 'string' && constantTimeEqual(hash.toLowerCase(), sha256Hex(request.body.bytes))
    },
  }
}
