/**
 * MessageBird: `MessageBird-Signature-JWT` is a JWT signed
 * with the signing key (HS256, HS384 or HS512; not the API key). As messagebird/go-rest-api's
 * validator checks: `iss` is `MessageBird`; now lies between `nbf` and `exp` (1 s of skew); `jti`
 * is set; `url_hash` is the hex SHA-256 of the full URL called, query included; `payload_hash`
 * the hex SHA-256 of the body, and absent when there is no body.
 */
import { numericClaim, sha256Hex, verifyHmacJwt } from './jwt.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest, type VerifierOptions } from './verifier.js'

const SKEW_SECONDS = 1

export function createMessageBirdVerifier (signingKey: string, options: VerifierOptions = {}): SignatureVerifier {
  const now = options.now ?? Date.now
  return {
    scheme: 'messagebird',
    verify (request: SignedRequest): boolean {
      const token = headerValue(request.headers, 'messagebird-signature-jwt')
      if (token === undefined) return false
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
    },
  }
}
