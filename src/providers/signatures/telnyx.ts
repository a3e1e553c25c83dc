/**
 * Telnyx: `telnyx-signature-ed25519` is the base64 Ed25519
 * signature, by Telnyx's key, of `telnyx-timestamp` (Unix seconds), `|` and the raw body; the
 * account's public key (base64, 32 bytes) is in the portal. As telnyx-node does, a timestamp more
 * than 5 minutes from now is refused, so a captured request cannot be replayed later.
 */
import type { KeyObject } from 'node:crypto'
import { crypto } from '../../lazy-builtin.js'
import { headerValue, type SignatureVerifier, type SignedRequest, type VerifierOptions } from './verifier.js'

export const TELNYX_TOLERANCE_SECONDS = 300

/** DER prefix of an Ed25519 SubjectPublicKeyInfo: what precedes the 32 raw key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** The key object of a base64 public key as the portal shows it; throws when it is not 32 bytes. */
export function telnyxPublicKey (base64: string): KeyObject {
  const raw = Buffer.from(base64.trim(), 'base64')
  if (raw.length !== 32 || raw.toString('base64') !== base64.trim()) throw new TypeError('expected the base64 of a 32-byte Ed25519 public key')
  return crypto().createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

export function createTelnyxVerifier (publicKey: string, options: VerifierOptions = {}): SignatureVerifier {
  const key = telnyxPublicKey(publicKey)
  const now = options.now ?? Date.now
  return {
    scheme: 'telnyx',
    verify (request: SignedRequest): boolean {
      const signature = headerValue(request.headers, 'telnyx-signature-ed25519')
      const timestamp = headerValue(request.headers, 'telnyx-timestamp')
      if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false
      if (Math.abs(now() / 1000 - Number(timestamp)) > TELNYX_TOLERANCE_SECONDS) return false
      const sig = Buffer.from(signature, 'base64')
      if (sig.length !== 64) return false
      try {
        return crypto().verify(null, Buffer.concat([Buffer.from(`${timestamp}|`, 'utf8'), request.body.bytes]), key, sig)
      } catch {
        return false
      }
    },
  }
}
