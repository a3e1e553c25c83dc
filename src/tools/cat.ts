/**
 * `callback-spool cat`: the records of every segment in write order, as the spool's own NDJSON
 * lines or one --pretty line each, filtered; --follow keeps printing new ones across rotations,
 * like `tail -F`, until SIGINT or SIGTERM.
 */
import { watch, type FSWatcher } from 'node:fs'
import { checkAll } from '../config.js'
import { ConfigError } from '../errors.js'
import { KINDS, type CallbackKind } from '../processor/classify.js'
import { decodeRecord, type SpoolRecord } from '../record.js'
import { dataLayout } from '../spool/layout.js'
import { readLineBatches, type SpoolPosition } from '../spool/reader.js'
import { parseDuration } from '../units.js'
import { FOLLOW_DEFAULTS } from '../processor/defaults.js'
import { e164Digits, parseCountryCode } from '../number.js'
import { existingDataDir } from '../spool/data-dir.js'
import { parseTimeArg, type ToolIO } from './common.js'
import { matchesFilter, prettyLine, providerName, useColour, type RecordFilter } from './record-filter.js'
import { PROFILES, readCallback } from '../providers/index.js'
import { UTC_TIME } from '../providers/zoned-time.js'

export interface CatOptions {
  dataDir: string
  filter: RecordFilter
  pretty: boolean
  follow: boolean
  /** --count: instead of the records, how many match, by provider and kind. */
  count?: boolean
  /** --follow: look for new records this often too, in case file-system events are missed. @default 250 ms */
  pollIntervalMs: number
}

export function catOptionsFrom (opts: Record<string, unknown>, now = Date.now()): CatOptions {
  const str = (name: string): string | undefined => opts[name] === undefined ? undefined : String(opts[name])
  return checkAll<CatOptions>({
    dataDir: () => String(opts.dataDir),
    filter: () => checkAll<RecordFilter>({
      kinds: () => {
        const raw = str('kind')
        if (raw === undefined) return undefined
        const kinds = raw.split(',').map((k) => k.trim())
        for (const k of kinds) {
          if (!(KINDS as readonly string[]).includes(k)) throw new ConfigError(`Expected \`--kind\` to be ${KINDS.join(', ')} (or several, comma-separated), got \`${k}\``)
        }
        return kinds as CallbackKind[]
      },
      sinceMs: () => {
        const raw = str('since')
        return raw === undefined ? undefined : parseTimeArg('--since', raw, now)
      },
      untilMs: () => {
        const raw = str('until')
        return raw === undefined ? undefined : parseTimeArg('--until', raw, now)
      },
      grep: () => {
        const raw = str('grep')
        if (raw === undefined) return undefined
        try {
          return new RegExp(raw, opts.ignoreCase === true ? 'i' : '')
        } catch (err) {
          throw new ConfigError(`Expected \`--grep\` to be a regular expression: ${(err as Error).message}`)
        }
      },
      messageId: () => str('messageId'),
      ...numberFilter(str('number'), str('country')),
      providers: () => {
        const raw = str('provider')
        if (raw === undefined) return undefined
        const names = ['none', ...PROFILES.map((p) => p.name)]
        const list = raw.split(',').map((k) => k.trim())
        for (const name of list) {
          if (!names.includes(name)) throw new ConfigError(`Expected \`--provider\` to be ${names.join(', ')} (or several, comma-separated), got \`${name}\``)
        }
        return list
      },
    }),
    pretty: () => opts.pretty === true,
    follow: () => {
      if (opts.follow === true && opts.count === true) throw new ConfigError('`--count` counts what is there: it does not go with `--follow`')
      return opts.follow === true
    },
    count: () => opts.count === true,
    pollIntervalMs: () => opts.pollInterval === undefined ? FOLLOW_DEFAULTS.pollIntervalMs : parseDuration('--poll-interval', String(opts.pollInterval)),
  })
}

/** --number (any spelling) and --country (the calling code of national forms), checked together. */
function numberFilter (number: string | undefined, country: string | undefined): { numberDigits: () => string | undefined, countryCode: () => string | undefined } {
  const countryCode = country === undefined ? undefined : parseCountryCode(country)
  return {
    countryCode: () => {
      if (country !== undefined && countryCode === undefined) throw new ConfigError(`Expected \`--country\` to be a country calling code like 33 or +44, got \`${country}\``)
      return countryCode
    },
    numberDigits: () => {
      if (number === undefined) return undefined
      const digits = e164Digits(number, countryCode)
      if (digits === undefined || digits.length < 6 || /[^\d\s.()/+-]/.test(number)) {
        throw new ConfigError(`Expected \`--number\` to be a phone number like +33600112233, 0033600112233, or 0600112233 with --country 33, got \`${number}\``)
      }
      if (number.trim().startsWith('0') && !number.trim().startsWith('00') && countryCode === undefined) {
        throw new ConfigError(`\`--number ${number}\` is a national form: give its country calling code too (--country 33), or the number as +33...`)
      }
      return digits
    },
  }
}

export interface CatResult {
  printed: number
  invalid: number
}

/** Prints the matching records; with --follow, returns only once stopped by a signal or a closed stdout. */
export async function runCat (options: CatOptions, io: ToolIO): Promise<CatResult> {
  // A mistyped --data-dir prints nothing and succeeds otherwise: exit 66, as status does.
  const layout = dataLayout(options.dataDir)
  await existingDataDir(layout)
  const spool = layout.spool
  const colour = options.pretty && useColour(io.stdoutIsTTY)
  const result: CatResult = { printed: 0, invalid: 0 }
  const state = { stopped: false }
  let wake: (() => void) | undefined
  if (options.follow) io.onSignal(() => { state.stopped = true; wake?.() })

  const counts = options.count === true ? new Map<string, Map<string, number>>() : undefined
  let position: SpoolPosition | undefined
  const readOnce = async (): Promise<void> => {
    for await (const batch of readLineBatches(layout, position)) {
      let out = ''
      for (const line of batch.lines) {
        const decoded = decodeRecord(line.line)
        if (!decoded.ok) {
          result.invalid++
          continue
        }
        if (!matchesFilter(decoded.record, options.filter)) continue
        if (counts !== undefined) {
          countRecord(counts, decoded.record)
          result.printed++
          continue
        }
        out += options.pretty ? prettyLine(decoded.record, colour) : line.line + '\n'
        result.printed++
      }
      if (out !== '') await io.write(out)
      position = batch.next
      if (io.closed() || state.stopped) return
    }
  }

  await readOnce()
  if (counts !== undefined) {
    await io.write(countsText(counts))
    return result
  }
  if (!options.follow) return result

  let watcher: FSWatcher | undefined
  let changed = false
  try {
    watcher = watch(spool, { persistent: false }, () => { changed = true; wake?.() })
    watcher.on('error', () => { watcher?.close() })
  } catch {
    // No spool dir yet, or no inotify: polling alone.
  }
  try {
    while (!state.stopped && !io.closed()) {
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, options.pollIntervalMs)
          function done (): void { clearTimeout(timer); wake = undefined; resolve() }
          wake = done
        })
      }
      changed = false
      if (state.stopped) break
      await readOnce()
    }
  } finally {
    watcher?.close()
  }
  return result
}

/** --count: a request's events, by provider and kind (a batch counts each of its events). */
function countRecord (counts: Map<string, Map<string, number>>, record: SpoolRecord): void {
  const provider = providerName(record)
  let byKind = counts.get(provider)
  if (byKind === undefined) counts.set(provider, byKind = new Map())
  const events = readCallback(record, { time: UTC_TIME }).events
  for (const event of events.length === 0 ? [{ kind: 'unknown' }] : events) byKind.set(event.kind, (byKind.get(event.kind) ?? 0) + 1)
}

/** `PROVIDER  KIND  COUNT` lines, providers by name, kinds in their usual order, then each provider's total. */
function countsText (counts: Map<string, Map<string, number>>): string {
  let out = ''
  for (const provider of [...counts.keys()].sort()) {
    const byKind = counts.get(provider)!
    let total = 0
    for (const kind of KINDS) {
      const n = byKind.get(kind)
      if (n === undefined) continue
      total += n
      out += `${provider.padEnd(16)}${kind.padEnd(10)}${n}\n`
    }
    out += `${provider.padEnd(16)}${'total'.padEnd(10)}${total}\n`
  }
  return out
}

/** The `cat` command: the records, then the count of invalid lines skipped on stderr. */
export async function catCommand (opts: Record<string, unknown>, io: ToolIO): Promise<void> {
  const result = await runCat(catOptionsFrom(opts), io)
  if (result.invalid > 0) io.warn(`cat: ${result.invalid} invalid line(s) skipped; run \`callback-spool verify\` to see where`)
}
