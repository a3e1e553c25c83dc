/**
 * Bandwidth Messaging API v2: a JSON array of events (the
 * receiver keeps its items as fields `0`, `1`, ...), one event per item. `type`:
 * `message-received` is an incoming message; `message-delivered`, `message-failed` and
 * `message-sending` are status events, whose `message.text` is empty. Times are ISO 8601 UTC.
 * Bandwidth retries for 24 hours until a 2xx and says events may arrive more than once: the key
 * is `message.id` + `type` (+ the recipient, a group message having one event per recipient).
 */
import { normaliseNumber } from '../number.js'
import { errorCode, fieldAt, fieldString } from './fields.js'
import type { ProviderEvent, ProviderProfile } from './profile.js'
import type { DeliveryStatus } from './status.js'
import { UTC_TIME } from './zoned-time.js'

const STATUS_EVENTS: Record<string, DeliveryStatus> = {
  'message-sending': 'sent',
  'message-delivered': 'delivered',
  'message-failed': 'failed',
}

function items (fields: Record<string, unknown>): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (let i = 0; ; i++) {
    const item = fields[i]
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return out
    out.push(item as Record<string, unknown>)
  }
}

function isEvent (item: Record<string, unknown> | undefined): boolean {
  const type = fieldString(item?.type)
  return type !== null && type.startsWith('message-') && fieldAt(item, 'message.id') !== undefined
}

function readItem (item: Record<string, unknown>): ProviderEvent {
  const type = fieldString(item.type) ?? ''
  const time = fieldString(item.time)
  const base = {
    message_id: fieldString(fieldAt(item, 'message.id')),
    event_date: time,
    event_time: time === null ? null : (UTC_TIME.toIsoUtc(time) ?? null),
  }
  const ours = normaliseNumber(fieldString(fieldAt(item, 'message.owner')) ?? fieldString(fieldAt(item, 'message.from')))
  if (type === 'message-received') {
    return {
      ...base,
      kind: 'reply',
      number: normaliseNumber(fieldString(fieldAt(item, 'message.from'))),
      our_number: normaliseNumber(fieldString(item.to)) ?? ours,
      text: fieldString(fieldAt(item, 'message.text')),
    }
  }
  const status = STATUS_EVENTS[type]
  if (status === undefined) return { ...base, kind: 'unknown', number: null, our_number: null }
  return {
    ...base,
    kind: 'delivery',
    number: normaliseNumber(fieldString(item.to)),
    our_number: normaliseNumber(fieldString(fieldAt(item, 'message.from'))) ?? ours,
    status,
    provider_status: type,
    error_code: errorCode(item.errorCode),
  }
}

export const bandwidth: ProviderProfile = {
  name: 'bandwidth',
  recognises: ({ fields }) => isEvent(fields[0] as Record<string, unknown> | undefined),
  classify: (fields) => {
    const first = items(fields)[0]
    return { kind: first === undefined ? 'unknown' : readItem(first).kind }
  },
  messageId: (fields) => fieldString(fieldAt(fields, '0.message.id')),
  normalise: ({ fields }) => items(fields).map(readItem),
  dedupeKey: (event) => event.message_id === null
    ? null
    : `${event.message_id}|${event.provider_status ?? event.kind}|${event.number ?? ''}`,
  answer: { status: 200, body: '' },
}
