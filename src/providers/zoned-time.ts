/**
 * The provider's local date strings (`2020-11-04 11:11:45`, no zone) read in its time zone,
 * without Temporal (Node 20 has none). Ambiguous and missing local times follow Temporal's
 * "compatible" rule: in the autumn's repeated hour the first occurrence (the earlier instant), in
 * the spring's missing hour the time shifted forward by the length of the gap.
 *
 * The zone's offsets come from the system's time zone database (its TZif file, as glibc reads it)
 * when it has the zone and the file parses: then Intl is never touched, sparing the set-up of ICU's
 * zone data that its first formatter costs. Otherwise from Intl, whose constructor validates the zone.
 */
import { ConfigError } from '../errors.js'
import { loadTzif, type OffsetSource } from './tzif.js'

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/
const ZONED_RE = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i
const DAY_MS = 86_400_000
/** Zone offsets are cached per quarter of an hour of UTC: every real transition falls on one. */
const BUCKET_MS = 900_000
const MAX_CACHE = 50_000

export class ZonedTimeReader {
  readonly timeZone: string
  /** Set when the zone's TZif file parsed. */
  private readonly tzif: OffsetSource | undefined
  /** Set when offsets come from Intl: undefined for UTC and TZif zones (the first formatter in a process sets up ICU's zone data). */
  private readonly format: Intl.DateTimeFormat | undefined
  private readonly offsets = new Map<number, number>()
  /** Provider dates repeat a lot (same second, same minute): remember recent answers. */
  private readonly answers = new Map<string, string | null>()

  constructor (timeZone: string) {
    this.timeZone = timeZone
    this.format = undefined
    // A zone the database has (the file exists and parses) is valid: Intl is not asked.
    this.tzif = timeZone === 'UTC' ? undefined : loadTzif(timeZone)
    if (timeZone === 'UTC' || this.tzif !== undefined) return
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    } catch (err) {
      throw new ConfigError(`Expected \`--provider-tz\` to be an IANA time zone like Europe/Paris, got \`${timeZone}\``, { cause: err })
    }
  }

  /** Where the offsets come from: none needed for UTC, the zone's TZif file, or Intl. */
  get offsetSource (): 'utc' | 'tzif' | 'intl' {
    return this.tzif !== undefined ? 'tzif' : this.format !== undefined ? 'intl' : 'utc'
  }

  /** The zone's offset from UTC in ms at an instant. */
  offsetAt (epochMs: number): number {
    if (this.tzif === undefined && this.format === undefined) return 0
    const bucket = Math.floor(epochMs / BUCKET_MS)
    const cached = this.offsets.get(bucket)
    if (cached !== undefined) return cached
    const at = bucket * BUCKET_MS
    const offset = this.tzif === undefined ? this.intlOffsetAt(at) : this.tzif.offsetAt(at / 1000) * 1000
    if (this.offsets.size >= MAX_CACHE) this.offsets.clear()
    this.offsets.set(bucket, offset)
    return offset
  }

  /** The offset at an instant from Intl's wall-clock fields there. */
  private intlOffsetAt (at: number): number {
    if (this.format === undefined) throw new Error('unreachable')
    let y = 0; let mo = 0; let d = 0; let h = 0; let mi = 0; let s = 0
    for (const part of this.format.formatToParts(at)) {
      switch (part.type) {
        case 'year': y = Number(part.value); break
        case 'month': mo = Number(part.value); break
        case 'day': d = Number(part.value); break
        case 'hour': h = Number(part.value); break
        case 'minute': mi = Number(part.value); break
        case 'second': s = Number(part.value); break
      }
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) - at
  }

  /** Wall-clock fields (as if UTC, in ms) -> the instant, by the "compatible" rule. */
  wallToInstant (wallMs: number): number {
    const before = this.offsetAt(wallMs - DAY_MS)
    const after = this.offsetAt(wallMs + DAY_MS)
    const candidates: number[] = []
    for (const offset of before === after ? [before] : [before, after]) {
      const instant = wallMs - offset
      if (this.offsetAt(instant) === offset) candidates.push(instant)
    }
    if (candidates.length > 0) return Math.min(...candidates)
    // A gap: read with the offset in force before it, which lands after the gap.
    return wallMs - before
  }

  /** `2020-11-04 11:11:45` -> `2020-11-04T10:11:45.000Z`; a string with its own zone is read as such; undefined if unreadable. */
  toIsoUtc (text: string): string | undefined {
    // One lookup per record on the hot path; null stands for a cached "unreadable".
    const cached = this.answers.get(text)
    if (cached !== undefined) return cached ?? undefined
    const answer = this.convert(text)
    if (this.answers.size >= MAX_CACHE) this.answers.clear()
    this.answers.set(text, answer ?? null)
    return answer
  }

  private convert (text: string): string | undefined {
    const m = LOCAL_RE.exec(text)
    if (m === null) {
      if (!ZONED_RE.test(text)) return undefined
      const ms = Date.parse(text.replace(' ', 'T'))
      return Number.isNaN(ms) ? undefined : new Date(ms).toISOString()
    }
    const [, y, mo, d, h, mi, s, frac] = m
    const month = Number(mo); const day = Number(d); const hour = Number(h); const minute = Number(mi); const second = Number(s ?? 0)
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined
    const wall = Date.UTC(Number(y), month - 1, day, hour, minute, second, Number((frac ?? '0').padEnd(3, '0')))
    // Date.UTC rolls 31 February over to March: refuse such dates instead.
    if (new Date(wall).getUTCDate() !== day) return undefined
    return new Date(this.wallToInstant(wall)).toISOString()
  }
}

/** For providers whose zone-less dates are documented as UTC. */
export const UTC_TIME = new ZonedTimeReader('UTC')
