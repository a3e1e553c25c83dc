/**
 * MessageBird's legacy SMS status reports: a GET with `id`,
 * `reference`, `recipient`, `status` and `statusDatetime` (ISO 8601 with its offset). Inbound
 * messages and opt-outs: no documented callback found.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldString, hasFields } from './fields.js'
import type { ProviderEvent, ProviderProfile } from './profile.js'
import { createMessageBirdVerifier } from './signatures/messagebird.js'
import { statusMapper } from './status.js'
import { UTC_TIME } from './zoned-time.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  scheduled: 'accepted',
  buffered: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  expired: 'expired',
  delivery_failed: 'failed',
})

export const messagebird: ProviderProfile = {
  name: 'messagebird',
  recognises: ({ fields }) => hasFields(fields, 'id', 'recipient', 'statusDatetime'),
  classify: (fields) => ({ kind: hasFields(fields, 'status') ? 'delivery' : 'unknown' }),
  messageId: (fields) => fieldString(fields.id),
  normalise ({ fields }) {
    const word = fieldString(fields.status)
    const eventDate = fieldString(fields.statusDatetime)
    const event: ProviderEvent = {
      kind: word === null ? 'unknown' : 'delivery',
      message_id: fieldString(fields.id),
      number: internationalNumber(fieldString(fields.recipient)),
      our_number: null,
      event_date: eventDate,
      event_time: eventDate === null ? null : (UTC_TIME.toIsoUtc(eventDate) ?? null),
    }
    if (word !== null) {
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = errorCode(fields.statusErrorCode)
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null ? null : `${event.message_id}|${event.number ?? ''}|${fieldString(fields.status) ?? ''}`,
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.messagebird, create: createMessageBirdVerifier },
}
