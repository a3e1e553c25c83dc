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
