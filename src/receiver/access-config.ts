/**
 * Turns the `receive` command's access options (flags or CALLBACK_SPOOL_* variables) into
 * AccessOptions, validated once. Error messages name the option, never the secret's value.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import type { AccessOptions } from './access.js'
import { parseCidrList } from './cidr.js'
import { signatureSchemes } from '../providers/index.js'
import type { SignatureVerifier } from '../providers/signatures/verifier.js'

export interface RawAccessOptions {
  token?: string
  basicAuth?: string
  basicAuthFile?: string
  allow?: string
  trustProxy?: string
  publicUrl?: string
  /** The providers' secrets by their options' names (`twilioAuthToken`, from `--twilio-auth-token`). */
  [providerOption: string]: unknown
}

/** `--twilio-auth-token` -> `twilioAuthToken`, the key commander gives it. */
function optionKey (flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

/** A verifier for each provider whose secret is set; errors name the option, never the secret. */
function parseSignatures (raw: RawAccessOptions): SignatureVerifier[] {
  const signatures: SignatureVerifier[] = []
  for (const { scheme } of signatureSchemes()) {
    const secret = raw[optionKey(scheme.option)]
    if (secret === undefined) continue
    if (typeof secret !== 'string' || secret === '') throw new ConfigError(`Expected \`${scheme.option}\` to be non-empty`)
    let method: string | undefined
    if (scheme.method !== undefined) {
      const given = raw[optionKey(scheme.method.option)]
      method = given === undefined ? scheme.method.default : String(given)
      if (!scheme.method.choices.includes(method)) {
        throw new ConfigError(`Expected \`${scheme.method.option}\` to be one of ${scheme.method.choices.join(', ')}, got \`${method}\``)
      }
    }
    try {
      signatures.push(scheme.create(secret, { method }))
    } catch (err) {
      throw new ConfigError(`Expected \`${scheme.option}\` to be a valid key: ${(err as Error).message}`, { cause: err })
    }
  }
  return signatures
}

/** Characters that survive in a URL path and a query string unencoded. */
const TOKEN_RE = /^[A-Za-z0-9._~-]{16,}$/

/** Synchronous, so `callback-spool config` can check the same options with the same code. */
export function parseAccessOptions (raw: RawAccessOptions): AccessOptions {
  const options: AccessOptions = {}
  if (raw.token !== undefined) {
    if (!TOKEN_RE.test(raw.token)) {
      throw new ConfigError('Expected `--token` to be at least 16 characters from A-Z a-z 0-9 . _ ~ - (e.g. `openssl rand -hex 16`)')
    }
    options.token = raw.token
  }
  if (raw.basicAuth !== undefined && raw.basicAuthFile !== undefined) {
    throw new ConfigError('Give `--basic-auth` or `--basic-auth-file`, not both')
  }
  let basic = raw.basicAuth
  if (raw.basicAuthFile !== undefined) {
    try {
      basic = readFileSync(raw.basicAuthFile, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      throw new ConfigError(`Cannot read \`--basic-auth-file\` ${raw.basicAuthFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
    }
  }
  if (basic !== undefined) {
    const colon = basic.indexOf(':')
    if (colon < 1 || colon === basic.length - 1 || /[\r\n]/.test(basic)) {
      throw new ConfigError('Expected `--basic-auth` to be `user:password` (both non-empty, one line)')
    }
    options.basicAuth = basic
  }
  if (raw.allow !== undefined) options.allow = parseCidrList('--allow', raw.allow)
  if (raw.trustProxy !== undefined) options.trustProxy = parseCidrList('--trust-proxy', raw.trustProxy)
  const signatures = parseSignatures(raw)
  if (signatures.length > 0) options.signatures = signatures
  if (raw.publicUrl !== undefined) {
    let url: URL
    try {
      url = new URL(raw.publicUrl)
    } catch {
      throw new ConfigError(`Expected \`--public-url\` to be a URL like https://sms.example.com, got \`${raw.publicUrl}\``)
    }
    // The URL's own `search` and `hash` are empty for a bare `?` or `#`, which would still end up
    // in every URL a provider's signature covers: refused as a query or fragment would be.
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || /[?#]/.test(raw.publicUrl) || url.username !== '' || url.password !== '') {
      throw new ConfigError('Expected `--public-url` to be http(s)://host[:port][/prefix], without query, fragment or credentials')
    }
    options.publicUrl = raw.publicUrl
  }
  return options
}

/** What is switched on, for the start-up log: never a secret. */
export function describeAccess (options: AccessOptions): Record<string, unknown> {
  return {
    token: options.token !== undefined,
    basic_auth: options.basicAuth !== undefined,
    allow: options.allow?.cidrs ?? null,
    trust_proxy: options.trustProxy?.cidrs ?? null,
    signatures: options.signatures?.map((s) => s.scheme) ?? [],
    public_url: options.publicUrl ?? null,
  }
}
