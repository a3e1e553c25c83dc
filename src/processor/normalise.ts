/**
 * The normalised record that handlers receive: the kind, the id (the idempotency key), the
 * provider's fields made uniform by its profile (src/providers/), and every field as received.
 */
import { crypto } from '../lazy-builtin.js'
import { normaliseNumber } from '../number.js'
import { fieldString } from '../providers/fields.js'
import { readCallback, type ReadOptions } from '../providers/index.js'
import type { ProviderEvent, ProviderProfile } from '../providers/profile.js'
import type { ZonedTimeReader } from '../providers/zoned-time.js'
import type { SpoolRecord } from '../record.js'
import { rememberBatch } from './batch-events.js'

/** One event made uniform by its provider's profile, with what the spool record adds. */
export interface NormalisedCallback extends ProviderEvent {
  /** The profile that read it (`octopush`, `twilio`, ...); null when no profile recognised the request. */
  provider: string | null
  id: string
  received_at: string
  fields: Record<string, unknown>
  /** Events of a batched request only: the spool record's id (each event has its own `id`). */
  record_id?: string
  /**
   * The provider's natural key of the event (`twilio:SM...|delivered`), the same for a re-send;
   * null when the provider gives none. Not enumerable: handlers' JSON output does not carry it
   * (the SQL targets store it in a column, the de-duplication window reads it).
   */
  readonly dedupe_key?: string | null
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
    our_number: event.our_number,
    event_date: event.event_date,
    event_time: event.event_time,
    fields: record.fields,
  }
  if (event.status !== undefined) out.status = event.status
  if (event.provider_status !== undefined) out.provider_status = event.provider_status
  if (event.error_code !== undefined) out.error_code = event.error_code
  if (event.text !== undefined) out.text = event.text
  return withDedupeKey(out, provider === undefined ? null : dedupeKeyOf(provider, event, record.fields))
}

/** Keys longer than this are replaced by their SHA-256 (they go into an indexed column). */
const MAX_KEY_LENGTH = 200

/** `provider:key`, so that two providers' keys never meet. */
export function dedupeKeyOf (provider: ProviderProfile, event: ProviderEvent, fields: Record<string, unknown>): string | null {
  const key = provider.dedupeKey(event, fields)
  if (key === null) return null
  const full = `${provider.name}:${key}`
  return full.length <= MAX_KEY_LENGTH ? full : `${provider.name}:sha256:${crypto().createHash('sha256').update(key).digest('hex')}`
}

function withDedupeKey (out: NormalisedCallback, key: string | null): NormalisedCallback {
  Object.defineProperty(out, 'dedupe_key', { value: key, enumerable: false, writable: true, configurable: true })
  return out
}

const NO_EVENT: ProviderEvent = Object.freeze({ kind: 'unknown', message_id: null, number: null, our_number: null, event_date: null, event_time: null })

/**
 * The request as one record: its event. A request that carries several (a batch) is given whole,
 * as `unknown`, and batchEventsOf gives its events, each its own record (as normaliseEvents).
 */
export function normaliseCallback (record: SpoolRecord, time: ZonedTimeReader, options: ReadOptions = {}): NormalisedCallback {
  const { provider, events } = readCallback(record, { time }, options)
  if (events.length === 1) return toCallback(record, provider, events[0]!)
  // An empty batch still leaves its record to account for.
  const whole = toCallback(record, provider, NO_EVENT)
  if (events.length > 1) rememberBatch(whole, batchRecords(record, provider, events))
  return whole
}

/**
 * Every event of a request as its own record. One event keeps the spool record's id (as
 * normaliseCallback); in a batch, each event's id is a UUID derived from the record's id and the
 * event's index, so a replay gives the same ids, and `record_id` names the spool record.
 */
export function normaliseEvents (record: SpoolRecord, time: ZonedTimeReader, options: ReadOptions = {}): NormalisedCallback[] {
  const { provider, events } = readCallback(record, { time }, options)
  if (events.length <= 1) return [toCallback(record, provider, events[0] ?? NO_EVENT)]
  return batchRecords(record, provider, events)
}

function batchRecords (record: SpoolRecord, provider: ProviderProfile | undefined, events: ProviderEvent[]): NormalisedCallback[] {
  return events.map((event, index) => {
    const one = toCallback(record, provider, event)
    const out = withDedupeKey({ ...one, record_id: record.id }, one.dedupe_key ?? null)
    out.id = eventId(record.id, index)
    return out
  })
}

/** A UUIDv8 (RFC 9562, custom): SHA-256 of the record id and the index, version and variant bits set. */
export function eventId (recordId: string, index: number): string {
  const b = crypto().createHash('sha256').update(`${recordId}/${index}`).digest().subarray(0, 16)
  b[6] = 0x80 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
