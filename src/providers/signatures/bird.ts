/**
 * Bird's webhook subscriptions ("Bird: verifying a webhook" in its docs):
 * `messagebird-signature` is base64 HMAC-SHA256, keyed with the subscription's signing key, of
 * `messagebird-request-timestamp`, a newline, the URL called, a newline and the SHA-256 of the raw
 * body (its 32 bytes, not hex). Bird publishes no test vector and no tolerance for the timestamp:
 * it is not checked, so a captured request can be replayed.
 * A Bird profile names it with `signature: { option: '--bird-signing-key', description, create: createBirdVerifier }`.
 */
import { crypto } from '../../lazy-builtin.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest } from './verifier.js'

export function birdSignature (signingKey: string, timestamp: string, url: string, body: Buffer): string {
  const bodyHash = crypto().createHash('sha256').update(body).digest()
  return crypto().createHmac('sha256', signingKey).update(`${timestamp}\n${url}\n`, 'utf8').update(bodyHash).digest('base64')
}

export function createBirdVerifier (signingKey: string): SignatureVerifier {
  return {
    scheme: 'bird',
    verify (request: SignedRequest): boolean {
      const given = headerValue(request.headers, 'messagebird-signature')
      const timestamp = headerValue(request.headers, 'messagebird-request-timestamp')
      if (given === undefined || timestamp === undefined) return false
      return constantTimeEqual(birdSignature(signingKey, timestamp, request.url, request.body.bytes), given)
    },
  }
}
