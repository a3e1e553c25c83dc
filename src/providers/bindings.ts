/**
 * Path bindings: `/twilio/=twilio` says every request whose path starts with `/twilio/` is
 * Twilio's, whatever its shape. A binding wins over the shape; the longest matching prefix wins.
 */
import { ConfigError } from '../errors.js'
import type { ProviderProfile } from './profile.js'

export interface PathBinding {
  prefix: string
  profile: ProviderProfile
}

export class PathBindings {
  /** Longest prefix first. */
  private readonly bindings: PathBinding[]

  constructor (bindings: readonly PathBinding[] = []) {
    this.bindings = [...bindings].sort((a, b) => b.prefix.length - a.prefix.length)
  }

  get size (): number {
    return this.bindings.length
  }

  /** The profile bound to the path; undefined when no prefix matches. */
  profileFor (path: string): ProviderProfile | undefined {
    for (const binding of this.bindings) {
      if (path.startsWith(binding.prefix)) return binding.profile
    }
    return undefined
  }
}

/** `PREFIX=PROVIDER`, the prefix starting with `/`, the provider one of `profiles`. */
export function parsePathBinding (spec: string, profiles: readonly ProviderProfile[]): PathBinding {
  const eq = spec.lastIndexOf('=')
  const prefix = eq === -1 ? '' : spec.slice(0, eq).trim()
  const name = eq === -1 ? '' : spec.slice(eq + 1).trim()
  const profile = profiles.find((p) => p.name === name)
  if (!prefix.startsWith('/') || profile === undefined) {
    throw new ConfigError(`Expected \`--provider-path\` to be /PREFIX=PROVIDER with PROVIDER one of ${profiles.map((p) => p.name).join(', ')}, got \`${spec}\``)
  }
  return { prefix, profile }
}

/** `--provider-path` values: repeated flags (an array), or values of several lines (environment, config file), one binding a line. */
export function parsePathBindings (value: unknown, profiles: readonly ProviderProfile[]): PathBinding[] | undefined {
  if (value === undefined) return undefined
  const specs = (Array.isArray(value) ? value.map(String) : [String(value)]).flatMap((v) => v.split('\n')).map((v) => v.trim()).filter((v) => v !== '')
  return specs.map((spec) => parsePathBinding(spec, profiles))
}
