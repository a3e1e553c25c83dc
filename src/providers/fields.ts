/** Reading one field of a callback, whatever shape the provider gave it. */

/** A field as one string: a repeated form field gives its first value; numbers become strings. */
export function fieldString (value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (Array.isArray(value)) return fieldString(value[0])
  return null
}

/** A nested field by path (`data.payload.id`, `to.0.phone_number`); undefined when absent. */
export function fieldAt (fields: unknown, path: string): unknown {
  let value: unknown = fields
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** True when every named field is present (not undefined, not null). */
export function hasFields (fields: Record<string, unknown>, ...names: string[]): boolean {
  return names.every((name) => fields[name] !== undefined && fields[name] !== null)
}

/** An error code as a string; absent, empty or a provider's "no error" value gives null. */
export function errorCode (value: unknown, ...noError: string[]): string | null {
  const text = fieldString(value)
  if (text === null || text.trim() === '' || noError.includes(text.trim())) return null
  return text.trim()
}
