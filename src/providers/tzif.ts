/**
 * A zone's UTC offsets from the system's time zone database, read the way glibc reads it: the
 * TZif file (RFC 8536) at `$TZDIR/<Zone>` (TZDIR defaults to /usr/share/zoneinfo), its 64-bit
 * section for the transitions it lists, and its footer's POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`)
 * for the instants after the last one. It spares a one-shot process the ICU set-up that
 * the first Intl.DateTimeFormat costs. Anything not understood gives undefined: the caller then
 * falls back to Intl.
 */
import { readFileSync } from 'node:fs'

/** Offsets from UTC in seconds (east positive), at instants in seconds since the epoch. */
export interface OffsetSource {
  offsetAt (epochSeconds: number): number
}

// ---------------------------------------------------------------------------------------------
// POSIX TZ strings (POSIX.1-2017 §8.3, with RFC 8536's extension: rule times from -167 to 167 hours)

type RuleDate =
  | { kind: 'J', day: number } // Jn: 1..365, 29 February never counted
  | { kind: 'n', day: number } // n: 0..365, 29 February counted in leap years
  | { kind: 'M', month: number, week: number, weekday: number } // Mm.w.d: week 5 is the last

interface RulePoint { date: RuleDate, time: number }

/** A footer rule: standard time only, or standard time with a yearly daylight-saving period. */
export interface PosixTz extends OffsetSource {
  readonly stdOffset: number
  readonly dstOffset: number | undefined
  /** The year's two transitions as UTC seconds: into DST (start), back to standard time (end). */
  transitionsIn (year: number): { start: number, end: number } | undefined
}

const NAME_RE = /^(?:<[A-Za-z0-9+-]+>|[A-Za-z]{3,})/
const HMS_RE = /^([+-])?(\d{1,3})(?::(\d{1,2})(?::(\d{1,2}))?)?/

/** Reads `[+-]hh[:mm[:ss]]` at the start of text: [seconds, characters used], or undefined. */
function readHms (text: string, maxHours: number): [number, number] | undefined {
  const m = HMS_RE.exec(text)
  if (m === null) return undefined
  const h = Number(m[2]); const mi = Number(m[3] ?? 0); const s = Number(m[4] ?? 0)
  if (h > maxHours || mi > 59 || s > 59) return undefined
  const seconds = h * 3600 + mi * 60 + s
  return [m[1] === '-' ? -seconds : seconds, m[0].length]
}

/** Reads `,date[/time]` at the start of text. */
function readRulePoint (text: string): [RulePoint, number] | undefined {
  const m = /^,(?:J(\d{1,3})|(\d{1,3})|M(\d{1,2})\.(\d)\.(\d))/.exec(text)
  if (m === null) return undefined
  let date: RuleDate
  if (m[1] !== undefined) {
    date = { kind: 'J', day: Number(m[1]) }
    if (date.day < 1 || date.day > 365) return undefined
  } else if (m[2] !== undefined) {
    date = { kind: 'n', day: Number(m[2]) }
    if (date.day > 365) return undefined
  } else {
    date = { kind: 'M', month: Number(m[3]), week: Number(m[4]), weekday: Number(m[5]) }
    if (date.month < 1 || date.month > 12 || date.week < 1 || date.week > 5 || date.weekday > 6) return undefined
  }
  let used = m[0].length
  let time = 7200 // 02:00:00 by default
  if (text[used] === '/') {
    const hms = readHms(text.slice(used + 1), 167)
    if (hms === undefined) return undefined
    time = hms[0]
    used += 1 + hms[1]
  }
  return [{ date, time }, used]
}

function isLeap (year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
}

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1..12); Date.UTC misreads years 0-99. */
function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** The rule date's day in a year, as days since the epoch. */
function ruleDay (date: RuleDate, year: number): number {
  const jan1 = daysFromCivil(year, 1, 1)
  switch (date.kind) {
    case 'J': return jan1 + date.day - 1 + (isLeap(year) && date.day >= 60 ? 1 : 0)
    case 'n': return jan1 + date.day
    case 'M': {
      const first = daysFromCivil(year, date.month, 1)
      const firstWeekday = ((first + 4) % 7 + 7) % 7 // 1970-01-01 was a Thursday
      let day = (date.weekday - firstWeekday + 7) % 7 + (date.week - 1) * 7
      const length = MONTH_DAYS[date.month - 1]! + (date.month === 2 && isLeap(year) ? 1 : 0)
      while (day >= length) day -= 7
      return first + day
    }
  }
}

/**
 * Parses a POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3`, `<+1030>-10:30<+11>-11,M10.1.0,M4.1.0`
 * or `<+03>-3`. POSIX offsets count west of Greenwich positive; the source's are east positive.
 * Undefined if not understood (including DST named without a rule: glibc would guess US rules).
 */
export function parsePosixTz (text: string): PosixTz | undefined {
  let rest = text
  const std = NAME_RE.exec(rest)
  if (std === null) return undefined
  rest = rest.slice(std[0].length)
  const stdHms = readHms(rest, 24)
  if (stdHms === undefined) return undefined
  const stdOffset = 0 - stdHms[0] // 0 - x: never -0
  rest = rest.slice(stdHms[1])
  if (rest === '') return fixedRule(stdOffset)

  const dst = NAME_RE.exec(rest)
  if (dst === null) return undefined
  rest = rest.slice(dst[0].length)
  let dstOffset = stdOffset + 3600 // an hour ahead of standard time by default
  if (rest !== '' && rest[0] !== ',') {
    const dstHms = readHms(rest, 24)
    if (dstHms === undefined) return undefined
    dstOffset = 0 - dstHms[0]
    rest = rest.slice(dstHms[1])
  }
  const start = readRulePoint(rest)
  if (start === undefined) return undefined
  rest = rest.slice(start[1])
  const end = readRulePoint(rest)
  if (end === undefined || end[1] !== rest.length) return undefined
  return dstRule(stdOffset, dstOffset, start[0], end[0])
}

function fixedRule (offset: number): PosixTz {
  return { stdOffset: offset, dstOffset: undefined, transitionsIn: () => undefined, offsetAt: () => offset }
}

function dstRule (stdOffset: number, dstOffset: number, start: RulePoint, end: RulePoint): PosixTz {
  const years = new Map<number, { start: number, end: number }>()
  /** The start's local time is standard time; the end's is daylight-saving time. */
  const transitionsIn = (year: number): { start: number, end: number } => {
    let found = years.get(year)
    if (found === undefined) {
      found = {
        start: ruleDay(start.date, year) * 86400 + start.time - stdOffset,
        end: ruleDay(end.date, year) * 86400 + end.time - dstOffset,
      }
      if (years.size > 1000) years.clear()
      years.set(year, found)
    }
    return found
  }
  const offsetAt = (t: number): number => {
    const year = new Date(t * 1000).getUTCFullYear()
    // A rule time may reach a week past its day (167 h), or its year's end: look at the
    // neighbouring years' transitions too, in order, and take the last one at or before t.
    // Events are pushed year by year, start before end, and the sort is stable: a year's end
    // falling on the next year's start (zic's `,0/0,J365/25` for DST all year) leaves DST on.
    const events: Array<[number, boolean]> = []
    for (let y = year - 2; y <= year + 1; y++) {
      const { start, end } = transitionsIn(y)
      events.push([start, true], [end, false])
    }
    events.sort((a, b) => a[0] - b[0])
    let dst = false
    for (const [at, isDst] of events) {
      if (at > t) break
      dst = isDst
    }
    return dst ? dstOffset : stdOffset
  }
  return { stdOffset, dstOffset, transitionsIn, offsetAt }
}

// ---------------------------------------------------------------------------------------------
// TZif files (RFC 8536)

/** A parsed TZif file: its transitions (UTC seconds), the offset each leads to, and its footer. */
export interface Tzif extends OffsetSource {
  readonly transitions: readonly number[]
  readonly footer: PosixTz | undefined
}

const HEADER = 44

interface Counts { isutcnt: number, isstdcnt: number, leapcnt: number, timecnt: number, typecnt: number, charcnt: number }

/** Parses a TZif buffer of version 2 or later; undefined for version 1, damage, or a footer not understood. */
export function parseTzif (buf: Uint8Array): Tzif | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const header = (at: number): Counts | undefined => {
    if (at + HEADER > buf.length) return undefined
    if (view.getUint32(at) !== 0x545a6966) return undefined // "TZif"
    // version (1 byte) and 15 unused bytes, then six counts
    const count = (i: number): number => view.getUint32(at + 20 + i * 4)
    return { isutcnt: count(0), isstdcnt: count(1), leapcnt: count(2), timecnt: count(3), typecnt: count(4), charcnt: count(5) }
  }
  const v1 = header(0)
  if (v1 === undefined || view.getUint8(4) < 0x32) return undefined // version 1 (NUL) has no 64-bit data nor footer
  // Skip the 32-bit data block to the second header and its 64-bit block.
  const v1Size = v1.timecnt * 5 + v1.typecnt * 6 + v1.charcnt + v1.leapcnt * 8 + v1.isstdcnt + v1.isutcnt
  const v2 = header(HEADER + v1Size)
  if (v2 === undefined) return undefined
  return parseV2(buf, view, HEADER + v1Size + HEADER, v2)
}

function parseV2 (buf: Uint8Array, view: DataView, at: number, c: Counts): Tzif | undefined {
  // Leap-second ("right/") files count TAI-like seconds: leave them to Intl, which has none.
  if (c.leapcnt !== 0 || c.typecnt === 0 || c.charcnt === 0) return undefined
  if ((c.isutcnt !== 0 && c.isutcnt !== c.typecnt) || (c.isstdcnt !== 0 && c.isstdcnt !== c.typecnt)) return undefined
  const size = c.timecnt * 9 + c.typecnt * 6 + c.charcnt + c.isstdcnt + c.isutcnt
  if (at + size >= buf.length) return undefined // the footer's newline at least must follow

  const transitions: number[] = []
  for (let i = 0; i < c.timecnt; i++) {
    const t = view.getInt32(at + i * 8) * 0x1_0000_0000 + view.getUint32(at + i * 8 + 4) // exact below 2^53
    if (i > 0 && t <= transitions[i - 1]!) return undefined // must ascend
    transitions.push(t)
  }
  const typesAt = at + c.timecnt * 8
  const infoAt = typesAt + c.timecnt
  const utoffs: number[] = [] // ttinfo: int32 utoff, uint8 isdst, uint8 desigidx
  for (let i = 0; i < c.typecnt; i++) utoffs.push(view.getInt32(infoAt + i * 6))
  const offsets: number[] = [] // the offset in force from each transition on
  for (let i = 0; i < c.timecnt; i++) {
    const type = view.getUint8(typesAt + i)
    if (type >= c.typecnt) return undefined
    offsets.push(utoffs[type]!)
  }

  // Footer: "\n" TZ string "\n"; an empty string leaves the last transition's type in force.
  const footerAt = at + size
  if (view.getUint8(footerAt) !== 0x0a) return undefined
  const close = buf.indexOf(0x0a, footerAt + 1)
  if (close === -1) return undefined
  const text = new TextDecoder().decode(buf.subarray(footerAt + 1, close))
  const footer = text === '' ? undefined : parsePosixTz(text)
  if (text !== '' && footer === undefined) return undefined

  const first = utoffs[0]!
  const count = transitions.length
  const offsetAt = (t: number): number => {
    // Before the first transition: the first ttinfo (type 0), as RFC 8536 §3.2 says.
    if (count === 0) return footer === undefined ? first : footer.offsetAt(t)
    if (t < transitions[0]!) return first
    if (t >= transitions[count - 1]!) return footer === undefined ? offsets[count - 1]! : footer.offsetAt(t)
    // The last transition at or before t: transitions[lo] <= t < transitions[hi].
    let lo = 0; let hi = count - 1
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      if (transitions[mid]! <= t) lo = mid
      else hi = mid
    }
    return offsets[lo]!
  }
  return { transitions, footer, offsetAt }
}

// ---------------------------------------------------------------------------------------------
// Finding the file

/** Only `Area/Location`-like names: no `..`, no leading or doubled `/`, nothing but [A-Za-z0-9_+-]. */
const SAFE_NAME_RE = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/
/** Files in the database that are not zones (Intl refuses these names): not to be read as one. */
const NOT_ZONES = /^(?:posix|right)(?:\/|$)|^(?:posixrules|localtime|Factory)$/

const parsed = new Map<string, Tzif | undefined>()

/**
 * The zone's offsets from `$TZDIR/<zone>` (TZDIR unset or empty: /usr/share/zoneinfo, as glibc),
 * parsed once per file; undefined when the name is unsafe, the file missing or unreadable, or the
 * parse fails.
 */
export function loadTzif (zone: string, env: NodeJS.ProcessEnv = process.env): Tzif | undefined {
  if (!SAFE_NAME_RE.test(zone) || NOT_ZONES.test(zone)) return undefined
  const dir = env.TZDIR === undefined || env.TZDIR === '' ? '/usr/share/zoneinfo' : env.TZDIR
  const path = `${dir.replace(/\/+$/, '')}/${zone}`
  if (parsed.has(path)) return parsed.get(path)
  let zoneInfo: Tzif | undefined
  try {
    zoneInfo = parseTzif(readFileSync(path))
  } catch {
    zoneInfo = undefined // missing, a directory, unreadable
  }
  parsed.set(path, zoneInfo)
  return zoneInfo
}
