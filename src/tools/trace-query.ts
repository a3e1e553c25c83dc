/**
 * What `trace` looks for: a record id, a message id, or a phone number in any spelling
 * (`+33...`, `0033...`, with spaces or dots, or a national form `06...` given with `--country`),
 * brought to the E.164 form src/number.ts gives the records.
 */
import { UsageError } from '../errors.js'
import { normaliseNumber } from '../number.js'

/** Calling codes of the countries callback-spool's providers serve most; any code can be given as digits. */
const CALLING_CODES: Record<string, string> = Object.fromEntries(
  ('FR 33 BE 32 CH 41 LU 352 MC 377 DE 49 AT 43 NL 31 ES 34 PT 351 IT 39 GB 44 IE 353 US 1 CA 1 ' +
    'MA 212 DZ 213 TN 216 SN 221 CI 225 RE 262 GP 590 MQ 596').match(/[A-Z]{2} \d+/g)!.map((pair) => pair.split(' ')))

export interface TraceQuery {
  text: string
  /** The E.164 number, when the query reads as a phone number. */
  number: string | undefined
}

export function parseTraceQuery (text: string, country: string | undefined): TraceQuery {
  const compact = text.trim().replace(/(?!^)[\s.()-]/g, '')
  let number: string | undefined
  if (/^(\+|00)\d{6,15}$/.test(compact)) number = normaliseNumber(compact) ?? undefined
  else if (/^0\d{6,14}$/.test(compact) && country !== undefined) {
    const code = /^\+?\d{1,3}$/.test(country) ? country.replace('+', '') : CALLING_CODES[country.toUpperCase()]
    if (code === undefined) throw new UsageError(`Expected \`--country\` to be a calling code like 33 or one of ${Object.keys(CALLING_CODES).join(', ')}, got \`${country}\``)
    number = `+${code}${compact.slice(1)}`
  } else if (/^\d{7,15}$/.test(compact)) number = compact
  return { text: text.trim(), number }
}

/** A record's number, as the processor hands it over (E.164 where the provider's spelling allows). */
export function recordNumber (raw: string | null): string | null {
  const n = normaliseNumber(raw)
  return n === null ? null : n.replace(/(?!^)[\s.()-]/g, '')
}
