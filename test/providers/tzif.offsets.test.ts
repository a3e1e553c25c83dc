import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadTzif, parsePosixTz, parseTzif, type OffsetSource, type PosixTz } from '../../src/providers/tzif.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'

const HOUR = 3600
const SIX_HOURS = 6 * HOUR
const at = (y: number, mo = 1, d = 1, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi) / 1000

/** Intl's offset (seconds east) at an instant, read from its `GMT+05:30` name: the oracle. */
function intlOffsets (zone: string): (t: number) => number {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
  return (t) => {
    const name = format.formatToParts(t * 1000).find((p) => p.type === 'timeZoneName')?.value ?? ''
    const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name)
    if (m === null) throw new Error(`unexpected offset name ${name}`)
    if (m[1] === undefined) return 0
    const seconds = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0)
    return m[1] === '-' ? -seconds : seconds
  }
}

/** Every 6 hours from `from` to `to`, plus each transition ±1 s: the instants where source and Intl differ. */
function mismatches (zone: string, source: OffsetSource, from: number, to: number, transitions: number[]): string[] {
  const intl = intlOffsets(zone)
  const instants: number[] = []
  for (let t = from; t < to; t += SIX_HOURS) instants.push(t)
  for (const t of transitions) if (t >= from && t < to) instants.push(t - 1, t, t + 1)
  const wrong: string[] = []
  for (const t of instants) {
    const got = source.offsetAt(t)
    const want = intl(t)
    if (got !== want && wrong.length < 5) wrong.push(`${zone} at ${new Date(t * 1000).toISOString()}: ${got} s, Intl ${want} s`)
  }
  return wrong
}

/** The footer rule's own transitions over some years (its file lists none past its last). */
function ruleTransitions (rule: PosixTz | undefined, fromYear: number, toYear: number): number[] {
  const out: number[] = []
  for (let y = fromYear; y <= toYear; y++) {
    const pair = rule?.transitionsIn(y)
    if (pair !== undefined) out.push(pair.start, pair.end)
  }
  return out
}

const ZONES = [
  'Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Sao_Paulo', 'Pacific/Chatham',
  'Africa/Casablanca', 'Europe/Dublin', 'America/St_Johns', 'UTC', 'Etc/GMT+5',
]

test('the system\'s TZif files agree with Intl every 6 hours and at every transition from 1970 to 2060', () => {
  for (const zone of ZONES) {
    const tzif = loadTzif(zone)
    assert.ok(tzif !== undefined, `${zone}: /usr/share/zoneinfo/${zone} parses`)
    const transitions = [...tzif.transitions, ...ruleTransitions(tzif.footer, 1970, 2060)]
    assert.deepEqual(mismatches(zone, tzif, at(1970), at(2060), transitions), [])
  }
  // Past the listed transitions (fat files stop in 2037), the footer rule answers.
  const paris = loadTzif('Europe/Paris')!
  assert.ok(paris.transitions.at(-1)! < at(2050))
  assert.equal(paris.offsetAt(at(2050, 7, 1)), 2 * HOUR)
  assert.equal(paris.offsetAt(at(2050, 1, 1)), HOUR)
})

test('POSIX TZ strings alone agree with Intl from 2040 to 2060', () => {
  const footers: Record<string, string> = {
    'Europe/Paris': 'CET-1CEST,M3.5.0,M10.5.0/3',
    'America/New_York': 'EST5EDT,M3.2.0,M11.1.0',
    'Australia/Lord_Howe': '<+1030>-10:30<+11>-11,M10.1.0,M4.1.0', // 30-minute DST, southern hemisphere
    'Asia/Kolkata': 'IST-5:30',
    'America/Sao_Paulo': '<-03>3',
    'Pacific/Chatham': '<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45',
    'Europe/Dublin': 'IST-1GMT0,M10.5.0,M3.5.0/1', // negative DST: "DST" is winter's GMT
    'America/St_Johns': 'NST3:30NDT,M3.2.0,M11.1.0',
    'America/Nuuk': '<-02>2<-01>,M3.5.0/-1,M10.5.0/0', // a negative transition time
    'Asia/Jerusalem': 'IST-2IDT,M3.4.4/26,M10.5.0', // a transition time past 24:00
    'Etc/GMT+5': '<-05>5',
    UTC: 'UTC0',
  }
  for (const [zone, text] of Object.entries(footers)) {
    const rule = parsePosixTz(text)
    assert.ok(rule !== undefined, text)
    assert.deepEqual(mismatches(zone, rule, at(2040), at(2060), ruleTransitions(rule, 2040, 2060)), [])
  }
})

test('POSIX TZ strings: Jn and n days, ±167-hour times, DST all year, and what is refused', () => {
  // Jn never counts 29 February: J60 is 1 March in every year.
  const julian = parsePosixTz('AAA0BBB,J60/0,J61/0')!
  assert.deepEqual(julian.transitionsIn(2023), { start: at(2023, 3, 1), end: at(2023, 3, 1, 23) })
  assert.deepEqual(julian.transitionsIn(2024), { start: at(2024, 3, 1), end: at(2024, 3, 1, 23) })
  // n counts from 0 and counts 29 February: day 59 is 1 March, or 29 February in a leap year.
  const zeroBased = parsePosixTz('AAA-2BBB-3,59/0,300/0')!
  assert.equal(zeroBased.transitionsIn(2023)!.start, at(2023, 3, 1) - 2 * HOUR)
  assert.equal(zeroBased.transitionsIn(2024)!.start, at(2024, 2, 29) - 2 * HOUR)
  assert.equal(zeroBased.offsetAt(at(2024, 2, 29, 12)), 3 * HOUR)
  assert.equal(zeroBased.offsetAt(at(2024, 2, 28, 12)), 2 * HOUR)
  // RFC 8536's times up to ±167 hours: first Sunday of March 2024 is the 3rd, of November the 3rd.
  const far = parsePosixTz('AAA0BBB,M3.1.0/167,M11.1.0/-167')!
  assert.deepEqual(far.transitionsIn(2024), { start: at(2024, 3, 9, 23), end: at(2024, 10, 27, 0) })
  assert.equal(far.offsetAt(at(2024, 3, 9, 22, 59)), 0)
  assert.equal(far.offsetAt(at(2024, 3, 9, 23)), HOUR)
  // Hours, minutes and seconds, signed: offsets count west of Greenwich positive.
  assert.equal(parsePosixTz('<+0530>-5:30')!.offsetAt(0), 5.5 * HOUR)
  assert.equal(parsePosixTz('LMT+0:09:21')!.offsetAt(0), -561)
  // zic's DST all year: the year's end meets the next year's start, and DST stays on.
  const always = parsePosixTz('EST5EDT,0/0,J365/25')!
  for (const t of [at(2030, 1, 1, 0, 30), at(2030, 1, 1, 5), at(2030, 1, 1, 5, 1), at(2030, 7, 1), at(2030, 12, 31, 23)]) {
    assert.equal(always.offsetAt(t), -4 * HOUR, new Date(t * 1000).toISOString())
  }
  for (const bad of ['', 'CET', 'CE-1', 'CET-1CEST', 'CET-1CEST,M3.5.0', 'CET-1CEST,M13.5.0,M10.5.0', 'CET-1CEST,M3.6.0,M10.5.0',
    'CET-1CEST,J0,J100', 'CET-1CEST,366,10', 'CET-1CEST,M3.5.0/168,M10.5.0', 'CET-25', 'CET-1CEST,M3.5.0,M10.5.0/3x', '<>-1']) {
    assert.equal(parsePosixTz(bad), undefined, bad)
  }
})

interface TtInfo { utoff: number, isdst: boolean }

/** A TZif file of version 2 as zic -b slim writes it: a minimal 32-bit block, the 64-bit data, the footer. */
function makeTzif (transitions: number[], typeIndices: number[], types: TtInfo[], footer: string, version = '2'): Buffer {
  const header = (counts: number[]): Buffer => {
    const b = Buffer.alloc(44)
    b.write('TZif', 0, 'latin1')
    b.write(version, 4, 'latin1')
    counts.forEach((n, i) => b.writeUInt32BE(n, 20 + i * 4))
    return b
  }
  const chars = Buffer.from('XX\0', 'latin1')
  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  const v1 = Buffer.concat([header([0, 0, 0, 0, 1, 1]), Buffer.from([0, 0, 0, 0, 0, 0]), Buffer.from([0])])
  const times = Buffer.alloc(transitions.length * 8)
  transitions.forEach((t, i) => times.writeBigInt64BE(BigInt(t), i * 8))
  const infos = Buffer.alloc(types.length * 6)
  types.forEach((t, i) => { infos.writeInt32BE(t.utoff, i * 6); infos.writeUInt8(t.isdst ? 1 : 0, i * 6 + 4) })
  const v2 = Buffer.concat([
    header([0, 0, 0, transitions.length, types.length, chars.length]),
    times, Buffer.from(typeIndices), infos, chars,
    Buffer.from(`\n${footer}\n`, 'latin1'),
  ])
  return Buffer.concat([v1, v2])
}

/** Paris as a slim file: two transitions in 1996 (CET before the first), the rule after. */
const SLIM_PARIS = makeTzif([at(1996, 3, 31, 1), at(1996, 10, 27, 1)], [1, 0], [{ utoff: 3600, isdst: false }, { utoff: 7200, isdst: true }], 'CET-1CEST,M3.5.0,M10.5.0/3')

test('a slim TZif file: type 0 before its first transition, its footer after its last, as Intl', () => {
  const tzif = parseTzif(SLIM_PARIS)
  assert.ok(tzif !== undefined)
  assert.deepEqual(tzif.transitions, [at(1996, 3, 31, 1), at(1996, 10, 27, 1)])
  assert.deepEqual(mismatches('Europe/Paris', tzif, at(1996), at(2060), [...tzif.transitions, ...ruleTransitions(tzif.footer, 1997, 2060)]), [])
  assert.equal(tzif.offsetAt(at(1996, 3, 31, 1) - 1), 3600)
  assert.equal(tzif.offsetAt(at(1996, 3, 31, 1)), 7200)
})

test('TZif files that are not understood give undefined: bad magic, version 1, truncated, bad index, bad footer, leap seconds', () => {
  const v1Only = Buffer.from(SLIM_PARIS); v1Only[4] = 0
  const badMagic = Buffer.from(SLIM_PARIS); badMagic[0] = 0x74
  const badIndex = makeTzif([0], [2], [{ utoff: 0, isdst: false }], 'UTC0')
  const badFooter = makeTzif([], [], [{ utoff: 0, isdst: false }], 'Mars0Olympus')
  const descending = makeTzif([10, 5], [0, 0], [{ utoff: 0, isdst: false }], 'UTC0')
  const leap = Buffer.from(SLIM_PARIS); leap.writeUInt32BE(1, SLIM_PARIS.indexOf('TZif', 4, 'latin1') + 28)
  for (const [name, buf] of Object.entries({ v1Only, badMagic, badIndex, badFooter, descending, leap })) {
    assert.equal(parseTzif(buf), undefined, name)
  }
  for (let cut = 0; cut < SLIM_PARIS.length; cut += 7) assert.equal(parseTzif(SLIM_PARIS.subarray(0, cut)), undefined, `cut at ${cut}`)
  // Still a valid file: version 3 and 4 read alike, and an empty footer leaves the last type in force.
  assert.ok(parseTzif(makeTzif([], [], [{ utoff: 0, isdst: false }], 'UTC0', '4')) !== undefined)
  const noFooter = parseTzif(makeTzif([at(2000)], [1], [{ utoff: 0, isdst: false }, { utoff: 3 * HOUR, isdst: false }], ''))!
  assert.equal(noFooter.offsetAt(at(1999)), 0)
  assert.equal(noFooter.offsetAt(at(2050)), 3 * HOUR)
})

/** Local times around Paris's and New York's changes: repeated hours, missing hours, ordinary ones. */
const LOCAL_TIMES = ['2026-07-01 12:00:00', '2026-03-29 02:30:00', '2026-10-25 02:30:00', '2026-10-25 01:59:59', '2045-03-26 02:00:00',
  '2045-10-29 02:59:59', '2045-10-29 03:00:00', '2026-03-08 02:30:00', '2026-11-01 01:30:00', '1985-06-01 00:00:00', '2060-12-31 23:59:59']

test('ZonedTimeReader reads the TZif file: repeated hours give the earlier instant, missing ones shift by the gap', () => {
  const expected: Record<string, Record<string, string>> = {
    'Europe/Paris': {
      '2026-07-01 12:00:00': '2026-07-01T10:00:00.000Z',
      '2026-03-29 02:30:00': '2026-03-29T01:30:00.000Z',
      '2026-10-25 02:30:00': '2026-10-25T00:30:00.000Z',
      '2026-10-25 01:59:59': '2026-10-24T23:59:59.000Z',
      '2045-03-26 02:00:00': '2045-03-26T01:00:00.000Z', // past the file's last transition: the footer's rule
      '2045-10-29 02:59:59': '2045-10-29T00:59:59.000Z',
      '2045-10-29 03:00:00': '2045-10-29T02:00:00.000Z',
    },
    'America/New_York': {
      '2026-03-08 02:30:00': '2026-03-08T07:30:00.000Z',
      '2026-11-01 01:30:00': '2026-11-01T05:30:00.000Z',
      '2050-11-06 01:30:00': '2050-11-06T05:30:00.000Z',
      '1985-06-01 00:00:00': '1985-06-01T04:00:00.000Z',
    },
  }
  for (const [zone, answers] of Object.entries(expected)) {
    const reader = new ZonedTimeReader(zone)
    assert.equal(reader.offsetSource, 'tzif')
    for (const [text, iso] of Object.entries(answers)) assert.equal(reader.toIsoUtc(text), iso, `${zone} ${text}`)
  }
  assert.equal(new ZonedTimeReader('UTC').offsetSource, 'utc')
})

test('TZDIR is honoured: an empty one, or one with a damaged file, falls back to Intl with the same answers; a slim file there is read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tzif-'))
  const before = process.env.TZDIR
  t.after(() => {
    if (before === undefined) delete process.env.TZDIR
    else process.env.TZDIR = before
    rmSync(dir, { recursive: true, force: true })
  })
  const system = new ZonedTimeReader('Europe/Paris')
  const expected = LOCAL_TIMES.map((text) => system.toIsoUtc(text))

  process.env.TZDIR = dir
  const empty = new ZonedTimeReader('Europe/Paris')
  assert.equal(empty.offsetSource, 'intl')
  assert.deepEqual(LOCAL_TIMES.map((text) => empty.toIsoUtc(text)), expected)

  mkdirSync(join(dir, 'Europe'))
  writeFileSync(join(dir, 'Europe', 'Paris'), readFileSync('/usr/share/zoneinfo/Europe/Paris').subarray(0, 1000))
  const damaged = new ZonedTimeReader('Europe/Paris')
  assert.equal(damaged.offsetSource, 'intl')
  assert.deepEqual(LOCAL_TIMES.map((text) => damaged.toIsoUtc(text)), expected)

  mkdirSync(join(dir, 'Slim'))
  writeFileSync(join(dir, 'Slim', 'Paris'), SLIM_PARIS)
  assert.throws(() => new Intl.DateTimeFormat('en-US', { timeZone: 'Slim/Paris' }), 'not a zone Intl knows')
  const slim = new ZonedTimeReader('Slim/Paris')
  assert.equal(slim.offsetSource, 'tzif')
  assert.deepEqual(LOCAL_TIMES.filter((text) => text >= '1996').map((text) => slim.toIsoUtc(text)), expected.filter((_, i) => LOCAL_TIMES[i]! >= '1996'))
})

test('unsafe or non-zone names are not read from disk: Intl judges them, and refuses those it does not know', () => {
  for (const name of ['../../etc/passwd', '/etc/localtime', 'Europe/../Europe/Paris', 'Europe//Paris', 'Europe/Paris/', './UTC', 'Europe/Paris\0',
    'posixrules', 'localtime', 'Factory', 'posix/Europe/Paris', 'right/Europe/Paris']) {
    assert.equal(loadTzif(name), undefined, name)
    assert.throws(() => new ZonedTimeReader(name), { code: 'SPOOL_ERR_CONFIG' }, name)
  }
  assert.throws(() => new ZonedTimeReader('Mars/Olympus'), { code: 'SPOOL_ERR_CONFIG' })
  // A name Intl knows but the database has no file for (it matches case-blind): read through Intl.
  const lower = new ZonedTimeReader('europe/paris')
  assert.equal(lower.offsetSource, 'intl')
  assert.equal(lower.toIsoUtc('2020-11-04 11:11:45'), '2020-11-04T10:11:45.000Z')
})
