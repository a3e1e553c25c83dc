/**
 * The spool record, version 1: one JSON object per line. This is the one contract the
 * receiver writes and the processor and the operator tools read; README.md documents it.
 */
import { crypto } from './lazy-builtin.js'

export const RECORD_VERSION = 1

/** A query-string or form value: a string, or an array of strings when the name repeats. */
export type ParamValue = string | string[]
export type Params = Record<string, ParamValue>

export interface SpoolRecord {
  v: 1
  /** UUIDv7: unique and sortable by time. */
  id: string
  /** ISO 8601 UTC with milliseconds. */
  received_at: string
  method: string
  /** Path without the query string. */
  path: string
  query: Params
  remote_addr: string
  /** Allowlisted request headers, lower-case names. */
  headers: Record<string, string>
  /** Raw body when it is valid UTF-8. */
  body?: string
  /** Raw body, base64, when it is not valid UTF-8. */
  body_base64?: string
  /** Parameters from the query string and the body, the body winning on a clash. */
  fields: Record<string, unknown>
}

let lastMs = -1
const lastRand = Buffer.alloc(10)
// Random bytes are drawn from the CSPRNG 4 KiB at a time: one call per 409 ids, not one per id.
const pool = Buffer.alloc(4096)
let poolOffset = pool.length

function fillRandom (target: Buffer): void {
  if (poolOffset + target.length > pool.length) {
    crypto().randomFillSync(pool)
    poolOffset = 0
  }
  pool.copy(target, 0, poolOffset, poolOffset + target.length)
  poolOffset += target.length
}

/**
 * A UUIDv7 (RFC 9562) whose ids are strictly increasing within this process: within one
 * millisecond the 74 random bits are incremented (the RFC's "monotonic random" method 2).
 */
export function newRecordId (now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    fillRandom(lastRand)
  } else {
    // Same (or earlier, if the clock stepped back) millisecond: keep lastMs, bump the random part.
    for (let i = 9; i >= 0; i--) {
      lastRand[i] = (lastRand[i]! + 1) & 0xff
      if (lastRand[i] !== 0) break
    }
  }
  const b = Buffer.alloc(16)
  b.writeUIntBE(lastMs, 0, 6)
  lastRand.copy(b, 6)
  b[6] = 0x70 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** One spool line, `\n` included. JSON.stringify escapes CR, LF and U+2028/9 never break a line. */
export function encodeRecord (record: SpoolRecord): string {
  return JSON.stringify(record) + '\n'
}

export type DecodeResult = { ok: true, record: SpoolRecord } | { ok: false, reason: string }

/** 1 for the ASCII codes of 0-9 and a-f. */
const LOWER_HEX = new Uint8Array(0x80).map((_, c) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) ? 1 : 0)

/**
 * `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, checked by hand: the processor
 * checks every record's id, and this loop costs a fraction of the regular expression.
 */
export function isLowerHexUuid (id: string): boolean {
  if (id.length !== 36 || id.charCodeAt(8) !== 0x2d || id.charCodeAt(13) !== 0x2d || id.charCodeAt(18) !== 0x2d ||
      id.charCodeAt(23) !== 0x2d) return false
  for (let i = 0; i < 36; i++) {
    // The dashes were checked above; a lookup table answers for every other position.
    if (i === 8 || i === 13 || i === 18 || i === 23) continue
    const c = id.charCodeAt(i)
    if (c >= 0x80 || LOWER_HEX[c] === 0) return false
  }
  return true
}

/** Two decimal digits at `i`, or -1. */
function twoDigits (text: string, i: number): number {
  const a = text.charCodeAt(i) - 0x30
  const b = text.charCodeAt(i + 1) - 0x30
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ`'s length and separators (Date#toISOString's form, the receiver's); the digits unchecked. */
function hasIsoShape (text: string): boolean {
  return text.length === 24 && text.charCodeAt(4) === 0x2d && text.charCodeAt(7) === 0x2d && text.charCodeAt(10) === 0x54 &&
    text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a && text.charCodeAt(19) === 0x2e && text.charCodeAt(23) === 0x5a
}

/**
 * Whether `Date.parse(text)` gives a time. Strings in the exact form the receiver writes
 * (`Date.prototype.toISOString()`, `YYYY-MM-DDTHH:mm:ss.sssZ`) with every field in range are
 * answered without it (Date.parse accepts all of them, a 31st of any month included); anything
 * else is left to Date.parse itself. Saves most of the cost of checking `received_at`.
 */
export function isParsableDate (text: string): boolean {
  if (hasIsoShape(text) && twoDigits(text, 0) >= 0 && twoDigits(text, 2) >= 0 && twoDigits(text, 20) >= 0) {
    const month = twoDigits(text, 5)
    const day = twoDigits(text, 8)
    const hour = twoDigits(text, 11)
    const minute = twoDigits(text, 14)
    const second = twoDigits(text, 17)
    const ms = text.charCodeAt(22) - 0x30
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 &&
        second >= 0 && second <= 59 && ms >= 0 && ms <= 9) return true
  }
  return !Number.isNaN(Date.parse(text))
}

/** The minute of the last time read by parseTimeMs (`YYYY-MM-DDTHH:mm`), and its start in ms. */
let minutePrefix: string | undefined
let minuteStartMs = 0
/** The last time read by parseTimeMs. */
let lastTimeText: string | undefined
let lastTimeMs = NaN

/**
 * Whether `text` has the form `YYYY-MM-DDTHH:mm:ss.sssZ` (the receiver's) with an hour below 24 and
 * a second below 60: then Date.parse gives the start of its minute plus `ss.sss`.
 */
function secondsOfMinute (text: string): number {
  if (!hasIsoShape(text)) return -1
  const hour = twoDigits(text, 11)
  const second = twoDigits(text, 17)
  const a = text.charCodeAt(20) - 0x30
  const b = text.charCodeAt(21) - 0x30
  const c = text.charCodeAt(22) - 0x30
  if (hour < 0 || hour > 23 || second < 0 || second > 59 || a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1
  return second * 1000 + a * 100 + b * 10 + c
}

/**
 * `Date.parse(text)`, the receiver's form read from the minute it falls in: Date.parse runs once
 * per minute of `received_at`, not once per record.
 */
export function parseTimeMs (text: string): number {
  // A record's time is read when its key is looked up, then when it is remembered.
  if (text === lastTimeText) return lastTimeMs
  lastTimeText = text
  lastTimeMs = parseTime(text)
  return lastTimeMs
}

function parseTime (text: string): number {
  const within = secondsOfMinute(text)
  if (within === -1) return Date.parse(text)
  if (minutePrefix !== undefined && text.startsWith(minutePrefix)) return minuteStartMs + within
  const ms = Date.parse(text)
  if (!Number.isNaN(ms)) {
    minutePrefix = text.slice(0, 16)
    minuteStartMs = ms - within
  }
  return ms
}

/** Parses and checks one line (without its `\n`). Never throws. */
export function decodeRecord (line: string): DecodeResult {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    // V8 quotes a piece of the line ("Hello secr"...): message text, logged at warn. Left out.
    return { ok: false, reason: `invalid JSON: ${(err as Error).message.replace(/(\.\.\.)?".*"(\.\.\.)?/s, '(text left out)')}` }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' }
  }
  const r = value as Record<string, unknown>
  if (r.v !== RECORD_VERSION) return { ok: false, reason: `unsupported record version ${JSON.stringify(r.v)}` }
  if (typeof r.id !== 'string' || !isLowerHexUuid(r.id)) return { ok: false, reason: 'missing or invalid id' }
  if (typeof r.received_at !== 'string' || !isParsableDate(r.received_at)) {
    return { ok: false, reason: 'missing or invalid received_at' }
  }
  if (typeof r.method !== 'string' || typeof r.path !== 'string') return { ok: false, reason: 'missing method or path' }
  if (r.fields === null || typeof r.fields !== 'object' || Array.isArray(r.fields)) {
    return { ok: false, reason: 'missing or invalid fields' }
  }
  if (r.query === null || typeof r.query !== 'object') return { ok: false, reason: 'missing or invalid query' }
  if (typeof r.body !== 'string' && typeof r.body_base64 !== 'string') return { ok: false, reason: 'missing body' }
  return { ok: true, record: r as unknown as SpoolRecord }
}

/** The raw body bytes of a record. */
export function recordBodyBytes (record: SpoolRecord): Buffer {
  if (record.body_base64 !== undefined) return Buffer.from(record.body_base64, 'base64')
  return Buffer.from(record.body ?? '', 'utf8')
}
