/** Which records `cat` prints (--kind, --provider, --since, --until, --grep, --message-id), and its --pretty line. */
import type { SpoolRecord } from '../record.js'
import { type CallbackKind } from '../providers/kinds.js'
import { profileFor, readCallback, recogniseProvider } from '../providers/index.js'
import { fieldString } from '../providers/fields.js'
import { e164Digits } from '../number.js'
import { ZonedTimeReader } from '../providers/zoned-time.js'

/** Neither the filter nor the line uses the event time: any zone will do. */
const LINE_TIME = new ZonedTimeReader('UTC')

export interface RecordFilter {
  kinds?: CallbackKind[]
  /** received_at >= since (ms since the epoch). */
  sinceMs?: number
  /** received_at < until. */
  untilMs?: number
  /** Tested against each field as `name=value`. */
  grep?: RegExp
  messageId?: string
  /** E.164 digits (see e164Digits): a record matches when one of its number fields spells them. */
  numberDigits?: string
  /** The country calling code for the records' national forms (`0600112233`). */
  countryCode?: string
  /** Profile names (`none`: records no profile recognises). */
  providers?: string[]
}

/** The record's provider as the processor names it: its profile's name, `none` when none recognises it. */
export function providerName (record: SpoolRecord): string {
  return recogniseProvider(record)?.name ?? 'none'
}

/** The fields that carry a phone number, in the providers' spellings (compared case-insensitively). */
const NUMBER_FIELDS = new Set(['number', 'from', 'to', 'msisdn', 'sender', 'recipient', 'phone', 'phone_number'])

function mentionsNumber (fields: Record<string, unknown>, digits: string, countryCode: string | undefined): boolean {
  for (const [name, value] of Object.entries(fields)) {
    if (!NUMBER_FIELDS.has(name.toLowerCase())) continue
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && e164Digits(v, countryCode) === digits) return true
    }
  }
  return false
}

/** `name=value` for each field; a repeated field gives one string per value. */
function fieldTexts (fields: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const [name, value] of Object.entries(fields)) {
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) out.push(`${name}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  }
  return out
}

export function matchesFilter (record: SpoolRecord, filter: RecordFilter): boolean {
  if (filter.sinceMs !== undefined || filter.untilMs !== undefined) {
    const t = Date.parse(record.received_at)
    if (filter.sinceMs !== undefined && t < filter.sinceMs) return false
    if (filter.untilMs !== undefined && t >= filter.untilMs) return false
  }
  if (filter.providers !== undefined && !filter.providers.includes(providerName(record))) return false
  if (filter.messageId !== undefined && profileFor(record).messageId(record.fields) !== filter.messageId) return false
  if (filter.numberDigits !== undefined && !mentionsNumber(record.fields, filter.numberDigits, filter.countryCode)) return false
  if (filter.kinds !== undefined && !filter.kinds.includes(readCallback(record, { time: LINE_TIME }).events[0]?.kind ?? 'unknown')) return false
  if (filter.grep !== undefined) {
    const re = filter.grep
    if (!fieldTexts(record.fields).some((text) => re.test(text))) return false
  }
  return true
}

const COLOURS: Record<CallbackKind, string> = { delivery: '\x1b[32m', reply: '\x1b[36m', optout: '\x1b[31m', optin: '\x1b[35m', unknown: '\x1b[33m' }
const DIM = '\x1b[2m'
const RESET = '\x1b[0m'

/** The record's phone number (E.164), as its provider's profile reads it; null when it has none. */
export function recordNumber (record: SpoolRecord): string | null {
  return readCallback(record, { time: LINE_TIME }).events[0]?.number ?? null
}

/** One line: time, kind, number, and the status (delivery) or the text (reply, opt-out). */
export function prettyLine (record: SpoolRecord, colour: boolean): string {
  const profile = profileFor(record)
  const event = readCallback(record, { time: LINE_TIME }).events[0]
  const kind = event?.kind ?? 'unknown'
  const number = event?.number ?? '-'
  // A receipt shows the provider's own word; an unknown record its `text` field, if any: it may say what the callback is.
  const detail = kind === 'delivery' ? event?.provider_status : (event?.text ?? fieldString(record.fields.text))
  // A text may hold a newline or a control character: one record, one line.
  const shown = JSON.stringify(detail ?? '').slice(1, -1)
  const messageId = profile.messageId(record.fields) ?? '-'
  if (!colour) return `${record.received_at}  ${kind.padEnd(8)}  ${number.padEnd(16)}  ${shown}  ${messageId}\n`
  return `${DIM}${record.received_at}${RESET}  ${COLOURS[kind]}${kind.padEnd(8)}${RESET}  ${number.padEnd(16)}  ${shown}  ${DIM}${messageId}${RESET}\n`
}

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour (isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}
