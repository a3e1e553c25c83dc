/**
 * Bird (MessageBird's successor) webhook subscriptions: JSON POSTs signed with
 * `messagebird-signature` ("Bird: verifying a webhook" in its docs). Bird documents the signature
 * but not the SMS events' fields, so its requests are never told by their shape: a path bound to
 * `bird` (`--provider-path /bird/=bird`) is verified with `--bird-signing-key`, spooled byte for
 * byte, and read as `unknown` until the fields are documented.
 */
import type { ProviderProfile } from './profile.js'
import { createBirdVerifier } from './signatures/bird.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

export const bird: ProviderProfile = {
  name: 'bird',
  recognises: () => false,
  classify: () => ({ kind: 'unknown' }),
  messageId: () => null,
  normalise: () => [{ kind: 'unknown', message_id: null, number: null, our_number: null, event_date: null, event_time: null }],
  dedupeKey: () => null,
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.bird, create: createBirdVerifier },
}
