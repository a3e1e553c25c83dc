/**
 * A provider profile: everything callback-spool knows about one SMS provider's callbacks, in one
 * file per provider (src/providers/<name>.ts), listed once in src/providers/index.ts. Both the
 * receiver and the processor read profiles, so they import neither.
 */
import type { SpoolRecord } from '../record.js'
import type { SignatureVerifier, VerifierOptions } from './signatures/verifier.js'
import type { CallbackKind } from './kinds.js'
import type { DeliveryStatus } from './status.js'
import type { ZonedTimeReader } from './zoned-time.js'
import type { SignatureOptionSpec } from './signature-options.js'

export interface Classification {
  kind: CallbackKind
  /** The field that decided the kind and holds the event's date, as spelled in the record; undefined when none. */
  dateField?: string
}

/** What a profile's normalisation may need beyond the record. */
export interface NormaliseContext {
  /**
   * Reads the provider's dates that carry no zone (`--provider-tz`); null when the provider's zone
   * is unknown and none was set (such dates give no `event_time`).
   */
  time: ZonedTimeReader | null
}

/** One event of a callback, made uniform. A request may carry several (batched providers). */
export interface ProviderEvent {
  kind: CallbackKind
  message_id: string | null
  /** The subscriber (a receipt's recipient, a reply's sender), E.164 when the provider sent it so. */
  number: string | null
  /** Our side: the sender ID of a receipt, the number a reply was sent to; null when not given. */
  our_number: string | null
  /** Delivery receipts only: the provider's word in one vocabulary. */
  status?: DeliveryStatus | null
  /** Delivery receipts only: the provider's word as sent. */
  provider_status?: string | null
  /** Delivery receipts only: the provider's error code, null when it gave none. */
  error_code?: string | null
  /** Replies, opt-outs and opt-ins only. */
  text?: string | null
  /** The provider's date string as sent. */
  event_date: string | null
  /** The same instant, ISO 8601 UTC; null when the provider gave no readable date. */
  event_time: string | null
}

/** The answer the provider expects when its callback is stored. */
export interface ProviderAnswer {
  status: number
  /** Absent: no Content-Type, no body. */
  contentType?: string
  body: string
}

export interface ProviderProfile {
  /** The name in the normalised record, the path binding and the options: `octopush`. */
  readonly name: string
  /** True when the record's fields have this provider's shape (used when no path binding names a provider). */
  recognises (record: Pick<SpoolRecord, 'fields'>): boolean
  /** The kind of the callback's (first) event, without the cost of normalising it. */
  classify (fields: Record<string, unknown>): Classification
  /** The provider's message id, for `cat --message-id`. */
  messageId (fields: Record<string, unknown>): string | null
  /** Every event the request carries, in order (most providers: exactly one). */
  normalise (record: SpoolRecord, context: NormaliseContext): ProviderEvent[]
  /**
   * The zone of the provider's dates that carry none, unless `--provider-tz PROVIDER=ZONE` sets
   * another; null: such dates exist but their zone is unknown (read only when set); absent: every
   * date it sends carries its zone.
   */
  readonly timeZone?: string | null
  /** The provider's natural key of an event: the same event re-sent gives the same key; null when it has none. */
  dedupeKey (event: ProviderEvent, fields: Record<string, unknown>): string | null
  /** What the receiver answers once the callback is spooled. */
  readonly answer: ProviderAnswer
  /** The provider's signature scheme, checked by the receiver when its secret is configured. */
  readonly signature?: SignatureScheme
}

/** How a provider signs its requests, and the `receive` options that configure the check. */
export interface SignatureScheme extends SignatureOptionSpec {
  /** The verifier of this provider's requests; throws a TypeError when the secret cannot be one. */
  create (secret: string, options?: VerifierOptions): SignatureVerifier
}
