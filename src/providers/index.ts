/**
 * The provider profiles, in the order their shapes are tried. Adding a provider: its file in this
 * folder, and one line here.
 */
import type { SpoolRecord } from '../record.js'
import { octopush } from './octopush.js'
import type { ProviderProfile } from './profile.js'

export const PROFILES: readonly ProviderProfile[] = [
  octopush,
]

/**
 * Reads a record no profile recognises: the fields by Octopush's names, as callback-spool did
 * before it knew other providers (such a record is of kind `unknown`).
 */
export const FALLBACK_PROFILE: ProviderProfile = octopush

export function profileByName (name: string): ProviderProfile | undefined {
  return PROFILES.find((p) => p.name === name)
}

/** The profile whose shape the record has; undefined when none. */
export function recogniseProvider (record: Pick<SpoolRecord, 'fields'>): ProviderProfile | undefined {
  for (const profile of PROFILES) {
    if (profile.recognises(record)) return profile
  }
  return undefined
}

/** The profile that reads this record: the one it is recognised by, else the fallback. */
export function profileFor (record: Pick<SpoolRecord, 'fields'>): ProviderProfile {
  return recogniseProvider(record) ?? FALLBACK_PROFILE
}
