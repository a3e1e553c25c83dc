/**
 * Phone numbers as the provider sends them, normalised to E.164 where that needs no guess. The
 * processor hands this form to handlers and `purge --number` erases by it: one rule for both.
 */

/**
 * `+` kept; a `00` prefix becomes `+`; a leading space (a `+` the sender did not percent-encode
 * in a form, decoded as a space) becomes `+`; bare digits are kept (no guessing of a country).
 */
export function normaliseNumber (value: string | null): string | null {
  if (value === null) return null
  if (value.startsWith(' ')) {
    const rest = value.trimStart()
    if (/^\d/.test(rest)) return '+' + rest.trimEnd()
  }
  const text = value.trim()
  if (text.startsWith('00') && /^\d/.test(text.slice(2))) return '+' + text.slice(2)
  return text
}

/**
 * The E.164 digits of a number in any spelling (without the `+`), to compare two spellings:
 * `+33 6 00 11 22 33`, `0033600112233`, `33600112233` and, given the country calling code,
 * the national `06 00 11 22 33` (its trunk `0` dropped) all give `33600112233`. A national form
 * without a country is kept as its digits (`0600112233`): equal only to the same national form.
 * undefined when the text holds no digits.
 */
export function e164Digits (value: string, countryCode?: string): string | undefined {
  const normalised = normaliseNumber(value)
  if (normalised === null) return undefined
  const digits = normalised.replace(/\(0\)/, '').replace(/\D/g, '')
  if (digits === '') return undefined
  if (normalised.startsWith('+')) return digits
  if (digits.startsWith('0') && countryCode !== undefined) return countryCode + digits.slice(1)
  return digits
}

/** `33`, `+33` or `0033` -> `33`; undefined for anything that is not a calling code (1 to 3 digits). */
export function parseCountryCode (value: string): string | undefined {
  const m = /^(?:\+|00)?([1-9]\d{0,2})$/.exec(value.trim())
  return m === null ? undefined : m[1]
}
