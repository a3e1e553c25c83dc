/**
 * Clickatell. A status callback has `integrationName`,
 * `messageId` and a numeric `statusCode` (One API table); an incoming-message callback has
 * `event.moText[]`, one event per message. Times are epoch milliseconds.
 */
import { internationalNumber } from './numbers.js'
import { fieldAt, fieldString, hasFields } from './fields.js'
import type { ProviderEvent, ProviderProfile } from './profile.js'
import type { DeliveryStatus } from './status.js'

/** One API status codes. */
const STATUS_CODES: Record<string, DeliveryStatus> = {
  1: 'unknown',
  2: 'accepted',
  3: 'accepted',
  4: 'sent',
  5: 'delivered',
  6: 'read',
  20: 'expired',
  21: 'rejected',
  22: 'rejected',
  23: 'failed',
  25: 'rejected',
  26: 'rejected',
  27: 'rejected',
  28: 'rejected',
  29: 'failed',
  100: 'failed',
}

function epochMs (value: unknown): { date: string | null, time: string | null } {
  const text = fieldString(value)
  if (text === null || !/^\d{10,16}$/.test(text)) return { date: text, time: null }
  return { date: text, time: new Date(Number(text)).toISOString() }
}

function moTexts (fields: Record<string, unknown>): Array<Record<string, unknown>> {
  const list = fieldAt(fields, 'event.moText')
  return Array.isArray(list) ? list.filter((m): m is Record<string, unknown> => m !== null && typeof m === 'object') : []
}

function reply (mo: Record<string, unknown>): ProviderEvent {
  const { date, time } = epochMs(mo.timestamp)
  return {
    kind: 'reply',
    message_id: fieldString(mo.messageId),
    number: internationalNumber(fieldString(mo.from)),
    our_number: internationalNumber(fieldString(mo.to)),
    event_date: date,
    event_time: time,
    text: fieldString(mo.content),
  }
}

export const clickatell: ProviderProfile = {
  name: 'clickatell',
  recognises: ({ fields }) => (hasFields(fields, 'integrationName', 'messageId', 'statusCode')) || moTexts(fields).length > 0,
  classify: (fields) => ({ kind: hasFields(fields, 'statusCode') ? 'delivery' : moTexts(fields).length > 0 ? 'reply' : 'unknown' }),
  messageId: (fields) => fieldString(fields.messageId) ?? fieldString(moTexts(fields)[0]?.messageId),
  normalise ({ fields }) {
    if (!hasFields(fields, 'statusCode')) return moTexts(fields).map(reply)
    const code = fieldString(fields.statusCode)
    const { date, time } = epochMs(fields.timestamp)
    return [{
      kind: 'delivery',
      message_id: fieldString(fields.messageId),
      number: internationalNumber(fieldString(fields.to)),
      our_number: internationalNumber(fieldString(fields.from)),
      event_date: date,
      event_time: time,
      status: code === null ? null : (STATUS_CODES[code] ?? 'unknown'),
      provider_status: fieldString(fields.status) ?? code,
      error_code: null,
    }]
  },
  dedupeKey: (event, fields) => event.message_id === null ? null : `${event.message_id}|${event.kind}|${fieldString(fields.statusCode) ?? ''}`,
  answer: { status: 200, body: '' },
}
