/**
 * Masking of personal data for debug logs. Logs at info and above never carry phone numbers or
 * message text at all; debug logs may name a number only masked, enough to tell two apart.
 */

/** `+33600112233` -> `+336*****233`: the first four and last three characters kept. */
export function maskNumber (value: string): string {
  if (value.length <= 7) return '*'.repeat(value.length)
  return value.slice(0, 4) + '*'.repeat(value.length - 7) + value.slice(-3)
}

/** Message text is never shown, only its length. */
export function maskText (value: string): string {
  return `[${value.length} chars]`
}

const NUMBER_KEYS = new Set(['number', 'to', 'from', 'msisdn', 'recipient', 'sender', 'caller', 'called', 'phone', 'sim_card_number'])
const TEXT_KEYS = new Set(['text', 'body', 'message', 'content', 'keyword'])

/**
 * The callback fields a debug log may show: numbers masked, text reduced to its length, other
 * values only when they are short scalars (ids, statuses, dates), nested values left out.
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
      out[safeKey] = maskNumber(value)
    } else if (TEXT_KEYS.has(name)) {
      out[safeKey] = maskText(value)
    } else if (/\d{6}/.test(value.replace(/[\s.-]/g, ''))) {
      // Long digit runs under unknown names may be numbers too.
      out[safeKey] = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d/.test(value) ? value.slice(0, 32) : maskNumber(value)
    } else {
      out[safeKey] = value.length > 40 ? maskText(value) : value
    }
  }
  return out
}

/** `postgres://user:secret@host/db` -> `postgres://user:****@host/db`, for every URL in the text. */
export function maskUrlPassword (text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi, '$1:****@')
}
