/**
 * Plivo's signatures, keyed with the account's auth token,
 * base64 of HMAC-SHA256. Each comes in two headers: `...-V2`/`-V3` signed with the auth token of
 * the account that owns the application, `...-Ma-V2`/`-Ma-V3` with the main account's; either holds.
 *
 * - V2 (what Plivo sends with messages): over the URL without its query (scheme://host[:port]/path)
 *   followed by `X-Plivo-Signature-V2-Nonce`. The body is not signed: a captured signature
 *   carries any body to the same URL. Plivo's SDKs sign `https://host` with no path, which
 *   arrives as `/`: both are tried.
 * - V3 (when Plivo sends it, it is checked instead): over the URL without its query, then `?`
 *   and the query's parameters sorted as `name=value&...` (for a GET, the body's too), and for a
 *   POST with a form body a `.` after the query (when there is one) and the body's parameters
 *   sorted as `namevalue...`; then `.` and `X-Plivo-Signature-V3-Nonce`. The header may hold
 *   several signatures, comma-separated. A JSON body is not covered, and is refused.
 *
 * Neither carries a time: a captured request replayed later still verifies.
 */
import { crypto } from '../../lazy-builtin.js'
import { constantTimeEqual, headerValue, type SignatureVerifier, type SignedRequest } from './verifier.js'

type Multimap = Map<string, string[]>

function add (map: Multimap, name: string, value: string): void {
  const values = map.get(name)
  if (values === undefined) map.set(name, [value])
  else values.push(value)
}

function sortedPairs (map: Multimap, separator: string, joiner: string): string {
  const out: string[] = []
  for (const name of [...map.keys()].sort()) {
    for (const value of map.get(name)!.sort()) out.push(name + separator + value)
  }
  return out.join(joiner)
}

/** The URL without its query and fragment, and its query string. */
function splitUrl (url: string): { base: string, query: string } {
  const hash = url.indexOf('#')
  const whole = hash === -1 ? url : url.slice(0, hash)
  const q = whole.indexOf('?')
  return q === -1 ? { base: whole, query: '' } : { base: whole.slice(0, q), query: whole.slice(q + 1) }
}

/** `https://host/` is also signed as `https://host`. */
function baseVariants (base: string): string[] {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/$/i.test(base) ? [base, base.slice(0, -1)] : [base]
}

function sign (authToken: string, data: string): string {
  return crypto().createHmac('sha256', authToken).update(data, 'utf8').digest('base64')
}

/** Whether any signature in the headers (comma-separated lists) is one of `expected`. */
function anyMatches (headers: Array<string | undefined>, expected: string[]): boolean {
  let ok = false
  // Every comparison is made (no early exit), so the timing does not tell which one matched.
  for (const header of headers) {
    if (header === undefined) continue
    for (const given of header.split(',')) {
      for (const e of expected) if (constantTimeEqual(e, given.trim())) ok = true
    }
  }
  return ok
}

/** The string V3 signs, before `.nonce`; undefined when the body is not covered by it. */
export function plivoV3SigningString (request: Pick<SignedRequest, 'method' | 'url' | 'body'>, base: string): string | undefined {
  const { body } = request
  if (body.kind === 'json') return undefined
  const { query } = splitUrl(request.url)
  const queryParams: Multimap = new Map()
  for (const [name, value] of new URLSearchParams(query)) add(queryParams, name, value)
  const bodyParams: Multimap = new Map()
  for (const name of Object.keys(body.fields)) {
    const value = body.fields[name]!
    for (const v of typeof value === 'string' ? [value] : value) add(bodyParams, name, v)
  }
  if (request.method === 'GET') {
    for (const [name, values] of bodyParams) for (const v of values) add(queryParams, name, v)
    return queryParams.size === 0 ? base : `${base}?${sortedPairs(queryParams, '=', '&')}`
  }
  if (request.method !== 'POST') return undefined
  if (bodyParams.size === 0) return queryParams.size === 0 ? base : `${base}?${sortedPairs(queryParams, '=', '&')}`
  const head = queryParams.size === 0 ? '' : `${sortedPairs(queryParams, '=', '&')}.`
  return `${base}?${head}${sortedPairs(bodyParams, '', '')}`
}

export function plivoV2Signature (authToken: string, base: string, nonce: string): string {
  return sign(authToken, base + nonce)
}

export function plivoV3Signature (authToken: string, signingString: string, nonce: string): string {
  return sign(authToken, `${signingString}.${nonce}`)
}

export function createPlivoVerifier (authToken: string): SignatureVerifier {
  return {
    scheme: 'plivo',
    verify (request: SignedRequest): boolean {
      const { headers } = request
      const { base } = splitUrl(request.url)
      const v3 = [headerValue(headers, 'x-plivo-signature-v3'), headerValue(headers, 'x-plivo-signature-ma-v3')]
      if (v3.some((h) => h !== undefined)) {
        const nonce = headerValue(headers, 'x-plivo-signature-v3-nonce')
        if (nonce === undefined) return false
        const expected: string[] = []
        for (const b of baseVariants(base)) {
          const data = plivoV3SigningString(request, b)
          if (data !== undefined) expected.push(plivoV3Signature(authToken, data, nonce))
        }
        return expected.length > 0 && anyMatches(v3, expected)
      }
      const nonce = headerValue(headers, 'x-plivo-signature-v2-nonce')
      if (nonce === undefined) return false
      const expected = baseVariants(base).map((b) => plivoV2Signature(authToken, b, nonce))
      return anyMatches([headerValue(headers, 'x-plivo-signature-v2'), headerValue(headers, 'x-plivo-signature-ma-v2')], expected)
    },
  }
}
