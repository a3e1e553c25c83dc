/**
 * Brevo transactional SMS webhooks: JSON with `msg_status`
 * and `messageId`. `replied` is a reply, `unsubscribe` an opt-out, `subscribe` an opt-in, the
 * other words are delivery statuses. `date` is in CET/CEST (read in Europe/Paris, whose rules
 * they are). `id` is the webhook's id, not the event's. The reply's text field is not documented:
 * `text` is taken when present. Brevo's current docs say a 5xx answer discards the callback.
 */
import { internationalNumber } from './numbers.js'
import { fieldString, hasFields } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { statusMapper } from './status.js'

const toStatus = statusMapper({
  accepted: 'accepted',
  sent: 'sent',
  delivered: 'delivered',
  soft_bounce: 'failed',
  softBounce: 'failed',
  hard_bounce: 'failed',
  hardBounce: 'failed',
  rejected: 'rejected',
  skip: 'rejected',
})

function classifyBrevo (fields: Record<string, unknown>): Classification {
  switch (fieldString(fields.msg_status)) {
    case 'replied': return { kind: 'reply', dateField: 'date' }
    case 'unsubscribe': return { kind: 'optout', dateField: 'date' }
    case 'subscribe': return { kind: 'optin', dateField: 'date' }
    case null: return { kind: 'unknown' }
    default: return { kind: 'delivery', dateField: 'date' }
  }
}

export const brevo: ProviderProfile = {
  name: 'brevo',
  recognises: ({ fields }) => hasFields(fields, 'msg_status', 'messageId'),
  classify: classifyBrevo,
  messageId: (fields) => fieldString(fields.messageId),
  normalise ({ fields }, { time }) {
    const { kind } = classifyBrevo(fields)
    const eventDate = fieldString(fields.date)
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fields.messageId),
      number: internationalNumber(fieldString(fields.to)),
      our_number: null,
      event_date: eventDate,
      event_time: eventDate === null ? null : (time?.toIsoUtc(eventDate) ?? null),
    }
    if (kind === 'delivery') {
      const word = fieldString(fields.msg_status)
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = null
    } else if (kind !== 'unknown') {
      event.text = fieldString(fields.text)
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null ? null : `${event.message_id}|${fieldString(fields.msg_status) ?? ''}|${event.event_date ?? ''}`,
  // CET/CEST: the rules of Europe/Paris.
  timeZone: 'Europe/Paris',
  answer: { status: 200, body: '' },
}
