/**
 * `nats://[USER[:PASSWORD]@|TOKEN@]HOST[:PORT][,HOST[:PORT]...][?PARAMS]` (`tls://` for TLS): what a
 * NATS URL says and how it is shown with its secrets masked (connection.ts opens the connection).
 * Shared by the NATS target (the forwarder) and the NATS source; loads no client code, so that
 * checking options stays cheap.
 *
 * PARAMS common to every use: `creds=PATH` (a NATS credentials file), `ca=PATH`, `cert=PATH` and
 * `key=PATH` (TLS; any of them turns TLS on). Each use adds its own (`stream`, `subject`, ...).
 */
import { ConfigError } from '../errors.js'
import { maskUrlCredentials } from '../mask.js'

export const NATS_SCHEMES: readonly string[] = ['nats', 'tls']
export const NATS_DEFAULT_PORT = 4222
/** Parameters every NATS URL may carry. */
export const NATS_COMMON_PARAMS: readonly string[] = ['creds', 'ca', 'cert', 'key']

export interface NatsUrl {
  /** `host:port` of each server, without scheme or credentials. */
  servers: string[]
  user?: string
  password?: string
  /** A user name without a password is a token, as NATS URLs have it. */
  token?: string
  /** TLS: `tls://`, or any of ca, cert, key given. */
  tls: boolean
  caFile?: string
  certFile?: string
  keyFile?: string
  credsFile?: string
  /** Every parameter, the common ones included. */
  params: URLSearchParams
  /** The URL as it may be logged: password and token replaced by `***`. */
  display: string
}

export function isNatsUrl (text: string): boolean {
  const colon = text.indexOf(':')
  return colon > 0 && NATS_SCHEMES.includes(text.slice(0, colon).toLowerCase()) && text.slice(colon, colon + 3) === '://'
}

/**
 * Checks the URL (nothing is read or connected); `known` are the parameters this use accepts
 * besides the common ones. Throws a ConfigError that never shows a secret.
 */
export function parseNatsUrl (text: string, known: readonly string[] = []): NatsUrl {
  const display = maskUrlCredentials(text)
  const fail = (what: string): never => {
    throw new ConfigError(`Expected the NATS URL \`${display}\` to be nats://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][?PARAMS] (or tls://): ${what}`)
  }
  const match = /^([a-z]+):\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(text)
  if (match === null) return fail('not a URL')
  const scheme = match[1]!.toLowerCase()
  if (!NATS_SCHEMES.includes(scheme)) fail(`unknown scheme ${scheme}:`)
  let authority = match[2]!
  const params = new URLSearchParams(match[3] ?? '')
  const allowed = new Set([...NATS_COMMON_PARAMS, ...known])
  for (const key of params.keys()) {
    if (!allowed.has(key)) fail(`unknown parameter \`${key}\` (known: ${[...allowed].join(', ')})`)
    if (params.getAll(key).length > 1) fail(`parameter \`${key}\` given twice`)
    if (params.get(key) === '') fail(`parameter \`${key}\` is empty`)
  }
  const out: NatsUrl = { servers: [], tls: scheme === 'tls', params, display }
  const at = authority.lastIndexOf('@', authority.indexOf(',') === -1 ? undefined : authority.indexOf(','))
  if (at !== -1) {
    const userinfo = authority.slice(0, at)
    authority = authority.slice(at + 1)
    const colon = userinfo.indexOf(':')
    try {
      if (colon === -1) {
        out.token = decodeURIComponent(userinfo)
      } else {
        out.user = decodeURIComponent(userinfo.slice(0, colon))
        out.password = decodeURIComponent(userinfo.slice(colon + 1))
      }
    } catch {
      fail('credentials that are not valid percent-encoding')
    }
    if (out.token === '' || out.user === '') fail('an empty user name or token')
  }
  for (let host of authority.split(',')) {
    // Each server may repeat the scheme, as NATS's own tools write it.
    host = host.replace(/^(nats|tls):\/\//i, '').replace(/\/$/, '')
    if (host === '') fail('no host')
    if (host.includes('/')) fail('a path is not allowed')
    if (host.includes('@')) fail('credentials go before the first host only')
    let url: URL
    try {
      url = new URL(`nats://${host}`)
    } catch {
      return fail(`\`${host}\` is not HOST[:PORT]`)
    }
    if (url.hostname === '' || url.pathname !== '' || url.search !== '') fail(`\`${host}\` is not HOST[:PORT]`)
    out.servers.push(`${url.hostname}:${url.port === '' ? NATS_DEFAULT_PORT : url.port}`)
  }
  const creds = params.get('creds')
  if (creds !== null) out.credsFile = creds
  for (const [param, field] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
    const value = params.get(param)
    if (value !== null) {
      out[field] = value
      out.tls = true
    }
  }
  if ((out.certFile === undefined) !== (out.keyFile === undefined)) fail('cert and key go together')
  if (out.credsFile !== undefined && (out.user !== undefined || out.token !== undefined)) fail('creds and credentials in the URL together')
  return out
}

export const DEFAULT_STREAM = 'CALLBACKS'
export const DEFAULT_SUBJECT_PREFIX = 'callbacks'

/** Stream names: no whitespace, `.`, `*`, `>`, path separators (the server's rule), at most 255. */
const STREAM_NAME_RE = /^[^\s.*>/\\]{1,255}$/
/** A subject prefix: tokens of letters, digits, `_` and `-`, separated by dots. */
const SUBJECT_PREFIX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

export function checkStreamName (name: string, where: string): string {
  if (!STREAM_NAME_RE.test(name)) throw new ConfigError(`Expected the stream name in ${where} to have no spaces, dots, *, >, / or \\ (got \`${name}\`)`)
  return name
}

export function checkSubjectPrefix (prefix: string, where: string): string {
  if (!SUBJECT_PREFIX_RE.test(prefix)) throw new ConfigError(`Expected the subject prefix in ${where} to be dot-separated tokens of letters, digits, _ and - (got \`${prefix}\`)`)
  return prefix
}

/** The NATS target's own URL parameters. */
export const NATS_TARGET_PARAMS: readonly string[] = ['stream', 'subject']

export interface NatsTarget {
  url: NatsUrl
  /** `?stream=`, CALLBACKS by default. */
  stream: string
  /** `?subject=`: messages go to `<prefix>.<kind>`; `callbacks` by default. */
  subjectPrefix: string
}

/** `--on KIND=nats://...`: checks the target's text; throws a ConfigError that never shows a secret. */
export function parseNatsTarget (target: string): NatsTarget {
  const url = parseNatsUrl(target, NATS_TARGET_PARAMS)
  const where = `\`${url.display}\``
  return {
    url,
    stream: checkStreamName(url.params.get('stream') ?? DEFAULT_STREAM, where),
    subjectPrefix: checkSubjectPrefix(url.params.get('subject') ?? DEFAULT_SUBJECT_PREFIX, where),
  }
}
