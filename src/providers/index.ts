/**
 * The provider profiles, in the order their shapes are tried. Adding a provider: its file in this
 * folder, and one line here.
 */
import type { SpoolRecord } from '../record.js'
import type { PathBindings } from './bindings.js'
import { DEFAULT_KEYWORDS, type KeywordLists } from './keywords.js'
import { brevo } from './brevo.js'
import { clickatell } from './clickatell.js'
import { infobip } from './infobip.js'
import { messagebird } from './messagebird.js'
import { octopush } from './octopush.js'
import { plivo } from './plivo.js'
import { sinch } from './sinch.js'
import { telnyx } from './telnyx.js'
import { twilio } from './twilio.js'
import { vonage } from './vonage.js'
import { vonageMessages } from './vonage-messages.js'
import type { NormaliseContext, ProviderEvent, ProviderProfile, SignatureScheme } from './profile.js'
import { ProviderTimes } from './times.js'
import { bandwidth } from './bandwidth.js'
import { bird } from './bird.js'

export const PROFILES: readonly ProviderProfile[] = [
  octopush,
  twilio,
  vonage,
  vonageMessages,
  plivo,
  telnyx,
  sinch,
  infobip,
  messagebird,
  bird,
  brevo,
  clickatell,
  bandwidth,
]

/**
 * Reads a record no profile recognises: the fields by Octopush's names, as callback-spool did
 * before it knew other providers (such a record is of kind `unknown`).
 */
export const FALLBACK_PROFILE: ProviderProfile = octopush

/** Each provider that signs its requests, with its scheme, in PROFILES order. */
export function signatureSchemes (): Array<{ profile: ProviderProfile, scheme: SignatureScheme }> {
  return PROFILES.flatMap((profile) => profile.signature === undefined ? [] : [{ profile, scheme: profile.signature }])
}

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

/** How requests are read beyond their profiles: the operator's keyword lists and path bindings. */
export interface ReadOptions {
  /** @default the default opt-out and opt-in keywords */
  keywords?: KeywordLists
  /** `--provider-path`: a bound path's profile wins over the shape. */
  bindings?: PathBindings
  /** `--provider-tz`: each provider's zone; without it, the context's reader is Octopush's and the others keep their defaults. */
  times?: ProviderTimes
}

let defaultTimes: ProviderTimes | undefined

/** The reader of a profile's zone-less dates. */
function timeFor (provider: ProviderProfile | undefined, context: NormaliseContext, options: ReadOptions): NormaliseContext['time'] {
  if (options.times !== undefined) return options.times.readerFor(provider)
  if (provider === undefined || provider === octopush) return context.time
  return (defaultTimes ??= new ProviderTimes('Europe/Paris')).readerFor(provider)
}

export interface ReadCallback {
  /** The profile bound to the path or recognising the request; undefined when none (read by the fallback). */
  provider: ProviderProfile | undefined
  events: ProviderEvent[]
}

/**
 * The events of a spooled request, by its provider's profile; a reply whose whole text is an
 * opt-out (opt-in) keyword becomes an `optout` (`optin`), whatever the provider.
 */
export function readCallback (record: SpoolRecord, context: NormaliseContext, options: ReadOptions = {}): ReadCallback {
  const keywords = options.keywords ?? DEFAULT_KEYWORDS
  const provider = options.bindings?.profileFor(record.path) ?? recogniseProvider(record)
  const time = timeFor(provider, context, options)
  const events = (provider ?? FALLBACK_PROFILE).normalise(record, time === context.time ? context : { ...context, time })
  for (const event of events) {
    if (event.kind !== 'reply') continue
    const byKeyword = keywords.kindOf(event.text)
    if (byKeyword !== undefined) event.kind = byKeyword
  }
  return { provider, events }
}
