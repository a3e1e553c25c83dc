/**
 * The normalised record that handlers receive: the kind, the id (the idempotency key), the
 * provider's fields made uniform, and every field as received.
 */
import { normaliseNumber } from '../number.js'
import type { SpoolRecord } from '../record.js'
import { classifyCallback, type CallbackKind } from './classify.js'
import type { ZonedTimeReader } from './provider-time.js'

export interface NormalisedCallback {
  kind: CallbackKind
  id: string
  received_at: string
  message_id: string | null
  /** E.164 when the provider sent it so; bare digits are kept as they are. */
  number: string | null
  /** Delivery receipts only. */
  status?: string | null
  /** Replies and opt-outs only. */
  text?: string | null
  /** The provider's date string as sent, from the field that decided the kind. */
  event_date: string | null
  /** The same instant, ISO 8601 UTC, read in the provider's time zone. */
  event_time: string | null
  fields: Record<string, unknown>
}

/** A field as one string: a repeated form field gives its first value; numbers become strings. */
export function fieldString (value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (Array.isArray(value)) return fieldString(value[0])
  return null
}

export { normaliseNumber }

export function normaliseCallback (record: SpoolRecord, time: ZonedTimeReader): NormalisedCallback {
  const fields = record.fields
  const { kind, dateField } = classifyCallback(fields)
  const eventDate = dateField === undefined ? null : fieldString(fields[dateField])
  const out: NormalisedCallback = {
    kind,
    id: record.id,
    received_at: record.received_at,
    message_id: fieldString(fields.message_id),
    number: normaliseNumber(fieldString(fields.number)),
    event_date: eventDate,
    event_time: eventDate === null ? null : (time.toIsoUtc(eventDate) ?? null),
    fields,
  }
  if (kind === 'delivery') out.status = fieldString(fields.status)
  if (kind === 'reply' || kind === 'optout') out.text = fieldString(fields.text)
  return out
}
