/** Reading one field of a callback, whatever shape the provider gave it. */

/** A field as one string: a repeated form field gives its first value; numbers become strings. */
export function fieldString (value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (Array.isArray(value)) return fieldString(value[0])
  return null
}
