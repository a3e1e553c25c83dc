/**
 * MessageBird signs with the signing key (not the API key), in one of two ways.
 *
 * `MessageBird-Signature-JWT` is a JWT (HS256, HS384 or HS512). As messagebird/go-rest-api's
 * validator checks: `iss` is `MessageBird`; now lies between `nbf` and `exp` (1 s of skew); `jti`
 * is set; `url_hash` is the hex SHA-256 of the full URL called, query included; `payload_hash`
 * the hex SHA-256 of the body, and absent when there is no body. A request that carries it is
 * judged by it alone.
 *
 * Without it, the deprecated pair that older accounts and webhooks still send (go-rest-api's
 * `signature` package): `MessageBird-Signature` is the base64 HMAC-SHA256 of
 * `MessageBird-Request-Timestamp` (Unix seconds), a newline, the query string as that package
 * rebuilds it (see legacyQuery), a newline and the SHA-256 of the body (its 32 bytes). It signs
 * neither the host nor the path. The timestamp is held to the JWT's policy: MessageBird's tokens
 * expire 60 s after their `nbf`, so the timestamp is taken as an `nbf` with its `exp` 60 s later,
 * with the same 1 s of skew: from 1 s ahead of the receiver's clock to 61 s behind it. (The SDKs
 * differ: go-rest-api allows 2.5 s either side; the PHP and Python ones 10 s back and the Node
 * one 100 s back, with no bound ahead.)
 */
import { birdSignature } from './bird.js'
import { numericClaim, sha256Hex, verifyHmacJwt } from './jwt.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest, type VerifierOptions } from './verifier.js'

const SKEW_SECONDS = 1
/** `exp` - `nbf` of MessageBird's JWTs (go-rest-api's reference tokens): the legacy timestamp's lifetime. */
const LEGACY_LIFETIME_SECONDS = 60

/**
 * The query string as go-rest-api's `signature` package signs it (url.Values.Encode of the parsed
 * query): the parameters sorted by name (byte order; a name's values keep their order), names and
 * values encoded as Go's url.QueryEscape does (all but letters, digits and `-_.~` as `%XX`, a space
 * as `+`). The parameters are read as the record reads them (URLSearchParams, as parseParams), so
 * the signature covers exactly what is recorded; a pair Go would drop (a bad `%` escape, a `;`) is
 * kept, and the signature does not hold unless it covers it.
 */
export function legacyQuery (query: string): string {
  const pairs = [...new URLSearchParams(query)]
  pairs.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
  return pairs.map(([name, value]) => `${queryEscape(name)}=${queryEscape(value)}`).join('&')
}

/** Go's url.QueryEscape. URLSearchParams gives well-formed strings, so encodeURIComponent cannot throw. */
function queryEscape (text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/**
 * `MessageBird-Signature` for a timestamp, the query string called (without `?`) and the body:
 * Bird's signature, the rebuilt query where Bird has the URL.
 */
export function messageBirdLegacySignature (signingKey: string, timestamp: string, query: string, body: Buffer): string {
  return birdSignature(signingKey, timestamp, legacyQuery(query), body)
}

export function createMessageBirdVerifier (signingKey: string, options: VerifierOptions = {}): SignatureVerifier {
  const now = options.now ?? Date.now

  function verifyJwt (token: string, request: SignedRequest): boolean {
    const claims = verifyHmacJwt(token, signingKey, ['HS256', 'HS384', 'HS512'])
    if (claims === undefined || claims.iss !== 'MessageBird') return false
    const seconds = now() / 1000
    const nbf = numericClaim(claims, 'nbf')
    const exp = numericClaim(claims, 'exp')
    if (nbf === undefined || exp === undefined || seconds < nbf - SKEW_SECONDS || seconds > exp + SKEW_SECONDS) return false
    if (typeof claims.jti !== 'string' || claims.jti === '') return false
    if (typeof claims.url_hash !== 'string' || !constantTimeEqual(claims.url_hash, sha256Hex(request.url))) return false
    const payloadHash = claims.payload_hash
    if (request.body.bytes.length === 0) return payloadHash === undefined || payloadHash === ''
    return typeof payloadHash === 'string' && constantTimeEqual(payloadHash, sha256Hex(request.body.bytes))
  }

  function verifyLegacy (request: SignedRequest): boolean {
    const given = headerValue(request.headers, 'messagebird-signature')
    const timestamp = headerValue(request.headers, 'messagebird-request-timestamp')
    if (given === undefined || timestamp === undefined || !/^[0-9]{1,12}$/.test(timestamp)) return false
    const signedAt = Number(timestamp)
    const seconds = now() / 1000
    if (seconds < signedAt - SKEW_SECONDS || seconds > signedAt + LEGACY_LIFETIME_SECONDS + SKEW_SECONDS) return false
    const q = request.url.indexOf('?')
    const query = q === -1 ? '' : request.url.slice(q + 1)
    return constantTimeEqual(messageBirdLegacySignature(signingKey, timestamp, query, request.body.bytes), given)
  }

  return {
    scheme: 'messagebird',
    verify (request: SignedRequest): boolean {
      const token = headerValue(request.headers, 'messagebird-signature-jwt')
      return token === undefined ? verifyLegacy(request) : verifyJwt(token, request)
    },
  }
}
