/**
 * The normalised record that handlers receive: the kind, the id (the idempotency key), the
 * provider's fields made uniform by its profile (src/providers/), and every field as received.
 */
import { normaliseNumber } from '../number.js'
import { fieldString } from '../providers/fields.js'
import { FALLBACK_PROFILE, recogniseProvider } from '../providers/index.js'
import type { ProviderEvent, ProviderProfile } from '../providers/profile.js'
import type { ZonedTimeReader } from '../providers/zoned-time.js'
import type { SpoolRecord } from '../record.js'
import type { CallbackKind } from './classify.js'

export interface NormalisedCallback {
  kind: CallbackKind
  /** The profile that read it (`octopush`, `twilio`, ...); null when no profile recognised the request. */
  provider: string | null
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

export { fieldString, normaliseNumber }

/** An event of the record as handlers see it; the key order is the output's (golden-tested). */
function toCallback (record: SpoolRecord, provider: ProviderProfile | undefined, event: ProviderEvent): NormalisedCallback {
  const out: NormalisedCallback = {
    kind: event.kind,
    provider: provider?.name ?? null,
    id: record.id,
    received_at: record.received_at,
    message_id: event.message_id,
    number: event.number,
    event_date: event.event_date,
    event_time: event.event_time,
    fields: record.fields,
  }
  if (event.status !== undefined) out.status = event.status
  if (event.text !== undefined) out.text = event.text
  return out
}

export function normaliseCallback (record: SpoolRecord, time: ZonedTimeReader): NormalisedCallback {
  const provider = recogniseProvider(record)
  const [event] = (provider ?? FALLBACK_PROFILE).normalise(record, { time })
  // Every profile gives at least one event; an empty batch still leaves its record to account for.
  return toCallback(record, provider, event ?? { kind: 'unknown', message_id: null, number: null, event_date: null, event_time: null })
}
