/**
 * Octopush (docs/octopush.md). The kind is told by the date field, in this order, because a
 * STOP also carries `text`: `stop_date` -> optout; `delivery_date` in any case -> delivery;
 * `reception_date` or `answer_date` -> reply; anything else -> unknown. Dates carry no zone: they
 * are read in `--provider-tz` (Europe/Paris by default). Octopush expects an empty 200.
 */
import { normaliseNumber } from '../number.js'
import { fieldString } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { statusMapper } from './status.js'

/** Octopush's words (docs/octopush.md): SMS, voice (NOT_DELIVERABLE, BUSY, REFUSED) and the legacy API's. */
const toStatus = statusMapper({
  ACK: 'sent',
  DELIVERED: 'delivered',
  NOT_DELIVERED: 'failed',
  NOT_DELIVERABLE: 'failed',
  BUSY: 'failed',
  REFUSED: 'failed',
  NOT_ALLOWED: 'rejected',
  BAD_DESTINATION: 'rejected',
  INVALID_DESTINATION_ADDRESS: 'rejected',
  BLACKLISTED_NUMBER: 'rejected',
  OUT_OF_DATE: 'expired',
  EXPIRED: 'expired',
  UNKNOWN_DELIVERY: 'unknown',
  UNDEFINED: 'unknown',
})

function present (fields: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(fields, key) && fields[key] !== undefined && fields[key] !== null
}

// Shared answers: classifying allocates nothing for the usual spellings (callers do not mutate them).
const OPTOUT: Classification = Object.freeze({ kind: 'optout', dateField: 'stop_date' })
const DELIVERY: Classification = Object.freeze({ kind: 'delivery', dateField: 'delivery_date' })
const RECEPTION: Classification = Object.freeze({ kind: 'reply', dateField: 'reception_date' })
const ANSWER: Classification = Object.freeze({ kind: 'reply', dateField: 'answer_date' })
const UNKNOWN: Classification = Object.freeze({ kind: 'unknown' })

export function classifyOctopush (fields: Record<string, unknown>): Classification {
  if (present(fields, 'stop_date')) return OPTOUT
  // The first own key spelled delivery_date in any case, in key order (for...in without the array Object.keys builds).
  for (const key in fields) {
    if (key.length === 13 && Object.hasOwn(fields, key) && key.toLowerCase() === 'delivery_date' && present(fields, key)) {
      return key === 'delivery_date' ? DELIVERY : { kind: 'delivery', dateField: key }
    }
  }
  if (present(fields, 'reception_date')) return RECEPTION
  if (present(fields, 'answer_date')) return ANSWER
  return UNKNOWN
}

export const octopush: ProviderProfile = {
  name: 'octopush',
  recognises: (record) => classifyOctopush(record.fields).kind !== 'unknown',
  classify: classifyOctopush,
  messageId: (fields) => fieldString(fields.message_id),
  normalise (record, { time }) {
    const fields = record.fields
    const { kind, dateField } = classifyOctopush(fields)
    const eventDate = dateField === undefined ? null : fieldString(fields[dateField])
    const event: ProviderEvent = {
      kind,
      message_id: fieldString(fields.message_id),
      number: normaliseNumber(fieldString(fields.number)),
      // A reply names the SIM card (our number) it reached; receipts name no sender.
      our_number: normaliseNumber(fieldString(fields.sim_card_number)),
      event_date: eventDate,
      event_time: eventDate === null ? null : (time?.toIsoUtc(eventDate) ?? null),
    }
    if (kind === 'delivery') {
      const word = fieldString(fields.status)
      event.status = toStatus(word)
      event.provider_status = word
      event.error_code = null
    }
    if (kind === 'reply' || kind === 'optout') event.text = fieldString(fields.text)
    return [event]
  },
  // The same event re-sent: same message, same subscriber, same kind, same date, and the same
  // status (a receipt) or text (a reply): two statuses stamped the same second stay two events.
  dedupeKey: (event) => event.message_id === null || event.event_date === null
    ? null
    : `${event.message_id}|${event.number ?? ''}|${event.kind}|${event.event_date}|${(event.kind === 'delivery' ? event.provider_status : event.text) ?? ''}`,
  timeZone: 'Europe/Paris',
  answer: { status: 200, body: '' },
}
