/**
 * Parameters from query strings and bodies. The content type is not trusted (providers send it
 * missing or wrong): a body whose first non-blank byte is `{` is a JSON object, one that is a
 * whole JSON array (Bandwidth's batches) has its items as fields `0`, `1`, ..., anything else is a
 * form. This is the one place that decides what a body is: the signature verifiers and the
 * record both take parseBody's answer, so a signature never covers a body read one way while the
 * record reads it another. Parsing never throws, and a key like `__proto__` is a plain key that
 * can never reach Object.prototype: every object filled here key by key has a null prototype, and a JSON object
 * is kept as JSON.parse made it (its keys are own data properties, `__proto__` included) and never
 * assigned to. Not copying it keeps the receiver's encoding cheap.
 */
import type { Params } from '../record.js'

/** `a=1&b=2&a=3` -> `{ a: ['1', '3'], b: '2' }`, percent-decoded, `+` as space. */
export function parseParams (text: string): Params {
  const out = Object.create(null) as Params
  if (text === '') return out
  for (const [key, value] of new URLSearchParams(text)) {
    const prev = out[key]
    if (prev === undefined) out[key] = value
    else if (typeof prev === 'string') out[key] = [prev, value]
    else prev.push(value)
  }
  return out
}

function isBlank (byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d
}

/**
 * A request body as read once: what it is, and its fields.
 * `empty`: no bytes, or only blanks (and a byte order mark); `form`: fields are its parameters.
 */
export type ParsedBody = { bytes: Buffer, text: string } & (
  | { kind: 'empty', fields: Params }
  | { kind: 'form', fields: Params }
  | { kind: 'json', fields: Record<string, unknown> }
)

/** Reads a body once; `text` is its UTF-8 decoding (invalid bytes as U+FFFD). */
export function parseBody (bytes: Buffer, text = bytes.toString('utf8')): ParsedBody {
  // Skip a UTF-8 byte order mark, then white space.
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  while (i < bytes.length && isBlank(bytes[i]!)) i++
  if (i === bytes.length) return { bytes, text, kind: 'empty', fields: Object.create(null) as Params }
  if (bytes[i] === 0x7b) return { bytes, text, kind: 'json', fields: parseJsonObject(text) }
  if (bytes[i] === 0x5b) {
    const items = parseJsonArray(text)
    if (items !== undefined) return { bytes, text, kind: 'json', fields: items }
  }
  return { bytes, text, kind: 'form', fields: parseParams(text) }
}

/** The fields of a body, `{}` when it says nothing we can read. */
export function parseBodyFields (body: Buffer, text: string): Record<string, unknown> {
  return parseBody(body, text).fields
}

function parseJsonObject (text: string): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>
  let value: unknown
  try {
    // JSON.parse defines own properties, so "__proto__" stays a plain key here too.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    return out
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out
  return value as Record<string, unknown>
}

/** A JSON array as an object keyed by index (`{"0": ..., "1": ...}`); undefined when the text is no JSON array. */
function parseJsonArray (text: string): Record<string, unknown> | undefined {
  let value: unknown
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    return undefined
  }
  if (!Array.isArray(value)) return undefined
  const out = Object.create(null) as Record<string, unknown>
  for (let i = 0; i < value.length; i++) out[i] = value[i]
  return out
}

/** Query fields first, then body fields over them. */
export function mergeFields (query: Params, body: Record<string, unknown>): Record<string, unknown> {
  // The usual callback has fields in the query or in the body, not both: nothing to merge.
  if (isEmpty(query)) return body
  if (isEmpty(body)) return query
  const out = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(query)) out[key] = query[key]
  for (const key of Object.keys(body)) out[key] = body[key]
  return out
}

function isEmpty (object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return false
  return true
}
