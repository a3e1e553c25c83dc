/**
 * Vonage Messages API: JSON with `message_uuid`. A status
 * webhook has `status` (`submitted`, `delivered`, `read`, `rejected`, `undeliverable`); an
 * inbound webhook `message_type` and `text`. `to` and `from` keep their roles (a status's `to` is
 * the subscriber, an inbound message's `from`); numbers come without `+`; `timestamp` is UTC.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldAt, fieldString, hasFields } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createVonageMessagesVerifier } from './signatures/vonage.js'
import { statusMapper } from './status.js'
import { UTC_TIME } from './zoned-time.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  submitted: 'sent',
  delivered: 'delivered',
  read: 'read',
  rejected: 'rejected',
  undeliverable: 'failed',
})

function classify (fields: Record<string, unknown>): Classification {
  if (hasFields(fields, 'status')) return { kind: 'delivery' }
  if (hasFields(fields, 'message_type')) return { kind: 'reply' }
  return { kind: 'unknown' }
}

/** `from`/`to` are strings in v1, `{type, number}` objects in the 2021 beta. */
function number (value: unknown): string | null {
  return internationalNumber(fieldString(value) ?? fieldString(fieldAt(value, 'number')))
}

export const vonageMessages: ProviderProfile = {
  name: 'vonage-messages',
  recognises: ({ fields }) => hasFields(fields, 'message_uuid') && (hasFields(fields, 'status') || hasFields(fields, 'message_type')),
  classify,
  messageId: (fields) => fieldString(fields.message_uuid),
  normalise ({ fields }) {
    const { kind } = classify(fields)
    const delivery = kind === 'delivery'
    const eventDate = fieldString(fields.timestamp)
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fields.message_uuid),
      number: number(delivery ? fields.to : fields.from),
      our_number: number(delivery ? fields.from : fields.to),
      event_date: eventDate,
      event_time: eventDate === null ? null : (UTC_TIME.toIsoUtc(eventDate) ?? null),
    }
    if (delivery) {
      const word = fieldString(fields.status)
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = errorCode(fieldAt(fields, 'error.title'))
    } else if (kind === 'reply') {
      event.text = fieldString(fields.text) ?? fieldString(fieldAt(fields, 'message.content.text'))
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null ? null : `${event.message_id}|${fieldString(fields.status) ?? event.kind}`,
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.vonageMessages, create: createVonageMessagesVerifier },
}
