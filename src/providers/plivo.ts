/**
 * Plivo: form posts (or GET) with `MessageUUID`. `Status`
 * makes a status callback; otherwise `Text` (SMS) or `Body` (MMS) an incoming message, whose
 * `MessageIntent` says `optout` or `optin` for the standard keywords. Numbers come without `+`.
 * Its times (`DeliveryReportTime`, `MessageTime`) carry no zone and are read as UTC unless
 * `--provider-tz plivo=ZONE` says otherwise. Incoming
 * messages expect XML: an empty <Response/> sends nothing back.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldString, hasFields } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createPlivoVerifier } from './signatures/plivo.js'
import { statusMapper } from './status.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  queued: 'accepted',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  undelivered: 'failed',
  failed: 'failed',
  rejected: 'rejected',
})

function classifyPlivo (fields: Record<string, unknown>): Classification {
  if (hasFields(fields, 'Status')) return { kind: 'delivery' }
  const intent = fieldString(fields.MessageIntent)?.toLowerCase()
  if (intent === 'optout') return { kind: 'optout' }
  if (intent === 'optin') return { kind: 'optin' }
  if (hasFields(fields, 'Text') || hasFields(fields, 'Body')) return { kind: 'reply' }
  return { kind: 'unknown' }
}

export const plivo: ProviderProfile = {
  name: 'plivo',
  recognises: ({ fields }) => hasFields(fields, 'MessageUUID'),
  classify: classifyPlivo,
  messageId: (fields) => fieldString(fields.MessageUUID),
  normalise ({ fields }, { time }) {
    const { kind } = classifyPlivo(fields)
    const from = internationalNumber(fieldString(fields.From))
    const to = internationalNumber(fieldString(fields.To))
    const delivery = kind === 'delivery'
    const eventDate = delivery ? (fieldString(fields.DeliveryReportTime) || fieldString(fields.SentTime) || fieldString(fields.MessageTime)) : null
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fields.MessageUUID),
      number: delivery ? to : from,
      our_number: delivery ? from : to,
      event_date: eventDate,
      event_time: eventDate === null ? null : (time?.toIsoUtc(eventDate) ?? null),
    }
    if (delivery) {
      const word = fieldString(fields.Status)
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = errorCode(fields.ErrorCode, '000')
    } else {
      event.text = fieldString(fields.Text) ?? fieldString(fields.Body)
    }
    return [event]
  },
  dedupeKey: (event, fields) => event.message_id === null
    ? null
    : `${event.message_id}|${fieldString(fields.Status) ?? event.kind}|${fieldString(fields.Sequence) ?? ''}`,
  timeZone: 'UTC',
  answer: { status: 200, contentType: 'application/xml', body: '<?xml version="1.0" encoding="utf-8"?><Response></Response>' },
  signature: { ...SIGNATURE_OPTIONS.plivo, create: createPlivoVerifier },
}
