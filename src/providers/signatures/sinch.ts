/**
 * Sinch SMS callbacks signed with HMAC (configured on the
 * service plan by Sinch): `x-sinch-webhook-signature` is base64 of HMAC-SHA256, keyed with the
 * webhook secret, over the raw body, `.`, `x-sinch-webhook-signature-nonce`, `.` and
 * `x-sinch-webhook-signature-timestamp`; `x-sinch-webhook-signature-algorithm`, when sent, must be
 * `HmacSHA256`. Sinch documents no tolerance for the timestamp and its SDKs check none, and it
 * retries for up to 22 hours: a replayed request still verifies.
 */
import { crypto } from '../../lazy-builtin.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest } from './verifier.js'

export function sinchSignature (secret: string, body: Buffer, nonce: string, timestamp: string): string {
  return crypto().createHmac('sha256', secret).update(body).update(`.${nonce}.${timestamp}`, 'utf8').digest('base64')
}

export function createSinchVerifier (secret: string): SignatureVerifier {
  return {
    scheme: 'sinch',
    verify (request: SignedRequest): boolean {
      const { headers } = request
      const given = headerValue(headers, 'x-sinch-webhook-signature')
      const nonce = headerValue(headers, 'x-sinch-webhook-signature-nonce')
      const timestamp = headerValue(headers, 'x-sinch-webhook-signature-timestamp')
      const algorithm = headerValue(headers, 'x-sinch-webhook-signature-algorithm')
      if (given === undefined || nonce === undefined || timestamp === undefined) return false
      if (algorithm !== undefined && algorithm.toLowerCase() !== 'hmacsha256') return false
      return constantTimeEqual(sinchSignature(secret, request.body.bytes, nonce, timestamp), given)
    },
  }
}
