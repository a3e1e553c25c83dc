/**
 * Turns the `receive` command's access options (flags or CALLBACK_SPOOL_* variables) into
 * AccessOptions, validated once. Error messages name the option, never the secret's value.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import type { AccessOptions } from './access.js'
import { parseCidrList } from './cidr.js'
import { twilio } from '../providers/twilio.js'
import type { SignatureVerifier } from '../providers/signatures/verifier.js'

export interface RawAccessOptions {
  token?: string
  basicAuth?: string
  basicAuthFile?: string
  allow?: string
  trustProxy?: string
  twilioAuthToken?: string
  publicUrl?: string
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
  const signatures: SignatureVerifier[] = []
  if (raw.twilioAuthToken !== undefined) {
    if (raw.twilioAuthToken === '') throw new ConfigError('Expected `--twilio-auth-token` to be non-empty')
    signatures.push(twilio.signature!.create(raw.twilioAuthToken))
  }
  if (signatures.length > 0) options.signatures = signatures
  if (raw.publicUrl !== undefined) {
    let url: URL
    try {
      url = new URL(raw.publicUrl)
    } catch {
      throw new ConfigError(`Expected \`--public-url\` to be a URL like https://sms.example.com, got \`${raw.publicUrl}\``)
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.username !== '') {
      throw new ConfigError('Expected `--public-url` to be http(s)://host[:port][/prefix], without query or credentials')
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
