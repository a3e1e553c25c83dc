/**
 * Whether a text mentions one phone number, in any spelling: what `purge --number` erases by.
 * A spelling is a run of digits with optional separators (spaces, `.`, `-`, `/`, parentheses, a
 * `+` as a form encodes a space), a `+` or `00` prefix, whose digits are the number's E.164
 * digits: `+33600112233`, `0033600112233`, `33600112233`, `+33 6 00 11 22 33`, `+33-600-112-233`,
 * `+33 (0)6 00 11 22 33`. The run must start and end on a group of digits, so `1233600112233`
 * does not match. Percent-encoded text (a form body, a path) and base64 bodies are decoded first.
 */

// Separators include a JSON-escaped line break or tab (`\n` in a spool line's text).
const DIGIT_RUN = /\d+(?:(?:[\s.()/+-]|\\[nrt]){1,3}\d+)*/g
// A base64 body in a record, or in a record quoted as a JSON string (a dead letter of an invalid
// line), possibly cut short (a torn line).
const BASE64_BODY = /\\?"body_base64\\?"\s*:\s*\\?"([A-Za-z0-9+/=]+)/g
const PERCENT_BYTE = /%([0-9A-Fa-f]{2})/g

/** Whether the digit groups of one run, taken from a group boundary, spell `digits` (or `00` + `digits`). */
function runSpells (run: string, digits: string): boolean {
  // The trunk prefix written `(0)` after a country code is not dialled internationally.
  const groups = run.replace(/\(0\)/g, ' ').split(/\D+/)
  for (let i = 0; i < groups.length; i++) {
    let acc = ''
    for (let j = i; j < groups.length && acc.length < digits.length + 2; j++) {
      acc += groups[j]
      if (acc === digits || acc === `00${digits}`) return true
    }
  }
  return false
}

function plainTextMentions (text: string, digits: string): boolean {
  for (const m of text.matchAll(DIGIT_RUN)) {
    if (m[0].length >= digits.length && runSpells(m[0], digits)) return true
  }
  return false
}

/**
 * Whether `text` (a spool line, a dead letter, a fragment: anything) spells the number whose
 * E.164 digits (without `+`) are `digits`, as is, percent-decoded, or in a base64 body.
 */
export function textMentionsNumber (text: string, digits: string): boolean {
  if (plainTextMentions(text, digits)) return true
  if (text.includes('%') && plainTextMentions(text.replace(PERCENT_BYTE, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), digits)) return true
  if (text.includes('body_base64')) {
    for (const m of text.matchAll(BASE64_BODY)) {
      if (textMentionsNumber(Buffer.from(m[1]!, 'base64').toString('latin1'), digits)) return true
    }
  }
  return false
}
