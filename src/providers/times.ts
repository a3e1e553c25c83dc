/**
 * `--provider-tz`: the zone each provider's zone-less dates are read in. `ZONE` alone is
 * Octopush's (and the fallback reader's, for records no profile recognises), as before profiles
 * existed; `PROVIDER=ZONE` sets one provider's. A profile's `timeZone` is its default; a profile
 * without one has dates that carry their own zone, and the option refuses it.
 */
import { ConfigError } from '../errors.js'
import type { ProviderProfile } from './profile.js'
import { ZonedTimeReader } from './zoned-time.js'

export interface ProviderZones {
  /** The unprefixed zone: Octopush's. */
  default: string
  /** `PROVIDER=ZONE` items, by provider name. */
  byProvider: Readonly<Record<string, string>>
}

/** Throws the ConfigError of a zone Intl does not know. */
function checkZone (zone: string): void {
  if (new ZonedTimeReader(zone).timeZone !== zone) throw new Error('unreachable')
}

/** Parses the option's values (one per `--provider-tz`). */
export function parseProviderZones (values: readonly string[], profiles: readonly ProviderProfile[], fallback: string): ProviderZones {
  let plain = fallback
  const byProvider: Record<string, string> = {}
  for (const value of values) {
    const eq = value.indexOf('=')
    if (eq === -1) {
      plain = value.trim()
      continue
    }
    const name = value.slice(0, eq).trim()
    const zone = value.slice(eq + 1).trim()
    const profile = profiles.find((p) => p.name === name)
    const zoned = profiles.filter((p) => p.timeZone !== undefined).map((p) => p.name)
    if (profile === undefined || profile.timeZone === undefined) {
      throw new ConfigError(`Expected \`--provider-tz\` to be ZONE or PROVIDER=ZONE with PROVIDER one of ${zoned.join(', ')} (the others' dates carry their zone), got \`${value}\``)
    }
    checkZone(zone)
    byProvider[name] = zone
  }
  checkZone(plain)
  return { default: plain, byProvider }
}

/** One reader per provider, built once (each caches its offsets). */
export class ProviderTimes {
  /** The reader of Octopush and of records no profile recognises. */
  readonly fallback: ZonedTimeReader
  private readonly readers = new Map<string, ZonedTimeReader | null>()
  private readonly zones: ProviderZones

  constructor (zones: ProviderZones | string) {
    this.zones = typeof zones === 'string' ? { default: zones, byProvider: {} } : zones
    this.fallback = new ZonedTimeReader(this.zones.default)
    // A bad zone is refused at start, not at the first record.
    for (const zone of Object.values(this.zones.byProvider)) checkZone(zone)
  }

  /** The reader of a profile's zone-less dates; null when it has no zone (Twilio's carrier-local dates, unless set). */
  readerFor (profile: ProviderProfile | undefined): ZonedTimeReader | null {
    if (profile === undefined || profile.name === 'octopush') return this.zones.byProvider.octopush === undefined ? this.fallback : this.build('octopush', this.zones.byProvider.octopush)
    const set = this.zones.byProvider[profile.name]
    if (set !== undefined) return this.build(profile.name, set)
    if (typeof profile.timeZone === 'string') return this.build(profile.name, profile.timeZone)
    return null
  }

  private build (name: string, zone: string): ZonedTimeReader {
    let reader = this.readers.get(name)
    if (reader === undefined || reader === null) this.readers.set(name, reader = new ZonedTimeReader(zone))
    return reader
  }
}
