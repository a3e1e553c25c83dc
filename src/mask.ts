/**
 * Masking of personal data and secrets. Logs never carry a phone number in clear; debug logs may
 * name one masked, enough to tell two apart. Every line the logger writes goes through
 * maskJsonStrings (src/logger.ts), as does the attempts file, and every dead letter's error
 * through maskFreeText: they hold text nobody here wrote, a handler's error message, an http
 * target's answer, an exec handler's stderr.
 */

/** `+33600112233` -> `+336*****233`: the first four and last three characters kept. */
export function maskNumber (value: string): string {
  if (value.length <= 7) return '*'.repeat(value.length)
  return value.slice(0, 4) + '*'.repeat(value.length - 7) + value.slice(-3)
}

/** A field's value that is (or holds) a number: a number in any spelling masked as one (`+33 6 00…` like `+336…`). */
function maskNumberValue (value: string): string {
  const compact = value.replace(/[\s.()/-]/g, '')
  return maskNumber(/^\+?\d+$/.test(compact) ? compact : value)
}

/** Message text is never shown, only its length. */
export function maskText (value: string): string {
  return `[${value.length} chars]`
}

/**
 * A phone number in free text, in any spelling: 8 to 17 digits, an optional `+`, single
 * separators (space, `.`, `-`, `/`, parentheses) between digits, as in `+33 6 00 11 22 33`,
 * `+33-600-112-233`, `0033600112233`, `06.00.11.22.33`, `(415) 867-5309`. Not a part of a longer
 * digit run, nor of a word or a dotted/dashed token (`seg-000000000042`, a UUID, a version);
 * never a date (`2026-11-27 12:00:00`) or an IPv4 address.
 */
const PHONE_IN_TEXT = /(?<![\d+]|\w[.-])(?!\d{4}-\d\d-\d\d)(?!\d{1,3}(?:\.\d{1,3}){3}(?![.\d]))\+?\(?\d(?:[ .()/-]{0,2}\d){7,16}(?![\w:]|[.-]\w)/g

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

/**
 * Whether the match at `start` is digits inside a UUID (a record id such as
 * `…-72d382598181`): PHONE_IN_TEXT may start right after a letter (`%2B336…`), so a UUID's last
 * group can hold what looks like a number. Masking it would change the id.
 */
function insideUuid (text: string, start: number, length: number): boolean {
  const from = Math.max(0, start - 35)
  for (const m of text.slice(from, start + length + 35).matchAll(UUID_RE)) {
    const at = from + m.index
    if (at <= start && at + 36 >= start + length) return true
  }
  return false
}

/** Every phone number in `text` masked as maskNumber does (`+33 6 00 11 22 33` -> `+336*****233`). */
export function maskPhoneNumbers (text: string): string {
  return text.replace(PHONE_IN_TEXT, (m: string, offset: number) => insideUuid(text, offset, m.length) ? m : maskNumber(m.replace(/[^\d+]/g, '')))
}

// `scheme://user:password@`, or `scheme://secret@` (a token as the user name).
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"]*)@/gi

/** `https://user:pw@host` -> `https://user:***@host`; a user name alone is a secret too: `https://***@host`. */
export function maskUrlCredentials (text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':')
    return colon === -1 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`
  })
}

/** Phone numbers and URL credentials masked. */
export function maskFreeText (text: string): string {
  return maskUrlCredentials(maskPhoneNumbers(text))
}

/** Whether `offset` in a JSON text is inside a string literal. */
function insideJsonString (json: string, offset: number): boolean {
  let inside = false
  for (let i = 0; i < offset; i++) {
    const c = json.charCodeAt(i)
    if (c === 0x22) inside = !inside
    else if (c === 0x5c && inside) i++
  }
  return inside
}

/**
 * A JSON text (a log line, a state file) with every phone number and URL credential inside its
 * strings masked: messages, error messages and stacks, targets, paths alike. JSON numbers
 * (offsets, sizes) are not strings and stay as they are, so the text stays valid JSON. One regex
 * over the line; only a match pays for the check that it is inside a string.
 */
export function maskJsonStrings (line: string): string {
  const masked = line.replace(PHONE_IN_TEXT, (m: string, offset: number) =>
    insideJsonString(line, offset) && !insideUuid(line, offset, m.length) ? maskNumber(m.replace(/[^\d+]/g, '')) : m)
  // `://` is never JSON syntax: only in a string.
  return masked.includes('://') ? maskUrlCredentials(masked) : masked
}

const NUMBER_KEYS = new Set(['number', 'to', 'from', 'msisdn', 'recipient', 'sender', 'caller', 'called', 'phone', 'sim_card_number'])
const TEXT_KEYS = new Set(['text', 'body', 'message', 'content', 'keyword'])
/** Fields whose short values are codes, shown as they are: they tell what happened. */
const STATUS_KEYS = new Set(['status', 'messagestatus', 'smsstatus', 'status_code', 'error_code', 'errorcode', 'type', 'event', 'kind', 'apiversion'])
const DATE_RE = /^\d{4}-\d\d-\d\d([ T]\d\d:\d\d)?/
/** A code or an identifier (`DELIVERED`, `SM0123abcd`): a single token with a digit or all capitals. */
const CODE_RE = /^(?=[A-Za-z0-9_.:-]*\d)[A-Za-z0-9_.:-]{1,40}$|^[A-Z][A-Z0-9_]{0,39}$/

/**
 * The callback fields a debug log may show: numbers masked, text reduced to its length. Under
 * other names a value is shown only when it is a date, a status, or a code or identifier;
 * anything else (free text under a name nobody foresaw) is reduced to its length too.
 */
export function maskFields (fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of Object.keys(fields).slice(0, 50)) {
    const value = fields[key]
    const name = key.toLowerCase()
    const safeKey = key.slice(0, 40)
    if (typeof value !== 'string') {
      out[safeKey] = Array.isArray(value) ? `[${value.length} values]` : typeof value
    } else if (NUMBER_KEYS.has(name)) {
      out[safeKey] = maskNumberValue(value)
    } else if (TEXT_KEYS.has(name)) {
      out[safeKey] = maskText(value)
    } else if (DATE_RE.test(value)) {
      out[safeKey] = value.slice(0, 32)
    } else if (/\d{6}/.test(value.replace(/[\s.()/-]/g, ''))) {
      // Long digit runs under other names may be numbers too.
      out[safeKey] = maskNumberValue(value)
    } else if ((STATUS_KEYS.has(name) && value.length <= 40) || CODE_RE.test(value)) {
      out[safeKey] = value
    } else {
      out[safeKey] = maskText(value)
    }
  }
  return out
}

const PATH_SEGMENT_RE = /^[A-Za-z][A-Za-z_-]{0,31}$/

/**
 * A request path for a debug log: words (`/twilio/delivery`) kept, any other segment (an id, a
 * number, text a sender put in the URL) reduced to its length.
 */
export function maskPath (path: string): string {
  return path.split('/').map((s) => s === '' || PATH_SEGMENT_RE.test(s) ? s : maskText(s)).join('/')
}
