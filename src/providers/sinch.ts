/**
 * Sinch SMS REST API: JSON with a `type`. A per-recipient
 * report (`recipient_delivery_report_sms`/`_mms`) is one event; a batch report
 * (`delivery_report_sms`/`_mms`) one event per recipient of each status; `mo_text`, `mo_binary`
 * and `mo_media` are incoming messages. Numbers come without `+`; times are ISO 8601 UTC.
 */
import { internationalNumber } from './numbers.js'
import { errorCode, fieldString } from './fields.js'
import type { Classification, ProviderEvent, ProviderProfile } from './profile.js'
import { createSinchVerifier } from './signatures/sinch.js'
import { statusMapper } from './status.js'
import { UTC_TIME } from './zoned-time.js'
import { SIGNATURE_OPTIONS } from './signature-options.js'

const toStatus = statusMapper({
  Queued: 'accepted',
  Dispatched: 'sent',
  Delivered: 'delivered',
  Failed: 'failed',
  Aborted: 'failed',
  Deleted: 'failed',
  Expired: 'expired',
  Rejected: 'rejected',
  Cancelled: 'rejected',
  Unknown: 'unknown',
})

const RECIPIENT_REPORTS = new Set(['recipient_delivery_report_sms', 'recipient_delivery_report_mms'])
const BATCH_REPORTS = new Set(['delivery_report_sms', 'delivery_report_mms'])
const INBOUND = new Set(['mo_text', 'mo_binary', 'mo_media'])

function classifySinch (fields: Record<string, unknown>): Classification {
  const type = fieldString(fields.type) ?? ''
  if (RECIPIENT_REPORTS.has(type) || BATCH_REPORTS.has(type)) return { kind: 'delivery' }
  if (INBOUND.has(type)) return { kind: 'reply' }
  return { kind: 'unknown' }
}

function isTime (text: string | null): string | null {
  return text === null ? null : (UTC_TIME.toIsoUtc(text) ?? null)
}

function delivery (fields: Record<string, unknown>, recipient: unknown, word: unknown, code: unknown, at: string | null): ProviderEvent {
  const provider = fieldString(word)
  return {
    kind: 'delivery',
    message_id: fieldString(fields.batch_id),
    number: internationalNumber(fieldString(recipient)),
    our_number: null,
    event_date: at,
    event_time: isTime(at),
    status: toStatus(provider),
    provider_status: provider,
    // Code 0 is Sinch's "no error".
    error_code: errorCode(code, '0'),
  }
}

export const sinch: ProviderProfile = {
  name: 'sinch',
  recognises: ({ fields }) => {
    const type = fieldString(fields.type) ?? ''
    return RECIPIENT_REPORTS.has(type) || BATCH_REPORTS.has(type) || INBOUND.has(type)
  },
  classify: classifySinch,
  messageId: (fields) => fieldString(fields.batch_id) ?? fieldString(fields.id),
  normalise ({ fields }) {
    const type = fieldString(fields.type) ?? ''
    if (RECIPIENT_REPORTS.has(type)) return [delivery(fields, fields.recipient, fields.status, fields.code, fieldString(fields.at))]
    if (BATCH_REPORTS.has(type)) {
      const events: ProviderEvent[] = []
      for (const entry of Array.isArray(fields.statuses) ? fields.statuses as unknown[] : []) {
        if (entry === null || typeof entry !== 'object') continue
        const { recipients, status, code } = entry as Record<string, unknown>
        // The summary form (no recipients listed) gives no number: one event for the status.
        const list = Array.isArray(recipients) && recipients.length > 0 ? recipients : [null]
        for (const recipient of list) events.push(delivery(fields, recipient, status, code, null))
      }
      return events.length > 0 ? events : [{ kind: 'unknown', message_id: fieldString(fields.batch_id), number: null, our_number: null, event_date: null, event_time: null }]
    }
    const receivedAt = fieldString(fields.received_at)
    return [{
      kind: INBOUND.has(type) ? 'reply' : 'unknown',
      message_id: fieldString(fields.id),
      number: internationalNumber(fieldString(fields.from)),
      our_number: internationalNumber(fieldString(fields.to)),
      event_date: receivedAt,
      event_time: isTime(receivedAt),
      text: type === 'mo_text' ? fieldString(fields.body) : null,
    }]
  },
  dedupeKey: (event, fields) => {
    const id = event.message_id
    if (id === null) return null
    return event.kind === 'delivery' ? `${id}|${event.number ?? ''}|${event.provider_status ?? ''}|${fieldString(fields.type) ?? ''}` : id
  },
  answer: { status: 200, body: '' },
  signature: { ...SIGNATURE_OPTIONS.sinch, create: createSinchVerifier },
}
