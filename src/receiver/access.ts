/**
 * Who may leave a callback: the receiver's access control, each part optional, all combinable.
 *
 * Checked in this order, before the body is read (so a refused request costs nothing):
 *   client address not in `allow`                     -> 403
 *   no secret token in the path (`/<token>/...`) or in a `token` query parameter -> 404
 *   Basic credentials missing or wrong                -> 401 with WWW-Authenticate
 * and once the body is in, a provider signature that does not hold -> 401 (see verifyBody).
 *
 * The token is stripped from the path and query that get recorded, so it never reaches the
 * spool or the logs. Every secret is compared in constant time.
 */
import type { IncomingMessage } from 'node:http'
import { splitTarget } from './build-record.js'
import type { ParsedBody } from './params.js'
import type { AddressSet } from './cidr.js'
import { clientAddress } from './client-address.js'
import { Secret, type SignatureVerifier } from '../providers/signatures/verifier.js'
import type { ProviderProfile } from '../providers/profile.js'

export interface AccessOptions {
  /** Secret the URL must carry: `/<token>/...` or `?token=<token>`. */
  token?: string
  /** `user:password` for HTTP Basic authentication. */
  basicAuth?: string
  /** Only these client addresses may post. */
  allow?: AddressSet
  /** Peers whose X-Forwarded-For is believed. */
  trustProxy?: AddressSet
  /** The providers whose secret is configured: each verifier checks the requests of the profile it names (`scheme`). */
  signatures?: SignatureVerifier[]
  /**
   * Scheme and host (and any path prefix a proxy strips) the provider calls, e.g.
   * `https://sms.example.com`: the URL signatures are checked against. Without it, `http://`
   * and the Host header.
   */
  publicUrl?: string
}

export interface Admitted {
  admitted: true
  /** Path and query to record: the request target without the token. */
  url: string
  /** The client address, through trusted proxies. */
  remoteAddr: string
  /** The absolute URL the provider called (token included), for signatures. */
  signedUrl: string
}

export interface Refused {
  admitted: false
  status: 401 | 403 | 404
  headers: Record<string, string>
  /** Why, for debug logs: never carries a secret. */
  reason: string
}

export type Admission = Admitted | Refused

/** Which providers a request belongs to, by its path and by its shape. */
export interface ProviderClaim {
  /** The provider its path is bound to (`--provider-path`). */
  bound?: ProviderProfile
  /** The provider whose shape it has. */
  shaped?: ProviderProfile
}

export interface AccessControl {
  admit (req: IncomingMessage): Admission
  /**
   * After the body is read (and parsed once, for this and the record): the refusal when a
   * signature does not hold. With no provider secret configured, none. Otherwise a request must
   * carry the valid signature of the provider its path is bound to and of the provider its shape
   * names, for each that has a secret; and when neither has one, its path must be bound to a
   * provider (the operator says its requests come unsigned), or it is refused too: with secrets
   * configured, no request gets in unauthenticated by dressing as an unsigned provider's.
   */
  verifyBody (req: IncomingMessage, admitted: Admitted, body: ParsedBody, claim: ProviderClaim): Refused | undefined
}

export const BASIC_REALM = 'callback-spool'

const refuse = (status: Refused['status'], reason: string, headers: Record<string, string> = {}): Refused =>
  // Close refused connections: whoever sends them gets no keep-alive to retry on cheaply.
  ({ admitted: false, status, reason, headers: { Connection: 'close', ...headers } })

/** Removes the token from a request target; undefined when the target does not carry it. */
export function stripToken (target: string, token: string | Secret): string | undefined {
  const secret = typeof token === 'string' ? new Secret(token) : token
  const { path, search } = splitTarget(target)
  let recordedPath = path
  let found = false
  if (path.startsWith('/')) {
    const end = path.indexOf('/', 1)
    const first = end === -1 ? path.slice(1) : path.slice(1, end)
    if (secret.matches(first)) {
      found = true
      recordedPath = end === -1 ? '/' : path.slice(end)
    }
  }
  const kept: string[] = []
  if (search !== '') {
    for (const pair of search.split('&')) {
      // Decoded as a form would be, so `%74oken=` is the token parameter too.
      const entry = new URLSearchParams(pair).entries().next()
      if (entry.done !== true && entry.value[0] === 'token' && secret.matches(entry.value[1])) {
        found = true
        continue
      }
      kept.push(pair)
    }
  }
  if (!found) return undefined
  return kept.length === 0 ? recordedPath : `${recordedPath}?${kept.join('&')}`
}

function hasBasicCredentials (header: string | undefined, expected: Secret): boolean {
  if (header === undefined) return false
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header)
  if (m === null) return false
  return expected.matches(Buffer.from(m[1]!, 'base64').toString('utf8'))
}

export function createAccessControl (options: AccessOptions): AccessControl {
  const { allow, trustProxy } = options
  // Hashed once here, not on every request (see Secret).
  const token = options.token === undefined ? undefined : new Secret(options.token)
  const basicAuth = options.basicAuth === undefined ? undefined : new Secret(options.basicAuth)
  const verifiers = new Map<string, SignatureVerifier>()
  for (const verifier of options.signatures ?? []) verifiers.set(verifier.scheme, verifier)
  const publicUrl = options.publicUrl?.replace(/\/+$/, '')
  const basicChallenge = { 'WWW-Authenticate': `Basic realm="${BASIC_REALM}", charset="UTF-8"` }

  return {
    admit (req: IncomingMessage): Admission {
      const target = req.url ?? '/'
      const remoteAddr = clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], trustProxy)
      if (allow !== undefined && !allow.has(remoteAddr)) return refuse(403, 'client address not allowed')
      let url = target
      if (token !== undefined) {
        const stripped = stripToken(target, token)
        if (stripped === undefined) return refuse(404, 'no valid token in the URL')
        url = stripped
      }
      if (basicAuth !== undefined && !hasBasicCredentials(req.headers.authorization, basicAuth)) {
        return refuse(401, 'missing or wrong basic credentials', basicChallenge)
      }
      const base = publicUrl ?? `http://${req.headers.host ?? ''}`
      return { admitted: true, url, remoteAddr, signedUrl: base + target }
    },

    verifyBody (req: IncomingMessage, admitted: Admitted, body: ParsedBody, claim: ProviderClaim): Refused | undefined {
      if (verifiers.size === 0) return undefined
      const request = { method: req.method ?? '', url: admitted.signedUrl, headers: req.headers, body }
      let verified = false
      for (const profile of claim.bound === claim.shaped ? [claim.bound] : [claim.bound, claim.shaped]) {
        const verifier = profile === undefined ? undefined : verifiers.get(profile.name)
        if (verifier === undefined) continue
        if (!verifier.verify(request)) return refuse(401, `${verifier.scheme} signature missing or wrong`)
        verified = true
      }
      if (verified || claim.bound !== undefined) return undefined
      return refuse(401, claim.shaped === undefined
        ? 'no provider signature: no profile recognises the request and its path is bound to none'
        : `no provider signature: ${claim.shaped.name} has no secret configured and the path is bound to none`)
    },
  }
}

/** No access control: everyone is admitted, as recorded. */
export const OPEN_ACCESS: AccessControl = createAccessControl({})
