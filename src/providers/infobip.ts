/**
 * Infobip: JSON `{results: [...]}`, up to 100 events per
 * request by default, one event per result. A delivery report has `status{groupName, name}` and
 * `doneAt`; an incoming message `text` and `receivedAt`. Offsets come without a colon (`+0000`).
 * Numbers come without `+`.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldAt, fieldString } from './fields.js'
import type { ProviderEvent, ProviderProfile } from './profile.js'
import { statusMapper } from './status.js'
import { UTC_TIME } from './zoned-time.js'

const toStatus = statusMapper({
  PENDING: 'accepted',
  DELIVERED: 'delivered',
  UNDELIVERABLE: 'failed',
  EXPIRED: 'expired',
  REJECTED: 'rejected',
})

function results (fields: Record<string, unknown>): Array<Record<string, unknown>> {
  const list = fields.results
  if (!Array.isArray(list)) return []
  return list.filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r))
}

function isDelivery (result: Record<string, unknown>): boolean {
  return fieldAt(result, 'status.groupName') !== undefined || result.doneAt !== undefined
}

function readResult (result: Record<string, unknown>): ProviderEvent {
  const delivery = isDelivery(result)
  const from = internationalNumber(fieldString(result.from))
  const to = internationalNumber(fieldString(result.to))
  const eventDate = fieldString(delivery ? result.doneAt : result.receivedAt)
  const event: ProviderEvent = {
    kind: delivery ? 'delivery' : (result.text !== undefined ? 'reply' : 'unknown'),
    message_id: fieldString(result.messageId),
    number: delivery ? to : from,
    our_number: delivery ? from : to,
    event_date: eventDate,
    event_time: eventDate === null ? null : (UTC_TIME.toIsoUtc(eventDate) ?? null),
  }
  if (delivery) {
    const word = fieldString(fieldAt(result, 'status.groupName'))
    event.status = toStatus(word)
    event.provider_status = word
    // Error id 0 is NO_ERROR.
    event.error_code = errorCode(fieldAt(result, 'error.id'), '0')
  } else if (event.kind === 'reply') {
    event.text = fieldString(result.text)
  }
  return event
}

export const infobip: ProviderProfile = {
  name: 'infobip',
  recognises: ({ fields }) => results(fields).some((r) => r.messageId !== undefined),
  classify: (fields) => {
    const first = results(fields)[0]
    return { kind: first === undefined ? 'unknown' : readResult(first).kind }
  },
  messageId: (fields) => {
    const first = results(fields)[0]
    return first === undefined ? null : fieldString(first.messageId)
  },
  normalise: ({ fields }) => results(fields).map(readResult),
  dedupeKey: (event) => event.message_id === null ? null : `${event.message_id}|${event.kind}|${event.provider_status ?? ''}`,
  answer: { status: 200, body: '' },
}
