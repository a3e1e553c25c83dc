/**
 * Telnyx Messaging: JSON `{data: {id, event_type,
 * occurred_at, payload}}`. `message.received` is an incoming message; `message.sent` and
 * `message.finalized` are status updates, the status being the recipient's (`payload.to[0]`).
 * Times carry their offset. `data.id` identifies the event.
 */
import { normaliseNumber } from '../number.js'
import { errorCode, fieldAt, fieldString } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createTelnyxVerifier } from './signatures/telnyx.js'
import { statusMapper } from './status.js'
import { UTC_TIME } from './zoned-time.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  queued: 'accepted',
  sending: 'accepted',
  sent: 'sent',
  delivered: 'delivered',
  sending_failed: 'failed',
  delivery_failed: 'failed',
  delivery_unconfirmed: 'unknown',
})

function classifyTelnyx (fields: Record<string, unknown>): Classification {
  switch (fieldString(fieldAt(fields, 'data.event_type'))) {
    case 'message.received': return { kind: 'reply' }
    case 'message.sent':
    case 'message.finalized': return { kind: 'delivery' }
    default: return { kind: 'unknown' }
  }
}

export const telnyx: ProviderProfile = {
  name: 'telnyx',
  recognises: ({ fields }) => typeof fieldAt(fields, 'data.event_type') === 'string',
  classify: classifyTelnyx,
  messageId: (fields) => fieldString(fieldAt(fields, 'data.payload.id')),
  normalise ({ fields }) {
    const { kind } = classifyTelnyx(fields)
    const from = normaliseNumber(fieldString(fieldAt(fields, 'data.payload.from.phone_number')))
    const to = normaliseNumber(fieldString(fieldAt(fields, 'data.payload.to.0.phone_number')))
    const eventDate = fieldString(fieldAt(fields, 'data.occurred_at'))
    const delivery = kind === 'delivery'
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fieldAt(fields, 'data.payload.id')),
      number: delivery ? to : from,
      our_number: delivery ? from : to,
      event_date: eventDate,
      event_time: eventDate === null ? null : (UTC_TIME.toIsoUtc(eventDate) ?? null),
    }
    if (delivery) {
      const word = fieldString(fieldAt(fields, 'data.payload.to.0.status'))
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = errorCode(fieldAt(fields, 'data.payload.errors.0.code'))
    } else if (kind === 'reply') {
      event.text = fieldString(fieldAt(fields, 'data.payload.text'))
    }
    return [event]
  },
  dedupeKey: (_event, fields) => fieldString(fieldAt(fields, 'data.id')),
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.telnyx, create: createTelnyxVerifier },
}
