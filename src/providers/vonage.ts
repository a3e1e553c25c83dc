/**
 * Vonage SMS API: GET, form or JSON, with `msisdn` and
 * `messageId`. A delivery receipt has `status`; an inbound message `text`. Vonage swaps the two
 * numbers' roles: in a receipt `msisdn` is the recipient and `to` our sender ID, in an inbound
 * message `msisdn` is the sender and `to` our number. Its numbers are international without `+`.
 * `scts` is in the carrier's local time: `message-timestamp` (UTC) dates the event instead.
 * Inbound messages are re-sent for 24 hours unless answered 200 or 204.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldString, hasFields } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createVonageSmsVerifier } from './signatures/vonage.js'
import { statusMapper } from './status.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  accepted: 'accepted',
  buffered: 'sent',
  delivered: 'delivered',
  expired: 'expired',
  failed: 'failed',
  rejected: 'rejected',
  unknown: 'unknown',
})

function classifyVonage (fields: Record<string, unknown>): Classification {
  if (hasFields(fields, 'status')) return { kind: 'delivery', dateField: 'message-timestamp' }
  if (hasFields(fields, 'text')) return { kind: 'reply', dateField: 'message-timestamp' }
  return { kind: 'unknown' }
}

export const vonage: ProviderProfile = {
  name: 'vonage',
  recognises: ({ fields }) => hasFields(fields, 'msisdn', 'messageId'),
  classify: classifyVonage,
  messageId: (fields) => fieldString(fields.messageId),
  normalise ({ fields }, { time }) {
    const { kind } = classifyVonage(fields)
    const eventDate = fieldString(fields['message-timestamp'])
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fields.messageId),
      number: internationalNumber(fieldString(fields.msisdn)),
      our_number: internationalNumber(fieldString(fields.to)),
      event_date: eventDate,
      event_time: eventDate === null ? null : (time?.toIsoUtc(eventDate) ?? null),
    }
    if (kind === 'delivery') {
      const word = fieldString(fields.status)
      event.status = toStatus(word)
      event.provider_status = word
      // "non 0 ... if there has been an error, or if the status is unknown"
      event.error_code = errorCode(fields['err-code'], '0')
    } else if (kind === 'reply') {
      event.text = fieldString(fields.text)
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null ? null : `${event.message_id}|${fieldString(fields.status) ?? event.kind}`,
  timeZone: 'UTC',
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.vonage, create: createVonageSmsVerifier },
}
